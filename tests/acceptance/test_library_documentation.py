"""The keyword docs are the user manual: libdoc renders every keyword, each documented, every
`Keyword Name` a link that resolves, and every example runs through Robot's dry run."""
from __future__ import annotations

import json
import re
import subprocess
import sys

import pytest
from robot.api import ExecutionResult

from robot_runs import LIBRARIES, ROOT

VOCABULARY = {  # the keyword vocabulary the suites and users rely on (docs/architecture.md), which must stay
    "Start Mock Server", "Stop Mock Server", "Set Mock Server Faults", "Get Mock Server Stats",
    "Connect Clients", "Disconnect Clients", "Send Burst At Rate", "Run Sustained Load",
    "Run Rate Scaling", "Run Connection Scaling", "Latency P50 Should Be Below",
    "Latency P95 Should Be Below", "Latency P99 Should Be Below",
    "Latency Percentile Should Be Below", "Delivery Ratio Should Be At Least",
    "Throughput Should Be At Least", "Memory Growth Should Be Below",
    "Scaling Efficiency Should Be At Least", "Log Load Summary", "Save Load Results",
    "Load Results Should Not Regress", "Merge Load Results", "Start Metrics Endpoint",
    "Stop Metrics Endpoint"}

# Robot's documentation syntax: a table row is `| cell | cell |`, preformatted text `| text`
TABLE_ROW = re.compile(r"^\| (.* |)\|$")
# what libdoc renders for a `Name` in backticks that is no keyword, section or type
UNRESOLVED = re.compile(r'<span class="name">(.*?)</span>', re.S)
# two made-up examples the dry run must catch: were they to pass, the check would be blind
BROKEN_EXAMPLES = {
    "Broken: A Keyword That Does Not Exist": ["Send Burst At Rat    messages=10    rate=1k/s"],
    "Broken: An Argument Too Many": ["Stop Metrics Endpoint    now"],
    "Broken: A Named Argument The Keyword Lacks": [
        "Send Burst At Rate    messages=10    rate=1k/s    bogus=1"],
}


def libdoc_spec(path, doc_format: str) -> dict:
    subprocess.run([sys.executable, "-m", "robot.libdoc", "--pythonpath", str(LIBRARIES),
                    "--format", "JSON", "--specdocformat", doc_format, "WebSocketLoadLibrary",
                    str(path)], check=True, capture_output=True, timeout=120)
    return json.loads(path.read_text())


@pytest.fixture(scope="module")
def raw_spec(tmp_path_factory) -> dict:
    return libdoc_spec(tmp_path_factory.mktemp("libdoc") / "raw.json", "RAW")


@pytest.fixture(scope="module")
def html_spec(tmp_path_factory) -> dict:
    return libdoc_spec(tmp_path_factory.mktemp("libdoc") / "html.json", "HTML")


def documents(spec: dict) -> dict[str, str]:
    """Every piece of documentation libdoc renders: the introduction, importing, keywords."""
    docs = {"introduction": spec["doc"]}
    docs.update({f"importing {n}": init["doc"] for n, init in enumerate(spec["inits"], 1)})
    docs.update({keyword["name"]: keyword["doc"] for keyword in spec["keywords"]})
    return docs


def test_libdoc_documents_every_keyword_of_the_vocabulary(raw_spec):
    keywords = {k["name"]: k for k in raw_spec["keywords"]}
    assert VOCABULARY <= set(keywords), VOCABULARY - set(keywords)
    undocumented = [name for name, k in keywords.items() if len(k["doc"].strip()) < 40]
    assert not undocumented
    assert len(raw_spec["doc"]) > 1000 and raw_spec["version"]
    assert raw_spec["scope"] == "GLOBAL"
    rate = next(a for a in keywords["Send Burst At Rate"]["args"] if a["name"] == "rate")
    assert rate["type"]["name"] == "Rate"


def test_every_keyword_says_what_it_does_in_its_first_sentence(raw_spec):
    """The first line is what libdoc's keyword list and IDEs' completion show."""
    short = {k["name"]: k["shortdoc"] for k in raw_spec["keywords"]}
    assert all(len(text) >= 15 for text in short.values()), \
        {name: text for name, text in short.items() if len(text) < 15}


def test_every_name_in_backticks_links_to_a_keyword_section_or_type(html_spec):
    unresolved = {where: UNRESOLVED.findall(doc) for where, doc in documents(html_spec).items()}
    assert not {where: names for where, names in unresolved.items() if names}
    # the check sees links at all: the introduction links to keywords
    assert 'href="#Send%20Burst%20At%20Rate"' in html_spec["doc"]


def examples(doc: str) -> list[list[str]]:
    """The examples in one documentation: each table but those of arguments (whose header
    row is `=Argument=`-style), as steps; each preformatted block that is a whole suite."""
    blocks: list[tuple[str, list[str]]] = []   # consecutive lines of one kind
    kind_before = None
    for line in doc.splitlines():
        text = line.strip()
        kind = ("table" if TABLE_ROW.match(text)
                else "pre" if text.startswith("| ") or text == "|" else None)
        if kind is not None and kind == kind_before:
            blocks[-1][1].append(text)
        elif kind is not None:
            blocks.append((kind, [text]))
        kind_before = kind
    found = []
    for kind, rows in blocks:
        if kind == "table":
            cells = [[cell.strip() for cell in row[1:-1].split(" | ")] for row in rows]
            if all(cell.startswith("=") and cell.endswith("=") for cell in cells[0] if cell):
                continue
            steps = ["    ".join(cell for cell in row if cell) for row in cells]
            if all(step.startswith("[") for step in steps):  # only a [Teardown], say
                steps.insert(0, "No Operation")
            found.append(steps)
        elif rows[0].startswith("| ***"):
            found.append(["*** suite ***", *(row[2:] for row in rows)])
    return found


def write_example_suites(folder, spec: dict) -> int:
    """One suite of test cases, one per table example, plus one file per whole-suite example,
    plus BROKEN_EXAMPLES. Returns the number of examples from the docs."""
    folder.mkdir()
    cases, count = [], 0
    for where, doc in documents(spec).items():
        for number, steps in enumerate(examples(doc), 1):
            count += 1
            if steps[0] == "*** suite ***":
                (folder / f"suite_{count:02d}.robot").write_text("\n".join(steps[1:]) + "\n")
            else:
                cases.append((f"Example {number} Of {where}", steps))
    cases += list(BROKEN_EXAMPLES.items())
    body = "\n".join(f"{name}\n" + "".join(f"    {step}\n" for step in steps)
                     for name, steps in cases)
    (folder / "tables.robot").write_text(
        "*** Settings ***\nLibrary    WebSocketLoadLibrary\n\n*** Test Cases ***\n" + body)
    return count


def test_every_example_in_the_docs_passes_robots_dry_run(raw_spec, tmp_path):
    """Dry run: every keyword of every example exists and takes the arguments it is given
    (count, names); nothing runs. The made-up broken examples must fail it."""
    count = write_example_suites(tmp_path / "examples", raw_spec)
    assert count >= 30, count
    subprocess.run([sys.executable, "-m", "robot", "--dryrun", "--pythonpath", str(LIBRARIES),
                    "--outputdir", str(tmp_path), "--log", "NONE", "--report", "NONE",
                    "--console", "none", "--name", "Examples", str(tmp_path / "examples")],
                   capture_output=True, text=True, timeout=120)
    tests = {test.name: test for test in ExecutionResult(str(tmp_path / "output.xml"))
             .suite.all_tests}
    broken = {name: test.message for name, test in tests.items()
              if test.status != "PASS" and name not in BROKEN_EXAMPLES}
    assert not broken, "\n".join(f"{name}: {message}" for name, message in broken.items())
    caught = {name: tests[name].status for name in BROKEN_EXAMPLES}
    assert set(caught.values()) == {"FAIL"}, caught
    assert "No keyword with name 'Send Burst At Rat' found" in \
        tests["Broken: A Keyword That Does Not Exist"].message


def test_the_docs_command_writes_html_and_a_json_spec_into_docs():
    completed = subprocess.run([str(ROOT / "run"), "docs"], capture_output=True, text=True,
                               timeout=300, cwd=ROOT)
    assert completed.returncode == 0, completed.stderr
    page = (ROOT / "docs" / "WebSocketLoadLibrary.html").read_text()
    assert "Latency P95 Should Be Below" in page and "coordinated omission" in page
    spec = json.loads((ROOT / "docs" / "WebSocketLoadLibrary.json").read_text())
    assert spec["name"] == "WebSocketLoadLibrary" and spec["docFormat"] == "HTML"
    assert VOCABULARY <= {keyword["name"] for keyword in spec["keywords"]}
    assert (ROOT / "docs" / "throughput.resource.html").exists()

"""The keyword documentation's example suites render as written and run: read from the libdoc
HTML a user opens (not from the docstrings), every preformatted example keeps its text --
`*** Settings ***` is not eaten by Robot's bold markup into `* Settings *` -- and every whole
suite in it passes a real run against the embedded mock server (the load agents' one
against an agent started here). The introduction has a section with such a suite for each
capability: push and streams, fan-out, the connection lifecycle, capacity, load agents,
protocols."""
from __future__ import annotations

import html
import json
import re
import subprocess
import sys

import pytest
from robot.api import ExecutionResult
from robot.utils import html_format

from agent_processes import SECRET, start_agent
from robot_runs import LIBRARIES, run_robot

CAPABILITIES = ("Push and streams", "Fan-out", "Connection lifecycle", "Capacity",
                "Load agents", "Protocols")
PRE = re.compile(r"<pre>(.*?)</pre>", re.S)
HEADER = re.compile(r"^\*\*\* (Settings|Variables|Test Cases|Tasks|Keywords|Comments) \*\*\*$")
AGENTS_LINE = "@{AGENTS}         http://127.0.0.1:8270"


def libdoc_html(folder) -> dict:
    """The spec libdoc embeds in its HTML page: what the browser renders."""
    page = folder / "WebSocketLoadLibrary.html"
    subprocess.run([sys.executable, "-m", "robot.libdoc", "--pythonpath", str(LIBRARIES),
                    "WebSocketLoadLibrary", str(page)], check=True, capture_output=True,
                   timeout=120)
    text = page.read_text()
    start = text.index("libdoc = ") + len("libdoc = ")
    return json.JSONDecoder().raw_decode(text, start)[0]


@pytest.fixture(scope="module")
def spec(tmp_path_factory) -> dict:
    return libdoc_html(tmp_path_factory.mktemp("libdoc"))


def documents(spec: dict) -> dict[str, str]:
    return {"introduction": spec["doc"],
            **{keyword["name"]: keyword["doc"] for keyword in spec["keywords"]}}


def mangled(rendered: str) -> list[str]:
    """The preformatted blocks whose text Robot's inline markup changed: bold or italic
    inside (they eat the `*` and `_` they stand for), or a section header that lost its
    asterisks."""
    found = []
    for block in PRE.findall(rendered):
        text = html.unescape(re.sub(r"<[^>]+>", "", block))
        headers = [line for line in text.splitlines() if line.startswith("*")]
        if re.search(r"<(b|i)>", block) or any(not HEADER.match(h) for h in headers):
            found.append(text.strip().splitlines()[0] if text.strip() else block)
    return found


def suites(rendered: str) -> list[str]:
    """Every preformatted block that is a whole suite, as its text."""
    texts = [html.unescape(re.sub(r"<[^>]+>", "", block)).strip("\n")
             for block in PRE.findall(rendered)]
    return [text + "\n" for text in texts if HEADER.match(text.splitlines()[0])]


def sections(rendered: str) -> dict[str, str]:
    """The introduction's sections: heading -> its HTML up to the next heading."""
    parts = re.split(r'<h2 id="[^"]*">(.*?)</h2>', rendered)
    return dict(zip(parts[1::2], parts[2::2]))


def test_no_example_is_mangled_by_robots_markup(spec):
    bad = {where: mangled(doc) for where, doc in documents(spec).items()}
    assert not {where: blocks for where, blocks in bad.items() if blocks}
    assert len(suites(spec["doc"])) >= 1 + len(CAPABILITIES)


def test_the_check_sees_a_mangled_example():
    """The docstring as it was: `*** Settings ***` rendered bold, as `* Settings *`."""
    rendered = html_format("| *** Settings ***\n| Library    WebSocketLoadLibrary\n|\n"
                           "| *** Test Cases ***\n| A Test\n|     No Operation")
    assert "<b>*</b> Settings <b>*</b>" in rendered
    assert mangled(rendered) == ["* Settings *"]
    assert mangled(html_format("| ``*** Settings ***``\n| Library    X")) == []


def test_each_capability_has_a_section_with_a_whole_suite(spec):
    found = sections(spec["doc"])
    table_of_contents = found["Table of contents"]
    for capability in CAPABILITIES:
        assert capability in found, list(found)
        assert f">{capability}</a>" in table_of_contents
        assert len(suites(found[capability])) == 1, capability
    assert len(suites(found["How a load test reads"])) == 1


@pytest.fixture(scope="module")
def example_run(spec, tmp_path_factory):
    """Every example suite of the introduction, run for real, with an agent on this
    machine for the load agents' one."""
    folder = tmp_path_factory.mktemp("examples")
    examples = folder / "Examples"
    examples.mkdir()
    agent = start_agent("doc-agent")
    try:
        for number, text in enumerate(suites(spec["doc"]), 1):
            if AGENTS_LINE in text:
                text = text.replace(AGENTS_LINE, f"@{{AGENTS}}         {agent.uri}")
            (examples / f"{number:02d}_example.robot").write_text(text)
        run = run_robot(folder / "out", str(examples), env={"LOAD_AGENT_SECRET": SECRET},
                        timeout_s=400)
    finally:
        agent.stop()
    return run


def test_every_example_suite_runs_and_passes(spec, example_run):
    tests = example_run.tests()
    assert len(tests) >= 1 + len(CAPABILITIES), example_run.stdout[-3000:]
    failed = {name: test.message for name, test in tests.items() if test.status != "PASS"}
    assert not failed, failed
    errors = [m.message for m in ExecutionResult(str(example_run.outdir / "output.xml"))
              .errors.messages if m.level == "ERROR"]
    assert not errors, errors

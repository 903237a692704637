"""The keyword docs are the user manual: libdoc renders every keyword, each documented."""
from __future__ import annotations

import json
import subprocess
import sys

from robot_runs import LIBRARIES, ROOT

VOCABULARY = {  # DESIGN.md's keyword vocabulary, which must stay
    "Start Mock Server", "Stop Mock Server", "Set Mock Server Faults", "Get Mock Server Stats",
    "Connect Clients", "Disconnect Clients", "Send Burst At Rate", "Run Sustained Load",
    "Run Rate Scaling", "Run Connection Scaling", "Latency P50 Should Be Below",
    "Latency P95 Should Be Below", "Latency P99 Should Be Below",
    "Latency Percentile Should Be Below", "Delivery Ratio Should Be At Least",
    "Throughput Should Be At Least", "Memory Growth Should Be Below",
    "Scaling Efficiency Should Be At Least", "Log Load Summary", "Save Load Results",
    "Load Results Should Not Regress", "Merge Load Results", "Start Metrics Endpoint",
    "Stop Metrics Endpoint"}


def test_libdoc_documents_every_keyword_of_the_vocabulary(tmp_path):
    spec = tmp_path / "spec.json"
    subprocess.run([sys.executable, "-m", "robot.libdoc", "--pythonpath", str(LIBRARIES),
                    "WebSocketLoadLibrary", str(spec)], check=True, capture_output=True,
                   timeout=120)
    library = json.loads(spec.read_text())
    keywords = {k["name"]: k for k in library["keywords"]}
    assert VOCABULARY <= set(keywords), VOCABULARY - set(keywords)
    undocumented = [name for name, k in keywords.items() if len(k["doc"]) < 40]
    assert not undocumented
    assert library["scope"] == "GLOBAL"
    rate = next(a for a in keywords["Send Burst At Rate"]["args"] if a["name"] == "rate")
    assert rate["type"]["name"] == "Rate"


def test_the_docs_command_writes_html_into_docs(tmp_path):
    completed = subprocess.run([str(ROOT / "run"), "docs"], capture_output=True, text=True,
                               timeout=300, cwd=ROOT)
    assert completed.returncode == 0, completed.stderr
    page = (ROOT / "docs" / "WebSocketLoadLibrary.html").read_text()
    assert "Latency P95 Should Be Below" in page and "coordinated omission" in page

"""Tokens never reach any output, and every suite runs in parallel under pabot."""
from __future__ import annotations

import json
import subprocess
import sys

import pytest

from robot_runs import LIBRARIES, ROOT, run_robot

TOKEN = "tok-5f3a9c1e7b2d4e68a0c9-secret"
SECRET_SUITE = """
*** Settings ***
Library           WebSocketLoadLibrary
Suite Teardown    Stop All Mock Servers

*** Test Cases ***
Token From A Secret Variable Reaches The Server And Nothing Else
    VAR    ${token: Secret}    %{WSLOAD_TEST_TOKEN}
    ${uri}=    Start Mock Server    auth_token=${token}
    Connect Clients    ${uri}    count=2    token=${token}
    Send Burst At Rate    200    400/s
    Delivery Ratio Should Be At Least    1.0
    Save Load Results
    Disconnect Clients
    Run Keyword And Expect Error    *HTTP 401*missing*    Connect Clients    ${uri}
    Connect Clients    ${uri}    token_env=WSLOAD_TEST_TOKEN
    Log Load Summary
    ${stats}=    Get Mock Server Stats
    Log    ${stats}
    Disconnect Clients

A Wrong Token Is Rejected Without Showing Either Token
    VAR    ${token: Secret}    %{WSLOAD_TEST_TOKEN}
    VAR    ${wrong: Secret}    %{WSLOAD_WRONG_TOKEN}
    ${uri}=    Start Mock Server    auth_token=${token}    alias=second
    Connect Clients    ${uri}    token=${wrong}
"""


def test_the_token_appears_in_no_output_at_trace_level(tmp_path):
    suite = tmp_path / "secret.robot"
    suite.write_text(SECRET_SUITE)
    wrong = "wrong-" + TOKEN[::-1]
    run = run_robot(tmp_path / "out", "--loglevel", "TRACE", str(suite),
                    env={"WSLOAD_TEST_TOKEN": TOKEN, "WSLOAD_WRONG_TOKEN": wrong})
    tests = run.tests()
    first = tests["Token From A Secret Variable Reaches The Server And Nothing Else"]
    assert first.status == "PASS", first.message
    second = tests["A Wrong Token Is Rejected Without Showing Either Token"]
    assert second.status == "FAIL"
    assert "HTTP 401" in second.message and "rejected" in second.message
    files = run.output_files()
    assert {"output.xml", "log.html", "report.html"} <= set(files)
    assert any(name.endswith(".json") for name in files), "Save Load Results wrote no file"
    for name, text in files.items():
        assert TOKEN not in text, f"the token leaked into {name}"
        assert wrong not in text, f"the wrong token leaked into {name}"
    assert "<secret>" in files["output.xml"] or "Secret" in files["output.xml"]


@pytest.mark.timeout(900)  # every suite: ~80 s on a quiet box, 2-3x that beside a busy one
def test_pabot_runs_every_suite_in_parallel_with_the_ci_figures(tmp_path):
    """Two processes, one test per job: each starts its own mock server on a free port."""
    run = run_robot(tmp_path, "--processes", "2", "--testlevelsplit",
                    "--variablefile", str(ROOT / "variables" / "ci.py"), str(ROOT / "suites"),
                    runner="pabot", timeout_s=600)
    result = run.result
    stats = result.statistics.total
    failed = [f"{t.longname}: {t.message}" for t in result.suite.all_tests if t.status == "FAIL"]
    assert run.returncode == 0 and not failed, "\n".join(failed) or run.stdout[-3000:]
    assert stats.passed >= 20, (stats.passed, stats.skipped)
    suites = {test.parent.name for test in result.suite.all_tests}
    assert len(suites) == len(list((ROOT / "suites").glob("*.robot")))
    assert (tmp_path / "log.html").exists() and (tmp_path / "report.html").exists()
    saved = list(tmp_path.rglob("load-results/*.json"))
    # a step's file (a scaling series or a capacity search is a file of steps)
    step_files = [data for data in (json.loads(path.read_text()) for path in saved)
                  if "steps" not in data]
    assert step_files and any(data["received"] > 0 for data in step_files)
    # one command merges what every pabot process saved under its own pabot_results/N/
    merge = subprocess.run([sys.executable, "-m", "WebSocketLoadLibrary", "merge", str(tmp_path)],
                           capture_output=True, text=True, timeout=120, cwd=LIBRARIES)
    assert merge.returncode == 0, merge.stderr
    merged = json.loads((tmp_path / "merged-load-results.json").read_text())
    steps = [step for path in saved for data in [json.loads(path.read_text())]
             for step in data.get("steps", [data])]
    assert merged["total"]["steps"] == len(steps)
    assert merged["total"]["received"] == sum(step["received"] for step in steps)
    assert len(merged["suites"]) >= 8

"""suites/19_scale.robot in CI mode (300 connections over 2 worker processes and a mock
server of 2 processes): a crowd opened, held, stepped on, broadcast to and closed, with
`Memory Per Connection Should Be Below` passing on its bound and failing below it; and the
clear failure when the open-file limit is too low for the count asked, in a Robot run."""
from __future__ import annotations

import json
import resource
import subprocess
import sys
import textwrap

import pytest

from robot_runs import LIBRARIES, ROOT, RobotRun, run_robot


@pytest.mark.timeout(600)
def test_the_scale_suite_passes_in_ci_mode(tmp_path):
    run = run_robot(tmp_path, "--variablefile", str(ROOT / "variables" / "ci.py"),
                    str(ROOT / "suites" / "19_scale.robot"), timeout_s=500)
    tests = run.tests()
    failed = [f"{name}: {test.message}" for name, test in tests.items() if test.status != "PASS"]
    assert run.returncode == 0 and not failed, "\n".join(failed) or run.stdout[-3000:]
    assert len(tests) == 4
    saved = [json.loads(path.read_text()) for path in tmp_path.rglob("load-results/*.json")]
    storms = [data for data in saved if data.get("mode") == "connect"]
    assert storms, [data.get("mode") for data in saved]
    memory = storms[0]["sections"]["memory"]
    assert memory["connections"] == 300 and memory["generator_processes"] == 2
    assert memory["server_processes"] == 2 and memory["host"]["open_files_hard"] > 0


@pytest.mark.timeout(300)
def test_a_storm_past_the_open_file_limit_fails_naming_it(tmp_path):
    suite = tmp_path / "limit.robot"
    suite.write_text(textwrap.dedent("""\
        *** Settings ***
        Library    WebSocketLoadLibrary

        *** Test Cases ***
        Too Many For The Limit
            Open Connections At Rate    5000    1000/s    uri=ws://127.0.0.1:9
        """))
    # both limits set low before Robot starts, as `prlimit --nofile=300:300 robot ...` would
    completed = subprocess.run(
        [sys.executable, "-m", "robot", "--pythonpath", str(LIBRARIES), "--outputdir",
         str(tmp_path), "--console", "dotted", str(suite)],
        capture_output=True, text=True, timeout=200, cwd=ROOT,
        preexec_fn=lambda: resource.setrlimit(resource.RLIMIT_NOFILE, (300, 300)))
    run = RobotRun(completed.returncode, completed.stdout, completed.stderr, tmp_path)
    test = run.tests()["Too Many For The Limit"]
    assert test.status == "FAIL"
    assert test.message.startswith("The open-file limit (RLIMIT_NOFILE) is 300 per process "
                                   "(hard limit 300): 5,000 connections over"), test.message
    assert "ulimit -n" in test.message

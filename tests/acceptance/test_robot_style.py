"""The suites read like the Robot community's: robocop's check and its formatter find nothing.

The rules this project does not follow are switched off in pyproject.toml ([tool.robocop]),
each with its reason. `./run style` runs the same two commands and shows the diff.
"""
from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from robot_runs import ROOT

ROBOCOP = Path(sys.executable).with_name("robocop")
CHECKED = ["suites", "resources"]            # robocop check: every rule but those configured
FORMATTED = [*CHECKED, "tests/acceptance/robot"]        # robocop format: the layout of every suite


def robocop(*arguments: str) -> subprocess.CompletedProcess:
    return subprocess.run([str(ROBOCOP), *arguments], capture_output=True, text=True,
                          timeout=120, cwd=ROOT)


def test_robocop_check_finds_nothing_in_the_suites_and_resources():
    run = robocop("check", *CHECKED)
    assert run.returncode == 0, run.stdout[-6000:] + run.stderr[-2000:]
    assert "No issues found" in run.stdout


def test_robocop_format_would_change_nothing():
    run = robocop("format", "--check", "--diff", "--no-color", *FORMATTED)
    assert run.returncode == 0, ("run `robocop format " + " ".join(FORMATTED) + "`:\n"
                                 + run.stdout[-6000:] + run.stderr[-2000:])
    assert "0 files would be reformatted" in run.stdout + run.stderr


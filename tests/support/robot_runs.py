"""Running Robot Framework and pabot on suites from the tests, and reading output.xml."""
from __future__ import annotations

import os
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

from robot.api import ExecutionResult

from paths import LIBRARIES, ROOT


@dataclass
class RobotRun:
    returncode: int
    stdout: str
    stderr: str
    outdir: Path

    @property
    def result(self):
        return ExecutionResult(str(self.outdir / "output.xml"))

    def tests(self) -> dict:
        return {test.name: test for test in self.result.suite.all_tests}

    def output_files(self) -> dict[str, str]:
        """Every file Robot wrote, as text, plus what it printed."""
        files = {path.name: path.read_text(errors="replace")
                 for path in self.outdir.rglob("*") if path.is_file()}
        files["<stdout>"], files["<stderr>"] = self.stdout, self.stderr
        return files


def run_robot(outdir: Path, *arguments: str, env: dict | None = None, runner: str = "robot",
              timeout_s: float = 600) -> RobotRun:
    environment = {**os.environ, **(env or {})}
    command = ([sys.executable, "-m", "robot"] if runner == "robot"
               else [sys.executable, "-m", "pabot.pabot", "--no-pabotlib",
                     "--command", sys.executable, "-m", "robot", "--end-command"])
    completed = subprocess.run(
        [*command, "--pythonpath", str(LIBRARIES), "--outputdir", str(outdir),
         "--console", "dotted", *arguments],
        capture_output=True, text=True, timeout=timeout_s, cwd=ROOT, env=environment)
    return RobotRun(completed.returncode, completed.stdout, completed.stderr, outdir)

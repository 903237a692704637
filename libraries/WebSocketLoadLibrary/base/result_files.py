"""Where results are saved: `${OUTPUT DIR}/load-results/<suite>--<test>--<step>.json`.

Every load keyword saves its result as soon as it has one, so a test that fails on a later
assertion still leaves its figures behind. Like Robot's own output files, the folder holds
the latest run, but never at the cost of a run that is still going: the first save of a
run removes what earlier runs saved there automatically once those runs have finished.
A file names the processes of its run (`saved_by`: host, pids and their start times); a
run has finished when none of them is running. Files from another host or container are
kept (their pids say nothing here), as are files saved to a path of the user's choosing.
So two runs side by side in one output directory (two CI jobs, two suites) keep each
other's files and a merge counts both; the next run on its own replaces them.

The folders cleaned are those a merge of the output directory reads: `load-results/` and
`pabot_results/*/load-results/`, where a finished pabot run left its files. A pabot
process (output directory `pabot_results/N/`) cleans its own folder and the output
directory's (what a plain run left), never its siblings': pabot empties pabot_results/
when it starts, so they belong to this run. Its files name pabot too, whose run it is.
"""
from __future__ import annotations

import json
import os
import socket
import uuid
from pathlib import Path

import psutil
from robot.libraries.BuiltIn import BuiltIn, RobotNotRunningError

from ..reports.headlines import RunFigures
from ..reports.records import RESULT_FORMAT, result_document, slug, write_json_atomically

FOLDER = "load-results"
PABOT_FOLDER = "pabot_results"


class ResultFiles:
    def __init__(self):
        self.run_id = uuid.uuid4().hex          # one library instance = one Robot process
        self.saved: dict[int, Path] = {}        # id(result) -> where it was saved
        self.contexts: dict[int, tuple[str, str]] = {}   # id(result) -> (suite, test)
        self._cleaned: set[Path] = set()
        self._saved_by: dict | None = None
        self.figures = RunFigures()             # what was saved, by suite: report.html's

    # -- where a result came from ------------------------------------------------------
    @staticmethod
    def current_context() -> tuple[str, str]:
        """(suite, test) now running; test is "" in a suite setup or teardown."""
        try:
            variables = BuiltIn().get_variables()
        except RobotNotRunningError:
            return "", ""
        return str(variables.get("${SUITE NAME}", "")), str(variables.get("${TEST NAME}", ""))

    def remember_context(self, result) -> None:
        self.contexts[id(result)] = self.current_context()

    def context_of(self, result) -> tuple[str, str]:
        return self.contexts.get(id(result)) or self.current_context()

    @staticmethod
    def output_dir() -> Path:
        try:
            return Path(BuiltIn().get_variable_value("${OUTPUT DIR}") or ".")
        except RobotNotRunningError:
            return Path(".")

    def saved_by(self) -> dict:
        """This run's processes: this one, and under pabot, pabot."""
        if self._saved_by is None:
            processes = [psutil.Process()]
            if _pabot_root(self.output_dir()) is not None and processes[0].parent():
                processes.append(processes[0].parent())
            self._saved_by = {"host": _host(),
                              "processes": [[p.pid, p.create_time()] for p in processes]}
        return self._saved_by

    # -- saving --------------------------------------------------------------------------
    def save(self, result, path: str | Path | None = None) -> Path:
        """Save `result` to `path`, or to its place under load-results/ (once per result:
        saving it again rewrites the same file, so a merge never counts it twice)."""
        suite, test = self.context_of(result)
        automatic = path is None
        if automatic:
            path = self.saved.get(id(result)) or self._new_path(result, suite, test)
        path = Path(path)
        document = result_document(result, suite, test, self.run_id, auto_saved=automatic)
        if automatic:
            document["saved_by"] = self.saved_by()
        write_json_atomically(path, document)
        if automatic:
            self.saved[id(result)] = path
        return path

    def _new_path(self, result, suite: str, test: str) -> Path:
        output_dir = self.output_dir()
        for folder in _merged_folders(output_dir):
            self._clean(folder)
        folder = output_dir / FOLDER
        folder.mkdir(parents=True, exist_ok=True)
        stem = "--".join(slug(part) for part in (suite or "suite", test or "setup",
                                                 result.name or "step"))
        path, number = folder / f"{stem}.json", 1
        while not _claim(path):
            number += 1
            path = folder / f"{stem}--{number}.json"
        return path

    def _clean(self, folder: Path) -> None:
        """Remove what finished earlier runs saved here automatically; once per folder."""
        if folder in self._cleaned:
            return
        self._cleaned.add(folder)
        for file in folder.glob("*.json") if folder.is_dir() else ():
            try:
                data = json.loads(file.read_text())
            except (OSError, ValueError):
                continue
            if (isinstance(data, dict) and data.get("format") == RESULT_FORMAT
                    and data.get("auto_saved") and data.get("run_id") != self.run_id
                    and not _may_be_running(data.get("saved_by"))):
                file.unlink(missing_ok=True)


def _pabot_root(output_dir: Path) -> Path | None:
    """The pabot run's output directory when this is one of its processes."""
    for folder in (output_dir, *output_dir.parents):
        if folder.name == PABOT_FOLDER:
            return folder.parent
    return None


def _merged_folders(output_dir: Path) -> list[Path]:
    root = _pabot_root(output_dir)
    if root is not None:
        return [output_dir / FOLDER, root / FOLDER]
    return [output_dir / FOLDER, *sorted(output_dir.glob(f"{PABOT_FOLDER}/**/{FOLDER}"))]


def _claim(path: Path) -> bool:
    """Take a file name by creating the file: a run beside this one that picks the same
    name at the same moment gets the next. Until written it is empty, and readers skip it."""
    try:
        os.close(os.open(path, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o644))
    except FileExistsError:
        return False
    return True


def _host() -> str:
    """Where pids mean the same: containers can share a hostname, never a pid namespace."""
    try:
        namespace = os.readlink("/proc/self/ns/pid")
    except OSError:
        namespace = ""
    return f"{socket.gethostname()} {namespace}".strip()


def _may_be_running(saved_by) -> bool:
    if not isinstance(saved_by, dict):
        return False    # saved before files named their run: removed then, removed now
    if saved_by.get("host") != _host():
        return True
    try:
        return any(_running(int(pid), float(started))
                   for pid, started in saved_by.get("processes", ()))
    except (TypeError, ValueError):
        return False


def _running(pid: int, started: float) -> bool:
    try:
        process = psutil.Process(pid)
        # pids are reused once their process is gone: the start time tells them apart
        return (abs(process.create_time() - started) < 1.0
                and process.status() != psutil.STATUS_ZOMBIE)
    except psutil.AccessDenied:
        return True
    except psutil.Error:
        return False

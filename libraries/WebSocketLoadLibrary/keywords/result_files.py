"""Where results are saved: `${OUTPUT DIR}/load-results/<suite>--<test>--<step>.json`.

Every load keyword saves its result as soon as it has one, so a test that fails on a later
assertion still leaves its figures behind. Like Robot's own output files, the folder holds
the latest run: the first save of a run removes result files that earlier runs saved there
automatically (files saved to a path of the user's choosing are never touched). Under pabot
every process has its own output directory below `pabot_results/`, so nothing collides.
"""
from __future__ import annotations

import json
import uuid
from pathlib import Path

from robot.libraries.BuiltIn import BuiltIn, RobotNotRunningError

from ..reports.records import RESULT_FORMAT, result_document, slug, write_json_atomically

FOLDER = "load-results"


class ResultFiles:
    def __init__(self):
        self.run_id = uuid.uuid4().hex          # one library instance = one Robot process
        self.saved: dict[int, Path] = {}        # id(result) -> where it was saved
        self.contexts: dict[int, tuple[str, str]] = {}   # id(result) -> (suite, test)
        self._taken: set[Path] = set()
        self._cleaned: set[Path] = set()

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

    # -- saving --------------------------------------------------------------------------
    def save(self, result, path: str | Path | None = None) -> Path:
        """Save `result` to `path`, or to its place under load-results/ (once per result:
        saving it again rewrites the same file, so a merge never counts it twice)."""
        suite, test = self.context_of(result)
        automatic = path is None
        if automatic:
            path = self.saved.get(id(result)) or self._new_path(result, suite, test)
        path = Path(path)
        write_json_atomically(path, result_document(result, suite, test, self.run_id,
                                                    auto_saved=automatic))
        if automatic:
            self.saved[id(result)] = path
        return path

    def _new_path(self, result, suite: str, test: str) -> Path:
        folder = self.output_dir() / FOLDER
        self._clean(folder)
        stem = "--".join(slug(part) for part in (suite or "suite", test or "setup",
                                                 result.name or "step"))
        path, number = folder / f"{stem}.json", 1
        while path in self._taken or path.exists():
            number += 1
            path = folder / f"{stem}--{number}.json"
        self._taken.add(path)
        return path

    def _clean(self, folder: Path) -> None:
        """Remove what earlier runs saved here automatically; once per folder and run."""
        if folder in self._cleaned:
            return
        self._cleaned.add(folder)
        for file in folder.glob("*.json") if folder.is_dir() else ():
            try:
                data = json.loads(file.read_text())
            except (OSError, ValueError):
                continue
            if (isinstance(data, dict) and data.get("format") == RESULT_FORMAT
                    and data.get("auto_saved") and data.get("run_id") != self.run_id):
                file.unlink(missing_ok=True)

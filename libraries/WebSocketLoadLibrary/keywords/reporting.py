"""Keywords that put results into the log and into files."""
from __future__ import annotations

import json
import os
import re
import tempfile
from pathlib import Path

from robot.api import logger
from robot.api.deco import keyword
from robot.libraries.BuiltIn import BuiltIn

from ..engine import LoadResult, ScalingResult
from .component import LibraryComponent
from .summary_table import result_table, scaling_table


class ReportingKeywords(LibraryComponent):

    @keyword
    def log_load_summary(self, result=None) -> None:
        """Writes the summary table of the last result (or ``result``) to the log.

        Every load keyword does this by itself; use it to show an earlier result again.
        """
        target = self._result(result)
        table = scaling_table(target) if isinstance(target, ScalingResult) else result_table(target)
        logger.info(table, html=True)

    @keyword
    def get_load_summary(self, result=None) -> dict:
        """Returns the figures of the last result (or ``result``) as a dictionary, in user
        units: ``sent``, ``received``, ``lost``, ``delivery_ratio``, ``achieved_send_rate``,
        ``achieved_receive_rate``, ``latency_p50_ms`` ... ``latency_p99_9_ms``,
        ``latency_max_ms``, ``service_p99_ms``, ``max_lag_ms``, ``load_applied``, ...
        For a scaling result: ``efficiency``, ``peak_throughput`` and ``steps`` (a list of
        the steps' dictionaries).

        Example:
        | ${summary}= | Get Load Summary |
        | Should Be True | ${summary}[lost] == 0 |
        """
        target = self._result(result)
        if isinstance(target, ScalingResult):
            return {"kind": target.kind, "name": target.name, "efficiency": target.efficiency,
                    "peak_throughput": target.peak_throughput,
                    "steps": [step.summary() for step in target.steps]}
        return target.summary()

    @keyword
    def save_load_results(self, path: str | None = None, result=None) -> str:
        """Saves the last result (or ``result``) as JSON, histograms included in their
        encoded form, and returns the file's path.

        Without ``path`` the file goes to ``load-results/`` under Robot's output directory,
        named after the suite and test. The file is written atomically (a reader never sees
        half a file), so results from parallel pabot processes can be merged later with
        true percentiles.
        """
        target = self._result(result)
        if path is None:
            variables = BuiltIn().get_variables()
            folder = Path(variables["${OUTPUT DIR}"]) / "load-results"
            test = variables.get("${TEST NAME}") or "suite"
            stem = _slug(f"{variables['${SUITE NAME}']}-{test}-{target.name}")
            path = str(folder / f"{stem}.json")
        write_json_atomically(Path(path), target.to_dict())
        logger.info(f"Load result saved to <a href=\"{path}\">{path}</a>", html=True)
        return path

    def _result(self, result):
        target = result if result is not None else self.state.last_result
        if target is None:
            raise AssertionError("no load result yet: run a load keyword first")
        if not isinstance(target, (LoadResult, ScalingResult)):
            raise TypeError(f"result must be what a load keyword returned, got "
                            f"{type(target).__name__}")
        return target


def write_json_atomically(path: Path, data) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    handle, temporary = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(handle, "w") as stream:
            json.dump(data, stream, default=str)
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise


def _slug(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9._-]+", "_", text).strip("_")[:150]

"""Result files: what a saved result holds besides the figures, and reading them back.

A saved file is a result's `to_dict()` (histograms in their encoded form) plus where it came
from: `format`, `suite`, `test`, `run_id`, `saved_at`. A scaling result is one file with its
steps inside, as is a capacity search (its probes, each with a `capacity` section that
carries what the whole search found). Reading flattens everything into `StepRecord`s, one
per load step, whether the file is a single step, a scaling series, or a merged run (whose
`records` carry the steps).
"""
from __future__ import annotations

import json
import os
import re
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

from ..engine import LoadResult
from ..engine import ScalingResult
from ..errors import UsageError

RESULT_FORMAT = "websocket-load-result/1"
MERGED_FORMAT = "websocket-load-merged/1"


@dataclass
class StepRecord:
    """One load step and where it ran."""
    result: LoadResult
    suite: str = ""
    test: str = ""
    scaling: str = ""          # the scaling series it belongs to, if any
    scaling_kind: str = ""     # "rate" or "connections"
    source: str = ""           # the file it was read from

    @property
    def step(self) -> str:
        return self.result.name

    @property
    def key(self) -> str:
        """The name a step is matched by across runs: suite, test and step name."""
        return " / ".join(part for part in (self.suite, self.test, self.step) if part)

    def to_dict(self) -> dict:
        return {"suite": self.suite, "test": self.test, "scaling": self.scaling,
                "scaling_kind": self.scaling_kind, "source": self.source, "result": self.result.to_dict()}


def result_document(result, suite: str = "", test: str = "", run_id: str = "",
                    auto_saved: bool = False) -> dict:
    """What a saved result file holds."""
    return {"format": RESULT_FORMAT, "suite": suite, "test": test, "run_id": run_id,
            "saved_at": time.time(), "auto_saved": auto_saved, **result.to_dict()}


def write_json_atomically(path: Path, data) -> None:
    write_text_atomically(path, json.dumps(data, default=str))


def write_text_atomically(path: Path, text: str) -> None:
    """Write to a temporary file in the same folder and rename: a reader (or a merge running
    at the same time) never sees half a file."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    handle, temporary = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(handle, "w") as stream:
            stream.write(text)
        os.chmod(temporary, 0o644)  # mkstemp makes it private; results are for everyone
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise


def slug(text: str, limit: int = 80) -> str:
    """A file-name-safe form of a suite, test or step name."""
    return re.sub(r"[^A-Za-z0-9.,_-]+", "_", text).strip("_.")[:limit] or "_"


def records_from_document(data: dict, source: str = "") -> list[StepRecord]:
    if not isinstance(data, dict):
        raise UsageError(f"{source or 'document'} is not a saved load result")
    if data.get("format") == MERGED_FORMAT:
        return [StepRecord(LoadResult.from_dict(r["result"]), r.get("suite", ""),
                           r.get("test", ""), r.get("scaling", ""), r.get("scaling_kind", ""),
                           r.get("source") or source)
                for r in data.get("records", [])]
    suite, test = data.get("suite", ""), data.get("test", "")
    if "steps" in data:
        scaling = ScalingResult.from_dict(data)
        return [StepRecord(step, suite, test, scaling.name, scaling.kind, source)
                for step in scaling.steps]
    if "latency_histogram" in data:
        return [StepRecord(LoadResult.from_dict(data), suite, test, source=source)]
    raise UsageError(f"{source or 'document'} is not a saved load result")


def read_records(path) -> list[StepRecord]:
    """Every step in a result file, a merged file, or every result file under a folder
    (recursively, so pabot's `pabot_results/N/load-results/` are found)."""
    path = Path(path)
    if not path.exists():
        raise UsageError(f"no saved load results at {path}: no such file or folder")
    if path.is_file():
        try:
            document = _read(path)
        except (OSError, ValueError) as error:  # the user named it: a bad one is theirs to fix
            raise UsageError(f"{path} cannot be read as a saved load result: {error}") from error
        return records_from_document(document, str(path))
    records = []
    for file, data in result_documents(path):
        records.extend(records_from_document(data, str(file)))
    return records


def result_documents(folder: Path) -> list[tuple[Path, dict]]:
    """The saved result files under a folder, read: merged files, other JSON and
    half-written temporary files are left out."""
    documents = []
    for file in sorted(Path(folder).rglob("*.json")):
        if file.name.startswith("."):
            continue
        try:
            data = _read(file)
        except (OSError, ValueError):
            continue
        if isinstance(data, dict) and data.get("format") == RESULT_FORMAT:
            documents.append((file, data))
    return documents


def _read(path: Path):
    with open(path) as stream:
        return json.load(stream)

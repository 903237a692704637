"""One summary of every result a run saved, across pabot processes (and machines).

Steps are merged by kind (kinds.py): request/reply steps with request/reply steps, streams
with streams, fan-outs with fan-outs, connection storms with storms, capacity searches one
row each; a ratio or a percentile is never taken over steps of different kinds. Across kinds
only what means the same everywhere adds up: steps, messages sent and received, and the
time any step was running (the "all steps" line).

Counters add up; percentiles come from the merged HdrHistograms, never from averaging the
steps' percentiles. Throughput of a group of steps is its replies divided by the time any of
its steps was running (the union of their intervals), so steps that ran one after another
are not added up as if they had run at once. The steps are taken in the order they ran
(then by suite, test and name), so the files' order changes nothing.
"""
from __future__ import annotations

import time
from collections import defaultdict
from dataclasses import dataclass, field

from ..engine import LoadResult
from ..engine import ScalingResult
from ..errors import UsageError
from .html import text_table
from .kinds import (CAPACITY, KINDS, common_figures, figures_of, headline_of, kind_named,
                    kind_of, pattern_kind, title_of)
from .records import MERGED_FORMAT, StepRecord, read_records
from .searches import (SEARCH_COLUMNS, all_steps_words, capacity_searches, probe_figures,
                       search_cells, search_words)

@dataclass
class KindGroup:
    """The steps of one kind: their figures over all of them, per suite and per step."""
    key: str
    records: list[StepRecord]
    total: dict = field(default_factory=dict)
    suites: list[dict] = field(default_factory=list)
    steps: list[dict] = field(default_factory=list)

    @property
    def title(self) -> str:
        return title_of(self.key)

    @property
    def columns(self) -> tuple:
        return kind_named(self.key).columns

    def merged(self) -> LoadResult:
        """The steps as one result (one mode: its timeline and histograms, for charts)."""
        return LoadResult.merge([r.result for r in self.records], name=self.title)


@dataclass
class MergedRun:
    records: list[StepRecord]
    total: LoadResult     # every step added up: only its counters mean anything
    suites: dict          # suite name -> LoadResult of its steps (counters only, likewise)
    sources: list[str]
    groups: dict = field(default_factory=dict)     # kind -> KindGroup, capacity apart
    searches: list = field(default_factory=list)   # one row per capacity search

    # -- figures -------------------------------------------------------------------------
    @property
    def total_row(self) -> dict:
        """What adds up over every kind: steps, messages sent and received, busy time."""
        results = [r.result for r in self.records]
        figures = common_figures(results, busy_seconds(results))
        return {"name": "all steps", **figures, "throughput_msg_s": figures["received_msg_s"]}

    @property
    def suite_rows(self) -> list[dict]:
        """Per suite: what adds up, and one headline per kind of step it ran."""
        rows = []
        for suite in self.suites:
            records = [r for r in self.records if r.suite == suite]
            results = [r.result for r in records]
            rows.append({"name": suite, **common_figures(results, busy_seconds(results)),
                         "headlines": suite_headlines(records)})
        return rows

    @property
    def step_rows(self) -> list[dict]:
        return [row for group in self.groups.values() for row in group.steps]

    def scaling_series(self) -> list[ScalingResult]:
        """The scaling series in the run, rebuilt from their steps, for their charts."""
        series: dict[tuple, ScalingResult] = {}
        for record in self.records:
            if record.scaling:
                key = (record.suite, record.test, record.scaling)
                series.setdefault(key, ScalingResult(record.scaling_kind or "rate",
                                                     record.scaling)).steps.append(record.result)
        return list(series.values())

    # -- outputs -------------------------------------------------------------------------
    def to_document(self) -> dict:
        """The merged run as JSON: the all-steps line, the suites' headlines, the figures
        of each kind, and every step with its histograms (so that a merged file serves as
        a baseline for `compare`)."""
        kinds = {key: {"title": group.title, "total": group.total, "suites": group.suites,
                       "steps": group.steps} for key, group in self.groups.items()}
        if self.searches:
            kinds.setdefault(CAPACITY, {"title": title_of(CAPACITY), "steps": []})
            kinds[CAPACITY]["searches"] = self.searches
        return {"format": MERGED_FORMAT, "generated_at": time.time(), "files": self.sources,
                "total": self.total_row, "suites": self.suite_rows, "kinds": kinds,
                "steps": self.step_rows,
                "records": [record.to_dict() for record in self.records]}

    def html_page(self) -> str:
        from .merged_page import merged_page
        return merged_page(self)

    def text(self) -> str:
        """For a terminal: the all-steps line, each suite's headlines, a table per kind."""
        total = self.total_row
        lines = [all_steps_words(total, len(self.sources)), ""]
        for row in self.suite_rows:
            lines.append(row["name"] or "(no suite)")
            lines.extend(f"  {headline}" for headline in row["headlines"])
        for group in self.groups.values():
            columns = ("suite", *(c.label for c in group.columns))
            rows = [(row["name"], *(c.text(row) for c in group.columns))
                    for row in group.suites + [group.total]]
            lines += ["", f"{group.title}:", text_table(columns, rows)]
        if self.searches:
            lines += ["", f"{title_of(CAPACITY)}:",
                      text_table(SEARCH_COLUMNS, [search_cells(s) for s in self.searches])]
        return "\n".join(lines)


def merge_records(records: list[StepRecord], sources: list[str] | None = None) -> MergedRun:
    if not records:
        raise UsageError("no saved load results to merge")
    records = _once_each(sorted(records, key=_running_order))
    by_suite: dict[str, list[LoadResult]] = defaultdict(list)
    for record in records:
        by_suite[record.suite].append(record.result)
    suites = {suite: LoadResult.merge(results, name=suite or "(no suite)")
              for suite, results in by_suite.items()}
    total = LoadResult.merge([r.result for r in records], name="all steps")
    sources = sources if sources is not None else sorted({r.source for r in records})
    run = MergedRun(records, total, suites, sources)
    run.groups = kind_groups(records)
    run.searches = capacity_searches(records)
    return run


def kind_groups(records: list[StepRecord]) -> dict[str, KindGroup]:
    """The steps by kind, in the order the kinds are declared (capacity probes last)."""
    by_kind: dict[str, list[StepRecord]] = defaultdict(list)
    for record in records:
        by_kind[kind_of(record.result)].append(record)
    order = list(dict.fromkeys(KINDS)) + [CAPACITY]
    groups = {}
    for key in sorted(by_kind, key=order.index):
        group = KindGroup(key, by_kind[key])
        figured = (lambda r: pattern_kind(r.result)) if key == CAPACITY else (lambda r: key)
        group.total = {"name": f"all {group.title}", **_figures(key, group.records)}
        suites = list(dict.fromkeys(r.suite for r in group.records))
        if key != CAPACITY:
            group.suites = [{"name": suite, **_figures(key, [r for r in group.records
                                                             if r.suite == suite])}
                            for suite in suites]
        group.steps = [{"name": r.step, "suite": r.suite, "test": r.test, "source": r.source,
                        "kind": key, **figures_of(figured(r), [r.result],
                                                  busy_seconds([r.result])),
                        **probe_figures(r)} for r in group.records]
        groups[key] = group
    return groups


def _figures(key: str, records: list[StepRecord]) -> dict:
    results = [r.result for r in records]
    if key == CAPACITY:   # probes of several patterns: only what adds up
        return common_figures(results, busy_seconds(results))
    return figures_of(key, results, busy_seconds(results))


def suite_headlines(records: list[StepRecord]) -> list[str]:
    """One line per kind of step in `records`: its figures in words (a capacity search:
    what it found)."""
    lines = []
    for key, group in kind_groups(records).items():
        if key == CAPACITY:
            lines.extend(search_words(s) for s in capacity_searches(group.records))
        else:
            lines.append(headline_of(key, group.total))
    return lines


def merge_folder(folder) -> MergedRun:
    """Every result saved under `folder` (pabot_results/*/load-results/ included)."""
    records = read_records(folder)
    if not records:
        raise UsageError(f"no saved load results under {folder}")
    return merge_records(records)


def _running_order(record: StepRecord) -> tuple:
    r = record.result
    return (r.started_at, record.suite, record.test, r.name, r.sent, r.received,
            record.source)


def _once_each(records: list[StepRecord]) -> list[StepRecord]:
    """The same step saved twice (say, also copied as a baseline) counts once."""
    seen, unique = set(), []
    for record in records:
        r = record.result
        fingerprint = (record.suite, record.test, r.name, r.started_at, r.sent, r.received)
        if fingerprint not in seen:
            seen.add(fingerprint)
            unique.append(record)
    return unique


def busy_seconds(results: list[LoadResult]) -> float:
    """How long at least one of the steps was running (the union of their intervals)."""
    spans = sorted((r.started_at, r.started_at + r.duration_s) for r in results)
    busy, end = 0.0, float("-inf")
    for start, stop in spans:
        if stop <= end:
            continue
        busy += stop - max(start, end)
        end = stop
    return busy

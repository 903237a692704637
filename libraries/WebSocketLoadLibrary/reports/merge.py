"""One summary of every result a run saved, across pabot processes (and machines).

Counters add up; percentiles come from the merged HdrHistograms, never from averaging the
steps' percentiles. Throughput of a group of steps is its replies divided by the time any of
its steps was running (the union of their intervals), so steps that ran one after another
are not added up as if they had run at once; the peak is the busiest wall-clock second of
the merged timeline.
"""
from __future__ import annotations

import math

import time
from collections import defaultdict
from dataclasses import dataclass

from ..engine import LoadResult
from ..engine import ScalingResult
from ..errors import UsageError
from .html import html_table, page
from .records import MERGED_FORMAT, StepRecord, read_records

ROW_COLUMNS = ("name", "steps", "sent", "received", "lost", "unmatched", "delivery",
               "busy s", "throughput msg/s", "peak msg/s", "p50 ms", "p95 ms", "p99 ms",
               "p99.9 ms", "max ms", "service p99 ms", "applied")


@dataclass
class MergedRun:
    records: list[StepRecord]
    total: LoadResult
    suites: dict          # suite name -> merged LoadResult of its steps
    sources: list[str]

    # -- figures -------------------------------------------------------------------------
    def row(self, name: str, results: list[LoadResult], merged: LoadResult) -> dict:
        busy_s = busy_seconds(results)
        p = {float(q): merged.latency_ms(q) for q in (50, 95, 99, 99.9)}
        return {
            "name": name, "steps": len(results), "sent": merged.sent,
            "received": merged.received, "lost": merged.lost, "unmatched": merged.unmatched,
            "delivery_ratio": round(merged.delivery_ratio, 6), "busy_s": round(busy_s, 3),
            "throughput_msg_s": round(merged.received / busy_s, 1) if busy_s else 0.0,
            "peak_msg_s": round(peak_per_second(merged), 1),
            # None: beyond the reply timeout (LoadResult.latency_ms)
            **{f"latency_p{label}_ms": None if math.isinf(p[q]) else p[q]
               for label, q in (("50", 50.0), ("95", 95.0), ("99", 99.0), ("99_9", 99.9))},
            "latency_max_ms": merged.latency.max_us() / 1000,
            "service_p99_ms": merged.service_time.percentile_us(99) / 1000,
            "load_applied": merged.load_applied,
        }

    @property
    def total_row(self) -> dict:
        return self.row("all steps", [r.result for r in self.records], self.total)

    @property
    def suite_rows(self) -> list[dict]:
        return [self.row(suite, [r.result for r in self.records if r.suite == suite], merged)
                for suite, merged in self.suites.items()]

    @property
    def step_rows(self) -> list[dict]:
        return [{**self.row(r.step, [r.result], r.result), "suite": r.suite, "test": r.test,
                 "source": r.source} for r in self.records]

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
        """The merged run as JSON: the summary rows, and every step with its histograms
        (so that a merged file serves as a baseline for `compare`)."""
        return {"format": MERGED_FORMAT, "generated_at": time.time(), "files": self.sources,
                "total": self.total_row, "suites": self.suite_rows, "steps": self.step_rows,
                "total_latency_histogram": self.total.latency.encode(),
                "records": [record.to_dict() for record in self.records]}

    def html_tables(self) -> str:
        total = html_table(ROW_COLUMNS, [_cells(self.total_row)],
                           f"All {len(self.records)} steps from {len(self.sources)} file(s): "
                           f"percentiles from the merged histograms")
        suites = html_table(ROW_COLUMNS, [_cells(row) for row in self.suite_rows], "Per suite")
        columns = ("suite", "test", *ROW_COLUMNS)
        steps = html_table(columns, [(row["suite"], row["test"], *_cells(row))
                                     for row in self.step_rows], "Per step", text_columns=3)
        return total + suites + steps

    def charts(self):
        from . import charts
        curves = {"all steps": self.total.latency}
        if len(self.suites) > 1:
            curves.update((suite, merged.latency) for suite, merged in self.suites.items())
        drawn = [charts.step_timeline_chart(self.total, "whole run: every step, by wall-clock "
                                            "second", throughput=self.total_row[
                                                "throughput_msg_s"], show_target=False),
                 charts.latency_distribution_chart(curves, "latency by percentile: all steps"
                                                   + (" and per suite" if len(curves) > 1
                                                      else ""))]
        for series in self.scaling_series():
            drawn.extend(charts.result_charts(series)[:1])
        return drawn

    def html_page(self) -> str:
        from .charts import charts_html
        return page("Load test results, merged", self.html_tables() + charts_html(self.charts()))

    def text(self) -> str:
        from .html import text_table
        rows = [_cells(self.total_row)] + [_cells(row) for row in self.suite_rows]
        return text_table(ROW_COLUMNS, rows)


def merge_records(records: list[StepRecord], sources: list[str] | None = None) -> MergedRun:
    if not records:
        raise UsageError("no saved load results to merge")
    records = _once_each(records)
    by_suite: dict[str, list[LoadResult]] = defaultdict(list)
    for record in records:
        by_suite[record.suite].append(record.result)
    suites = {suite: LoadResult.merge(results, name=suite or "(no suite)")
              for suite, results in by_suite.items()}
    total = LoadResult.merge([r.result for r in records], name="all steps")
    sources = sources if sources is not None else sorted({r.source for r in records})
    return MergedRun(records, total, suites, sources)


def merge_folder(folder) -> MergedRun:
    """Every result saved under `folder` (pabot_results/*/load-results/ included)."""
    records = read_records(folder)
    if not records:
        raise UsageError(f"no saved load results under {folder}")
    return merge_records(records)


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


def peak_per_second(merged: LoadResult) -> float:
    rates = [p["received"] / p["span_s"] for p in merged.timeline if p.get("span_s", 0) >= 0.5]
    return max(rates, default=0.0)


def _latency(value) -> str:
    return "lost" if value is None else f"{value:,.3f}"


def _cells(row: dict) -> tuple:
    return (row["name"], f"{row['steps']:,}", f"{row['sent']:,}", f"{row['received']:,}",
            f"{row['lost']:,}", f"{row['unmatched']:,}", f"{row['delivery_ratio']:.4f}",
            f"{row['busy_s']:,.1f}", f"{row['throughput_msg_s']:,.1f}",
            f"{row['peak_msg_s']:,.1f}", *(_latency(row[f"latency_p{label}_ms"])
                                           for label in ("50", "95", "99", "99_9")),
            f"{row['latency_max_ms']:,.3f}",
            f"{row['service_p99_ms']:,.3f}", "yes" if row["load_applied"] else "NO")

"""Headline figures where report.html shows them, without opening the log.

A test's message gets one line per result its load keywords saved -- a step's figures in its
traffic pattern's words (the `headline` it declares), a scaling series', a capacity
search's -- and whether its load was applied. A suite's metadata gets its steps by kind
(merge.py's headlines: the same figures as the merged page), and the top suite's every
suite's, so report.html's summary reads as the merged page's first table.

Plain Python like the rest of reports/: base/step_report.py puts the texts into Robot.
Metadata is in Robot's documentation syntax: a list, an item per kind of step, the kind in
bold.
"""
from __future__ import annotations

from ..engine import CapacityResult, ScalingResult, amount, format_latency_ms, pattern_of
from .merge import suite_headlines
from .records import StepRecord

METADATA = "Load figures"      # the suites' metadata entry
REASON_CHARACTERS = 160        # of the first reason a step's load was not applied


def verdict_words(result) -> str:
    """`load applied`, or `load NOT applied: <its first reason>`."""
    if result.load_applied:
        return "load applied"
    reasons = list(result.not_applied_reasons)
    reason = reasons[0] if reasons else "see the log"
    if len(reason) > REASON_CHARACTERS:
        reason = reason[:REASON_CHARACTERS - 3].rstrip() + "..."
    more = f" (and {len(reasons) - 1} more)" if len(reasons) > 1 else ""
    return f"load NOT applied: {reason}{more}"


def result_headline(result) -> str:
    """A result's headline figures in one line, its verdict last."""
    if isinstance(result, CapacityResult):
        found = ("no probe met the targets" if result.capacity is None else
                 f"{'at least ' if result.lower_bound else ''}"
                 f"{amount(result.capacity, result.unit)}")
        return (f"{found} ({result.stop_reason or 'stopped'}, {len(result.steps)} probes, "
                f"{result.total_s:,.1f} s)")
    if isinstance(result, ScalingResult):
        worst = max((step.latency_ms(95) for step in result.steps), default=0.0)
        not_applied = sum(not step.load_applied for step in result.steps)
        verdict = ("load applied" if not not_applied else
                   f"load NOT applied in {not_applied} of {len(result.steps)} steps")
        return (f"{len(result.steps)} steps, efficiency "
                f"{result.efficiency:.3f} (worst step), peak {result.peak_throughput:,.0f} "
                f"msg/s, p95 up to {format_latency_ms(worst, 2)} ms; {verdict}")
    return f"{pattern_of(result.mode).headline(result)}; {verdict_words(result)}"


def message_line(result) -> str:
    """`<step name>: <headline>`: one line of a test's message."""
    return f"{result.name or 'step'}: {result_headline(result)}"


class RunFigures:
    """The results saved so far, by suite: what the suites' metadata is made of."""

    def __init__(self):
        self.suites: dict[str, dict[int, list[StepRecord]]] = {}   # suite -> id -> steps

    def add(self, result, suite: str, test: str) -> None:
        """A result saved in `suite` and `test`: a step, or a series' or search's steps.
        Saved again, it replaces itself."""
        if isinstance(result, ScalingResult):
            records = [StepRecord(step, suite, test, result.name, result.kind)
                       for step in result.steps]
        else:
            records = [StepRecord(result, suite, test)]
        self.suites.setdefault(suite, {})[id(result)] = records

    def records(self, suite: str) -> list[StepRecord]:
        return [record for records in self.suites.get(suite, {}).values()
                for record in records]

    def suite_figures(self, suite: str) -> str:
        """The suite's steps by kind, a list item each (Robot's documentation syntax: a
        list takes the page's width, where a table's cells wrap every few words)."""
        return "\n".join(f"- {_bold_kind(line)}"
                         for line in suite_headlines(self.records(suite)))

    def run_figures(self) -> str:
        """Every suite's steps by kind: an item per suite and kind, the suite first."""
        names = _short_names(list(self.suites))
        return "\n".join(f"- *{_plain(name)}* -- {_bold_kind(line)}"
                         for suite, name in names.items()
                         for line in suite_headlines(self.records(suite)))


def _bold_kind(line: str) -> str:
    """`*paced requests, 5 steps*: figures` (Robot's bold)."""
    kind, colon, figures = line.partition(": ")
    return f"*{_plain(kind)}*: {figures}" if colon else line


def _plain(text: str) -> str:
    """A name as Robot's documentation syntax shows it as written: no `*` to end a bold."""
    return text.replace("*", "")


def _short_names(suites: list[str]) -> dict[str, str]:
    """Suite names without the top suite's name they all begin with (`Suites.`)."""
    tops = {suite.partition(".")[0] for suite in suites}
    if len(tops) == 1 and all("." in suite for suite in suites):
        return {suite: suite.partition(".")[2] for suite in suites}
    return {suite: suite or "(no suite)" for suite in suites}

"""Regression check: this run's steps against a baseline saved from an earlier run.

Steps are matched by name: first by suite / test / step, then by the step name alone when
exactly one baseline step has it. Per matched step: throughput (replies per second) must not
fall by more than the tolerance, and p95 and p99 latency must not rise by more than the
tolerance -- and, for latency, by more than `latency_margin_ms` too, so that 0.20 -> 0.25 ms
of loopback jitter does not count as a regression.

Then every figure a result section names in its `higher_is_worse` / `lower_is_worse`
(engine/sections.py: a stream's rate, a fan-out's lost deliveries, ...), read from the
sections' classes, so a new kind of figure is compared with no edit here. The same rule:
lower-is-worse figures must not fall by more than the tolerance, higher-is-worse ones must
not rise by more than it (those in ms: and by more than the latency margin). A figure the
baseline has and the current step lacks is MISSING (it could not be checked); one only the
current step has is new. Results saved before sections existed have none: nothing to check.

A step is compared with a baseline step of its own kind only (kinds.py: its traffic pattern,
or a capacity probe): a step whose name now belongs to another kind (a request/reply step
become a stream) fails as KIND CHANGED, its figures not compared -- a stream's messages per
second are no replies per second. A figure neither step measured (the reply latency of a
listen-only step, the throughput of a connection storm: both zero) is not checked, so no
"ok" stands for a check that compared nothing.

A capacity search is compared as one figure, its capacity, not probe by probe (its probes'
rates differ from run to run). Its probes are recognised by their `capacity` section and
grouped by suite / test / search name. The capacity regresses when it falls below baseline x
(1 - tolerance). A current capacity below that floor that is only a lower bound (the
generator's limit, or a budget that ran out before a rate missed the targets) cannot be
judged: it fails as GENERATOR LIMIT or LOWER BOUND, never passes.
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field

from ..engine import SECTIONS
from ..errors import UsageError
from .html import BAD, GOOD, html_table, text_table
from .kinds import kind_of, title_of
from .records import StepRecord

COLUMNS = ("step", "figure", "baseline", "current", "change", "allowed", "verdict")


@dataclass
class Check:
    step: str
    figure: str
    baseline: float | None
    current: float | None
    allowed: str
    verdict: str          # "ok", "improved", "new", or failed: "REGRESSED", "MISSING",
                          # "NO BASELINE"
    unit: str | None = None   # None: msg/s for throughput, ms for the others (p95, p99)

    @property
    def failed(self) -> bool:
        return self.verdict in ("REGRESSED", "MISSING", "NO BASELINE", "GENERATOR LIMIT",
                                "LOWER BOUND", "KIND CHANGED")

    @property
    def change(self) -> str:
        if self.baseline is None or self.current is None:
            return "-"
        if not self.baseline:
            return "n/a"
        return f"{(self.current - self.baseline) / self.baseline:+.1%}"

    def cells(self) -> tuple:
        unit = self.unit if self.unit is not None else (
            " msg/s" if self.figure == "throughput" else " ms")
        show = (lambda v: "-" if v is None else
                (f"{v:,.3f}" if self.unit is None else _number(v)) + unit)
        return (self.step, self.figure, show(self.baseline), show(self.current), self.change,
                self.allowed, self.verdict)


@dataclass
class Comparison:
    tolerance: float
    checks: list = field(default_factory=list)

    @property
    def failures(self) -> list[Check]:
        return [c for c in self.checks if c.failed]

    @property
    def passed(self) -> bool:
        compared = [c for c in self.checks if c.figure != "step"]
        return bool(compared) and not self.failures

    def summary(self) -> str:
        steps = len({c.step for c in self.checks if c.figure != "step"})
        new_steps = sum(c.verdict == "new" and c.figure == "step" for c in self.checks)
        new_figures = sum(c.verdict == "new" and c.figure != "step" for c in self.checks)
        if self.passed:
            figures = ", ".join(dict.fromkeys(c.figure for c in self.checks
                                              if c.figure != "step" and c.verdict != "new"))
            return (f"No regression beyond {self.tolerance:.0%} in {steps} step(s) ({figures})"
                    + (f"; {new_steps} new step(s) without a baseline" if new_steps else "")
                    + (f"; {new_figures} figure(s) the baseline did not have"
                       if new_figures else ""))
        parts = [f"{c.step}: {c.figure} {c.verdict.lower()}"
                 + (f" ({c.change}, allowed {c.allowed})" if c.verdict == "REGRESSED" else "")
                 for c in self.failures]
        if not parts:
            parts = ["no step in common with the baseline"]
        return (f"Load results regressed against the baseline (tolerance {self.tolerance:.0%}): "
                + "; ".join(parts))

    def html(self) -> str:
        styles = [BAD if c.failed else GOOD if c.verdict == "improved" else ""
                  for c in self.checks]
        return html_table(COLUMNS, [c.cells() for c in self.checks],
                          f"Against the baseline, tolerance {self.tolerance:.0%}", styles)

    def text(self) -> str:
        return text_table(COLUMNS, [c.cells() for c in self.checks])


def compare(baseline: list[StepRecord], current: list[StepRecord], tolerance: float = 0.10,
            latency_margin_ms: float = 1.0, whole_run: bool = True) -> Comparison:
    """Compare `current` steps with `baseline` ones.

    `whole_run`: current is a whole run, so a baseline step it lacks is MISSING (fails) and
    a step the baseline lacks is merely new. Otherwise current is a few steps of a run (the
    keyword's last result): baseline steps of other tests do not matter, and a current step
    without a baseline fails, since nothing about it could be checked."""
    if not 0 <= tolerance < 1:
        raise UsageError(f"tolerance must be between 0% and 100%, got {tolerance}")
    comparison = Comparison(tolerance)
    base_searches, baseline = _capacity_searches(baseline)
    now_searches, current = _capacity_searches(current)
    by_key = {r.key: r for r in baseline}
    by_name: dict[str, list[StepRecord]] = {}
    for record in baseline:
        by_name.setdefault(record.step, []).append(record)
    matched = set()
    for record in current:
        base = by_key.get(record.key)
        if base is None and len(by_name.get(record.step, [])) == 1:
            base = by_name[record.step][0]
        if base is None:
            comparison.checks.append(Check(record.key, "step", None, None, "-",
                                           "new" if whole_run else "NO BASELINE"))
            continue
        matched.add(id(base))
        before, now = kind_of(base.result), kind_of(record.result)
        if before != now:   # not the same kind of traffic: no figure compares
            comparison.checks.append(Check(record.key, "kind", None, None,
                                           f"{title_of(before)}, now {title_of(now)}",
                                           "KIND CHANGED"))
            continue
        comparison.checks.extend(_step_checks(record.key, base.result, record.result, tolerance,
                                              latency_margin_ms))
    if whole_run:
        for record in baseline:
            if id(record) not in matched:
                comparison.checks.append(Check(record.key, "step", None, None, "-", "MISSING"))
    comparison.checks.extend(_capacity_checks(base_searches, now_searches, tolerance,
                                              whole_run))
    return comparison


def _capacity_searches(records: list[StepRecord]) -> tuple[dict, list[StepRecord]]:
    """The capacity searches among `records` (key -> (search name, what it found)), and the
    other records."""
    searches, others = {}, []
    for record in records:
        probe = record.result.sections.get("capacity")
        if probe is None or not probe.search:
            others.append(record)
            continue
        key = " / ".join(part for part in (record.suite, record.test, probe.search) if part)
        searches.setdefault(key, (probe.search, probe.found))
    return searches, others


def _capacity_checks(baseline: dict, current: dict, tolerance: float,
                     whole_run: bool) -> list[Check]:
    by_name: dict[str, list] = {}
    for name, found in baseline.values():
        by_name.setdefault(name, []).append(found)
    checks, matched = [], set()
    for key, (name, found) in current.items():
        now = found.get("capacity_msg_s")
        unit = " " + found.get("unit", "msg/s")   # a connections search counts connections
        base_found = baseline.get(key, (None, None))[1]
        if base_found is None and len(by_name.get(name, [])) == 1:
            base_found = by_name[name][0]
        if base_found is None:
            checks.append(Check(key, "capacity", None, now, "-",
                                "new" if whole_run else "NO BASELINE", unit=unit))
            continue
        matched.add(id(base_found))
        before = base_found.get("capacity_msg_s")
        if before is None:   # the baseline found none: nothing to hold this run to
            checks.append(Check(key, "capacity", None, now, "-", "new", unit=unit))
            continue
        floor = before * (1 - tolerance)
        if now is not None and now >= floor:
            verdict = "improved" if now > before * (1 + tolerance) else "ok"
        elif found.get("stop_reason") == "generator limit":
            verdict = "GENERATOR LIMIT"
        elif now is not None and found.get("lower_bound"):
            verdict = "LOWER BOUND"
        else:
            verdict = "REGRESSED"
        checks.append(Check(key, "capacity", before, now, f">= {floor:,.1f}", verdict,
                            unit=unit))
    if whole_run:
        for key, (_, found) in baseline.items():
            if id(found) not in matched:
                checks.append(Check(key, "capacity", found.get("capacity_msg_s"), None, "-",
                                    "MISSING", unit=" " + found.get("unit", "msg/s")))
    return checks


def _step_checks(name, base, now, tolerance, margin_ms) -> list[Check]:
    checks = []
    floor = base.achieved_receive_rate * (1 - tolerance)
    rate_verdict = ("REGRESSED" if now.achieved_receive_rate < floor else
                    "improved" if now.achieved_receive_rate > base.achieved_receive_rate
                    * (1 + tolerance) else "ok")
    if base.received or now.received:   # a storm receives nothing: no throughput to check
        checks.append(Check(name, "throughput", base.achieved_receive_rate,
                            now.achieved_receive_rate, f">= {floor:,.1f}", rate_verdict))
    if not (base.latency.count or now.latency.count or base.expected or now.expected):
        return checks + _section_checks(name, base, now, tolerance, margin_ms)
    for percentile in (95, 99):
        before, after = base.latency_ms(percentile), now.latency_ms(percentile)
        ceiling = max(before * (1 + tolerance), before + margin_ms)
        verdict = ("REGRESSED" if after > ceiling else
                   "improved" if after < before * (1 - tolerance) and before - after > margin_ms
                   else "ok")
        checks.append(Check(name, f"p{percentile}", before, after, f"<= {ceiling:,.3f}",
                            verdict))
    return checks + _section_checks(name, base, now, tolerance, margin_ms)


def section_figures() -> list[tuple[str, str, bool]]:
    """(summary name, words, higher is worse) of every figure a section kind names for the
    regression check, kind by kind in the order they were registered."""
    return [(figure, words, higher) for kind in SECTIONS.values()
            for higher, named in ((False, kind.lower_is_worse), (True, kind.higher_is_worse))
            for figure, words in named.items()]


def _section_checks(name, base, now, tolerance, margin_ms) -> list[Check]:
    before_figures, after_figures = _figures(base), _figures(now)
    checks = []
    for figure, words, higher_is_worse in section_figures():
        before, after = before_figures.get(figure), after_figures.get(figure)
        if before is None and after is None:
            continue   # neither step has this kind of traffic
        if before is None:
            checks.append(Check(name, words, None, after, "-", "new", unit=""))
        elif after is None:
            checks.append(Check(name, words, before, None, "-", "MISSING", unit=""))
        elif higher_is_worse:
            margin = margin_ms if figure.endswith("_ms") else 0.0
            ceiling = max(before * (1 + tolerance), before + margin)
            verdict = ("REGRESSED" if after > ceiling else
                       "improved" if after < before * (1 - tolerance) and before - after > margin
                       else "ok")
            checks.append(Check(name, words, before, after, f"<= {_bound(ceiling, before)}",
                                verdict, unit=""))
        else:
            floor = before * (1 - tolerance)
            verdict = ("REGRESSED" if after < floor else
                       "improved" if after > before * (1 + tolerance) else "ok")
            checks.append(Check(name, words, before, after, f">= {_bound(floor, before)}",
                                verdict, unit=""))
    return checks


def _figures(result) -> dict:
    """The numeric figures of a result's sections (what its summary says of them)."""
    return {figure: value for part in result.sections.values()
            for figure, value in part.summary().items()
            if isinstance(value, (int, float)) and not isinstance(value, bool)}


def _number(value) -> str:
    """Counts as counts, ratios with the digits their small differences need."""
    if isinstance(value, int):
        return f"{value:,}"
    return f"{value:,.3f}" if abs(value) > 1 else f"{value:.6f}"


def _bound(bound: float, before) -> str:
    return f"{bound:,.1f}" if isinstance(before, int) else _number(bound)


def parse_tolerance(text) -> float:
    """`10%`, `10 %`, `0.1` -> 0.1."""
    value = str(text).strip()
    match = re.fullmatch(r"([0-9]*\.?[0-9]+)\s*(%?)", value)
    if not match:
        raise UsageError(f"tolerance must look like 10% or 0.1, got {text!r}")
    number = float(match.group(1)) / (100 if match.group(2) else 1)
    if not 0 <= number < 1:
        raise UsageError(f"tolerance must be between 0% and 100%, got {text!r}")
    return number

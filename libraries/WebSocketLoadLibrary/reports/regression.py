"""Regression check: this run's steps against a baseline saved from an earlier run.

Steps are matched by name: first by suite / test / step, then by the step name alone when
exactly one baseline step has it. Per matched step: throughput (replies per second) must not
fall by more than the tolerance, and p95 and p99 latency must not rise by more than the
tolerance -- and, for latency, by more than `latency_margin_ms` too, so that 0.20 -> 0.25 ms
of loopback jitter does not count as a regression.
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field

from ..errors import UsageError
from .html import BAD, GOOD, html_table, text_table
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

    @property
    def failed(self) -> bool:
        return self.verdict in ("REGRESSED", "MISSING", "NO BASELINE")

    @property
    def change(self) -> str:
        if self.baseline is None or self.current is None:
            return "-"
        if not self.baseline:
            return "n/a"
        return f"{(self.current - self.baseline) / self.baseline:+.1%}"

    def cells(self) -> tuple:
        unit = " msg/s" if self.figure == "throughput" else " ms"
        show = (lambda v: "-" if v is None else f"{v:,.3f}{unit}")
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
        new = sum(c.verdict == "new" for c in self.checks)
        if self.passed:
            return (f"No regression beyond {self.tolerance:.0%} in {steps} step(s) "
                    f"(throughput, p95, p99)" + (f"; {new} new step(s) without a baseline"
                                                 if new else ""))
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
        comparison.checks.extend(_step_checks(record.key, base.result, record.result, tolerance,
                                              latency_margin_ms))
    if whole_run:
        for record in baseline:
            if id(record) not in matched:
                comparison.checks.append(Check(record.key, "step", None, None, "-", "MISSING"))
    return comparison


def _step_checks(name, base, now, tolerance, margin_ms) -> list[Check]:
    checks = []
    floor = base.achieved_receive_rate * (1 - tolerance)
    rate_verdict = ("REGRESSED" if now.achieved_receive_rate < floor else
                    "improved" if now.achieved_receive_rate > base.achieved_receive_rate
                    * (1 + tolerance) else "ok")
    checks.append(Check(name, "throughput", base.achieved_receive_rate,
                        now.achieved_receive_rate, f">= {floor:,.1f}", rate_verdict))
    for percentile in (95, 99):
        before, after = base.latency_ms(percentile), now.latency_ms(percentile)
        ceiling = max(before * (1 + tolerance), before + margin_ms)
        verdict = ("REGRESSED" if after > ceiling else
                   "improved" if after < before * (1 - tolerance) and before - after > margin_ms
                   else "ok")
        checks.append(Check(name, f"p{percentile}", before, after, f"<= {ceiling:,.3f}",
                            verdict))
    return checks


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

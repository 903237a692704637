"""What a capacity probe must meet, and the verdict on one probe (capacity.py searches)."""
from __future__ import annotations

from dataclasses import dataclass, field

from ...errors import UsageError
from ..results.result import LoadResult, format_latency_ms

# a probe's verdict
MET, MISSED, NOT_APPLIED, LOST = "met", "missed", "generator limit", "server lost"


class CapacitySearchError(UsageError):
    """A capacity search asked for in a way that cannot work."""


@dataclass
class CapacityTargets:
    """What a probe must meet: latency percentiles strictly below their bounds (ms), a
    delivery ratio at least, an error ratio at most (messages not sent or answered with
    something invalid, per message attempted)."""
    latency_ms: dict = field(default_factory=dict)   # percentile -> bound in ms
    min_delivery_ratio: float | None = None
    max_error_ratio: float | None = None

    def __post_init__(self):
        self.latency_ms = {float(p): float(ms) for p, ms in self.latency_ms.items()}
        if not (self.latency_ms or self.min_delivery_ratio is not None
                or self.max_error_ratio is not None):
            raise CapacitySearchError("a capacity search needs at least one target, e.g. "
                                      "p95=200 ms, delivery=99.9% or errors=0.1%")
        for percentile, bound in self.latency_ms.items():
            if not 0 < percentile < 100:
                raise CapacitySearchError(f"a latency target's percentile must be between 0 "
                                          f"and 100, got {percentile:g}")
            if not bound > 0:
                raise CapacitySearchError(f"the p{percentile:g} target must be above 0 ms, "
                                          f"got {bound:g} ms")
        for name, ratio in (("delivery", self.min_delivery_ratio),
                            ("error", self.max_error_ratio)):
            if ratio is not None and not 0 <= ratio <= 1:
                raise CapacitySearchError(f"the {name} ratio target must be between 0 and 1, "
                                          f"got {ratio}")

    def describe(self) -> str:
        """`p95 < 200 ms, delivery >= 99.9%`"""
        parts = [f"p{p:g} < {ms:g} ms" for p, ms in sorted(self.latency_ms.items())]
        if self.min_delivery_ratio is not None:
            parts.append(f"delivery >= {_share(self.min_delivery_ratio)}")
        if self.max_error_ratio is not None:
            parts.append(f"errors <= {_share(self.max_error_ratio)}")
        return ", ".join(parts)

    def misses(self, result: LoadResult) -> list[str]:
        """The targets the step missed, each with its figure; empty when it met them all."""
        missed = []
        for percentile, bound in sorted(self.latency_ms.items()):
            measured = result.latency_ms(percentile)
            if not measured < bound:
                missed.append(f"p{percentile:g} {format_latency_ms(measured, 2)} ms, target "
                              f"< {bound:g} ms")
        if self.min_delivery_ratio is not None and result.delivery_ratio < self.min_delivery_ratio:
            missed.append(f"delivery {result.delivery_ratio:.4%} ({result.received:,} of "
                          f"{result.expected:,}), target >= {_share(self.min_delivery_ratio)}")
        if self.max_error_ratio is not None and error_ratio(result) > self.max_error_ratio:
            missed.append(f"errors {error_ratio(result):.4%} ({error_count(result):,} of "
                          f"{result.attempted:,}), target <= {_share(self.max_error_ratio)}")
        return missed

    @property
    def percentiles(self) -> list[float]:
        return sorted(self.latency_ms)

    def to_dict(self) -> dict:
        return {"latency_ms": {f"{p:g}": ms for p, ms in self.latency_ms.items()},
                "min_delivery_ratio": self.min_delivery_ratio,
                "max_error_ratio": self.max_error_ratio}

    @classmethod
    def from_dict(cls, data: dict) -> "CapacityTargets":
        return cls({float(p): ms for p, ms in data.get("latency_ms", {}).items()},
                   data.get("min_delivery_ratio"), data.get("max_error_ratio"))


def error_count(result: LoadResult) -> int:
    return result.send_errors + result.invalid_replies


def error_ratio(result: LoadResult) -> float:
    return error_count(result) / result.attempted if result.attempted else 0.0


def probe_figures(step: LoadResult | None) -> str:
    """A probe's figures in words, for failure messages."""
    if step is None:
        return ""
    return (f"at {step.target_rate or 0:,.0f} msg/s: sent {step.sent:,}, received "
            f"{step.received:,}, lost {step.lost:,}, {step.achieved_receive_rate:,.0f} msg/s, "
            f"p95 {format_latency_ms(step.latency_ms(95), 2)} ms, p99 "
            f"{format_latency_ms(step.latency_ms(99), 2)} ms, delivery "
            f"{step.delivery_ratio:.4%}")


def connect_failures(result: LoadResult) -> list[str]:
    """A connections probe's connections that did not open, or that the server closed as
    soon as they had (a connection limit's 1013), as a missed target: the server did not
    take that many. Empty for a probe without a `connect` section (a rate search)."""
    figures = result.sections.get("connect")
    if figures is None or not figures.failed:
        return []
    return [f"{figures.failed:,} of {figures.attempted:,} connections failed "
            f"({figures.describe_failures()})"]


def judge_probe(result: LoadResult, targets: CapacityTargets) -> tuple[str, list[str]]:
    """A probe's verdict: met, missed (why), generator limit (why), or server lost.
    Connections that failed to open (a connections search) miss the targets."""
    if result.connections_closed:
        closed = sum(result.connections_closed.values())
        why = "; ".join(f"{count} x {reason}" for reason, count in
                        result.connections_closed.items())
        return LOST, [f"the server closed {closed} of {result.connections} connection(s) "
                      f"({why})"]
    refused = connect_failures(result)
    if not result.load_applied and result.generator_saturated and not refused:
        return NOT_APPLIED, list(result.not_applied_reasons)
    missed = refused + targets.misses(result)
    if not result.load_applied:   # the server held the load back: it did not take it
        missed.insert(0, "load not applied because of the server: "
                      + "; ".join(result.not_applied_reasons))
    return (MISSED if missed else MET), missed


def _share(ratio: float) -> str:
    return f"{ratio * 100:g}%"

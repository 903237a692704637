"""Capacity search: the highest rate at which a server still meets its targets.

A loop over ordinary steps and their verdicts, adding nothing to the engine's hot path. Each
probe is a warm-up step and then a measured step at one rate, run by an injected
`run_probe(rate, duration_s, name) -> LoadResult` (local connections, load agents, or a fake
in the tests). The search steps up from the low bound (doubling by default) until a probe
misses the targets, then bisects between the last rate that met them and the first that did
not until they are `precision` apart, within a number of probes and a time budget.

Honesty: a probe whose load the generator could not apply (`load_applied` False with
`generator_saturated`) says nothing about the server: the search stops there and says so
("generator limit reached at X msg/s; the server met its targets there; capacity is above
X"). A probe not applied because of the server (TCP backpressure, messages that could not
be sent) misses the targets, and its reasons say why.

The result is a `ScalingResult` of kind "capacity" whose steps are the measured probes;
each probe carries a `CapacityProbe` section (its verdict and the search's outcome), so a
probe read back alone from a saved or merged file still knows its search: the regression
check compares capacities through it, the merged report charts the search from it.
"""
from __future__ import annotations

import math
import time
from dataclasses import asdict, dataclass, field

from ..errors import UsageError
from .result import LoadResult, format_latency_ms
from .scaling import ScalingResult
from .sections import ResultSection, section

# why a search stopped
PRECISION = "precision reached"
PROBE_BUDGET = "probe budget"
TIME_BUDGET = "time budget"
GENERATOR_LIMIT = "generator limit"
HIGH_BOUND = "high bound met"
LOW_MISSED = "lowest probe missed the targets"
SERVER_LOST = "server lost"
PROBE_ERROR = "probe error"
FAILED_STOPS = (LOW_MISSED, SERVER_LOST, PROBE_ERROR)

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


@dataclass
class SearchSettings:
    """How far and how long to search (rates in msg/s, times in seconds)."""
    low: float
    high: float
    precision: float = 0.05        # stop when the last met and first missed rates are closer
    step_factor: float = 2.0       # stepping up: each probe this many times the last
    max_probes: int = 12
    time_budget_s: float = 300.0
    probe_s: float = 10.0
    warm_up_s: float = 2.0
    pause_s: float = 2.0
    retries: int = 0               # a missed probe is run again up to this many times

    def __post_init__(self):
        if not (self.low > 0 and math.isfinite(self.high)):
            raise CapacitySearchError(f"the bounds must be rates above 0 msg/s, got low "
                                      f"{self.low:g} and high {self.high:g}")
        if not self.low < self.high:
            raise CapacitySearchError(f"the bounds are in the wrong order: low {self.low:,g} "
                                      f"msg/s must be below high {self.high:,g} msg/s")
        if not 0 < self.precision < 1:
            raise CapacitySearchError(f"precision must be a share above 0 and below 1 (such "
                                      f"as 5%), got {self.precision:g}: with 0 the search "
                                      f"would never end")
        if not self.step_factor > 1:
            raise CapacitySearchError(f"the step factor must be above 1, got "
                                      f"{self.step_factor:g}")
        if self.max_probes < 2:
            raise CapacitySearchError(f"max probes must be at least 2, got {self.max_probes}")
        if not self.probe_s > 0:
            raise CapacitySearchError(f"the probe duration must be above 0 s, got "
                                      f"{self.probe_s:g} s")
        if self.retries < 0:
            raise CapacitySearchError(f"retries cannot be negative, got {self.retries}")
        if self.warm_up_s < 0 or self.pause_s < 0:
            raise CapacitySearchError("warm-up and pause cannot be negative")
        if not self.time_budget_s >= self.warm_up_s + self.probe_s:
            raise CapacitySearchError(
                f"the time budget ({self.time_budget_s:g} s) does not fit even one probe "
                f"(warm-up {self.warm_up_s:g} s + probe {self.probe_s:g} s)")

    @property
    def probe_estimate_s(self) -> float:
        return self.warm_up_s + self.probe_s

    def to_dict(self) -> dict:
        return asdict(self)


@section
@dataclass
class CapacityProbe(ResultSection):
    """One probe of a capacity search: its verdict, and what the whole search found."""
    kind = "capacity"
    search: str = ""
    rate: float = 0.0
    outcome: str = ""            # met, missed, generator limit, server lost
    reasons: list = field(default_factory=list)
    targets: dict = field(default_factory=dict)      # CapacityTargets.to_dict()
    found: dict = field(default_factory=dict)        # CapacityResult.found()

    @classmethod
    def merged(cls, sections: list["CapacityProbe"]) -> "CapacityProbe":
        first = sections[0]
        if all(s.search == first.search and s.found == first.found for s in sections):
            if len(sections) == 1 or all(s.rate == first.rate for s in sections):
                return cls(**first.to_dict())
            return cls(first.search, 0.0, f"{len(sections)} probes", [], first.targets,
                       first.found)
        return cls("", 0.0, f"{len(sections)} probes of several searches")

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict) -> "CapacityProbe":
        known = {"search", "rate", "outcome", "reasons", "targets", "found"}
        return cls(**{k: v for k, v in data.items() if k in known})

    def summary(self) -> dict:
        return {"capacity_probe_outcome": self.outcome,
                "capacity_msg_s": self.found.get("capacity_msg_s")}

    def rows(self) -> list[tuple[str, str]]:
        verdict = self.outcome + (": " + "; ".join(self.reasons) if self.reasons else "")
        rows = [("capacity probe", f"{self.rate:,.1f} msg/s {verdict}")]
        if self.found.get("message"):
            rows.append(("capacity search", self.found["message"]))
        return rows


@dataclass(repr=False)
class CapacityResult(ScalingResult):
    """Every probe of a search (`steps`, in the order run) and what it found."""
    kind: str = "capacity"
    targets: CapacityTargets | None = None
    settings: dict = field(default_factory=dict)
    capacity_msg_s: float | None = None     # the highest rate that met the targets
    lower_bound: bool = False               # capacity is at least that (not bracketed)
    first_missed_msg_s: float | None = None
    generator_limit_msg_s: float | None = None
    stop_reason: str = ""
    error: str = ""
    probes_s: float = 0.0                   # warm-ups and measured steps
    pauses_s: float = 0.0

    def __repr__(self) -> str:
        found = "none" if self.capacity_msg_s is None else f"{self.capacity_msg_s:,.0f}/s"
        return (f"CapacityResult(name={self.name!r}, capacity={found}, "
                f"probes={len(self.steps)}, stop={self.stop_reason!r})")

    # -- probes --------------------------------------------------------------------------
    def probe(self, step: LoadResult) -> CapacityProbe:
        return step.sections["capacity"]

    @property
    def outcomes(self) -> list[str]:
        return [self.probe(step).outcome for step in self.steps]

    def _probe_at(self, rate: float | None, outcome: str | None = None) -> LoadResult | None:
        """The last probe at `rate` (with `outcome`): a rate retried has several."""
        return next((s for s in reversed(self.steps) if rate is not None
                     and self.probe(s).rate == rate
                     and outcome in (None, self.probe(s).outcome)), None)

    @property
    def last_met(self) -> LoadResult | None:
        """The probe at the capacity: the highest rate that met the targets."""
        return self._probe_at(self.capacity_msg_s, MET)

    @property
    def first_missed(self) -> LoadResult | None:
        """The lowest rate above the capacity that missed the targets."""
        return self._probe_at(self.first_missed_msg_s)

    @property
    def total_s(self) -> float:
        return self.probes_s + self.pauses_s

    @property
    def failed(self) -> bool:
        return self.stop_reason in FAILED_STOPS

    # -- words ---------------------------------------------------------------------------
    @property
    def message(self) -> str:
        """What the search found, in one paragraph."""
        targets = self.targets.describe() if self.targets else "the targets"
        capacity = self.capacity_msg_s
        took = f" ({len(self.steps)} probes, {self.total_s:.1f} s)"
        if self.stop_reason == GENERATOR_LIMIT:
            limited = self._probe_at(self.generator_limit_msg_s)
            why = "; ".join(self.probe(limited).reasons) if limited is not None else ""
            if capacity is None:
                return (f"generator limit reached at the lowest rate, "
                        f"{self.generator_limit_msg_s:,.0f} msg/s: the load was not applied "
                        f"({why}); nothing is known of the server's capacity{took}")
            return (f"generator limit reached at {capacity:,.0f} msg/s: the probe at "
                    f"{self.generator_limit_msg_s:,.0f} msg/s could not be applied ({why}); "
                    f"the server met its targets ({targets}) there; capacity is above "
                    f"{capacity:,.0f} msg/s{took}")
        if self.stop_reason == LOW_MISSED:
            return (f"the lowest probe, {self.first_missed_msg_s:,.0f} msg/s, already missed "
                    f"the targets ({targets}): {self._missed_words()}; "
                    f"{probe_figures(self.first_missed)}{took}")
        if self.stop_reason in (SERVER_LOST, PROBE_ERROR):
            before = (f"; before it, the targets were met at {capacity:,.0f} msg/s"
                      if capacity is not None else "")
            return f"the search stopped: {self.error}{before}{took}"
        if capacity is None:
            return f"no probe met the targets ({targets}){took}"
        if self.stop_reason == HIGH_BOUND:
            return (f"the server met its targets ({targets}) at the high bound: capacity is "
                    f"at least {capacity:,.0f} msg/s{took}")
        if self.first_missed_msg_s is None:
            return (f"the search stopped at its {self.stop_reason} before any rate missed the "
                    f"targets ({targets}): capacity is at least {capacity:,.0f} msg/s{took}")
        gap = self.first_missed_msg_s / capacity - 1
        how = (f"within {gap:.1%}" if self.stop_reason == PRECISION else
               f"{gap:.1%} apart: the {self.stop_reason} ran out before the precision "
               f"{self.settings.get('precision', 0):.0%}")
        return (f"capacity {capacity:,.0f} msg/s ({how}): the targets ({targets}) were met at "
                f"{capacity:,.0f} msg/s and missed at {self.first_missed_msg_s:,.0f} msg/s "
                f"({self._missed_words()}){took}")

    def _missed_words(self) -> str:
        missed = self.first_missed
        return "; ".join(self.probe(missed).reasons) if missed is not None else ""

    def found(self) -> dict:
        """What the search found, as each probe's section and the saved file carry it."""
        return {"capacity_msg_s": self.capacity_msg_s, "lower_bound": self.lower_bound,
                "first_missed_msg_s": self.first_missed_msg_s,
                "generator_limit_msg_s": self.generator_limit_msg_s,
                "stop_reason": self.stop_reason, "error": self.error,
                "probes": len(self.steps), "probes_s": round(self.probes_s, 3),
                "pauses_s": round(self.pauses_s, 3), "total_s": round(self.total_s, 3),
                "message": self.message}

    def stamp_probes(self) -> None:
        """Put the search's outcome into every probe's section."""
        found = self.found()
        for step in self.steps:
            self.probe(step).found = found

    # -- exchange ------------------------------------------------------------------------
    def to_dict(self) -> dict:
        return {**super().to_dict(), "capacity": self.found(),
                # every probe's messages together (warm-ups not counted)
                "sent": sum(step.sent for step in self.steps),
                "received": sum(step.received for step in self.steps),
                "targets": self.targets.to_dict() if self.targets else {},
                "settings": dict(self.settings)}

    @classmethod
    def from_dict(cls, data: dict) -> "CapacityResult":
        found = data.get("capacity") or {}
        return cls(kind="capacity", name=data.get("name", ""),
                   steps=[LoadResult.from_dict(step) for step in data.get("steps", [])],
                   targets=CapacityTargets.from_dict(data["targets"]) if data.get("targets")
                   else None,
                   settings=data.get("settings", {}),
                   capacity_msg_s=found.get("capacity_msg_s"),
                   lower_bound=found.get("lower_bound", False),
                   first_missed_msg_s=found.get("first_missed_msg_s"),
                   generator_limit_msg_s=found.get("generator_limit_msg_s"),
                   stop_reason=found.get("stop_reason", ""), error=found.get("error", ""),
                   probes_s=found.get("probes_s", 0.0), pauses_s=found.get("pauses_s", 0.0))


def probe_figures(step: LoadResult | None) -> str:
    """A probe's figures in words, for failure messages."""
    if step is None:
        return ""
    return (f"at {step.target_rate or 0:,.0f} msg/s: sent {step.sent:,}, received "
            f"{step.received:,}, lost {step.lost:,}, {step.achieved_receive_rate:,.0f} msg/s, "
            f"p95 {format_latency_ms(step.latency_ms(95), 2)} ms, p99 "
            f"{format_latency_ms(step.latency_ms(99), 2)} ms, delivery "
            f"{step.delivery_ratio:.4%}")


def judge_probe(result: LoadResult, targets: CapacityTargets) -> tuple[str, list[str]]:
    """A probe's verdict: met, missed (why), generator limit (why), or server lost."""
    if result.connections_closed:
        closed = sum(result.connections_closed.values())
        why = "; ".join(f"{count} x {reason}" for reason, count in
                        result.connections_closed.items())
        return LOST, [f"the server closed {closed} of {result.connections} connection(s) "
                      f"({why})"]
    if not result.load_applied and result.generator_saturated:
        return NOT_APPLIED, list(result.not_applied_reasons)
    missed = targets.misses(result)
    if not result.load_applied:   # the server held the load back: it did not take it
        missed.insert(0, "load not applied because of the server: "
                      + "; ".join(result.not_applied_reasons))
    return (MISSED if missed else MET), missed


class _Stop(Exception):
    def __init__(self, reason: str):
        super().__init__(reason)
        self.reason = reason


def find_capacity(settings: SearchSettings, targets: CapacityTargets, run_probe,
                  name: str = "capacity", clock=time.monotonic, sleep=time.sleep,
                  on_probe=None) -> CapacityResult:
    """Search for the highest rate that meets `targets`; never raises for what a probe
    found or for a probe that failed (the result's `stop_reason` and `error` say so).

    `run_probe(rate, duration_s, name) -> LoadResult` runs one step; it is called for the
    warm-up, then for the measured probe. `on_probe(result, step)` is told of each probe.
    """
    result = CapacityResult(name=name, targets=targets, settings=settings.to_dict())
    started = clock()

    def judged(rate: float) -> str:
        """A rate's verdict: a miss stands once it repeats `retries` more times."""
        outcome = probe(rate)
        for attempt in range(1, settings.retries + 1):
            if outcome != MISSED:
                break
            outcome = probe(rate, f" (retry {attempt})")
        return outcome

    def probe(rate: float, retry: str = "") -> str:
        if len(result.steps) >= settings.max_probes:
            raise _Stop(PROBE_BUDGET)
        pause = settings.pause_s if result.steps else 0.0
        if clock() - started + pause + settings.probe_estimate_s > settings.time_budget_s:
            raise _Stop(TIME_BUDGET)
        if pause:
            sleep(pause)
            result.pauses_s += pause
        began = clock()
        try:
            step = None
            if settings.warm_up_s:
                warm = run_probe(rate, settings.warm_up_s, f"{name}: warm-up at {rate:,.0f}/s")
                if warm.connections_closed:
                    step = warm   # the server went away: this is the probe to keep
            if step is None:
                step = run_probe(rate, settings.probe_s, f"{name}: {rate:,.0f}/s{retry}")
        except Exception as error:  # noqa: BLE001 - the probes so far are kept and reported
            result.probes_s += clock() - began
            result.error = (f"the probe at {rate:,.0f} msg/s failed: "
                            f"{type(error).__name__}: {error}")
            raise _Stop(PROBE_ERROR) from error
        result.probes_s += clock() - began
        outcome, reasons = judge_probe(step, targets)
        step.sections["capacity"] = CapacityProbe(name, rate, outcome, reasons,
                                                  targets.to_dict())
        result.steps.append(step)
        if on_probe is not None:
            on_probe(result, step)
        if outcome == LOST:
            result.error = f"at {rate:,.0f} msg/s {reasons[0]}"
            raise _Stop(SERVER_LOST)
        if outcome == NOT_APPLIED:
            result.generator_limit_msg_s = rate
            raise _Stop(GENERATOR_LIMIT)
        return outcome

    met, missed = None, None
    try:
        rate = settings.low
        while True:   # step up until a probe misses the targets, or the high bound
            if judged(rate) == MISSED:
                missed = rate
                if met is None:
                    raise _Stop(LOW_MISSED)
                break
            met = rate
            if rate >= settings.high:
                raise _Stop(HIGH_BOUND)
            rate = min(rate * settings.step_factor, settings.high)
        while missed - met > settings.precision * met:   # bisect the bracket
            middle = _round_rate((met + missed) / 2)
            if not met < middle < missed:
                break
            if judged(middle) == MET:
                met = middle
            else:
                missed = middle
        raise _Stop(PRECISION)
    except _Stop as stop:
        result.stop_reason = stop.reason
    result.capacity_msg_s = met
    result.first_missed_msg_s = missed
    result.lower_bound = met is not None and (missed is None or result.stop_reason
                                              == GENERATOR_LIMIT)
    result.stamp_probes()
    return result


def _round_rate(rate: float) -> float:
    """Rates to three significant figures at least, as people would write them."""
    if rate >= 100:
        return float(round(rate))
    return round(rate, 2)


def _share(ratio: float) -> str:
    return f"{ratio * 100:g}%"

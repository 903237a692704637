"""Capacity search: the highest rate (or the most connections) at which a server still
meets its targets.

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

The search's `unit` is what it varies: msg/s by default, or `connections`: then each probe
opens that many connections (`ConnectionsProbe`), runs a paced step on them and closes
them; connections that fail to open, or that the server closes at once, miss the targets.
"""
from __future__ import annotations

import math
import time
from dataclasses import asdict, dataclass

from ..lifecycle.arrivals import ArrivalPlan
from .result import (CONNECTIONS_UNIT, COUNT_UNITS, FAILED_STOPS, GENERATOR_LIMIT,
                              HIGH_BOUND, LOW_MISSED, PRECISION, PROBE_BUDGET, PROBE_ERROR,
                              RATE_UNIT, SERVER_LOST, SUBSCRIBERS_UNIT, TIME_BUDGET, UNITS,
                              CapacityProbe, CapacityResult, amount)
from .targets import (LOST, MET, MISSED, NOT_APPLIED, CapacitySearchError,
                               CapacityTargets, connect_failures, error_count, error_ratio,
                               judge_probe, probe_figures)
from ..results.result import LoadResult

__all__ = ["FAILED_STOPS", "GENERATOR_LIMIT", "HIGH_BOUND", "LOW_MISSED", "PRECISION",
           "PROBE_BUDGET", "PROBE_ERROR", "SERVER_LOST", "TIME_BUDGET", "CapacityProbe",
           "CapacityResult", "LOST", "MET", "MISSED", "NOT_APPLIED", "CapacitySearchError",
           "CapacityTargets", "error_count", "error_ratio", "judge_probe", "probe_figures",
           "SearchSettings", "find_capacity", "RATE_UNIT", "CONNECTIONS_UNIT",
           "SUBSCRIBERS_UNIT", "amount", "connect_failures", "ConnectionsProbe"]


@dataclass
class SearchSettings:
    """How far and how long to search (bounds in `unit`: msg/s or connections; times in
    seconds)."""
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
    unit: str = RATE_UNIT          # what the search varies: msg/s, connections or subscribers

    def __post_init__(self):
        if self.unit not in UNITS:
            raise CapacitySearchError(f"a search's unit is one of {', '.join(UNITS)}, got "
                                      f"{self.unit!r}")
        what = "rates above 0 msg/s" if self.unit == RATE_UNIT else "at least 1 connection"
        if not ((self.low >= 1 if self.unit in COUNT_UNITS else self.low > 0)
                and math.isfinite(self.high)):
            raise CapacitySearchError(f"the bounds must be {what}, got low "
                                      f"{self.low:g} and high {self.high:g}")
        if not self.low < self.high:
            raise CapacitySearchError(f"the bounds are in the wrong order: low {self.low:,g} "
                                      f"{self.unit} must be below high {self.high:,g} "
                                      f"{self.unit}")
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
    warm-up, then for the measured probe (`rate` in the settings' unit: a number of
    connections for a connections search); when it has an `end_probe()`, that is called
    after each probe, before the pause (a connections probe closes its connections).
    `on_probe(result, step)` is told of each probe.
    """
    unit = settings.unit
    result = CapacityResult(name=name, targets=targets, settings=settings.to_dict(), unit=unit)
    started = clock()
    end_probe = getattr(run_probe, "end_probe", None)

    def label(rate: float) -> str:
        return f"{rate:,.0f}/s" if unit == RATE_UNIT else amount(rate, unit)

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
                warm = run_probe(rate, settings.warm_up_s, f"{name}: warm-up at {label(rate)}")
                if warm.connections_closed:
                    step = warm   # the server went away: this is the probe to keep
            if step is None:
                step = run_probe(rate, settings.probe_s, f"{name}: {label(rate)}{retry}")
        except Exception as error:  # noqa: BLE001 - the probes so far are kept and reported
            result.probes_s += clock() - began
            result.error = (f"the probe at {amount(rate, unit)} failed: "
                            f"{type(error).__name__}: {error}")
            raise _Stop(PROBE_ERROR) from error
        finally:
            if end_probe is not None:
                end_probe()
        result.probes_s += clock() - began
        outcome, reasons = judge_probe(step, targets)
        step.sections["capacity"] = CapacityProbe(name, rate, outcome, reasons,
                                                  targets.to_dict())
        result.steps.append(step)
        if on_probe is not None:
            on_probe(result, step)
        if outcome == LOST:
            result.error = f"at {amount(rate, unit)} {reasons[0]}"
            raise _Stop(SERVER_LOST)
        if outcome == NOT_APPLIED:
            result.generator_limit_msg_s = rate
            raise _Stop(GENERATOR_LIMIT)
        return outcome

    met, missed = None, None
    try:
        whole = unit in COUNT_UNITS   # a number of connections is whole
        rate = float(math.ceil(settings.low)) if whole else settings.low
        while True:   # step up until a probe misses the targets, or the high bound
            if judged(rate) == MISSED:
                missed = rate
                if met is None:
                    raise _Stop(LOW_MISSED)
                break
            met = rate
            if rate >= settings.high:
                raise _Stop(HIGH_BOUND)
            rate = min(math.ceil(rate * settings.step_factor) if whole
                       else rate * settings.step_factor, settings.high)
        while missed - met > settings.precision * met:   # bisect the bracket
            middle = _round_rate((met + missed) / 2, unit)
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


def _round_rate(rate: float, unit: str = RATE_UNIT) -> float:
    """Rates to three significant figures at least, as people would write them; a number
    of connections whole."""
    if unit in COUNT_UNITS:
        return float(round(rate))
    if rate >= 100:
        return float(round(rate))
    return round(rate, 2)


class ConnectionsProbe:
    """`run_probe` for a connections search: a probe at n opens n connections to the
    target at `connect_rate` per second (arrivals.py: a failure is counted, not raised),
    waits `settle_s` for a server that closes what is over its limit right after the
    handshake (1013), then runs `run_step(pool, rate, duration_s, name)`: a paced step of
    `rate_per_connection` x n msg/s on the connections still open. The warm-up and the
    measured step share the connections; `end_probe` closes them (before the pause).

    Connections that did not open, or that the server closed during the settle, are the
    step's `connect` section (ConnectFigures, with a `closed after the handshake` kind)
    and miss the targets (judge_probe). Connections the server closes during the step are
    the server lost, as in a rate search."""

    CLOSED_AT_ONCE = "closed after the handshake"

    def __init__(self, engine, options, rate_per_connection: float, run_step,
                 connect_rate: float = 500.0, settle_s: float = 0.3, sleep=time.sleep,
                 fixed_rate: float | None = None):
        """`fixed_rate`: the step's rate whatever the count (a subscribers search: the
        publishers' rate), instead of `rate_per_connection` x count."""
        if not rate_per_connection > 0:
            raise CapacitySearchError(f"the rate per connection must be above 0 msg/s, got "
                                      f"{rate_per_connection:g}")
        self.engine, self.options, self.run_step = engine, options, run_step
        self.rate_per_connection, self.connect_rate = rate_per_connection, connect_rate
        self.settle_s, self.sleep = settle_s, sleep
        self.pool, self.count, self.figures = None, 0, None
        self.fixed_rate = fixed_rate

    def __call__(self, count: float, duration_s: float, name: str) -> LoadResult:
        count = int(round(count))
        if self.pool is None or self.count != count:
            self.end_probe()
            self._open(count, name)
        rate = self.fixed_rate or self.rate_per_connection * count
        figures = self.figures
        if not self.pool.open_connections:   # nothing to send on: the probe is its failures
            step = LoadResult(name=name, target_rate=rate, connections=0,
                              planned_messages=max(1, round(rate * duration_s)),
                              planned_duration_s=duration_s)
        else:
            step = self.run_step(self.pool, rate, duration_s, name)
        step.sections[figures.kind] = figures
        return step

    def _open(self, count: int, name: str) -> None:
        self.pool, storm = self.engine.open_at_rate(
            self.options, ArrivalPlan(count, self.connect_rate, f"{name}: connecting"))
        self.count, self.figures = count, storm.sections["connect"]
        if self.settle_s:
            self.sleep(self.settle_s)
        closed = [c for c in self.pool.connections if c.closed]
        if closed:
            figures = self.figures
            figures.opened -= len(closed)
            figures.failures[self.CLOSED_AT_ONCE] = len(closed)
            figures.failure_examples[self.CLOSED_AT_ONCE] = closed[0].describe_close()

    def end_probe(self) -> None:
        """Close the probe's connections (after each probe, before the pause)."""
        pool, self.pool = self.pool, None
        if pool is not None:
            self.engine.disconnect(pool)

"""The arguments of the capacity keywords (`Find Maximum Rate`, `Find Maximum Connections`,
`Find Maximum Subscribers`, `Capacity Should Be At Least`) as the engine's search wants
them: the targets given as named arguments, the search's settings, the minimum capacity."""
from __future__ import annotations

import re

from ..engine import RATE_UNIT, CapacityTargets, SearchSettings
from ..errors import ArgumentError
from .arguments import Duration, Rate, Ratio

TARGET_FORMS = ("latency percentiles as p95=200 ms, p99=500 ms, p99.9=1 s; delivery=99.9% "
                "(replies per message expected, at least); errors=0.1% (messages not sent "
                "or answered with something invalid, at most)")
PERCENTILE_TARGET = re.compile(r"p(\d+(?:\.\d+)?)$", re.IGNORECASE)
CONNECTIONS_PATTERN = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([kK])?\s*(?:connections?|subscribers?)?\s*$")


def parse_targets(targets: dict) -> CapacityTargets:
    """`p95=200 ms`, `delivery=99.9%`, `errors=0.1%` -> CapacityTargets."""
    latency, delivery, errors = {}, None, None
    for key, value in targets.items():
        label = key.strip().lower()
        percentile = PERCENTILE_TARGET.match(label)
        try:
            if percentile:
                latency[float(percentile.group(1))] = float(Duration.from_text(value)) * 1000
            elif label in ("delivery", "delivery_ratio"):
                delivery = float(Ratio.from_text(value))
            elif label in ("errors", "error_ratio"):
                errors = float(Ratio.from_text(value))
            else:
                raise ArgumentError(f"unknown target {key}={value}; the targets are "
                                    f"{TARGET_FORMS}")
        except ArgumentError as error:
            if str(error).startswith("unknown target"):
                raise
            raise ArgumentError(f"target {key}={value}: {error}") from None
    return CapacityTargets(latency, delivery, errors)


def search_settings(unit: str, low, high, precision, step_factor, max_probes: int,
                    time_budget, probe_duration, warm_up, pause, retries: int) -> SearchSettings:
    """The search's settings from the keyword arguments every `Find Maximum ...` shares."""
    return SearchSettings(float(low), float(high), precision=float(precision),
                          step_factor=float(step_factor), max_probes=max_probes,
                          time_budget_s=float(time_budget), probe_s=float(probe_duration),
                          warm_up_s=float(warm_up), pause_s=float(pause), retries=retries,
                          unit=unit)


def parse_minimum(minimum, unit: str) -> float:
    """`Capacity Should Be At Least`'s minimum: a rate (`2000/s`), or for a connections
    search a count (`1000 connections`, `1k connections`, `1000`)."""
    if unit == RATE_UNIT:
        rate = Rate.from_text(minimum)
        if rate.per_second is None:
            raise ArgumentError("the minimum capacity must be a rate such as 2000/s, not max")
        return float(rate)
    if isinstance(minimum, (int, float)) and not isinstance(minimum, bool):
        return float(minimum)
    match = CONNECTIONS_PATTERN.match(str(minimum))
    if not match:
        raise ArgumentError(f"the minimum capacity of a {unit} search is a number of {unit} "
                            f"such as 1000 {unit} or 1000, got {minimum!r}")
    return float(match.group(1)) * (1000 if match.group(2) else 1)

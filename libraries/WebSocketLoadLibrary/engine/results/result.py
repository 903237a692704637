"""The result of a load step: plain data that serialises to JSON and merges.

Histograms travel in their standard encoded form, so results from other processes or
machines merge into true percentiles -- never an average of percentiles.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field, fields

from .histogram import LatencyHistogram
from ..pacing.lateness import LATE_FLOOR_S
from .sections import merge_sections, sections_from_dict, sections_to_dict

OPEN_LOOP_BASIS = "intended send time"
CLOSED_LOOP_BASIS = "actual send time (closed loop: latency is service time)"
SUMMARY_PERCENTILES = (50, 90, 95, 99, 99.9)


@dataclass(repr=False)
class LoadResult:
    name: str = ""
    mode: str = "open"                  # "open" (paced) or "closed" (rate max)
    latency_basis: str = OPEN_LOOP_BASIS
    target_rate: float | None = None    # msg/s, None when the rate was "max"
    connections: int = 0
    planned_messages: int = 0
    started_at: float = 0.0             # epoch seconds
    planned_duration_s: float = 0.0
    send_duration_s: float = 0.0
    duration_s: float = 0.0
    sent: int = 0
    received: int = 0
    lost: int = 0
    unmatched: int = 0
    invalid_replies: int = 0
    send_errors: int = 0
    achieved_send_rate: float = 0.0
    achieved_receive_rate: float = 0.0
    max_lag_s: float = 0.0
    final_lag_s: float = 0.0
    late_messages: int = 0              # sent later than late_bound_s after their due time
    late_bound_s: float = LATE_FLOOR_S
    longest_late_s: float = 0.0         # the longest unbroken stretch behind (wall time)
    rate_tolerance: float = 0.05
    load_applied: bool = True
    not_applied_reasons: list = field(default_factory=list)
    generator_saturated: bool = False
    reply_timeout_s: float = 0.0
    latency: LatencyHistogram = field(default_factory=LatencyHistogram)
    service_time: LatencyHistogram = field(default_factory=LatencyHistogram)
    lag: LatencyHistogram = field(default_factory=LatencyHistogram)
    timeline: list = field(default_factory=list)
    resources: dict = field(default_factory=dict)
    errors: dict = field(default_factory=dict)
    connections_closed: dict = field(default_factory=dict)   # why -> how many, during the step
    parts: list = field(default_factory=list)
    # load agents only: per agent its name, uri, clock offset and own result (as a dict)
    agents: list = field(default_factory=list)
    # figures of further kinds (pushes, streams, fan-out), by kind: sections.py
    sections: dict = field(default_factory=dict)

    def __repr__(self) -> str:
        rate = "max" if self.target_rate is None else f"{self.target_rate:g}/s"
        return (f"LoadResult(name={self.name!r}, rate={rate}, connections={self.connections}, "
                f"sent={self.sent}, received={self.received}, lost={self.lost}, "
                f"p95={self.latency_ms(95):.3f} ms, applied={self.load_applied})")

    def agent_results(self) -> list["LoadResult"]:
        """The agents' own results of a step run on load agents (empty otherwise)."""
        return [LoadResult.from_dict(agent["result"]) for agent in self.agents]

    # -- derived figures ---------------------------------------------------------------
    @property
    def attempted(self) -> int:
        return self.sent + self.send_errors

    @property
    def expected(self) -> int:
        """Replies the plan expected: one per message it wanted sent; in a fan-out step one
        delivery per publish and subscriber (a section that says so: `expected_deliveries`)."""
        for part in self.sections.values():
            expected = getattr(part, "expected_deliveries", None)
            if expected is not None:
                return expected
        # messages cut by the client's own close (churn) were never the server's to answer
        return self.attempted - sum(getattr(part, "not_expected", 0)
                                    for part in self.sections.values())

    @property
    def delivery_ratio(self) -> float:
        """Replies (deliveries) received per one expected (send failures count as lost)."""
        return self.received / self.expected if self.expected else 0.0

    def latency_ms(self, percentile: float) -> float:
        """The latency percentile, one definition for every figure that shows one (the
        assertions, the summary and saved JSON, the tables, the console, the regression
        check): among all the replies the step expected, a message that got none --
        lost, or not sent -- ranks above every reply. So p99 of 1,000 messages with 20
        lost is the slowest reply's rank 990 among the 980 replies... beyond them, in fact:
        `math.inf` ("beyond the reply timeout") whenever more than (100 - percentile)% of
        the expected replies are missing. With none missing it is the replies' own
        percentile. `reply_latency_ms` is the replies' percentile alone."""
        return ranked_percentile_ms(self.latency, percentile, self.received, self.expected)

    def reply_latency_ms(self, percentile: float) -> float:
        """The percentile among the replies only (what arrived), lost messages left out."""
        return self.latency.percentile_us(percentile) / 1000.0

    def service_time_ms(self, percentile: float) -> float:
        return self.service_time.percentile_us(percentile) / 1000.0

    def summary(self) -> dict:
        """The figures a report shows, in user units (ms, msg/s)."""
        service = self.service_time.percentiles_us(SUMMARY_PERCENTILES)
        return {
            "name": self.name, "mode": self.mode, "latency_basis": self.latency_basis,
            "target_rate": self.target_rate, "connections": self.connections,
            "planned_messages": self.planned_messages, "sent": self.sent,
            "received": self.received, "lost": self.lost, "unmatched": self.unmatched,
            "invalid_replies": self.invalid_replies, "send_errors": self.send_errors,
            "delivery_ratio": round(self.delivery_ratio, 6),
            "achieved_send_rate": round(self.achieved_send_rate, 1),
            "achieved_receive_rate": round(self.achieved_receive_rate, 1),
            "duration_s": round(self.duration_s, 3),
            # None: beyond the reply timeout (more than 100 - p % of the replies missing)
            **{f"latency_p{_label(p)}_ms": _finite(self.latency_ms(p)) for p in SUMMARY_PERCENTILES},
            "latency_mean_ms": round(self.latency.mean_us() / 1000, 3),
            "latency_max_ms": self.latency.max_us() / 1000,
            **{f"service_p{_label(p)}_ms": service[float(p)] / 1000 for p in (50, 99)},
            "max_lag_ms": round(self.max_lag_s * 1000, 3),
            "lag_p99_ms": round(self.lag.percentile_us(99) / 1000, 3),
            "final_lag_ms": round(self.final_lag_s * 1000, 3),
            "late_messages": self.late_messages,
            "late_bound_ms": round(self.late_bound_s * 1000, 3),
            "longest_late_ms": round(self.longest_late_s * 1000, 3),
            "connections_closed": sum(self.connections_closed.values()),
            "load_applied": self.load_applied,
            "not_applied_reasons": list(self.not_applied_reasons),
            "generator_saturated": self.generator_saturated,
            **{f"{side}_{figure}": self.resources.get(side, {}).get(key)
               for side in ("generator", "server")
               for figure, key in (("cpu_percent", "cpu_percent_mean"),
                                   ("rss_growth_bytes", "rss_growth_bytes"))},
            **{name: value for part in self.sections.values()
               for name, value in part.summary().items()},
        }

    # -- exchange ----------------------------------------------------------------------
    def to_dict(self) -> dict:
        data = {f.name: getattr(self, f.name) for f in fields(self)
                if f.name not in ("latency", "service_time", "lag", "sections")}
        data["sections"] = sections_to_dict(self.sections)
        data["latency_histogram"] = self.latency.encode()
        data["service_time_histogram"] = self.service_time.encode()
        data["lag_histogram"] = self.lag.encode()
        data["summary"] = self.summary()
        return data

    @classmethod
    def from_dict(cls, data: dict) -> "LoadResult":
        known = {f.name for f in fields(cls)} - {"latency", "service_time", "lag", "sections"}
        result = cls(**{k: v for k, v in data.items() if k in known})
        result.sections = sections_from_dict(data.get("sections"))
        result.latency = LatencyHistogram.decode(data.get("latency_histogram", ""))
        result.service_time = LatencyHistogram.decode(data.get("service_time_histogram", ""))
        result.lag = LatencyHistogram.decode(data.get("lag_histogram", ""))
        return result

    @classmethod
    def merge(cls, results: list["LoadResult"], name: str = "merged") -> "LoadResult":
        """One result from several steps: the shares of one step that other processes or
        machines ran at the same time, or the steps of a run (mostly one after another).

        Counters and connections add up; histograms merge; the timeline adds up per
        wall-clock second; the load counts as applied only if it was applied everywhere.
        Rates are taken over time (`_rate_over_time`, `_planned_rate`): steps that ran at
        the same time add up, steps that ran one after another give the overall rate.
        """
        if not results:
            raise ValueError("nothing to merge")
        merged = cls(name=name)
        counters = ("connections", "planned_messages", "sent", "received", "lost", "unmatched",
                    "invalid_replies", "send_errors", "late_messages")
        for counter in counters:
            setattr(merged, counter, sum(getattr(r, counter) for r in results))
        modes = {r.mode for r in results}
        merged.mode = modes.pop() if len(modes) == 1 else "mixed"
        merged.latency_basis = results[0].latency_basis if merged.mode != "mixed" else "mixed"
        merged.achieved_send_rate = _rate_over_time(
            [(r.started_at, r.sent, r.achieved_send_rate) for r in results])
        merged.achieved_receive_rate = _rate_over_time(
            [(r.started_at, r.received, r.achieved_receive_rate) for r in results])
        merged.target_rate = (None if any(r.target_rate is None for r in results)
                              else _planned_rate(results))
        merged.started_at = min(r.started_at for r in results)
        for attr in ("planned_duration_s", "send_duration_s", "duration_s", "max_lag_s",
                     "final_lag_s", "late_bound_s", "longest_late_s", "reply_timeout_s",
                     "rate_tolerance"):
            setattr(merged, attr, max(getattr(r, attr) for r in results))
        merged.load_applied = all(r.load_applied for r in results)
        merged.generator_saturated = any(r.generator_saturated for r in results)
        merged.not_applied_reasons = [f"{r.name or i}: {reason}" for i, r in enumerate(results)
                                      for reason in r.not_applied_reasons]
        for attr in ("latency", "service_time", "lag"):
            setattr(merged, attr, LatencyHistogram.merged(getattr(r, attr) for r in results))
        merged.timeline = _merge_timelines(results, merged.started_at)
        for r in results:
            for error, count in r.errors.items():
                merged.errors[error] = merged.errors.get(error, 0) + count
            for why, count in r.connections_closed.items():
                merged.connections_closed[why] = merged.connections_closed.get(why, 0) + count
        merged.resources = {"parts": [r.resources for r in results]}
        merged.sections = merge_sections(results)
        merged.parts = [r.name for r in results]
        return merged


def ranked_percentile_ms(histogram: LatencyHistogram, percentile: float, count: int,
                         expected: int) -> float:
    """The percentile of `histogram` (its `count` values) among `expected` values of which
    the missing ones rank above every recorded one: math.inf when it falls among them."""
    if expected <= count:
        return histogram.percentile_us(percentile) / 1000.0
    if count == 0:
        return math.inf
    within = percentile * expected / count
    if within > 100:
        return math.inf
    return histogram.percentile_us(within) / 1000.0


def _finite(value: float) -> float | None:
    return None if math.isinf(value) else value


def format_latency_ms(value: float, digits: int = 3) -> str:
    """`12.345`, or `lost` for a percentile beyond the reply timeout."""
    return "lost" if math.isinf(value) else f"{value:,.{digits}f}"


def _label(percentile) -> str:
    return str(percentile).replace(".", "_") if percentile != int(percentile) else str(int(percentile))


_TIMELINE_OWN = ("second", "span_s", "sent", "received", "lost", "latency_p50_ms",
                 "latency_p99_ms", "latency_max_ms", "latency_histogram")


def _merge_timelines(results, start: float) -> list[dict]:
    seconds: dict[int, dict] = {}
    for r in results:
        offset = int(math.floor(r.started_at - start + 0.5))
        for point in r.timeline:
            second = offset + point["second"]
            slot = seconds.setdefault(second, {"second": second, "span_s": 0.0, "sent": 0,
                                               "received": 0, "lost": 0, "histograms": []})
            slot["span_s"] = max(slot["span_s"], point.get("span_s", 1.0))
            for counter in ("sent", "received", "lost"):
                slot[counter] += point.get(counter, 0)
            for counter, count in point.items():  # a section's own (pushes, ...)
                if counter not in _TIMELINE_OWN and isinstance(count, int):
                    slot[counter] = slot.get(counter, 0) + count
            slot["histograms"].append(point.get("latency_histogram", ""))
    timeline = []
    for second in sorted(seconds):
        slot = seconds[second]
        histogram = LatencyHistogram.merged(LatencyHistogram.decode(e) for e in slot.pop("histograms"))
        timeline.append({**slot, **timeline_latency(histogram)})
    return timeline


def timeline_latency(histogram: LatencyHistogram) -> dict:
    p = histogram.percentiles_us((50, 99))
    return {"latency_p50_ms": p[50.0] / 1000, "latency_p99_ms": p[99.0] / 1000,
            "latency_max_ms": histogram.max_us() / 1000, "latency_histogram": histogram.encode()}


# -- rates of merged steps ---------------------------------------------------------------
def _rate_over_time(steps: list[tuple[float, int, float]]) -> float:
    """Messages per second over the time any of the steps was at it.

    `steps` are (started_at, count, rate). A step's window is count / rate long: the very
    window the engine computed its rate over (`describe` of engine/open_loop.py and closed_loop.py), so one step merged
    alone keeps its rate. The engine's windows begin a fixed lead after `started_at`, the
    same for every step: taking `started_at` as the start moves every window alike and
    leaves their union as it is. A merged result, merged again, counts as one stretch
    from its start (right for the shares of one step, the only results merged twice).
    """
    windows = [(start, start + count / rate, count) for start, count, rate in steps
               if count > 0 and rate > 0]
    busy = _union_length([(start, stop) for start, stop, _ in windows])
    return sum(count for _, _, count in windows) / busy if busy > 0 else 0.0


def _union_length(spans: list[tuple[float, float]]) -> float:
    busy, end = 0.0, float("-inf")
    for start, stop in sorted(spans):
        if stop > end:
            busy += stop - max(start, end)
            end = stop
    return busy


def _planned_rate(results: list[LoadResult]) -> float:
    """The target of steps merged: steps whose planned windows overlap ran together, and
    their targets add up; groups that ran one after another are averaged over their time.

    A group counts at its busiest moment rather than at its average over time: the shares
    of one plan (workers, load agents) start a few ms apart and split the messages unevenly,
    and their target must still be the plan's rate, not a hair below it.
    """
    events = []
    for r in results:
        if r.target_rate and r.planned_messages > 0:
            end = r.started_at + r.planned_messages / r.target_rate
            events += [(r.started_at, 1, r.target_rate), (end, -1, r.target_rate)]
    # at one moment, ends sort before starts: back to back is one after another
    events.sort(key=lambda event: event[:2])
    weighted = busy = 0.0
    active, rate, peak, group_start = 0, 0.0, 0.0, 0.0
    for moment, change, target in events:
        if change > 0 and active == 0:
            rate, peak, group_start = 0.0, 0.0, moment
        active += change
        rate += change * target
        peak = max(peak, rate)
        if active == 0:
            weighted += peak * (moment - group_start)
            busy += moment - group_start
    # no planned windows (results built by hand): nothing says when they ran
    return weighted / busy if busy > 0 else sum(r.target_rate for r in results)

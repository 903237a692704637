"""The result of a load step: plain data that serialises to JSON and merges.

Histograms travel in their standard encoded form, so results from other processes or
machines merge into true percentiles -- never an average of percentiles.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field, fields

from .histogram import LatencyHistogram

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
    def delivery_ratio(self) -> float:
        """Replies received per message the plan wanted sent (send failures count as lost)."""
        return self.received / self.attempted if self.attempted else 0.0

    def latency_ms(self, percentile: float) -> float:
        return self.latency.percentile_us(percentile) / 1000.0

    def service_time_ms(self, percentile: float) -> float:
        return self.service_time.percentile_us(percentile) / 1000.0

    def summary(self) -> dict:
        """The figures a report shows, in user units (ms, msg/s)."""
        latency = self.latency.percentiles_us(SUMMARY_PERCENTILES)
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
            **{f"latency_p{_label(p)}_ms": latency[float(p)] / 1000 for p in SUMMARY_PERCENTILES},
            "latency_mean_ms": round(self.latency.mean_us() / 1000, 3),
            "latency_max_ms": self.latency.max_us() / 1000,
            **{f"service_p{_label(p)}_ms": service[float(p)] / 1000 for p in (50, 99)},
            "max_lag_ms": round(self.max_lag_s * 1000, 3),
            "connections_closed": sum(self.connections_closed.values()),
            "load_applied": self.load_applied,
            "not_applied_reasons": list(self.not_applied_reasons),
            "generator_saturated": self.generator_saturated,
            **{f"{side}_{figure}": self.resources.get(side, {}).get(key)
               for side in ("generator", "server")
               for figure, key in (("cpu_percent", "cpu_percent_mean"),
                                   ("rss_growth_bytes", "rss_growth_bytes"))},
        }

    # -- exchange ----------------------------------------------------------------------
    def to_dict(self) -> dict:
        data = {f.name: getattr(self, f.name) for f in fields(self)
                if f.name not in ("latency", "service_time", "lag")}
        data["latency_histogram"] = self.latency.encode()
        data["service_time_histogram"] = self.service_time.encode()
        data["lag_histogram"] = self.lag.encode()
        data["summary"] = self.summary()
        return data

    @classmethod
    def from_dict(cls, data: dict) -> "LoadResult":
        known = {f.name for f in fields(cls)} - {"latency", "service_time", "lag"}
        result = cls(**{k: v for k, v in data.items() if k in known})
        result.latency = LatencyHistogram.decode(data.get("latency_histogram", ""))
        result.service_time = LatencyHistogram.decode(data.get("service_time_histogram", ""))
        result.lag = LatencyHistogram.decode(data.get("lag_histogram", ""))
        return result

    @classmethod
    def merge(cls, results: list["LoadResult"], name: str = "merged") -> "LoadResult":
        """One result from steps that ran at the same time (other processes or machines).

        Counters, rates and connections add up; histograms merge; the timeline adds up per
        wall-clock second; the load counts as applied only if it was applied everywhere.
        """
        if not results:
            raise ValueError("nothing to merge")
        merged = cls(name=name)
        counters = ("connections", "planned_messages", "sent", "received", "lost", "unmatched",
                    "invalid_replies", "send_errors", "achieved_send_rate",
                    "achieved_receive_rate")
        for counter in counters:
            setattr(merged, counter, sum(getattr(r, counter) for r in results))
        modes = {r.mode for r in results}
        merged.mode = modes.pop() if len(modes) == 1 else "mixed"
        merged.latency_basis = results[0].latency_basis if merged.mode != "mixed" else "mixed"
        targets = [r.target_rate for r in results]
        merged.target_rate = None if None in targets else sum(targets)
        merged.started_at = min(r.started_at for r in results)
        for attr in ("planned_duration_s", "send_duration_s", "duration_s", "max_lag_s",
                     "final_lag_s", "reply_timeout_s", "rate_tolerance"):
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
        merged.parts = [r.name for r in results]
        return merged


def _label(percentile) -> str:
    return str(percentile).replace(".", "_") if percentile != int(percentile) else str(int(percentile))


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


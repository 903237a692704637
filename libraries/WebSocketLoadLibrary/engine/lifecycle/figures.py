"""What the connections' lifecycle policies did during a step: churn and reconnects.

The policies (churn.py, reconnect.py) count into the pool's `LifecycleCounters`; a step
that runs with a policy at work starts them afresh and puts a LifecycleFigures section in
its result: connections the client closed (churn) and opened in their place, reconnects
after the server closed or dropped one, failed attempts, connections given up, the time
from a close to the replacement being open (a histogram), messages lost while a
connection was down, and messages *cut by close* -- in flight on a connection the client
closed on purpose, which are neither delivered nor the server's fault (the delivery ratio
leaves them out).
"""
from __future__ import annotations

from dataclasses import dataclass, field

from ..results.histogram import LatencyHistogram
from ..results.sections import ResultSection


class LifecycleCounters:
    __slots__ = ("closes_by_us", "replacements", "reconnects", "failed_attempts", "gave_up",
                 "recover_s", "lost_while_down", "cut_by_close", "gave_up_why")

    def __init__(self):
        self.closes_by_us = self.replacements = self.reconnects = 0
        self.failed_attempts = self.gave_up = 0
        self.lost_while_down = self.cut_by_close = 0
        self.recover_s: list[float] = []
        self.gave_up_why: dict[str, int] = {}

    def add(self, other: "LifecycleCounters | None") -> None:
        """Another group's counts (a fan-out's subscribers) into these."""
        if other is None:
            return
        for name in ("closes_by_us", "replacements", "reconnects", "failed_attempts", "gave_up",
                     "lost_while_down", "cut_by_close"):
            setattr(self, name, getattr(self, name) + getattr(other, name))
        self.recover_s.extend(other.recover_s)
        for why, count in other.gave_up_why.items():
            self.gave_up_why[why] = self.gave_up_why.get(why, 0) + count


@dataclass
class LifecycleFigures(ResultSection):
    kind = "lifecycle"
    policies: list = field(default_factory=list)   # what was at work, in words
    closes_by_us: int = 0
    replacements: int = 0
    reconnects: int = 0
    failed_attempts: int = 0
    gave_up: int = 0
    gave_up_why: dict = field(default_factory=dict)
    lost_while_down: int = 0
    cut_by_close: int = 0
    recover: LatencyHistogram = field(default_factory=LatencyHistogram)

    @classmethod
    def of(cls, counters: LifecycleCounters, policies: list[str]) -> "LifecycleFigures":
        recover = LatencyHistogram()
        recover.record_seconds(counters.recover_s)
        return cls(list(policies), counters.closes_by_us, counters.replacements,
                   counters.reconnects, counters.failed_attempts, counters.gave_up,
                   dict(counters.gave_up_why), counters.lost_while_down, counters.cut_by_close,
                   recover)

    @property
    def not_expected(self) -> int:
        """Messages the delivery ratio leaves out: cut by the client's own close."""
        return self.cut_by_close

    @classmethod
    def merged(cls, sections: list["LifecycleFigures"]) -> "LifecycleFigures":
        merged = cls(sorted({p for s in sections for p in s.policies}),
                     *(sum(getattr(s, name) for s in sections)
                       for name in ("closes_by_us", "replacements", "reconnects",
                                    "failed_attempts", "gave_up")))
        for s in sections:
            for why, count in s.gave_up_why.items():
                merged.gave_up_why[why] = merged.gave_up_why.get(why, 0) + count
        merged.lost_while_down = sum(s.lost_while_down for s in sections)
        merged.cut_by_close = sum(s.cut_by_close for s in sections)
        merged.recover = LatencyHistogram.merged(s.recover for s in sections)
        return merged

    def to_dict(self) -> dict:
        data = {k: v for k, v in self.__dict__.items() if k != "recover"}
        data["recover_histogram"] = self.recover.encode()
        return data

    @classmethod
    def from_dict(cls, data: dict) -> "LifecycleFigures":
        data = dict(data)
        recover = LatencyHistogram.decode(data.pop("recover_histogram", ""))
        return cls(**data, recover=recover)

    def summary(self) -> dict:
        return {"churn_closes": self.closes_by_us, "churn_replacements": self.replacements,
                "reconnects": self.reconnects, "reconnect_failed_attempts": self.failed_attempts,
                "connections_given_up": self.gave_up, "lost_while_down": self.lost_while_down,
                "cut_by_close": self.cut_by_close,
                "recover_p99_ms": self.recover.percentile_us(99) / 1000}

    def rows(self) -> list[tuple[str, str]]:
        p = self.recover.percentiles_us((50, 99))
        return [("lifecycle policies", "; ".join(self.policies) or "-"),
                ("closed by the client (churn) / opened in their place",
                 f"{self.closes_by_us:,} / {self.replacements:,}"),
                ("reconnects / failed attempts / given up",
                 f"{self.reconnects:,} / {self.failed_attempts:,} / {self.gave_up:,}"
                 + (f" ({'; '.join(f'{n} x {w}' for w, n in self.gave_up_why.items())})"
                    if self.gave_up_why else "")),
                ("time to recover p50 / p99 / max (ms)",
                 f"{p[50.0] / 1000:,.3f} / {p[99.0] / 1000:,.3f} / "
                 f"{self.recover.max_us() / 1000:,.3f}"),
                ("messages lost while down / cut by the client's close",
                 f"{self.lost_while_down:,} / {self.cut_by_close:,}")]

    higher_is_worse = {"lost_while_down": "messages lost while down",
                       "recover_p99_ms": "time to recover p99 (ms)"}

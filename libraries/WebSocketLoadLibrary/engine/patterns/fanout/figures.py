"""The figures of a publish/subscribe step (fanout_correlator.py counts them): a section.

The step's own latency histogram holds every delivery's latency (from the publish's
intended send time); this section adds what only fan-out has: expected and lost
deliveries, the delivery ratio per subscriber, the slowest subscriber, and the latency from
a publish to its last subscriber.
"""
from __future__ import annotations

from dataclasses import dataclass, field

from ...results.histogram import LatencyHistogram
from ...results.sections import ResultSection


@dataclass
class FanoutFigures(ResultSection):
    kind = "fanout"
    publishers: int = 0
    subscribers: int = 0
    expected_receivers: int = 0       # subscribers each publish was expected at
    publishes: int = 0
    deliveries: int = 0
    lost_deliveries: int = 0
    reached_none: int = 0             # publishes no subscriber got
    reached_some: int = 0             # publishes some but not all subscribers got
    # per subscriber, in connection order (several agents: one after another)
    subscriber_deliveries: list = field(default_factory=list)
    subscriber_latency_mean_ms: list = field(default_factory=list)
    subscriber_latency_max_ms: list = field(default_factory=list)
    last_delivery: LatencyHistogram = field(default_factory=LatencyHistogram)
    # the publishes are everyone's, counted by each subscriber side (publishers elsewhere)
    shared_publishes: bool = False

    @classmethod
    def of(cls, correlator, publishers: int, publishes: int,
           shared_publishes: bool = False) -> "FanoutFigures":
        c = correlator
        means = [round(total / count * 1000, 3) if count else None
                 for total, count in zip(c.latency_sum_s, c.deliveries)]
        return cls(publishers=publishers, subscribers=c.subscribers,
                   expected_receivers=c.expected_receivers, publishes=publishes,
                   deliveries=sum(c.deliveries), lost_deliveries=c.lost_deliveries,
                   reached_none=c.reached_none, reached_some=c.reached_some,
                   subscriber_deliveries=list(c.deliveries), subscriber_latency_mean_ms=means,
                   subscriber_latency_max_ms=[round(m * 1000, 3) for m in c.latency_max_s],
                   last_delivery=c.recorder.series["last_delivery"][1],
                   shared_publishes=shared_publishes)

    # -- derived -----------------------------------------------------------------------
    @property
    def expected_deliveries(self) -> int:
        return self.publishes * self.expected_receivers

    @property
    def delivery_ratio(self) -> float:
        return self.deliveries / self.expected_deliveries if self.expected_deliveries else 0.0

    def subscriber_ratios(self) -> list[float]:
        return [d / self.publishes if self.publishes else 0.0
                for d in self.subscriber_deliveries]

    @property
    def worst_subscriber(self) -> tuple[int, float]:
        """(index, delivery ratio) of the subscriber that got the fewest publishes."""
        ratios = self.subscriber_ratios()
        if not ratios:
            return -1, 0.0
        worst = min(range(len(ratios)), key=ratios.__getitem__)
        return worst, ratios[worst]

    @property
    def slowest_subscriber(self) -> tuple[int, float]:
        """(index, mean delivery latency ms) of the subscriber whose deliveries came latest."""
        means = [(m, i) for i, m in enumerate(self.subscriber_latency_mean_ms) if m is not None]
        if not means:
            return -1, 0.0
        mean, index = max(means)
        return index, mean

    # -- section -----------------------------------------------------------------------
    @classmethod
    def merged(cls, sections: list["FanoutFigures"]) -> "FanoutFigures":
        """Shares of one step. Subscribers are listed one share after another. Where the
        publishers ran apart from the subscribers (load agents: fanout_split.py), every
        subscriber share counted the same publishes: they are counted once, and each
        share's expected receivers add up. Otherwise each share published its own."""
        shared = [s for s in sections if s.shared_publishes]
        if shared:
            publishes = max(s.publishes for s in shared)
            receivers = sum(s.expected_receivers for s in shared)
        else:
            publishes = sum(s.publishes for s in sections)
            receivers = max(s.expected_receivers for s in sections)
        return cls(
            publishers=sum(s.publishers for s in sections),
            subscribers=sum(s.subscribers for s in sections),
            expected_receivers=receivers, publishes=publishes,
            deliveries=sum(s.deliveries for s in sections),
            lost_deliveries=sum(s.lost_deliveries for s in sections),
            reached_none=sum(s.reached_none for s in sections),
            reached_some=sum(s.reached_some for s in sections),
            subscriber_deliveries=[d for s in sections for d in s.subscriber_deliveries],
            subscriber_latency_mean_ms=[m for s in sections for m in s.subscriber_latency_mean_ms],
            subscriber_latency_max_ms=[m for s in sections for m in s.subscriber_latency_max_ms],
            last_delivery=LatencyHistogram.merged(s.last_delivery for s in sections),
            shared_publishes=bool(shared))

    def to_dict(self) -> dict:
        data = {name: value for name, value in self.__dict__.items() if name != "last_delivery"}
        data["last_delivery_histogram"] = self.last_delivery.encode()
        return data

    @classmethod
    def from_dict(cls, data: dict) -> "FanoutFigures":
        data = dict(data)
        last = LatencyHistogram.decode(data.pop("last_delivery_histogram", ""))
        return cls(**data, last_delivery=last)

    def summary(self) -> dict:
        worst, worst_ratio = self.worst_subscriber
        slowest, slowest_ms = self.slowest_subscriber
        return {"fanout_publishes": self.publishes, "fanout_deliveries": self.deliveries,
                "fanout_expected_deliveries": self.expected_deliveries,
                "fanout_lost_deliveries": self.lost_deliveries,
                "fanout_delivery_ratio": round(self.delivery_ratio, 6),
                "fanout_worst_subscriber_ratio": round(worst_ratio, 6),
                "fanout_slowest_subscriber": slowest,
                "fanout_slowest_subscriber_mean_ms": slowest_ms,
                "fanout_last_delivery_p99_ms": self.last_delivery.percentile_us(99) / 1000}

    def rows(self) -> list[tuple[str, str]]:
        worst, worst_ratio = self.worst_subscriber
        slowest, slowest_ms = self.slowest_subscriber
        last = self.last_delivery.percentiles_us((50, 95, 99))
        return [
            ("fan-out: publishers / subscribers / expected receivers",
             f"{self.publishers:,} / {self.subscribers:,} / {self.expected_receivers:,}"),
            ("deliveries / expected / lost", f"{self.deliveries:,} / "
             f"{self.expected_deliveries:,} / {self.lost_deliveries:,}"),
            ("delivery ratio overall / worst subscriber",
             f"{self.delivery_ratio:.6f} / {worst_ratio:.6f} (subscriber {worst})"),
            ("publishes reaching no / only some subscribers",
             f"{self.reached_none:,} / {self.reached_some:,}"),
            ("slowest subscriber (mean delivery latency)",
             f"{slowest} ({slowest_ms:,.3f} ms)" if slowest >= 0 else "-"),
            ("publish to last subscriber p50 / p95 / p99 (ms)",
             " / ".join(f"{last[float(p)] / 1000:,.3f}" for p in (50, 95, 99))),
        ]

    higher_is_worse = {"fanout_lost_deliveries": "lost deliveries",
                       "fanout_last_delivery_p99_ms": "publish to last subscriber p99 (ms)"}
    lower_is_worse = {"fanout_delivery_ratio": "fan-out delivery ratio"}

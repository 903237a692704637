"""The figures of a listen-only stream (stream_tracker.py measures them): a result section."""
from __future__ import annotations

from dataclasses import dataclass, field

from ...results.histogram import LatencyHistogram
from ...results.sections import ResultSection

STALENESS_PERCENTILES = (50, 95, 99, 99.9)


@dataclass
class StreamFigures(ResultSection):
    kind = "stream"
    connections: int = 0
    messages: int = 0
    bytes: int = 0
    duration_s: float = 0.0           # from the step's start to its end
    per_connection_min: int = 0
    per_connection_max: int = 0
    slowest_connection: int = -1      # the connection that got the fewest messages
    sequence_field: str | None = None
    missing: int = 0
    duplicates: int = 0
    out_of_order: int = 0
    without_sequence: int = 0
    timestamp_field: str | None = None
    without_timestamp: int = 0
    future_timestamps: int = 0
    other: int = 0                    # over a protocol: neither its own nor a delivery
    clock_offset_s: float = 0.0
    staleness: LatencyHistogram = field(default_factory=LatencyHistogram)
    gap: LatencyHistogram = field(default_factory=LatencyHistogram)

    @classmethod
    def of(cls, tracker, duration_s: float) -> "StreamFigures":
        spec, counts = tracker.spec, tracker.messages
        series = tracker.recorder.series
        return cls(
            connections=len(counts), messages=sum(counts), bytes=tracker.bytes,
            duration_s=duration_s, per_connection_min=min(counts, default=0),
            per_connection_max=max(counts, default=0),
            slowest_connection=counts.index(min(counts)) if counts else -1,
            sequence_field=spec.sequence_field, missing=tracker.missing,
            duplicates=tracker.duplicates, out_of_order=tracker.out_of_order,
            without_sequence=tracker.without_sequence, timestamp_field=spec.timestamp_field,
            without_timestamp=tracker.without_timestamp,
            future_timestamps=tracker.future_timestamps, other=tracker.other,
            clock_offset_s=spec.clock_offset_s,
            staleness=series["staleness"][1], gap=series["gap"][1])

    # -- derived -----------------------------------------------------------------------
    @property
    def rate(self) -> float:
        return self.messages / self.duration_s if self.duration_s > 0 else 0.0

    @property
    def rate_per_connection_min(self) -> float:
        return self.per_connection_min / self.duration_s if self.duration_s > 0 else 0.0

    @property
    def expected(self) -> int:
        """Messages the sequence numbers say were sent: received, less repeats, plus gaps."""
        return self.messages - self.duplicates + self.missing

    @property
    def missing_ratio(self) -> float:
        return self.missing / self.expected if self.expected else 0.0

    def staleness_ms(self, percentile: float) -> float:
        return self.staleness.percentile_us(percentile) / 1000.0

    # -- section -----------------------------------------------------------------------
    @classmethod
    def merged(cls, sections: list["StreamFigures"]) -> "StreamFigures":
        slowest = min(sections, key=lambda s: s.per_connection_min)
        first = sections[0]
        return cls(
            connections=sum(s.connections for s in sections),
            messages=sum(s.messages for s in sections), bytes=sum(s.bytes for s in sections),
            duration_s=max(s.duration_s for s in sections),
            per_connection_min=slowest.per_connection_min,
            per_connection_max=max(s.per_connection_max for s in sections),
            slowest_connection=-1 if len(sections) > 1 else first.slowest_connection,
            sequence_field=first.sequence_field,
            **{name: sum(getattr(s, name) for s in sections)
               for name in ("missing", "duplicates", "out_of_order", "without_sequence",
                            "without_timestamp", "future_timestamps", "other")},
            timestamp_field=first.timestamp_field, clock_offset_s=first.clock_offset_s,
            staleness=LatencyHistogram.merged(s.staleness for s in sections),
            gap=LatencyHistogram.merged(s.gap for s in sections))

    def to_dict(self) -> dict:
        data = {name: value for name, value in self.__dict__.items()
                if name not in ("staleness", "gap")}
        data["staleness_histogram"] = self.staleness.encode()
        data["gap_histogram"] = self.gap.encode()
        return data

    @classmethod
    def from_dict(cls, data: dict) -> "StreamFigures":
        data = dict(data)
        staleness = LatencyHistogram.decode(data.pop("staleness_histogram", ""))
        gap = LatencyHistogram.decode(data.pop("gap_histogram", ""))
        return cls(**data, staleness=staleness, gap=gap)

    def summary(self) -> dict:
        figures = {"stream_messages": self.messages, "stream_rate": round(self.rate, 1),
                   "stream_rate_per_connection_min": round(self.rate_per_connection_min, 1),
                   "stream_bytes_per_second": round(self.bytes / self.duration_s, 1)
                   if self.duration_s > 0 else 0.0,
                   "stream_gap_p99_ms": self.gap.percentile_us(99) / 1000,
                   "stream_gap_max_ms": self.gap.max_us() / 1000,
                   "stream_other_messages": self.other}
        if self.sequence_field:
            figures.update(stream_missing=self.missing, stream_duplicates=self.duplicates,
                           stream_out_of_order=self.out_of_order,
                           stream_without_sequence=self.without_sequence)
        if self.timestamp_field:
            p = self.staleness.percentiles_us(STALENESS_PERCENTILES)
            figures.update({f"staleness_p{str(q).replace('.', '_')}_ms": p[float(q)] / 1000
                            for q in STALENESS_PERCENTILES})
            figures.update(staleness_max_ms=self.staleness.max_us() / 1000,
                           stream_without_timestamp=self.without_timestamp,
                           stream_future_timestamps=self.future_timestamps)
        return figures

    def rows(self) -> list[tuple[str, str]]:
        rows = [("stream messages / per s", f"{self.messages:,} / {self.rate:,.1f}"),
                ("stream per connection min / max (slowest)",
                 f"{self.per_connection_min:,} / {self.per_connection_max:,} "
                 f"({'-' if self.slowest_connection < 0 else self.slowest_connection})"),
                ("stream bytes / per s", f"{self.bytes:,} / "
                 f"{self.bytes / self.duration_s if self.duration_s > 0 else 0:,.0f}"),
                ("gap between messages p50 / p99 / max (ms)",
                 f"{self.gap.percentile_us(50) / 1000:,.3f} / "
                 f"{self.gap.percentile_us(99) / 1000:,.3f} / {self.gap.max_us() / 1000:,.3f}")]
        if self.other:
            rows.append(("other messages: neither the protocol's own nor a delivery "
                         "(malformed?)", f"{self.other:,}"))
        if self.sequence_field:
            rows.append((f"sequence ({self.sequence_field}): missing / duplicate / out of order "
                         f"/ without", f"{self.missing:,} / {self.duplicates:,} / "
                         f"{self.out_of_order:,} / {self.without_sequence:,}"))
        if self.timestamp_field:
            p = self.staleness.percentiles_us(STALENESS_PERCENTILES)
            rows.append((f"staleness ({self.timestamp_field}) p50 / p95 / p99 / max (ms)",
                         " / ".join(f"{p[float(q)] / 1000:,.3f}" for q in (50, 95, 99))
                         + f" / {self.staleness.max_us() / 1000:,.3f}"))
            rows.append(("timestamps missing / in the future (clock offset ms)",
                         f"{self.without_timestamp:,} / {self.future_timestamps:,} "
                         f"({self.clock_offset_s * 1000:+,.3f})"))
        return rows

    higher_is_worse = {"stream_missing": "missing stream messages",
                       "staleness_p99_ms": "staleness p99 (ms)"}
    lower_is_worse = {"stream_rate": "stream rate (msg/s)"}

"""The figures of connections opened at a rate (arrivals.py): a result section.

Connect latency runs from the moment a connection was *due* (its place in the arrival
schedule) to the moment it was open -- opening messages answered -- so a generator that
started it late, or a server that made it wait, both show, as with message latency. The
phases are each timed from their own start.
"""
from __future__ import annotations

from dataclasses import dataclass, field

from ..transport.connect_outcome import PHASES
from ..results.histogram import LatencyHistogram
from ..results.sections import ResultSection


def _histograms() -> dict:
    return {name: LatencyHistogram() for name in ("total",) + PHASES}


@dataclass
class ConnectFigures(ResultSection):
    kind = "connect"
    target_rate: float = 0.0            # connections per second
    attempted: int = 0
    opened: int = 0
    failures: dict = field(default_factory=dict)        # category -> count
    failure_examples: dict = field(default_factory=dict)  # category -> first explanation
    achieved_rate: float = 0.0          # attempts started per second
    late_starts: int = 0                # attempts started later than the late bound
    longest_late_s: float = 0.0
    duration_s: float = 0.0
    histograms: dict = field(default_factory=_histograms)   # total + each phase

    @classmethod
    def of(cls, outcomes, target_rate: float, achieved_rate: float, lateness,
           duration_s: float) -> "ConnectFigures":
        figures = cls(target_rate=target_rate, attempted=len(outcomes),
                      achieved_rate=achieved_rate, late_starts=lateness.late_messages,
                      longest_late_s=lateness.longest_s, duration_s=duration_s)
        values: dict[str, list] = {name: [] for name in figures.histograms}
        for outcome in outcomes:
            for phase, seconds in outcome.phases.items():
                values[phase].append(seconds)
            if outcome.opened:
                figures.opened += 1
                values["total"].append(outcome.finished - outcome.due)
            else:
                figures.failures[outcome.failure] = figures.failures.get(outcome.failure, 0) + 1
                figures.failure_examples.setdefault(outcome.failure, outcome.detail)
        for name, seconds in values.items():
            figures.histograms[name].record_seconds(seconds)
        return figures

    @property
    def failed(self) -> int:
        return self.attempted - self.opened

    @property
    def failure_ratio(self) -> float:
        return self.failed / self.attempted if self.attempted else 0.0

    def latency_ms(self, percentile: float, phase: str = "total") -> float:
        return self.histograms[phase].percentile_us(percentile) / 1000

    def describe_failures(self) -> str:
        return "; ".join(f"{count:,} x {category} ({self.failure_examples.get(category, '')})"
                         for category, count in sorted(self.failures.items(),
                                                       key=lambda item: -item[1])) or "none"

    # -- section -----------------------------------------------------------------------
    @classmethod
    def merged(cls, sections: list["ConnectFigures"]) -> "ConnectFigures":
        merged = cls(target_rate=sum(s.target_rate for s in sections),
                     attempted=sum(s.attempted for s in sections),
                     opened=sum(s.opened for s in sections),
                     achieved_rate=sum(s.achieved_rate for s in sections),
                     late_starts=sum(s.late_starts for s in sections),
                     longest_late_s=max(s.longest_late_s for s in sections),
                     duration_s=max(s.duration_s for s in sections))
        for s in sections:
            for category, count in s.failures.items():
                merged.failures[category] = merged.failures.get(category, 0) + count
                merged.failure_examples.setdefault(category, s.failure_examples.get(category))
        merged.histograms = {name: LatencyHistogram.merged(s.histograms[name] for s in sections)
                             for name in merged.histograms}
        return merged

    def to_dict(self) -> dict:
        data = {k: v for k, v in self.__dict__.items() if k != "histograms"}
        data["histograms"] = {name: h.encode() for name, h in self.histograms.items()}
        return data

    @classmethod
    def from_dict(cls, data: dict) -> "ConnectFigures":
        data = dict(data)
        histograms = _histograms()
        histograms.update({name: LatencyHistogram.decode(text)
                           for name, text in data.pop("histograms", {}).items()})
        return cls(**data, histograms=histograms)

    def summary(self) -> dict:
        figures = {"connect_attempted": self.attempted, "connect_opened": self.opened,
                   "connect_failed": self.failed,
                   "connect_failure_ratio": round(self.failure_ratio, 6),
                   "connect_rate": round(self.achieved_rate, 1),
                   "connect_late_starts": self.late_starts}
        for p in (50, 95, 99):
            figures[f"connect_p{p}_ms"] = self.latency_ms(p)
        for phase in PHASES:
            if self.histograms[phase].count:
                figures[f"connect_{phase}_p95_ms"] = self.latency_ms(95, phase)
        return figures

    def rows(self) -> list[tuple[str, str]]:
        rows = [("connections attempted / opened / failed",
                 f"{self.attempted:,} / {self.opened:,} / {self.failed:,}"),
                ("connect rate target / achieved (per s)",
                 f"{self.target_rate:,.1f} / {self.achieved_rate:,.1f}"),
                ("connect latency from due p50 / p95 / p99 / max (ms)",
                 " / ".join(f"{self.latency_ms(p):,.3f}" for p in (50, 95, 99))
                 + f" / {self.histograms['total'].max_us() / 1000:,.3f}")]
        for phase in PHASES:
            if self.histograms[phase].count:
                rows.append((f"  {phase} p50 / p95 / p99 (ms)", " / ".join(
                    f"{self.latency_ms(p, phase):,.3f}" for p in (50, 95, 99))))
        rows.append(("connections started late / longest stretch behind",
                     f"{self.late_starts:,} / {self.longest_late_s:.2f} s"))
        rows.append(("connection failures", self.describe_failures()))
        return rows

    higher_is_worse = {"connect_p95_ms": "connect latency p95 (ms)",
                       "connect_failed": "failed connections"}
    lower_is_worse = {"connect_rate": "connect rate (per s)"}

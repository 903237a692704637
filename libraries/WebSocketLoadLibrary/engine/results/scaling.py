"""A series of load steps at growing rates or connection counts, and how well it scaled.

Efficiency of a step = the replies per second it achieved / the replies per second it would
have achieved if throughput grew linearly. For paced steps the linear ideal is the step's
target rate; for closed-loop steps (rate max) it is the first step's throughput per
connection times the step's connections.
"""
from __future__ import annotations

from dataclasses import dataclass, field

from .result import LoadResult


@dataclass(repr=False)
class ScalingResult:
    kind: str                      # "rate" or "connections"
    name: str = ""
    steps: list = field(default_factory=list)   # LoadResult, in the order run

    def __repr__(self) -> str:
        return (f"ScalingResult(kind={self.kind!r}, name={self.name!r}, steps={len(self.steps)}, "
                f"efficiency={self.efficiency:.3f})")

    @property
    def load_applied(self) -> bool:
        return all(step.load_applied for step in self.steps)

    @property
    def not_applied_reasons(self) -> list[str]:
        return [f"step {step.name}: {reason}" for step in self.steps
                for reason in step.not_applied_reasons]

    def ideal_throughput(self, step: LoadResult) -> float:
        if step.target_rate:
            return step.target_rate
        first = self.steps[0]
        per_connection = first.achieved_receive_rate / max(first.connections, 1)
        return per_connection * step.connections

    def step_efficiency(self, step: LoadResult) -> float:
        ideal = self.ideal_throughput(step)
        return step.achieved_receive_rate / ideal if ideal else 0.0

    @property
    def efficiencies(self) -> list[float]:
        return [self.step_efficiency(step) for step in self.steps]

    @property
    def efficiency(self) -> float:
        """The least efficient step's efficiency: scaling is as good as its worst step."""
        return min(self.efficiencies, default=0.0)

    @property
    def peak_throughput(self) -> float:
        return max((step.achieved_receive_rate for step in self.steps), default=0.0)

    @property
    def messages(self) -> int:
        return sum(step.sent for step in self.steps)

    def memory_growth_bytes(self, side: str) -> int | None:
        """Peak RSS over all steps minus the first step's baseline."""
        parts = [step.resources.get(side, {}) for step in self.steps]
        peaks = [p["rss_peak_bytes"] for p in parts if "rss_peak_bytes" in p]
        if not peaks or "rss_baseline_bytes" not in parts[0]:
            return None
        return max(peaks) - parts[0]["rss_baseline_bytes"]

    def to_dict(self) -> dict:
        return {"kind": self.kind, "name": self.name, "efficiency": self.efficiency,
                "efficiencies": self.efficiencies, "peak_throughput": self.peak_throughput,
                "steps": [step.to_dict() for step in self.steps]}

    @classmethod
    def from_dict(cls, data: dict) -> "ScalingResult":
        return cls(data["kind"], data.get("name", ""),
                   [LoadResult.from_dict(step) for step in data.get("steps", [])])

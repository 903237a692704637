"""Pushes: messages the server sent on its own (heartbeats, welcomes, notifications) that
arrived during a step besides the replies. They are counted, per connection and per second,
and never count against delivery (correlator.py decides what is a push)."""
from __future__ import annotations

from dataclasses import asdict, dataclass

from .sections import ResultSection


@dataclass
class PushCounts(ResultSection):
    kind = "pushes"
    total: int = 0
    connections: int = 0
    per_connection_min: int = 0
    per_connection_max: int = 0
    connections_without: int = 0     # connections that got none
    duration_s: float = 0.0

    @classmethod
    def of(cls, per_connection: list[int], duration_s: float) -> "PushCounts | None":
        """The section of a step, or None when no push arrived (most request-reply steps)."""
        total = sum(per_connection)
        if not total:
            return None
        return cls(total, len(per_connection), min(per_connection), max(per_connection),
                   per_connection.count(0), duration_s)

    @property
    def rate(self) -> float:
        return self.total / self.duration_s if self.duration_s > 0 else 0.0

    @classmethod
    def merged(cls, sections: list["PushCounts"]) -> "PushCounts":
        return cls(sum(s.total for s in sections), sum(s.connections for s in sections),
                   min(s.per_connection_min for s in sections),
                   max(s.per_connection_max for s in sections),
                   sum(s.connections_without for s in sections),
                   max(s.duration_s for s in sections))

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict) -> "PushCounts":
        return cls(**data)

    def summary(self) -> dict:
        return {"pushes_total": self.total, "pushes_per_second": round(self.rate, 1),
                "pushes_per_connection_min": self.per_connection_min,
                "pushes_per_connection_max": self.per_connection_max}

    def rows(self) -> list[tuple[str, str]]:
        return [("pushes (not replies) / per s", f"{self.total:,} / {self.rate:,.1f}"),
                ("pushes per connection min / max / none",
                 f"{self.per_connection_min:,} / {self.per_connection_max:,} / "
                 f"{self.connections_without:,} of {self.connections:,}")]

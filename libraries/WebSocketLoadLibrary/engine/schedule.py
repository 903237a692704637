"""Open-loop schedule arithmetic: when each message is due. No I/O, no clock of its own.

Message k (0-based) of a step is due at `start + k / rate` and goes out on connection
`k % connections`, so the aggregate rate is even across connections and every message has
an intended send time that latency is measured from (the wrk2 rule).
"""
from __future__ import annotations

import math
from dataclasses import dataclass

from .errors import PlanError


@dataclass(frozen=True)
class OpenLoopSchedule:
    rate: float          # messages per second, all connections together
    messages: int        # messages in the step
    start: float = 0.0   # perf_counter() time of message 0

    def __post_init__(self):
        if not self.rate > 0 or math.isinf(self.rate):
            raise PlanError(f"rate must be a positive number of messages per second, got {self.rate!r}")
        if self.messages < 0:
            raise PlanError(f"messages must be >= 0, got {self.messages}")

    @property
    def interval(self) -> float:
        return 1.0 / self.rate

    @property
    def duration(self) -> float:
        """The window the messages own: each one a 1/rate slot."""
        return self.messages / self.rate

    def intended_time(self, k: int) -> float:
        return self.start + k / self.rate

    def due_count(self, now: float) -> int:
        """How many messages are due at `now` (their intended time <= now)."""
        if now < self.start:
            return 0
        # float rounding must never make a message due before its time
        count = min(int((now - self.start) * self.rate) + 1, self.messages)
        while count > 0 and self.intended_time(count - 1) > now:
            count -= 1
        while count < self.messages and self.intended_time(count) <= now:
            count += 1
        return count

    @staticmethod
    def messages_for(rate: float, duration_s: float) -> int:
        return max(1, int(round(rate * duration_s)))

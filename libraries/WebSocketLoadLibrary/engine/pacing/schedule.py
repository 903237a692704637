"""Open-loop schedule arithmetic: when each message is due. No I/O, no clock of its own.

Message k (0-based) of a step is due at `start + k / rate`, and every message has that
intended send time to measure its latency from (the wrk2 rule). Connections take the
messages in turns of `run_length` consecutive ones: one at a time at low rates, so that
each connection carries an even share; at high rates up to `MAX_RUN` in a row, so that a
pacer wake writes several frames to a few sockets rather than one frame to each of many
(on this kind of machine a syscall costs more than all of a message's bookkeeping, and
the server reads and answers a run in one go too). Every connection still gets its turn
within `ROTATION_S`, and a step too short to give every connection a run of that length
gets shorter runs.
"""
from __future__ import annotations

import math
from dataclasses import dataclass

from ..errors import PlanError

MAX_RUN = 64         # consecutive messages per connection (~6 KB of frames at ~100 bytes)
ROTATION_S = 0.020   # every connection has its turn within this long


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

    def run_length(self, connections: int, wake_interval_s: float,
                   max_run: int = MAX_RUN) -> int:
        """How many consecutive messages go to one connection before the next one's turn:
        no more than one wake of the pacer sends, nor `max_run`, and few enough that every
        connection has its turn within ROTATION_S and a run in the step."""
        return max(1, min(max_run, int(self.rate * wake_interval_s),
                          int(self.rate * ROTATION_S / connections), self.messages // connections))

    @staticmethod
    def connection_of(k: int, connections: int, run: int) -> int:
        """The connection (0-based) message k goes out on."""
        return (k // run) % connections

    @staticmethod
    def messages_for(rate: float, duration_s: float) -> int:
        return max(1, int(round(rate * duration_s)))

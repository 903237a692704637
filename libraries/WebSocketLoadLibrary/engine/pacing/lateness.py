"""How late the pacer sent, in terms of the load the server saw. No I/O, no clock of its own.

A message is *late* when it went out more than the step's late bound after its intended
time: the planned interval between two messages of one connection (so a late message
reached its connection after the next one was due: the server saw a different pattern),
at least LATE_FLOOR_S (a scheduler time slice on a busy machine; less changes nothing a
server can tell) and at most LATE_CEILING_S (at one message a second per connection, a
half-second delay is still a delay). Latency counts from the intended time either way;
this only decides whether the planned load reached the server.

The pacer reports each batch it sends (`batch`) only when the batch's first message is
late or a late stretch is open, so a pacer that keeps up pays nothing per batch.
"""
from __future__ import annotations

LATE_FLOOR_S = 0.010
LATE_CEILING_S = 0.100


def late_bound_s(rate: float, connections: int) -> float:
    """How late a message may go out and still count as sent on time."""
    per_connection_interval_s = max(1, connections) / rate
    return min(LATE_CEILING_S, max(LATE_FLOOR_S, per_connection_interval_s))


class Lateness:
    """Counts the late messages of one open-loop step and its longest stretch behind."""

    __slots__ = ("bound_s", "late_messages", "longest_s", "_first", "_last", "_due_count",
                 "_intended_time")

    def __init__(self, bound_s: float, schedule):
        self.bound_s = bound_s
        self.late_messages = 0
        # how long the pacer was behind without a break: from the due time of a stretch's
        # first late message to the send of its last (wall time: a stall of 1 s is a 1 s
        # stretch, and so is a step planned within 10 ms that took a second to send)
        self.longest_s = 0.0
        self._first = self._last = None
        self._due_count, self._intended_time = schedule.due_count, schedule.intended_time

    @property
    def behind(self) -> bool:
        """A late stretch is open: the pacer has to report its next batch too."""
        return self._first is not None

    def batch(self, k: int, end: int, now: float) -> None:
        """Messages k..end-1 went out at `now`."""
        late_end = min(end, self._due_count(now - self.bound_s))
        if late_end <= k:   # caught up: the stretch, if any, ends before message k
            self._close()
            return
        self.late_messages += late_end - k
        if self._first is None:
            self._first = self._intended_time(k)
        self._last = now
        if late_end < end:  # caught up within this batch
            self._close()

    def finish(self) -> None:
        """The step's last message went out: close a stretch still open."""
        self._close()

    def _close(self) -> None:
        if self._first is not None:
            stretch_s = self._last - self._first
            if stretch_s > self.longest_s:
                self.longest_s = stretch_s
            self._first = self._last = None

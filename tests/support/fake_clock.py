"""A clock that moves only when the test moves it: for code that reads `time.monotonic`
(patched with the clock) or takes a clock and a sleep function."""
from __future__ import annotations


class Clock:
    """Reads `now` when called; moves when a test sets `now` or calls `sleep()`."""

    def __init__(self, now: float = 0.0):
        self.now = now

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.now += seconds

"""A step's recorder and correlator made together, as a load step makes them, for tests
that drive the matching and read the figures without a network."""
from __future__ import annotations

from WebSocketLoadLibrary.engine.step.correlator import ReplyCorrelator
from WebSocketLoadLibrary.engine.step.recorder import StepRecorder


class Books:
    """`correlator` and `recorder` of one step; attributes are looked up on the correlator,
    then on the recorder (`books.sent_one(...)`, `books.received`)."""

    def __init__(self, connections: int, extract_id, id_base: int = 0, start: float = 0.0,
                 interval: float | None = None, id_fast_path=None, push_pattern=None):
        self.recorder = StepRecorder(scheduled=interval is not None)
        self.correlator = ReplyCorrelator(self.recorder, connections, extract_id, id_base,
                                          start, interval, id_fast_path, push_pattern)

    def __getattr__(self, name):
        try:
            return getattr(self.correlator, name)
        except AttributeError:
            return getattr(self.recorder, name)

"""Stream mode of the push protocol: the server pushes numbered messages to one connection
at a steady rate, decided here without I/O.

    {"op":"stream","rate":R,"count":N,"duration":D,"size":B}
        -> {"op":"streaming","rate":R}
        then {"seq":1,"ts":1733130000.123456,"payload":"xxxxxxxxxxxxxxxx"}, seq 2, 3, ...
    {"op":"stop_stream"} -> {"op":"stream_stopped","sent":K}

`rate` (messages/s, > 0) is required, and one of `count` (seq numbers) and `duration`
(seconds) at least; `size` is the payload's length in bytes (default 16). seq k is due
`(k - 1) / rate` seconds after the stream starts: an absolute schedule, and each wake sends
everything due by then, so a late wake is made up at once and the rate holds -- unless the
client does not read as fast: the engine then makes no more than its socket can take
(picows_server.py), and the stream falls behind its schedule, as a real server's would. The stream
ends after seq `count`, or with the last seq due within `duration`, or at `stop_stream`
(whose `sent` is the messages this stream sent, gaps left out), or when the connection
closes; a new `stream` command replaces a running stream. `ts` is the server's
`time.time()` when the message was made (one reading per wake), 6 decimals.

Faults, per message: drop_ratio drops it and sequence_gap_every N skips every Nth seq --
either way its seq is never sent, a gap the client can see (counted `pushes_dropped`,
`sequence_gaps`); response_delay and a stall hold it (pipeline.py).

Messages are made by bytes formatting, not a JSON encoder: the picows engine pushes
300k+ messages/s with it (bench/mock_stream.py).
"""
from __future__ import annotations

import math
import time

MIN_WAKE_S = 0.001   # at high rates a wake sends a batch rather than one message
# messages per wake at most (1 ms apart at most: 5M/s a connection), so that a stream far
# behind its schedule still lets its connection's other work in (a client's close)
BATCH_MOST = 5000
DEFAULT_SIZE = 16


class StreamError(ValueError):
    pass


def _number(command: dict, name: str, default=None, integer: bool = False):
    value = command.get(name, default)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, (int, float)) or value != value:
        raise StreamError(f"stream: {name} must be a number, got {value!r}")
    if integer and value != int(value):
        raise StreamError(f"stream: {name} must be a whole number, got {value!r}")
    return int(value) if integer else float(value)


class Stream:
    """One connection's stream: which seq numbers are due when, and their bytes."""
    __slots__ = ("rate", "last", "payload", "start", "seq", "sent", "faults", "stats", "kind",
                 "stopped")

    def __init__(self, rate: float, last: int, size: int, start: float, faults, stats, kind):
        self.rate, self.last, self.start = rate, last, start
        self.payload = b"x" * size
        self.faults, self.stats, self.kind = faults, stats, kind
        self.seq = 0        # the last seq number due so far (sent or skipped)
        self.sent = 0       # messages made, gaps left out
        self.stopped = last < 1

    @classmethod
    def from_command(cls, command: dict, now: float, faults, stats, kind,
                     max_size: int = 1 << 20) -> "Stream":
        """The stream a `stream` command asks for, from `now`; StreamError if it is bad."""
        rate = _number(command, "rate")
        if rate is None or rate <= 0 or math.isinf(rate):
            raise StreamError(f"stream: rate must be a number of messages/s above 0, "
                              f"got {command.get('rate')!r}")
        count = _number(command, "count", integer=True)
        duration = _number(command, "duration")
        if count is None and duration is None:
            raise StreamError("stream: give count or duration (or both)")
        if (count is not None and count < 1) or (duration is not None and duration <= 0):
            raise StreamError("stream: count and duration must be above 0")
        size = _number(command, "size", DEFAULT_SIZE, integer=True)
        if not 0 <= size <= max_size:
            raise StreamError(f"stream: size must be 0..{max_size} bytes, got {size}")
        last = count if count is not None else math.inf
        if duration is not None:  # the seqs due before `duration` is up
            last = min(last, math.ceil(duration * rate - 1e-9))
        return cls(rate, int(last), size, now, faults, stats, kind)

    @property
    def running(self) -> bool:
        return not self.stopped

    def stop(self) -> int:
        self.stopped = True
        return self.sent

    def next_wake(self, now: float) -> float | None:
        """When to call `due` next (monotonic), None once the stream is over: when the next
        seq is due, and at high rates no sooner than MIN_WAKE_S after `now`."""
        if self.stopped:
            return None
        due = self.start + self.seq / self.rate
        return due if self.seq == 0 else max(due, now + MIN_WAKE_S)

    def due(self, now: float, most: int | None = None) -> list[bytes]:
        """The messages due by `now` not yet made (at most `most` seq numbers: the rest
        stay due for the next wake), gaps left out; the stream's own counts."""
        if self.stopped:
            return []
        first = self.seq + 1
        # (a slot due this very moment is due: float error must not push it to the next wake)
        upto = min(self.last, int((now - self.start) * self.rate + 1e-6) + 1)
        if most is not None:
            upto = min(upto, first + most - 1)
        if upto < first:
            return []
        self.seq = upto
        if upto >= self.last:
            self.stopped = True
        tail = b',"ts":%.6f,"payload":"%s"}' % (time.time(), self.payload)
        faults = self.faults
        every, drop = faults.sequence_gap_every, faults.drop_ratio
        if not every and not drop:
            batch = [b'{"seq":%d%s' % (seq, tail) for seq in range(first, upto + 1)]
        else:
            batch, stats = [], self.stats
            for seq in range(first, upto + 1):
                if every and seq % every == 0:
                    stats.sequence_gaps += 1
                elif drop and faults.should_drop():
                    stats.pushes_dropped += 1
                else:
                    batch.append(b'{"seq":%d%s' % (seq, tail))
        self.sent += len(batch)
        return batch

    def describe(self) -> dict:
        return {"rate": self.rate, "last_seq": self.seq, "sent": self.sent,
                "running": self.running}

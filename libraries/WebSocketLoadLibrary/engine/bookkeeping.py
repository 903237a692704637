"""Per-step bookkeeping: correlation of replies by id, counters, histograms, timeline.

Plain objects driven by (connection, id, timestamp) calls, so tests can drive them
without a network. The hot path -- `sent_one` and the receivers of `frame_receivers` --
does O(1) dict work and appends float seconds to lists; histograms are filled in batches
by `flush` (histogram.py).
"""
from __future__ import annotations

import time

from .frames import BINARY, TEXT, WholeMessage
from .histogram import CHUNK, LatencyHistogram
from .result import timeline_latency


def digits(message_id: int) -> bytes:
    """An id as the ascii digits it is rendered with: the key a message is booked under."""
    return str(message_id).encode()


class StepBook:
    """Bookkeeping of one load step over `connections` connections.

    With an `interval` (open loop) a message's latency is measured from its intended send
    time, `start + (id - id_base) * interval`; without one (closed loop) from its actual
    send time. Service time is always measured from the actual send time. A message in
    flight is booked with its actual send time, or in the open loop with the pair
    `(actual, intended)`: the pacer has the intended time at hand, and working it out
    from the reply's id again (`int()` of the digits) cost ~0.2 us a message.

    Messages in flight are booked under their id's ascii digits (`digits`): a reply that
    starts as the template promises (`id_fast_path`, `(prefix, start)` from
    `MessageTemplate.id_fast_path`) is matched by slicing the digits out, with no parsing;
    every other reply, and digits that match nothing, go to `extract_id`, whose integer is
    looked up as digits in turn -- so the same replies match, and the same are invalid or
    unmatched, as with the general extractor alone.
    """

    __slots__ = ("extract_id", "id_base", "start", "interval", "outstanding", "sent", "received",
                 "lost", "unmatched", "invalid_replies", "send_errors", "last_send",
                 "last_reply", "_latency_s", "_service_s", "_lag_s", "latency", "service_time",
                 "lag", "max_lag_s", "_second", "_second_marks", "timeline", "errors", "_receivers",
                 "id_fast_path")

    def __init__(self, connections: int, extract_id, id_base: int = 0,
                 start: float = 0.0, interval: float | None = None,
                 id_fast_path: tuple[bytes, int] | None = None):
        self.extract_id = extract_id
        self.id_fast_path = id_fast_path
        self.id_base = id_base
        self.start = start
        self.interval = interval
        self.outstanding: list[dict[bytes, float | tuple[float, float]]] = [
            {} for _ in range(connections)]
        self.sent = self.received = self.lost = self.unmatched = 0
        self.invalid_replies = self.send_errors = 0
        self.last_send = self.last_reply = 0.0
        # latencies wait here as float seconds until `flush` records them in a batch
        self._service_s: list[float] = []
        # without a schedule latency *is* service time: one list serves both histograms
        self._latency_s: list[float] = [] if interval is not None else self._service_s
        self._lag_s: list[float] = []
        self.latency = LatencyHistogram()
        self.service_time = LatencyHistogram()
        self.lag = LatencyHistogram()
        self.max_lag_s = 0.0
        self._second = LatencyHistogram()
        self._second_marks = (0, 0, 0)
        self.timeline: list[dict] = []
        self.errors: dict[str, int] = {}
        self._receivers = None

    # -- hot path ------------------------------------------------------------------------
    def sent_one(self, connection: int, message_id: int, now: float) -> None:
        self.outstanding[connection][digits(message_id)] = (
            now if self.interval is None else (now, self.intended_time(message_id)))
        self.sent += 1
        self.last_send = now

    def intended_time(self, message_id: int) -> float:
        return self.start + (message_id - self.id_base) * self.interval

    def reply(self, slot: int, message, now: float) -> bool:
        """Book one reply read at `now` on connection `slot`; True if it matched: the
        receivers of `frame_receivers`, a reply at a time (how tests drive the book)."""
        if self._receivers is None:
            self._receivers = self.frame_receivers([None] * len(self.outstanding))
        return self._receivers[slot](None, WholeMessage(message, now))

    def frame_receivers(self, fallbacks: list) -> list:
        """Per connection, `on_frame(transport, frame) -> bool`: book a reply; True if it
        matched (frames.py: picows calls these directly, as each socket's frame listener).

        A complete data frame is booked here; any other frame (control frames, fragments)
        goes to the connection's `fallbacks[slot]`, the socket's own listener, which hands
        a reassembled message back as a `WholeMessage`. Replies that arrived in one socket
        read share one timestamp: the time of the first of them (`frame.last_in_buffer`
        ends a read); a `WholeMessage` brings its own.

        Closures over the book's containers (no attribute lookups): they run once per
        reply. The read's first matched reply does the once-per-read work: the time of the
        last reply, and where the digits of the ids now in flight end -- so a reply's id is
        sliced at a known offset, and finding the comma is left to the rare reply whose id
        has another width (ids passing a power of ten).
        """
        extract, outstanding = self.extract_id, self.outstanding
        latencies, service_times = self._latency_s, self._service_s
        scheduled, id_base = self.interval is not None, self.id_base
        prefix, start = self.id_fast_path or (None, 0)
        bad_reply = (ValueError, KeyError, TypeError, IndexError)
        clock, book = time.perf_counter, self
        read_at, stop = None, start + len(digits(id_base))

        def receiver(waiting: dict, fallback):
            batch_now = 0.0

            def on_frame(transport, frame) -> bool:
                nonlocal batch_now, read_at, stop
                kind = frame.msg_type
                if (kind is not TEXT and kind is not BINARY) or not frame.fin:
                    return fallback(transport, frame)
                if transport is None:
                    now = frame.at
                else:
                    now = batch_now or clock()
                    batch_now = 0.0 if frame.last_in_buffer else now
                message = frame.get_payload_as_bytes()
                sent_at = None
                if prefix is not None and message[:start] == prefix:
                    try:
                        end = stop if message[stop] == 44 else message.find(b",", start)  # ","
                    except IndexError:
                        end = -1
                    if end > start:
                        sent_at = waiting.pop(message[start:end], None)
                if sent_at is None:
                    try:
                        key = digits(extract(message))
                    except bad_reply:
                        book.invalid_replies += 1
                        return False
                    sent_at = waiting.pop(key, None)
                    if sent_at is None:
                        book.unmatched += 1
                        return False
                book.received += 1
                if now != read_at:  # the first reply of this socket read to match
                    read_at = now
                    book.last_reply = now
                    stop = start + len(digits(id_base + max(book.sent - 1, 0)))
                if scheduled:  # (actual, intended) send time
                    service_times.append(now - sent_at[0])
                    latencies.append(now - sent_at[1])
                else:
                    service_times.append(now - sent_at)
                return True
            return on_frame
        return [receiver(waiting, fallback) for waiting, fallback in zip(outstanding, fallbacks)]

    def lagging(self, lag_s: float) -> None:
        """The pacer sent a batch `lag_s` after the first message of it was due."""
        self._lag_s.append(lag_s)
        if lag_s > self.max_lag_s:
            self.max_lag_s = lag_s

    # -- slow path -----------------------------------------------------------------------
    def not_sent(self, connection: int, message_id: int, error: str) -> None:
        """Take back `sent_one`: the send raised (booked first so that no reply can race it)."""
        if self.outstanding[connection].pop(digits(message_id), None) is not None:
            self.sent -= 1
        self.send_errors += 1
        self.error(error)

    def error(self, description: str, count: int = 1) -> None:
        self.errors[description] = self.errors.get(description, 0) + count

    def expire(self, now: float, timeout_s: float) -> list[int]:
        """Count as lost the messages in flight for longer than `timeout_s`; returns, per
        connection, how many were lost (the closed loop sends replacements)."""
        lost_per_connection = []
        deadline = now - timeout_s
        scheduled = self.interval is not None
        for waiting in self.outstanding:
            lost = 0
            while waiting:
                message_id = next(iter(waiting))
                sent = waiting[message_id]
                if (sent[0] if scheduled else sent) > deadline:
                    break
                del waiting[message_id]
                lost += 1
            self.lost += lost
            lost_per_connection.append(lost)
        return lost_per_connection

    def abandon(self, connection: int) -> int:
        """The connection is closed: what it still waits for can never arrive."""
        lost = len(self.outstanding[connection])
        self.outstanding[connection].clear()
        self.lost += lost
        return lost

    def in_flight(self) -> int:
        return sum(len(waiting) for waiting in self.outstanding)

    def pending(self) -> int:
        """Latencies waiting for `flush` (the largest of the lists)."""
        return max(len(self._latency_s), len(self._service_s), len(self._lag_s))

    def flush(self) -> None:
        """Move the latencies gathered since the last flush into the histograms."""
        for _ in self.flushing():
            pass

    def flushing(self):
        """`flush` a chunk at a time: a generator that yields after each CHUNK of values
        (~0.4 ms of numpy here), so that a caller on the event loop lets due sends and
        replies through in between. At 230k msg/s a 100 ms tick found ~24k values a list,
        and recording a list at once (1.3 ms, two lists a tick) put a 5-7 ms spike into
        the pacer's lag every tick: the stall, then the replies it held back. Each chunk
        is recorded and cut from its list with no yield between, so stopping at a yield (a
        cancelled task) loses or repeats nothing; values that come in meanwhile wait for
        the next flush."""
        if self._latency_s is self._service_s:  # closed loop: one list, one histogram
            # (`close_second` adds the second's histogram to both distributions: one numpy
            # pass a value rather than two, ~40 ns a message)
            steps = ((self._service_s, self._second), (self._lag_s, self.lag))
        else:
            steps = ((self._latency_s, self._second), (self._service_s, self.service_time),
                     (self._lag_s, self.lag))
        for pending, histogram in steps:
            left = len(pending)
            while left:
                count = min(left, CHUNK)
                histogram.record_seconds(pending[:count])
                del pending[:count]  # in place: the receiver closures hold these very lists
                left -= count
                yield

    def close_second(self, span_s: float = 1.0) -> dict:
        """End one second of the timeline (called once a second, and at the end with the
        length of the last, partial second)."""
        self.flush()
        sent, received, lost = self._second_marks
        point = {"second": len(self.timeline), "span_s": round(span_s, 6), "sent": self.sent - sent,
                 "received": self.received - received, "lost": self.lost - lost,
                 **timeline_latency(self._second)}
        self.timeline.append(point)
        self._second_marks = (self.sent, self.received, self.lost)
        self.latency.add(self._second)
        if self.interval is None:  # closed loop: service time is the latency
            self.service_time.add(self._second)
        self._second.reset()
        return point

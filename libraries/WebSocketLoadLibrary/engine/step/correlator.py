"""How arriving messages are matched to what was sent: one expected reply per message.

The correlator owns what is in flight -- per connection, a dict from a message's id (as the
ascii digits it was rendered with, `digits`) to its send time, or in the open loop the
pair `(actual, intended)` -- and the receivers that match each arriving message against it.
Drivers book a message by writing that dict entry themselves (`outstanding[slot][key] =
...`, the pacer's hot loop: a method call per message cost more than the entry), always
before the message is sent, so that no reply can race its booking. What a match means is
the correlator's: this one pops the entry at the first reply on the same connection. A
correlator for several replies per message, or for a publish delivered on every
subscriber's connection (the same dict shared by all slots), keeps the booking and changes
the matching.
"""
from __future__ import annotations

import time

from ..plan.messages import fast_path_parts
from ..transport.frames import BINARY, TEXT, WholeMessage
from .recorder import StepRecorder


def digits(message_id: int) -> bytes:
    """An id as the ascii digits it is rendered with: the key a message is booked under."""
    return str(message_id).encode()


class ReplyCorrelator:
    """Matches replies by id over `connections` connections; counts into `recorder`.

    With an `interval` (open loop) a message's latency is measured from its intended send
    time, `start + (id - id_base) * interval`; without one (closed loop) from its actual
    send time. Service time is always measured from the actual send time. A message in
    flight is booked with its actual send time, or in the open loop with the pair
    `(actual, intended)`: the pacer has the intended time at hand, and working it out
    from the reply's id again (`int()` of the digits) cost ~0.2 us a message.

    A reply that starts as the template promises (`id_fast_path`, `(prefix, start, end)` from
    `MessageTemplate.id_fast_path`) is matched by slicing the digits out, with no parsing;
    every other reply, and digits that match nothing, go to `extract_id`, whose integer is
    looked up as digits in turn -- so the same replies match, and the same are invalid or
    unmatched, as with the general extractor alone.
    """

    __slots__ = ("recorder", "extract_id", "id_base", "start", "interval", "outstanding",
                 "_receivers", "id_fast_path", "push_pattern", "control", "protocol_counts")

    def __init__(self, recorder: StepRecorder, connections: int, extract_id, id_base: int = 0,
                 start: float = 0.0, interval: float | None = None,
                 id_fast_path: tuple[bytes, int, bytes] | None = None, push_pattern=None):
        self.recorder = recorder
        recorder.count_pushes_of(connections)
        self.extract_id = extract_id
        self.push_pattern = push_pattern
        self.id_fast_path = id_fast_path
        self.id_base = id_base
        self.start = start
        self.interval = interval
        self.outstanding: list[dict[bytes, float | tuple[float, float]]] = [
            {} for _ in range(connections)]
        self._receivers = None
        # `control(slot, message) -> bool`: the protocol spoken over WebSocket takes its
        # own messages (keep-alives, answered at once); set by the step, None: plain
        self.control = None
        # the pool's ProtocolCounts, where the messages `passed_over` are counted (as
        # `control` counts the ones it passes over); set by the step
        self.protocol_counts = None

    def sent_one(self, connection: int, message_id: int, now: float) -> None:
        self.outstanding[connection][digits(message_id)] = (
            now if self.interval is None else (now, self.intended_time(message_id)))
        recorder = self.recorder
        recorder.sent += 1
        recorder.last_send = now

    def first_look(self):
        """`reply_key(message, slot) -> digits | None`, the protocol's look at the commonest
        reply whose id the hot path cannot slice (MQTT's PUBACK, GraphQL's `next`), for
        the receivers to call before `key_of_other(first_look=False)`: one Python call a
        reply fewer. None when the extractor has none."""
        return getattr(self.extract_id, "reply_key", None)

    def passed_over(self):
        """`(test(message) -> bool, counts)`: the protocol's look at its own commonest
        message that is no reply and asks for nothing (GraphQL's `complete` after each
        result), for the receivers to ask after `first_look` and before `key_of_other`,
        counting those it says yes to in `counts.control` as `control` would; None when
        the extractor has none or the step speaks no protocol."""
        test = getattr(self.extract_id, "passed_over", None)
        counts = self.protocol_counts
        return None if test is None or counts is None else (test, counts)

    def key_of_other(self, first_look: bool = True):
        """`key(slot, message) -> digits | None`, for a message the hot path did not match:
        the digits of its id to look up, or None when it is no reply at all -- then it is
        counted here, as a *push* (it matches the push pattern, or it is JSON without the
        id field: a heartbeat, a welcome, a notification) or as *invalid* (it cannot be
        parsed, or its id is not an integer). Pushes never count against delivery. A
        protocol's own message (a keep-alive: `control`) is neither: answered, and None.
        Shared by every driver's receivers: the one place that says what a reply is.
        `first_look=False`: the caller has asked `first_look()` and `passed_over()` already."""
        extract, book = self.extract_id, self.recorder
        by_slot = getattr(extract, "by_slot", False)    # ids per connection (MQTT's)
        # a protocol whose replies carry no id the hot path can slice (MQTT's PUBACK: a
        # packet id) looks up the commonest reply first: its key, or None for the rest
        reply_key = self.first_look() if first_look else None
        quiet, counts = (self.passed_over() if first_look else None) or (None, None)
        per_connection = book.pushes_per_connection
        push = self.push_pattern.matches if self.push_pattern is not None else None
        no_id = (KeyError, TypeError, IndexError)
        control = self.control

        def key(slot: int, message: bytes) -> bytes | None:
            if reply_key is not None:
                found = reply_key(message, slot)
                if found is not None:
                    return found
            if quiet is not None and quiet(message):
                counts.control += 1
                return None
            if control is not None and control(slot, message):
                return None
            if push is not None and push(message):
                book.pushes += 1
                per_connection[slot] += 1
                return None
            try:
                return digits(extract(message, slot) if by_slot else extract(message))
            except no_id:
                book.pushes += 1
                per_connection[slot] += 1
            except ValueError:
                book.invalid_replies += 1
            return None
        return key

    def intended_time(self, message_id: int) -> float:
        return self.start + (message_id - self.id_base) * self.interval

    def reply(self, slot: int, message, now: float) -> bool:
        """Book one reply read at `now` on connection `slot`; True if it matched: the
        receivers of `frame_receivers`, a reply at a time (how tests drive the correlator)."""
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

        Closures over the correlator's and recorder's containers (no attribute lookups): they run once per
        reply. The read's first matched reply does the once-per-read work: the time of the
        last reply, and where the digits of the ids now in flight end -- so a reply's id is
        sliced at a known offset, and finding the comma is left to the rare reply whose id
        has another width (ids passing a power of ten).
        """
        first_look = self.first_look()
        quiet, quiet_counts = self.passed_over() or (None, None)
        other_key, outstanding = self.key_of_other(first_look=False), self.outstanding
        latencies, service_times = self.recorder.latency_s, self.recorder.service_s
        scheduled, id_base = self.interval is not None, self.id_base
        prefix, start, end_bytes, end_byte, reach = fast_path_parts(self.id_fast_path)
        clock, book = time.perf_counter, self.recorder
        read_at, stop = None, start + len(digits(id_base))
        at = stop + reach

        def receiver(slot: int, waiting: dict, fallback):
            batch_now = 0.0

            def on_frame(transport, frame) -> bool:
                nonlocal batch_now, read_at, stop, at
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
                        end = (stop if message[at] == end_byte
                               else message.find(end_bytes, start))
                    except IndexError:
                        end = -1
                    if end > start:
                        sent_at = waiting.pop(message[start:end], None)
                if sent_at is None:
                    key = None if first_look is None else first_look(message, slot)
                    if key is None:
                        if quiet is not None and quiet(message):
                            quiet_counts.control += 1
                            return False
                        key = other_key(slot, message)
                        if key is None:
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
                    at = stop + reach
                if scheduled:  # (actual, intended) send time
                    service_times.append(now - sent_at[0])
                    latencies.append(now - sent_at[1])
                else:
                    service_times.append(now - sent_at)
                return True
            return on_frame
        return [receiver(slot, waiting, fallback)
                for slot, (waiting, fallback) in enumerate(zip(outstanding, fallbacks))]

    def not_sent(self, connection: int, message_id: int, error: str) -> None:
        """Take back `sent_one`: the send raised (booked first so that no reply can race it)."""
        if self.outstanding[connection].pop(digits(message_id), None) is not None:
            self.recorder.sent -= 1
        self.recorder.send_errors += 1
        self.recorder.error(error)

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
            self.recorder.lost += lost
            lost_per_connection.append(lost)
        return lost_per_connection

    def abandon(self, connection: int) -> int:
        """The connection is closed: what it still waits for can never arrive."""
        lost = len(self.outstanding[connection])
        self.outstanding[connection].clear()
        self.recorder.lost += lost
        return lost

    def cut(self, connection: int) -> int:
        """The client closed the connection on purpose (churn): what it waits for is cut,
        counted neither delivered nor lost. Returns how many."""
        cut = len(self.outstanding[connection])
        self.outstanding[connection].clear()
        return cut

    def in_flight(self) -> int:
        return sum(len(waiting) for waiting in self.outstanding)

"""What a listen-only stream is measured by, per arriving message, on the hot path.

Per connection: messages and bytes, the gap since the connection's previous message, and
when asked for, a sequence number (missing, duplicate and out-of-order messages) and a
timestamp the server put in (staleness: arrival minus server time, on the generator's wall
clock, minus the server's clock offset). A message with a field to read is parsed once
with orjson (a dotted field, `data.seq`, is a path into it).

Sequence numbers are judged per connection against the highest seen: a jump counts the
numbers skipped as missing (kept in a bounded set), a number below the highest that was
missing is out of order (and no longer missing), any other is a duplicate. A connection's
first number is its baseline: a stream joined midway is not missing its past.
"""
from __future__ import annotations

import time
from datetime import datetime

import orjson

from ...plan.specs import TIMESTAMP_UNITS, StreamSpec
from ...transport.frames import BINARY, TEXT

MISSING_KEPT = 100_000     # skipped numbers remembered per connection, to tell late from new


def _iso_seconds(text) -> float:
    if not isinstance(text, str):
        raise TypeError("an ISO-8601 time is text")
    return datetime.fromisoformat(text).timestamp()


def _getter(field: str):
    """`get(data) -> value | None` for a parsed message and a (dotted) field name."""
    path = tuple(field.split("."))
    if len(path) == 1:
        key = path[0]
        return lambda data: data.get(key) if type(data) is dict else None

    def get(data):
        for key in path:
            if type(data) is not dict:
                return None
            data = data.get(key)
        return data
    return get


class StreamTracker:
    """Receivers for a listen-only step, counting into a recorder (recorder.py): `received`
    and its timeline; the series `staleness` and `gap`; and its own counters below."""

    def __init__(self, spec: StreamSpec, recorder, connections: int):
        self.spec, self.recorder = spec, recorder
        self.messages = [0] * connections
        self.bytes = 0
        self.missing = self.duplicates = self.out_of_order = 0
        self.without_sequence = self.without_timestamp = 0
        self.future_timestamps = 0      # server time ahead of arrival (clock offset?)
        # over a protocol: messages neither its own (control) nor a delivery (a malformed
        # MESSAGE or PUBLISH, a RECEIPT): counted, not lost without a trace
        self.other = 0
        self.highest: list[int | None] = [None] * connections
        self.skipped: list[set] = [set() for _ in range(connections)]
        self.staleness_s = recorder.add_series("staleness")
        self.gap_s = recorder.add_series("gap")

    def speaks(self, control, payload, plain=None) -> None:
        """The connections speak a protocol: `control(slot, message)` takes its own messages
        (keep-alives, answered), `payload(message)` is a delivery's application payload;
        `plain(message)`, when the protocol has it, a delivery's payload in one look for
        one that asks nothing of the protocol (None: the other two read it)."""
        self.control, self.payload, self.plain = control, payload, plain

    control = payload = plain = None

    def frame_receivers(self, fallbacks: list) -> list:
        """Per connection `on_frame(transport, frame)` (frames.py).

        With a field to read, the message is parsed once (orjson: ~0.45 us for a
        100-byte message here, less than finding and converting two fields by hand) and
        the fields looked up; a message that is not JSON, or lacks a field, is counted."""
        spec, book = self.spec, self.recorder
        staleness, gaps, messages = self.staleness_s, self.gap_s, self.messages
        highest, sequence = self.highest, self._sequence
        seq_get = _getter(spec.sequence_field) if spec.sequence_field else None
        ts_get = _getter(spec.timestamp_field) if spec.timestamp_field else None
        parse = seq_get is not None or ts_get is not None
        iso = spec.timestamp_unit == "iso"
        scale = TIMESTAMP_UNITS[spec.timestamp_unit] or 1.0
        clock, tracker, loads = time.perf_counter, self, orjson.loads
        control, unwrap, plain = self.control, self.payload, self.plain
        # arrival on the server's clock, from the monotonic reading: perf + offset
        wall_offset = time.time() - clock() + spec.clock_offset_s

        def receiver(slot: int, fallback):
            batch_now = 0.0
            last = 0.0

            def on_frame(transport, frame):
                nonlocal batch_now, last
                kind = frame.msg_type
                if (kind is not TEXT and kind is not BINARY) or not frame.fin:
                    return fallback(transport, frame)
                if transport is None:
                    now = frame.at
                else:
                    now = batch_now or clock()
                    batch_now = 0.0 if frame.last_in_buffer else now
                message = frame.get_payload_as_bytes()
                if control is not None:
                    body = plain(message) if plain is not None else None
                    if body is not None:
                        message = body
                    elif control(slot, message):
                        return False
                    else:
                        message = unwrap(message)
                        if message is None:     # the application's, but no delivery
                            tracker.other += 1
                            return False
                messages[slot] += 1
                book.received += 1
                tracker.bytes += len(message)
                if last:
                    gaps.append(now - last)
                last = now
                if not parse:
                    return True
                try:
                    data = loads(message)
                except ValueError:
                    data = None
                if seq_get is not None:
                    number = seq_get(data)
                    if type(number) is not int:
                        tracker.without_sequence += 1
                    else:
                        previous = highest[slot]
                        if previous is not None and number == previous + 1:
                            highest[slot] = number
                        else:
                            sequence(slot, number)
                if ts_get is not None:
                    sent = ts_get(data)
                    try:
                        sent = _iso_seconds(sent) if iso else float(sent) * scale
                    except (TypeError, ValueError):
                        tracker.without_timestamp += 1
                    else:
                        stale = now + wall_offset - sent
                        if stale < 0:
                            tracker.future_timestamps += 1
                        staleness.append(stale)
                return True
            return on_frame
        return [receiver(slot, fallback) for slot, fallback in enumerate(fallbacks)]

    def _sequence(self, slot: int, number: int) -> None:
        highest = self.highest[slot]
        if highest is None or number == highest + 1:
            self.highest[slot] = number
        elif number > highest:
            self.missing += number - highest - 1
            skipped = self.skipped[slot]
            if len(skipped) + number - highest - 1 <= MISSING_KEPT:
                skipped.update(range(highest + 1, number))
            self.highest[slot] = number
        elif number in self.skipped[slot]:
            self.skipped[slot].discard(number)
            self.missing -= 1
            self.out_of_order += 1
        else:
            self.duplicates += 1

"""The closed loop (rate `max`): each connection keeps `window` messages in flight and
sends the next one when a reply arrives. There is no schedule, so latency is service time.
"""
from __future__ import annotations

import asyncio
import math
import sys
import time

from ..plan.messages import fast_path_parts
from ..step.correlator import digits
from ..results.patterns import TrafficPattern, register
from ..step.driver import LoadDriver
from ..step.drivers import runs_plans
from ..transport.frames import BINARY, TEXT
from ..results.result import CLOSED_LOOP_BASIS


CLOSED_LOOP = register(TrafficPattern(
    mode="closed", title="closed loop (as fast as replies come)", saturates=True))


@runs_plans(order=50, where=lambda plan: not plan.open_loop)
class ClosedLoopDriver(LoadDriver):
    """Keeps `window` messages in flight per connection until the plan's count or time is up."""

    mode = "closed"
    latency_basis = CLOSED_LOOP_BASIS

    def __init__(self, plan, template, id_base: int, recorder, correlator, writer):
        super().__init__(plan, template, id_base, recorder, correlator, writer)
        self.render = template.renderer()
        self.text = not template.binary
        self.limit = plan.messages or sys.maxsize
        self.deadline = math.inf
        self.window = plan.window
        self.done = asyncio.Event()
        self.given_up: set[int] = set()   # slots a lifecycle policy will not refill

    def begin(self, start: float) -> None:
        """The receivers are made here, not in `prepare`: they hold the deadline, and
        there is no schedule for their making to delay."""
        super().begin(start)
        if self.plan.duration_s:
            self.deadline = start + self.plan.duration_s
        self.pool.receive_with(self.connections, self.frame_receivers)

    def expired(self, lost_per_slot: list[int]) -> None:
        if any(lost_per_slot):
            self.replace_lost(lost_per_slot)

    def describe(self, result) -> None:
        book = self.recorder
        result.planned_messages = book.sent + book.send_errors
        result.planned_duration_s = self.plan.duration_s or 0.0
        if book.sent:
            window = book.last_send - self.start
            result.achieved_send_rate = book.sent / window if window > 0 else 0.0

    # every id issued is booked as sent (a send that fails issues none), so `sent` is
    # also the index of the next message
    def _more(self) -> bool:
        return self.recorder.sent < self.limit and time.perf_counter() < self.deadline

    def _send(self, connection) -> bool:
        """Send the next message on `connection`; False if it is no longer open."""
        if not self.writer.is_open(connection.ws):
            return False
        message_id = self.id_base + self.recorder.sent
        self.correlator.sent_one(connection.slot, message_id, time.perf_counter())
        self.writer.send(connection.ws, self.render(message_id, connection.slot), self.text)
        return True

    def frame_receivers(self, fallbacks: list) -> list:
        """Per connection, `on_frame(transport, frame)`: book the reply and, if it matched,
        send the next message in its place (frames.py: picows calls these directly).

        Each does in one call what `ReplyCorrelator.frame_receivers` and the template's
        extractor and renderer do: it runs once per message, and each Python call costs
        ~0.1-0.2 us here (a hook after the correlator's match would be one more per reply).
        Replies are matched as the correlator's receivers match them (ids booked as ascii
        digits, sliced out of replies that start as the template does, the general
        extractor for every other reply); frames other than complete data frames go to
        `fallbacks[slot]`, the socket's own listener.
        Replies that arrived in one socket read share one timestamp; the messages sent in
        their place share one clock read and one `$send_time` (they go out in one write at
        the end of the loop pass), and the read's first reply does the once-per-read work:
        the time of the last reply, and how many digits the ids in flight have -- so the
        digits end at a known offset, and finding the comma is left to the rare reply whose
        id is one digit longer or shorter (ids passing a power of ten).
        """
        book, template = self.recorder, self.template
        first_look = self.correlator.first_look()
        quiet, quiet_counts = self.correlator.passed_over() or (None, None)
        other_key = self.correlator.key_of_other(first_look=False)
        outstanding = self.correlator.outstanding
        service_times = book.service_s  # closed loop: the latency list is this same list
        prefix, start, end_bytes, end_byte, reach = fast_path_parts(template.id_fast_path())
        begin, render, head = template.batch_renderer()
        id_base, limit, deadline = self.id_base, self.limit, self.deadline
        clock, wall, loop, not_open = time.perf_counter, time.time, self, self.writer.NotOpen
        batch_at, sent_at, batch = None, 0.0, None
        stop = start + len(digits(id_base))  # where the digits of the ids in flight end
        at = stop + reach

        # a reply just came in on the connection, so it is open: no check per message; a
        # list, not a closure's own, so that a connection replaced by a lifecycle policy
        # takes its slot's next messages (`replaced`)
        self.sends = sends = [self.writer.sender(c.ws, self.text, known_open=True)
                              for c in self.connections]

        def receiver(slot: int, fallback):
            waiting = outstanding[slot]
            batch_now = 0.0

            def on_frame(transport, frame):
                nonlocal batch_now, batch_at, sent_at, batch, stop, at
                kind = frame.msg_type
                if (kind is not TEXT and kind is not BINARY) or not frame.fin:
                    return fallback(transport, frame)
                if transport is None:
                    now = frame.at
                else:
                    now = batch_now or clock()
                    batch_now = 0.0 if frame.last_in_buffer else now
                message = frame.get_payload_as_bytes()
                sent = None
                if prefix is not None and message[:start] == prefix:
                    try:
                        end = (stop if message[at] == end_byte
                               else message.find(end_bytes, start))
                    except IndexError:
                        end = -1
                    if end > start:
                        sent = waiting.pop(message[start:end], None)
                if sent is None:
                    key = None if first_look is None else first_look(message, slot)
                    if key is None:
                        if quiet is not None and quiet(message):
                            quiet_counts.control += 1
                            return
                        key = other_key(slot, message)
                        if key is None:
                            return
                    sent = waiting.pop(key, None)
                    if sent is None:
                        book.unmatched += 1
                        return
                book.received += 1
                service_times.append(now - sent)
                k = book.sent
                if k < limit and now < deadline:
                    if now != batch_at:  # the first reply of this socket read
                        batch_at, sent_at, batch = now, clock(), begin(wall())
                        book.last_send = sent_at
                        book.last_reply = now
                        stop = start + len(digits(id_base + k))
                        at = stop + reach
                    key = str(id_base + k).encode()
                    try:
                        if head is not None:
                            sends[slot](head + key + batch)
                        else:
                            sends[slot](render(id_base + k, slot, batch))
                    except not_open:
                        return  # closing: its reader will account for it
                    waiting[key] = sent_at
                    book.sent = k + 1
                else:
                    book.last_reply = now
                    if book.sent == book.received + book.lost:  # nothing in flight
                        loop.done.set()
            return on_frame
        return [receiver(slot, fallback) for slot, fallback in enumerate(fallbacks)]

    def gave_up(self, slot: int) -> None:
        self.given_up.add(slot)

    def replaced(self, slot: int, connection) -> None:
        """A new connection in `slot` (its predecessor's messages were counted lost or
        cut): it sends the slot's next messages, starting with a fresh window."""
        self.sends[slot] = self.writer.sender(connection.ws, self.text, known_open=True)
        for _ in range(self.window):
            if not self._more() or not self._send(connection):
                break

    def replace_lost(self, lost_per_slot) -> None:
        for slot, lost in enumerate(lost_per_slot):
            connection = self.connections[slot]
            for _ in range(lost):
                if not self._more() or not self._send(connection):
                    break

    def fill_windows(self) -> None:
        """Send each connection's first `window` messages (replies send the rest)."""
        for connection in self.connections:
            for _ in range(self.window):
                if not self._more() or not self._send(connection):
                    break

    async def run(self) -> None:
        self.fill_windows()
        # replies drive the sending from here; wait until the count or the time is up, or
        # every connection is closed for good (a reconnect policy may bring them back)
        while self._more() and (any(not c.closed for c in self.connections) or (
                self.pool.policies and len(self.given_up) < len(self.connections))):
            try:
                await asyncio.wait_for(self.done.wait(), 0.05)
            except asyncio.TimeoutError:
                pass

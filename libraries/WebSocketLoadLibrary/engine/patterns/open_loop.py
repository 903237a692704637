"""The open loop: every message has an intended send time, and the pacer keeps to it.

The pacer sends all due messages each time it wakes (in chunks, so replies are read in
between), and records how late each batch went out and which messages were late
(lateness.py). Latency is measured from the intended time, so a stall of the server or of
the generator shows in the figures instead of hiding in fewer sends (the wrk2 rule).
"""
from __future__ import annotations

import asyncio
import math
import time

from ..results.patterns import TrafficPattern, register
from ..step.driver import LoadDriver
from ..step.drivers import runs_plans
from ..pacing.lateness import Lateness, late_bound_s
from ..runtime.precise_sleep import PreciseSleeper
from ..results.result import OPEN_LOOP_BASIS
from ..pacing.schedule import MAX_RUN, OpenLoopSchedule


PACED_REQUESTS = register(TrafficPattern(
    mode="open", title="paced requests", paced=True, unread_limit_s=0.0))


@runs_plans(order=40, where=lambda plan: plan.open_loop)
class OpenLoopDriver(LoadDriver):
    """Paced to a schedule: `plan.rate` messages a second over all connections."""

    mode = "open"
    latency_basis = OPEN_LOOP_BASIS
    samples_unread_replies = True

    @classmethod
    def latency_interval(cls, plan) -> float:
        return 1.0 / plan.rate

    def __init__(self, plan, template, id_base: int, recorder, correlator, writer):
        super().__init__(plan, template, id_base, recorder, correlator, writer)
        self.schedule: OpenLoopSchedule | None = None
        self.senders: list | None = None
        self.backpressure_waits = 0        # times the pacer waited for the server to read
        self.lateness: Lateness | None = None

    def prepare(self, pool, connections) -> None:
        super().prepare(pool, connections)
        self.senders = self._senders(self.writer, connections)
        self.sockets = [c.ws for c in connections]
        pool.receive_with(connections, self.correlator.frame_receivers)

    def replaced(self, slot: int, connection) -> None:
        """The pacer reads these lists per run of messages: the new socket takes the slot's
        next messages."""
        self.sockets[slot] = connection.ws
        self.senders[slot] = self.writer.sender(connection.ws, not self.template.binary,
                                                known_open=True)

    def begin(self, start: float) -> None:
        super().begin(start)
        self.schedule = schedule = OpenLoopSchedule(self.plan.rate, self.plan.planned_messages,
                                                    start)
        self.lateness = Lateness(late_bound_s(schedule.rate, len(self.connections)), schedule)

    async def run(self) -> None:
        await self._pace(self.schedule, self.writer, self.connections, self.senders)

    def describe(self, result) -> None:
        schedule, book = self.schedule, self.recorder
        result.planned_messages = schedule.messages
        result.planned_duration_s = schedule.duration
        if book.sent:
            window = book.last_send - self.start + schedule.interval
            result.achieved_send_rate = book.sent / window if window > 0 else 0.0
            result.final_lag_s = max(0.0, book.last_send
                                     - schedule.intended_time(schedule.messages - 1))
        lateness = self.lateness
        result.late_messages, result.late_bound_s = lateness.late_messages, lateness.bound_s
        result.longest_late_s = lateness.longest_s

    def verdict_inputs(self) -> dict:
        reply_bytes = len(self.template.renderer()(self.id_base, 0)) + 2  # + frame header
        return {"backpressure_waits": self.backpressure_waits, "reply_bytes": reply_bytes}

    def _senders(self, writer, connections) -> list:
        """Per connection, a sender that leaves out the check that it is open
        (`sender(known_open=True)`): the pacer checks once per run of messages."""
        text = not self.template.binary
        return [writer.sender(c.ws, text, known_open=True) for c in connections]

    async def _pace(self, schedule: OpenLoopSchedule, writer, connections, senders) -> None:
        timer = self.plan.pacing_timer
        sleeper = None
        if timer != "loop":
            sleeper = PreciseSleeper(asyncio.get_running_loop())
            if timer == "spin":
                sleeper.close()  # no timerfd: the spinning fallback
        try:
            await self._send_all(schedule, writer, self.sockets, senders, sleeper)
        finally:
            if sleeper is not None:
                sleeper.close()

    async def _send_all(self, schedule, writer, sockets, senders, sleeper) -> None:
        """Send every message at (or as soon as possible after) its intended time.

        Per wake, not per message: one clock read (the batch's send time: the messages are
        written together when the pacer yields, at the end of the loop pass), one
        `$send_time`, one lag sample and the counters (`_batch_sender` does the rest).

        A pacer that keeps up sleeps until the next message is due, but no sooner than
        `wake_interval_s` after its last wake: each wake costs a timer, a poll of the loop
        and a write per connection touched (syscalls dearer here than a message's Python),
        so at high rates wakes are what a step would otherwise spend its CPU on.
        """
        book, clock, wall = self.recorder, time.perf_counter, time.time
        total, max_batch, wake_s = schedule.messages, self.plan.max_batch, self.plan.wake_interval
        begin, render, head = self.template.batch_renderer()
        send_batch = self._batch_sender(schedule, writer, sockets, senders, render, head)
        due_count, intended_time = schedule.due_count, schedule.intended_time
        lateness = self.lateness
        late_bound = lateness.bound_s
        # `woke`: when the last wake was planned for (not when it came: a timer that fires
        # late must not push the next wake, and every later one, later still)
        k, woke, waking = 0, -math.inf, False
        while k < total:
            for ws in writer.backlogged():
                self.backpressure_waits += 1
                await writer.drain(ws)  # the server reads slower than we send: lag, honestly
            now = clock()
            due = due_count(now)
            if due <= k or (not waking and now < woke + wake_s):
                # the loop's own timers wake up to 1 ms late (epoll counts whole ms), which
                # would add up to 1 ms to every latency: see precise_sleep.py
                # a wake that came early (the `spin` and `loop` timers) keeps its plan
                woke = max(intended_time(k), woke if waking else woke + wake_s)
                if sleeper is None:
                    await asyncio.sleep(woke - now)
                else:
                    await sleeper.until(woke)
                waking = True
                continue
            if not waking:  # due while we were busy: this is the wake the next one follows
                woke = now
            waking = False
            lag = now - intended_time(k)
            book.lagging(lag)
            end = min(due, k + max_batch)
            if lag > late_bound or lateness.behind:
                lateness.batch(k, end, now)
            book.sent += end - k
            book.last_send = now
            send_batch(k, end, now, begin(wall()))
            k = end
            if end < due:
                await asyncio.sleep(0)  # behind schedule: let replies in, then go on
                waking = True
        lateness.finish()

    def _not_open(self, slot: int, count: int, why: str) -> None:
        """`count` messages due on a connection that is not open: with a lifecycle policy
        at work the connection is being replaced -- cut by the client's own close (churn)
        or lost while down (reconnect); without one they could not be sent."""
        book, lifecycle = self.recorder, self.pool.lifecycle
        if self.pool.policies and lifecycle is not None:
            if self.connections[slot].closed_by_us:
                lifecycle.cut_by_close += count
            else:
                lifecycle.lost_while_down += count
                book.lost += count
            return
        book.sent -= count
        book.send_errors += count
        book.error("not sent: " + why, count)

    def _batch_sender(self, schedule, writer, sockets, senders, render, head):
        """`send_batch(k, end, now, batch)`: messages k..end-1, booked as sent at `now`.

        Per run of messages on one connection (schedule.run_length): the check that it is
        open -- within one batch nothing but the pacer runs, so a connection open at the
        start of its run stays open to the run's end. Per message: the id, its booking with
        its send and intended times, its bytes and a hand-over to the connection's writer.
        """
        id_base, count = self.id_base, len(sockets)
        run = schedule.run_length(count, self.plan.wake_interval, self.plan.max_run or MAX_RUN)
        is_open, not_open, describe_closed = writer.is_open, writer.NotOpen, writer.describe_closed
        outstanding, intended_time = self.correlator.outstanding, schedule.intended_time
        interval, connection_of = schedule.interval, schedule.connection_of

        def send_batch(k: int, end: int, now: float, batch: bytes) -> None:
            while k < end:
                slot = connection_of(k, count, run)
                stop = min(end, (k // run + 1) * run)  # where this run ends
                if not is_open(sockets[slot]):
                    self._not_open(slot, stop - k, describe_closed(sockets[slot]))
                    k = stop
                    continue
                send, waiting = senders[slot], outstanding[slot]
                due_at = intended_time(k)
                message_id = id_base + k
                try:
                    # booked before it is sent, so that no reply can race its booking
                    if head is not None:
                        for message_id in range(id_base + k, id_base + stop):
                            key = str(message_id).encode()
                            waiting[key] = (now, due_at)
                            send(head + key + batch)
                            due_at += interval
                    else:
                        for message_id in range(id_base + k, id_base + stop):
                            waiting[str(message_id).encode()] = (now, due_at)
                            send(render(message_id, slot, batch))
                            due_at += interval
                    k = stop
                except not_open:  # a transport that found out for itself (websockets)
                    why = describe_closed(sockets[slot])
                    if self.pool.policies and self.pool.lifecycle is not None:
                        waiting.pop(str(message_id).encode(), None)
                        self._not_open(slot, 1, why)
                    else:
                        self.correlator.not_sent(slot, message_id, "not sent: " + why)
                    k = message_id - id_base + 1
        return send_batch

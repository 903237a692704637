"""One load step: the open-loop pacer, or a closed loop at rate `max`, and its result.

Open loop: every message has an intended send time from the schedule; the pacer sends all
due messages each time it wakes (in chunks, so replies are read in between), and records
how late each batch went out. Latency is measured from the intended time, so a stall of
the server or of the generator shows in the figures instead of hiding in fewer sends.

Closed loop (`rate=None`): each connection keeps `window` messages in flight and sends the
next one when a reply arrives. There is no schedule, so latency is service time.
"""
from __future__ import annotations

import asyncio
import math
import sys
import time
from dataclasses import dataclass

from .bookkeeping import StepBook, digits
from .errors import EngineError, PlanError
from .frames import BINARY, TEXT
from .histogram import CHUNK
from .lateness import Lateness, late_bound_s
from .messages import MessageTemplate
from .pool import ClientPool
from .resources import ResourceSampler, UnreadBytes
from .result import CLOSED_LOOP_BASIS, OPEN_LOOP_BASIS, LoadResult
from .precise_sleep import PreciseSleeper
from .schedule import MAX_RUN, OpenLoopSchedule
from .verdict import judge

START_LEAD_S = 0.005        # the first message is due a moment after the step starts
PACING_TIMERS = ("precise", "spin", "loop")
WAKE_INTERVAL_S = (0.00025, 0.001)  # the pacer's shortest and longest wake interval
WAKE_INTERVAL_PER_RATE = 1e-8       # seconds of wake interval per msg/s between them


def auto_wake_interval(rate: float) -> float:
    """How often a pacer that keeps up wakes at most, by the rate.

    Each wake costs a timer, a poll of the loop, a sleep and a wake-up of the thread and a
    write per connection touched: measured here, 50-150 us of CPU a wake at 150k msg/s,
    against 3-4 us a message. At 1k msg/s (1 ms apart) the shortest interval changes
    nothing: every message has a wake of its own, at its due time. At 10k it carries 2-3
    messages a wake; at 100k msg/s and above, 1 ms carries 100 or more -- and adds up to
    1 ms (0.5 ms on average) to their latency, which counts from each one's own due time.
    """
    shortest, longest = WAKE_INTERVAL_S
    return min(longest, max(shortest, rate * WAKE_INTERVAL_PER_RATE))


@dataclass
class LoadPlan:
    """What one step sends.

    rate            messages per second over all connections; None = as fast as possible
    messages        how many messages in all (or give duration_s)
    duration_s      how long to send (rate x duration messages when paced)
    window          closed loop only: messages in flight per connection
    reply_timeout_s a message without a reply after this long is lost
    rate_tolerance  the load counts as applied if the achieved send rate is within it
    max_batch       messages sent before the pacer lets replies in
    wake_interval_s when keeping up, the pacer wakes at most this often: messages due in
                    between go out together at the next wake (their latency still counts
                    from their own due time, so the wait shows in the figures). None: by
                    the rate (`auto_wake_interval`): 0.25 ms up to 25,000 msg/s, growing
                    with the rate to 1 ms at 100,000 msg/s and above
    max_run         at most this many consecutive messages go to one connection before the
                    next one's turn (schedule.run_length); None: MAX_RUN (64); 1: plain turns
    pacing_timer    how the pacer sleeps to the next due time: "precise" (a timerfd, ~50 us;
                    "spin" where there is none), "spin" (wake 1 ms early, then yield to the
                    loop until due: exact but busy), "loop" (the event loop's 1 ms timers)
    """
    rate: float | None = None
    messages: int | None = None
    duration_s: float | None = None
    window: int = 16
    reply_timeout_s: float = 5.0
    rate_tolerance: float = 0.05
    max_batch: int = 256
    wake_interval_s: float | None = None
    max_run: int | None = None
    pacing_timer: str = "precise"
    name: str = ""
    sample_interval_s: float = 0.25

    def __post_init__(self):
        if self.messages is None and self.duration_s is None:
            raise PlanError("a load step needs a message count or a duration")
        if self.messages is not None and self.messages < 1:
            raise PlanError(f"messages must be at least 1, got {self.messages}")
        if self.duration_s is not None and not self.duration_s > 0:
            raise PlanError(f"duration must be positive, got {self.duration_s} s")
        if self.rate is not None and (not self.rate > 0 or math.isinf(self.rate)):
            raise PlanError(f"rate must be a positive number of messages per second or "
                            f"max, got {self.rate!r}")
        if self.window < 1:
            raise PlanError(f"window must be at least 1, got {self.window}")
        if not self.reply_timeout_s > 0:
            raise PlanError(f"reply timeout must be positive, got {self.reply_timeout_s} s")
        if self.wake_interval_s is not None and not 0 <= self.wake_interval_s <= 0.1:
            raise PlanError(f"wake interval must be between 0 and 0.1 s, "
                            f"got {self.wake_interval_s} s")
        if self.max_run is not None and self.max_run < 1:
            raise PlanError(f"max run must be at least 1 message, got {self.max_run}")
        if self.pacing_timer not in PACING_TIMERS:
            raise PlanError(f"pacing_timer must be one of {', '.join(PACING_TIMERS)}, "
                            f"got {self.pacing_timer!r}")
        if not 0 <= self.rate_tolerance < 1:
            raise PlanError(f"rate tolerance must be in [0, 1), got {self.rate_tolerance}")

    @property
    def wake_interval(self) -> float:
        if self.wake_interval_s is not None:
            return self.wake_interval_s
        return auto_wake_interval(self.rate) if self.rate else 0.0

    @property
    def planned_messages(self) -> int | None:
        if self.messages is not None:
            return self.messages
        if self.rate is not None:
            return OpenLoopSchedule.messages_for(self.rate, self.duration_s)
        return None


class LoadStep:
    """Runs a plan over a pool's open connections and returns a LoadResult."""

    def __init__(self, pool: ClientPool, plan: LoadPlan, template: MessageTemplate,
                 id_base: int = 0, server_pid: int | None = None):
        self.pool, self.plan, self.template = pool, plan, template
        self.id_base = id_base
        self.server_pid = server_pid
        self.book: StepBook | None = None
        self.started = 0.0
        self.sending_done = False
        self.closes: dict[str, int] = {}   # how connections ended during the step
        self.backpressure_waits = 0        # times the pacer waited for the server to read
        self.lateness: Lateness | None = None

    def progress(self) -> dict:
        """A snapshot for progress reports (safe to read from another thread)."""
        book = self.book
        if book is None:
            return {"elapsed_s": 0.0, "sent": 0, "received": 0, "lost": 0}
        return {"elapsed_s": round(time.perf_counter() - self.started, 3), "sent": book.sent,
                "received": book.received, "lost": book.lost, "send_errors": book.send_errors,
                "sending_done": self.sending_done}

    async def run(self) -> LoadResult:
        connections = self.pool.open_connections
        if not connections:
            closes = self.pool.close_summary()
            detail = "; ".join(f"{n} x {why}" for why, n in closes.items()) or "none opened"
            raise EngineError(f"no open connections to send on ({detail})")
        for slot, connection in enumerate(connections):
            connection.slot = slot
        plan = self.plan
        unread = UnreadBytes(self.pool.socket_fds(connections)) if plan.rate is not None else None
        sampler = ResourceSampler(self.server_pid, plan.sample_interval_s, unread)
        writer = self.pool.writer()
        senders = None
        if plan.rate is not None:  # before the schedule starts: 10k connections take ~20 ms
            senders = self._senders(writer, connections)
        # its start is set below, once the receivers are in place: they too are made before
        # the schedule starts (10k connections' take ~12 ms; the closed loop's wait for its
        # deadline, and there is no schedule to miss)
        self.book = book = StepBook(len(connections), self.template.id_extractor(), self.id_base,
                                    0.0, 1.0 / plan.rate if plan.rate is not None else None,
                                    self.template.id_fast_path())
        if plan.rate is not None:
            self.pool.receive_with(connections, book.frame_receivers)
        started_at = time.time()
        self.started = time.perf_counter()
        start = book.start = self.started + START_LEAD_S
        schedule = None
        if plan.rate is not None:
            schedule = OpenLoopSchedule(plan.rate, plan.planned_messages, start)
        loop = asyncio.get_running_loop()
        helpers = []
        sampler.start()
        self.pool.on_close = self._connection_closed
        try:
            if schedule is not None:
                helpers.append(loop.create_task(self._tick(start, None)))
                await self._pace(schedule, writer, connections, senders)
            else:
                closed = _ClosedLoop(self, connections, start)
                self.pool.receive_with(connections, closed.frame_receivers)
                helpers.append(loop.create_task(self._tick(start, closed)))
                await closed.run()
            self.sending_done = True
            await self._drain()
        finally:
            self.pool.stop_receiving(connections)
            self.pool.on_close = None
            for helper in helpers:
                helper.cancel()
            await asyncio.gather(*helpers, return_exceptions=True)
            sampler.stop()
        end = time.perf_counter()
        sampler.sample()
        book.close_second(span_s=end - start - len(book.timeline))
        return self._result(schedule, connections, started_at, start, end, sampler)

    # -- open loop ---------------------------------------------------------------------
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
            await self._send_all(schedule, writer, [c.ws for c in connections], senders, sleeper)
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
        book, clock, wall = self.book, time.perf_counter, time.time
        total, max_batch, wake_s = schedule.messages, self.plan.max_batch, self.plan.wake_interval
        begin, render, head = self.template.batch_renderer()
        send_batch = self._batch_sender(schedule, writer, sockets, senders, render, head)
        due_count, intended_time = schedule.due_count, schedule.intended_time
        self.lateness = lateness = Lateness(late_bound_s(schedule.rate, len(sockets)), schedule)
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

    def _batch_sender(self, schedule, writer, sockets, senders, render, head):
        """`send_batch(k, end, now, batch)`: messages k..end-1, booked as sent at `now`.

        Per run of messages on one connection (schedule.run_length): the check that it is
        open -- within one batch nothing but the pacer runs, so a connection open at the
        start of its run stays open to the run's end. Per message: the id, its booking with
        its send and intended times, its bytes and a hand-over to the connection's writer.
        """
        book, id_base, count = self.book, self.id_base, len(sockets)
        run = schedule.run_length(count, self.plan.wake_interval, self.plan.max_run or MAX_RUN)
        is_open, not_open, describe_closed = writer.is_open, writer.NotOpen, writer.describe_closed
        outstanding, intended_time = book.outstanding, schedule.intended_time
        interval, connection_of = schedule.interval, schedule.connection_of

        def send_batch(k: int, end: int, now: float, batch: bytes) -> None:
            while k < end:
                slot = connection_of(k, count, run)
                stop = min(end, (k // run + 1) * run)  # where this run ends
                if not is_open(sockets[slot]):
                    why = "not sent: " + describe_closed(sockets[slot])
                    book.sent -= stop - k
                    book.send_errors += stop - k
                    book.error(why, stop - k)
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
                    book.not_sent(slot, message_id, "not sent: " + describe_closed(sockets[slot]))
                    k = message_id - id_base + 1
        return send_batch

    # -- both loops --------------------------------------------------------------------
    async def _tick(self, start: float, closed: "_ClosedLoop | None") -> None:
        """Every 100 ms: expire replies past the timeout; every second: a timeline point.

        Each of these pauses the pacer and the replies, so each is kept short: latencies
        are recorded at a tick as soon as a chunk's worth has gathered (at 200k msg/s a
        whole second's cost ~5 ms to record), else once a second, a chunk at a time
        (`StepBook.flushing`) with the loop let through between; the timeline point is a
        pause of its own.
        """
        book, timeout = self.book, self.plan.reply_timeout_s
        next_second = start + 1.0
        while True:
            await asyncio.sleep(0.1)
            now = time.perf_counter()
            lost = book.expire(now, timeout)
            if closed is not None and any(lost):
                closed.replace_lost(lost)
            if now >= next_second or book.pending() >= CHUNK:
                # recorded early, a value still counts in the second it came in
                for _ in book.flushing():
                    await asyncio.sleep(0)
            while now >= next_second:
                book.close_second()
                next_second += 1.0

    async def _drain(self) -> None:
        """Wait for the replies still in flight; every one has its timeout, so this ends."""
        book, timeout = self.book, self.plan.reply_timeout_s
        deadline = time.perf_counter() + timeout + 0.5
        while book.in_flight() and time.perf_counter() < deadline:
            await asyncio.sleep(0.005)
        book.expire(float("inf"), 0.0)  # anything left is past its timeout by now

    def _connection_closed(self, connection) -> None:
        book = self.book
        lost = book.abandon(connection.slot)
        why = connection.describe_close()
        self.closes[why] = self.closes.get(why, 0) + 1
        book.error(why, 1)
        if lost:
            book.error("replies lost when a connection closed", lost)

    # -- result ------------------------------------------------------------------------
    def _result(self, schedule, connections, started_at, start, end, sampler) -> LoadResult:
        plan, book = self.plan, self.book
        result = LoadResult(
            name=plan.name, mode="open" if schedule else "closed",
            latency_basis=OPEN_LOOP_BASIS if schedule else CLOSED_LOOP_BASIS,
            target_rate=plan.rate, connections=len(connections),
            planned_messages=schedule.messages if schedule else book.sent + book.send_errors,
            started_at=started_at,
            planned_duration_s=schedule.duration if schedule else (plan.duration_s or 0.0),
            send_duration_s=max(0.0, book.last_send - start), duration_s=end - self.started,
            sent=book.sent, received=book.received, lost=book.lost, unmatched=book.unmatched,
            invalid_replies=book.invalid_replies, send_errors=book.send_errors,
            max_lag_s=book.max_lag_s, rate_tolerance=plan.rate_tolerance,
            reply_timeout_s=plan.reply_timeout_s, latency=book.latency,
            service_time=book.service_time, lag=book.lag, timeline=book.timeline,
            resources=sampler.summary(), errors=dict(book.errors),
            connections_closed=dict(self.closes))
        if book.sent:
            window = book.last_send - start + (schedule.interval if schedule else 0.0)
            result.achieved_send_rate = book.sent / window if window > 0 else 0.0
        if book.received:
            window = book.last_reply - start
            result.achieved_receive_rate = book.received / window if window > 0 else 0.0
        if schedule is not None and book.sent:
            result.final_lag_s = max(0.0, book.last_send - schedule.intended_time(schedule.messages - 1))
        if schedule is not None:
            lateness = self.lateness
            lateness.finish()   # a no-op unless the pacer stopped while behind
            result.late_messages, result.late_bound_s = lateness.late_messages, lateness.bound_s
            result.longest_late_s = lateness.longest_s
        reply_bytes = len(self.template.renderer()(self.id_base, 0)) + 2  # + frame header
        judge(result, self.backpressure_waits, reply_bytes)
        return result


class _ClosedLoop:
    """Keeps `window` messages in flight per connection until the plan's count or time is up."""

    def __init__(self, step: LoadStep, connections, start: float):
        self.step, self.connections = step, connections
        self.book = step.book
        self.render = step.template.renderer()
        self.text = not step.template.binary
        plan = step.plan
        self.id_base = step.id_base
        self.limit = plan.messages or sys.maxsize
        self.deadline = start + plan.duration_s if plan.duration_s else math.inf
        self.window = plan.window
        self.done = asyncio.Event()
        self.writer = step.pool.writer()

    # every id issued is booked as sent (a send that fails issues none), so `book.sent` is
    # also the index of the next message
    def _more(self) -> bool:
        return self.book.sent < self.limit and time.perf_counter() < self.deadline

    def _send(self, connection) -> bool:
        """Send the next message on `connection`; False if it is no longer open."""
        if not self.writer.is_open(connection.ws):
            return False
        message_id = self.id_base + self.book.sent
        self.book.sent_one(connection.slot, message_id, time.perf_counter())
        self.writer.send(connection.ws, self.render(message_id, connection.slot), self.text)
        return True

    def frame_receivers(self, fallbacks: list) -> list:
        """Per connection, `on_frame(transport, frame)`: book the reply and, if it matched,
        send the next message in its place (frames.py: picows calls these directly).

        Each does in one call what `StepBook.frame_receivers` and the template's extractor
        and renderer do: it runs once per message, and each Python call costs ~0.1-0.2 us
        here. Replies are matched as the book's receivers match them (ids booked as ascii
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
        book, template = self.book, self.step.template
        extract, outstanding = book.extract_id, book.outstanding
        service_times = book._service_s  # closed loop: the latency list is this same list
        fast = template.id_fast_path()
        prefix, start = fast if fast is not None else (None, 0)
        begin, render, head = template.batch_renderer()
        id_base, limit, deadline = self.id_base, self.limit, self.deadline
        clock, wall, loop, not_open = time.perf_counter, time.time, self, self.writer.NotOpen
        bad_reply = (ValueError, KeyError, TypeError, IndexError)
        batch_at, sent_at, batch = None, 0.0, None
        stop = start + len(digits(id_base))  # where the digits of the ids in flight end

        def receiver(slot: int, fallback):
            waiting = outstanding[slot]
            # a reply just came in on the connection, so it is open: no check per message
            send = self.writer.sender(self.connections[slot].ws, self.text, known_open=True)
            batch_now = 0.0

            def on_frame(transport, frame):
                nonlocal batch_now, batch_at, sent_at, batch, stop
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
                        end = stop if message[stop] == 44 else message.find(b",", start)  # ","
                    except IndexError:
                        end = -1
                    if end > start:
                        sent = waiting.pop(message[start:end], None)
                if sent is None:
                    try:
                        message_id = extract(message)
                    except bad_reply:
                        book.invalid_replies += 1
                        return
                    sent = waiting.pop(digits(message_id), None)
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
                    key = str(id_base + k).encode()
                    try:
                        if head is not None:
                            send(head + key + batch)
                        else:
                            send(render(id_base + k, slot, batch))
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

    def replace_lost(self, lost_per_slot) -> None:
        for slot, lost in enumerate(lost_per_slot):
            connection = self.connections[slot]
            for _ in range(lost):
                if not self._more() or not self._send(connection):
                    break

    async def run(self) -> None:
        for connection in self.connections:
            for _ in range(self.window):
                if not self._more() or not self._send(connection):
                    break
        # replies drive the sending from here; wait until the count or the time is up
        while self._more() and any(not c.closed for c in self.connections):
            try:
                await asyncio.wait_for(self.done.wait(), 0.05)
            except asyncio.TimeoutError:
                pass

"""One load step: a driver's load over a pool's open connections, and its result.

The step does what every load style shares -- the pool hookup, the bookkeeping, resource
sampling, the 100 ms tick (expiry, the per-second timeline), the drain of the replies
still in flight and the result -- and hands what differs to the driver of the plan's
traffic pattern (driver.py; `drivers.driver_for` finds it among engine/patterns/).
"""
from __future__ import annotations

import asyncio
import time

from .correlator import ReplyCorrelator
from .driver import LoadDriver
from .drivers import driver_for
from ..errors import EngineError
from ..results.histogram import CHUNK
from ..lifecycle.figures import LifecycleCounters
from ..plan.messages import MessageTemplate
from ..plan.load_plan import (PACING_TIMERS, WAKE_INTERVAL_PER_RATE, WAKE_INTERVAL_S, LoadPlan,
                   auto_wake_interval)
from ..protocols.figures import ProtocolFigures
from ..transport.pool import ClientPool
from ..transport.protocol_session import controller
from ..lifecycle.reconnect import Reconnector
from .recorder import StepRecorder
from ..runtime.resources import ResourceSampler, UnreadBytes
from ..results.result import LoadResult
from .step_result import build_result

START_LEAD_S = 0.005        # the first message is due a moment after the step starts

__all__ = ["LoadPlan", "LoadStep", "PACING_TIMERS", "START_LEAD_S", "WAKE_INTERVAL_PER_RATE",
           "WAKE_INTERVAL_S", "auto_wake_interval"]


class LoadStep:
    """Runs a plan over a pool's open connections and returns a LoadResult."""

    def __init__(self, pool: ClientPool, plan: LoadPlan, template: MessageTemplate,
                 id_base: int = 0, server_pid: int | None = None,
                 roles: dict[str, ClientPool] | None = None):
        self.pool, self.plan, self.template = pool, plan, template
        self.roles = dict(roles or {})   # other groups the driver needs: role -> pool
        self.id_base = id_base
        self.server_pid = server_pid
        self.recorder: StepRecorder | None = None
        self.correlator: ReplyCorrelator | None = None
        self.driver: LoadDriver | None = None
        self.started = 0.0
        self.sending_done = False
        self.closes: dict[str, int] = {}   # how connections ended during the step

    def progress(self) -> dict:
        """A snapshot for progress reports (safe to read from another thread)."""
        book = self.recorder
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
        plan, template = self.plan, self.template
        template.bind(plan, connections)    # per-connection state of a protocol (MQTT ids)
        style = driver_for(plan)
        members = self._members(style)
        # its start is set below, once the driver is prepared: senders and receivers are
        # made before the step's clock starts (10k connections' take ~20 + ~12 ms)
        interval = style.latency_interval(plan)
        self.recorder = book = StepRecorder(scheduled=interval is not None)
        self.correlator = correlator = style.make_correlator(
            book, plan, template, len(connections), self.id_base, interval, members)
        correlator.control = controller([(self.pool, connections)] + list(members.values()),
                                        book.error)
        if self.pool.protocol is not None:
            correlator.protocol_counts = self.pool.protocol_counts
        protocol_before = self._protocol_counts()
        self.driver = driver = style(plan, template, self.id_base, book, correlator,
                                     self.pool.writer())
        driver.members = members
        unread = (UnreadBytes(driver.unread_sockets(self.pool, connections))
                  if style.samples_unread_replies else None)
        sampler = ResourceSampler(self.server_pid, plan.sample_interval_s, unread)
        driver.prepare(self.pool, connections)
        started_at = time.time()
        self.started = time.perf_counter()
        start = correlator.start = self.started + START_LEAD_S
        driver.begin(start)
        ticking = asyncio.get_running_loop().create_task(self._tick(start, driver))
        sampler.start()
        stop_listening = [self.pool.listen_for_closes(self._connection_closed),
                          self.pool.listen_for_replacements(self._replaced)] + [
            pool.listen_for_closes(self._member_closed) for pool, _ in members.values()]
        for pool in [self.pool] + [pool for pool, _ in members.values()]:
            if pool.policies:
                pool.lifecycle = LifecycleCounters()  # this step's share of their work
        try:
            await driver.run()
            self.sending_done = True
            await self._drain()
        finally:
            self.pool.stop_receiving(connections)
            for pool, group in members.values():
                pool.stop_receiving(group)
            for stop in stop_listening:
                stop()
            ticking.cancel()
            await asyncio.gather(ticking, return_exceptions=True)
            sampler.stop()
        end = time.perf_counter()
        sampler.sample()
        book.close_second(span_s=end - start - len(book.timeline))
        result = build_result(self, driver, len(connections), started_at, start, end,
                              sampler.summary())
        if self.pool.protocol is not None and self.pool.protocol.handshakes:
            figures = ProtocolFigures.of(self.pool.protocol.name, protocol_before,
                                         self._protocol_counts())
            result.sections[figures.kind] = figures
        return result

    def _protocol_counts(self) -> tuple:
        """The protocol layer's counts over the step's pool and its other groups' pools."""
        pools = [self.pool] + [pool for pool in self.roles.values() if pool is not self.pool]
        return tuple(sum(column) for column in zip(
            *(pool.protocol_counts.snapshot() for pool in pools)))

    async def _tick(self, start: float, driver) -> None:
        """Every 100 ms: expire replies past the timeout; every second: a timeline point.

        Each of these pauses the pacer and the replies, so each is kept short: latencies
        are recorded at a tick as soon as a chunk's worth has gathered (at 200k msg/s a
        whole second's cost ~5 ms to record), else once a second, a chunk at a time
        (`StepRecorder.flushing`) with the loop let through between; the timeline point is
        a pause of its own.
        """
        book, correlator, timeout = self.recorder, self.correlator, self.plan.reply_timeout_s
        next_second = start + 1.0
        while True:
            await asyncio.sleep(0.1)
            now = time.perf_counter()
            driver.expired(correlator.expire(now, timeout))
            if now >= next_second or book.pending() >= CHUNK:
                # recorded early, a value still counts in the second it came in
                for _ in book.flushing():
                    await asyncio.sleep(0)
            while now >= next_second:
                book.close_second()
                next_second += 1.0

    async def _drain(self) -> None:
        """Wait for the replies still in flight; every one has its timeout, so this ends."""
        correlator, timeout = self.correlator, self.plan.reply_timeout_s
        deadline = time.perf_counter() + timeout + 0.5
        while correlator.in_flight() and time.perf_counter() < deadline:
            await asyncio.sleep(0.005)
        correlator.expire(float("inf"), 0.0)  # anything left is past its timeout by now

    def _members(self, style) -> dict:
        """The other groups the driver needs (`style.roles`), each as (pool, its open
        connections numbered from 0)."""
        members = {}
        for role in style.roles:
            pool = self.roles.get(role)
            if pool is None:
                raise EngineError(f"a {style.mode} step needs a group of connections as its "
                                  f"{role}; none was given")
            group = pool.open_connections
            for slot, connection in enumerate(group):
                connection.slot = slot
            members[role] = (pool, group)
        return members

    def _member_closed(self, connection) -> None:
        """A connection of another group (a subscriber) ended: what it was to receive
        expires as lost; the close is counted like the step's own -- unless a lifecycle
        policy closed it (churn) or will replace it (reconnect)."""
        pool = next((pool for pool, group in self.driver.members.values()
                     if connection in group), None)
        if connection.closed_by_us or (pool is not None and any(
                isinstance(p, Reconnector) for p in pool.policies)):
            return
        why = connection.describe_close()
        self.closes[why] = self.closes.get(why, 0) + 1
        self.recorder.error(why, 1)

    def _replaced(self, old, new, why: str) -> None:
        """A lifecycle policy put `new` in `old`'s place (the pool has moved the step's
        receiver over), or gave `old` up (`new` None): then it counts as a lost connection."""
        if new is not None:
            self.driver.replaced(new.slot, new)
            return
        self.driver.gave_up(old.slot)
        self.closes[why] = self.closes.get(why, 0) + 1
        self.recorder.error(why, 1)

    def _connection_closed(self, connection) -> None:
        book = self.recorder
        if connection.closed_by_us:   # churn: what was in flight is cut, not lost
            self.pool.lifecycle.cut_by_close += self.correlator.cut(connection.slot)
            return
        lost = self.correlator.abandon(connection.slot)
        if any(isinstance(p, Reconnector) for p in self.pool.policies):
            # the reconnector takes it from here; a connection it gives up counts as closed
            if lost:
                book.error("replies lost when a connection closed", lost)
            return
        why = connection.describe_close()
        self.closes[why] = self.closes.get(why, 0) + 1
        book.error(why, 1)
        if lost:
            book.error("replies lost when a connection closed", lost)

"""Listen-only: connections that send nothing and measure what the server pushes.

The step's connections have said their opening messages already (a subscription, a stream
request: opening.py); this driver only reads, until the plan's duration is over or its
count of messages has arrived (or every connection has closed), through a StreamTracker's
receivers (stream_tracker.py), and puts a StreamFigures section (stream_figures.py) in the
result. Nothing is in flight, so nothing expires and the step's drain is immediate.
"""
from __future__ import annotations

import asyncio
import math
import time

from ...protocols.base import Protocol
from ...results.patterns import TrafficPattern, Words, register
from ...results.verdict import LISTEN_UNREAD_LIMIT_S
from ...step.driver import LoadDriver
from ...step.drivers import runs_plans
from .figures import StreamFigures
from .tracker import StreamTracker

LISTEN_BASIS = "server time (listen only: staleness, when a timestamp field is given)"
POLL_S = 0.01



def _headline(result) -> str:
    stream = result.sections["stream"]
    return (f"received {stream.messages:,} stream messages, {stream.rate:,.0f} msg/s"
            + (f", missing {stream.missing:,}" if stream.sequence_field else "")
            + (f", staleness p99 {stream.staleness_ms(99):.2f} ms"
               if stream.timestamp_field else ""))


def _subtitle(result, throughput: float) -> str:
    stream = result.sections.get("stream")
    if stream is None:
        return f"{result.received:,} stream messages; {throughput:,.0f} msg/s"
    text = (f"{stream.messages:,} stream messages on {stream.connections:,} connections"
            + (f", {stream.missing:,} missing" if stream.sequence_field else "")
            + f"; {throughput:,.0f} msg/s")
    if stream.timestamp_field:
        text += (f"; staleness p50 {stream.staleness_ms(50):,.2f} ms, "
                 f"p99 {stream.staleness_ms(99):,.2f} ms")
    return text


LISTEN_ONLY = register(TrafficPattern(
    mode="listen", title="listen only (a stream the server pushes)",
    words=Words(None, "stream messages", "lost"), unread_limit_s=LISTEN_UNREAD_LIMIT_S,
    headline=_headline, subtitle=_subtitle))


@runs_plans(order=10, where=lambda plan: plan.listen_only)
class ListenOnlyDriver(LoadDriver):
    mode = "listen"
    latency_basis = LISTEN_BASIS
    samples_unread_replies = True   # a reader that falls behind shows as bytes left unread

    def prepare(self, pool, connections) -> None:
        super().prepare(pool, connections)
        self.tracker = StreamTracker(self.plan.listen, self.recorder, len(connections))
        if self.correlator.control is not None:   # a protocol's own messages are no stream
            protocol = pool.protocol
            plain = (protocol.plain_delivery if type(protocol).plain_delivery
                     is not Protocol.plain_delivery else None)
            self.tracker.speaks(self.correlator.control, protocol.payload, plain)
        self.given_up: set[int] = set()   # slots a lifecycle policy will not refill
        pool.receive_with(connections, self.tracker.frame_receivers)

    def gave_up(self, slot: int) -> None:
        self.given_up.add(slot)

    def replaced(self, slot: int, connection) -> None:
        """A new connection's stream starts its numbers afresh: a new baseline."""
        self.tracker.highest[slot] = None

    async def run(self) -> None:
        plan, book = self.plan, self.recorder
        deadline = self.start + plan.duration_s if plan.duration_s else math.inf
        count = plan.messages or math.inf
        while True:
            now = time.perf_counter()
            if now >= deadline or book.received >= count:
                return
            if all(c.closed for c in self.connections) and (
                    not self.pool.policies or len(self.given_up) >= len(self.connections)):
                book.error("every connection closed before the listening was over")
                return
            await asyncio.sleep(min(POLL_S, max(0.0, deadline - now)))

    def describe(self, result) -> None:
        duration = max(0.0, time.perf_counter() - self.start)
        stream = StreamFigures.of(self.tracker, duration)
        result.sections[stream.kind] = stream
        result.planned_messages = self.plan.messages or 0
        result.planned_duration_s = self.plan.duration_s or 0.0
        result.send_duration_s = 0.0
        result.achieved_receive_rate = stream.rate

    def verdict_inputs(self) -> dict:
        tracker = self.tracker
        average = tracker.bytes // max(1, sum(tracker.messages))
        return {"reply_bytes": average + 2}

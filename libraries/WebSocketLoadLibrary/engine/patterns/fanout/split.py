"""Fan-out with the publishers and the subscribers in different processes or machines.

On load agents, some agents publish and others subscribe. The subscribers' side cannot see
the pacer's bookings, but it knows the publishers' schedules: publisher i sends ids
`first_id .. first_id + messages - 1` at `rate`, the first due when the step starts (all
the agents start their steps at one moment, agents/controller.py). So the subscribers'
driver books each publish itself, a little before it is due, with its intended time on its
own clock, into the same kind of correlator as a local fan-out (fanout_correlator.py); a
delivery is matched and aged exactly as there. How far two agents' "one moment" can be
apart -- their clocks' offset uncertainty and their start skew, both in the agents table --
bounds the accuracy of a delivery latency measured this way.

The publishers' driver is the open loop, whose bookings are dropped (nothing comes back to
the publishers; what arrives on their connections is counted as pushes).
"""
from __future__ import annotations

import asyncio
import math
import time

from ...step.correlator import ReplyCorrelator
from ...step.driver import LoadDriver
from ...step.drivers import runs_plans
from .driver import FANOUT_BASIS
from .correlator import FanoutCorrelator
from .figures import FanoutFigures
from ..open_loop import OpenLoopDriver

BOOK_AHEAD_S = 0.25     # publishes are booked this long before they are due
BOOKING_EVERY_S = 0.01


class PublishCorrelator(ReplyCorrelator):
    """The publishers' side: bookings are let go at each tick, never counted lost."""

    def expire(self, now: float, timeout_s: float) -> list[int]:
        for waiting in self.outstanding:
            waiting.clear()
        return [0] * len(self.outstanding)

    def in_flight(self) -> int:
        return 0


@runs_plans(order=21, where=lambda plan: plan.fanout is not None and plan.fanout.role == "publish")
class PublishOnlyDriver(OpenLoopDriver):
    """Publishes on the schedule; the deliveries are counted where the subscribers are."""
    mode = "fanout"
    latency_basis = FANOUT_BASIS

    @classmethod
    def make_correlator(cls, recorder, plan, template, connections: int, id_base: int,
                        interval, members: dict):
        return PublishCorrelator(recorder, connections, template.id_extractor(), id_base, 0.0,
                                 interval, template.id_fast_path(), template.push)

    def describe(self, result) -> None:
        super().describe(result)
        figures = FanoutFigures(publishers=len(self.connections), publishes=self.recorder.sent)
        result.sections[figures.kind] = figures


@runs_plans(order=22, where=lambda plan: plan.fanout is not None
            and plan.fanout.role == "subscribe")
class ScheduledSubscriberDriver(LoadDriver):
    """Sends nothing; books the publishers' schedules and counts their deliveries."""
    mode = "fanout"
    latency_basis = FANOUT_BASIS + " (the publishers' schedule, on this machine's clock)"
    samples_unread_replies = True

    @classmethod
    def latency_interval(cls, plan) -> float:
        return 1.0   # latency from intended times (each booking carries its own)

    @classmethod
    def make_correlator(cls, recorder, plan, template, connections: int, id_base: int,
                        interval, members: dict):
        expected = plan.fanout.expected_receivers or connections
        return FanoutCorrelator(recorder, 0, connections, template.id_extractor(), id_base,
                                0.0, interval, None if template.id_pattern else template.id_field,
                                template.push, expected)

    def prepare(self, pool, connections) -> None:
        super().prepare(pool, connections)
        pool.receive_with(connections, self.correlator.subscriber_receivers)
        # [first, rate, messages] or with the seconds after this step's start it begins
        self.schedules = [(int(p[0]), float(p[1]), int(p[2]), float(p[3]) if len(p) > 3 else 0.0)
                          for p in self.plan.fanout.publishes]
        self.publishes = sum(messages for _, _, messages, _ in self.schedules)

    async def run(self) -> None:
        """Book every publish BOOK_AHEAD_S before it is due, until all are booked."""
        shared, start = self.correlator.in_flight_publishes, self.start
        booked = [0] * len(self.schedules)
        while True:
            horizon = time.perf_counter() + BOOK_AHEAD_S - start
            done = True
            for i, (first, rate, messages, after) in enumerate(self.schedules):
                upto = min(messages, math.floor((horizon - after) * rate) + 1)
                for k in range(booked[i], upto):
                    due = start + after + k / rate
                    shared[str(first + k).encode()] = (due, due)
                booked[i] = max(booked[i], upto)
                done = done and booked[i] >= messages
            if done:
                return
            await asyncio.sleep(BOOKING_EVERY_S)

    def describe(self, result) -> None:
        figures = FanoutFigures.of(self.correlator, 0, self.publishes, shared_publishes=True)
        result.sections[figures.kind] = figures
        result.planned_messages = 0
        result.target_rate = sum(rate for _, rate, _, _ in self.schedules)
        result.send_duration_s = 0.0

    def verdict_inputs(self) -> dict:
        return {"reply_bytes": len(self.template.renderer()(self.id_base, 0)) + 2}

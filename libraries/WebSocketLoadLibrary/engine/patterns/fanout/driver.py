"""Publish/subscribe fan-out: publishers paced as the open loop paces requests, every
publish expected on each subscriber's connection (fanout_correlator.py).

The step runs over the publishers' group; the subscribers' group comes as the step's role
`subscribers` (a pool whose connections said their subscription as opening messages, so
they are ready before the first publish). The pacer is the open loop's, unchanged: its
bookings land in the one dict of publishes in flight that every publisher slot shares.
"""
from __future__ import annotations

from ...errors import PlanError
from ...plan.specs import SUBSCRIBERS
from ...results.patterns import TrafficPattern, Words, register
from ...results.result import format_latency_ms
from ...step.drivers import runs_plans
from .correlator import FanoutCorrelator
from .figures import FanoutFigures
from ..open_loop import OpenLoopDriver

FANOUT_BASIS = "the publish's intended send time, per delivery to each subscriber"



def _headline(result) -> str:
    fanout = result.sections["fanout"]
    return (f"published {fanout.publishes:,}, delivered {fanout.deliveries:,} of "
            f"{fanout.expected_deliveries:,} ({fanout.delivery_ratio:.4f}), "
            f"{result.achieved_receive_rate:,.0f} deliveries/s, p95 "
            f"{format_latency_ms(result.latency_ms(95), 2)} ms")


def _subtitle(result, throughput: float) -> str:
    fanout = result.sections.get("fanout")
    p50, p99 = result.latency_ms(50), result.latency_ms(99)
    if fanout is None:
        return (f"{result.received:,} deliveries; {throughput:,.0f} deliveries/s; "
                f"p50 {p50:,.2f} ms, p99 {p99:,.2f} ms")
    return (f"{fanout.publishes:,} publishes to {fanout.subscribers:,} subscribers: "
            f"{fanout.deliveries:,} deliveries, {fanout.lost_deliveries:,} lost; "
            f"{throughput:,.0f} deliveries/s; p50 {p50:,.2f} ms, p99 {p99:,.2f} ms")


def _counted(step) -> str:
    return f"{step.expected:,} expected deliveries: {step.received:,} delivered"


def _received(step) -> str:
    return f"{step.received:,} deliveries of {step.expected:,} expected"


FANOUT = register(TrafficPattern(
    mode="fanout", title="publish/subscribe fan-out",
    words=Words("publishes", "deliveries", "lost deliveries", "delivery latency"), paced=True, unread_limit_s=0.0,
    headline=_headline, subtitle=_subtitle, counted=_counted, received=_received))


@runs_plans(order=20, where=lambda plan: plan.fanout is not None and plan.fanout.role == "both")
class FanoutDriver(OpenLoopDriver):
    mode = "fanout"
    latency_basis = FANOUT_BASIS
    roles = (SUBSCRIBERS,)

    @classmethod
    def make_correlator(cls, recorder, plan, template, connections: int, id_base: int,
                        interval, members: dict):
        _, subscribers = members[SUBSCRIBERS]
        if not subscribers:
            raise PlanError("a fan-out step needs subscribers: the subscribers' group has "
                            "no open connection")
        expected = plan.fanout.expected_receivers or len(subscribers)
        return FanoutCorrelator(recorder, connections, len(subscribers),
                                template.id_extractor(), id_base, 0.0, interval,
                                None if template.id_pattern else template.id_field,
                                template.push, expected)

    def prepare(self, pool, connections) -> None:
        super().prepare(pool, connections)
        subscriber_pool, subscribers = self.members[SUBSCRIBERS]
        self.subscribers = subscribers
        subscriber_pool.receive_with(subscribers, self.correlator.subscriber_receivers)

    def unread_sockets(self, pool, connections) -> list[int]:
        subscriber_pool, subscribers = self.members[SUBSCRIBERS]
        return subscriber_pool.socket_fds(subscribers)

    def describe(self, result) -> None:
        super().describe(result)
        figures = FanoutFigures.of(self.correlator, len(self.connections), self.recorder.sent)
        result.sections[figures.kind] = figures
        result.connections = len(self.connections) + len(self.subscribers)

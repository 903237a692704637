"""Publish/subscribe fan-out: publishers paced as the open loop paces requests, every
publish expected on each subscriber's connection (fanout_correlator.py).

The step runs over the publishers' group; the subscribers' group comes as the step's role
`subscribers` (a pool whose connections said their subscription as opening messages, so
they are ready before the first publish). The pacer is the open loop's, unchanged: its
bookings land in the one dict of publishes in flight that every publisher slot shares.
"""
from __future__ import annotations

from dataclasses import dataclass, field

from ...errors import PlanError
from .correlator import FanoutCorrelator
from .figures import FanoutFigures
from ..open_loop import OpenLoopDriver

SUBSCRIBERS = "subscribers"
FANOUT_BASIS = "the publish's intended send time, per delivery to each subscriber"


ROLES = ("both", "publish", "subscribe")


@dataclass
class FanoutSpec:
    """expected_receivers   subscribers each publish should reach; None: every connection
                            of the subscribers' group open when the step starts
    role                    "both": this step publishes and counts the deliveries (its
                            subscribers are the step's `subscribers` group); "publish" or
                            "subscribe": one side only, the other runs elsewhere (load
                            agents: fanout_split.py)
    publishes               subscribe role: the publishers' schedules, each
                            [first id, rate, messages], all starting with this step"""
    expected_receivers: int | None = None
    role: str = "both"
    publishes: list = field(default_factory=list)

    def __post_init__(self):
        if self.expected_receivers is not None and self.expected_receivers < 1:
            raise PlanError(f"expected receivers must be at least 1, got "
                            f"{self.expected_receivers}")
        if self.role not in ROLES:
            raise PlanError(f"fan-out role must be one of {', '.join(ROLES)}, got {self.role!r}")
        if self.role == "subscribe" and not self.publishes:
            raise PlanError("a subscribe-only fan-out step needs the publishers' schedules")


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

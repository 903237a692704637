"""Which driver runs a plan: the one place a step's load style is decided."""
from __future__ import annotations

from ..patterns.closed_loop import ClosedLoopDriver
from .driver import LoadDriver
from ..patterns.fanout.driver import FanoutDriver
from ..patterns.fanout.split import PublishOnlyDriver, ScheduledSubscriberDriver
from ..patterns.listen_only.driver import ListenOnlyDriver
from ..patterns.multi_reply import MultiReplyDriver
from ..patterns.open_loop import OpenLoopDriver


def driver_for(plan) -> type[LoadDriver]:
    """Listen only when the plan says what stream to measure; else paced requests when it
    has a rate, a closed loop at rate `max`."""
    if plan.listen_only:
        return ListenOnlyDriver
    if plan.fanout is not None:
        return {"both": FanoutDriver, "publish": PublishOnlyDriver,
                "subscribe": ScheduledSubscriberDriver}[plan.fanout.role]
    if plan.replies is not None:
        return MultiReplyDriver
    return OpenLoopDriver if plan.open_loop else ClosedLoopDriver

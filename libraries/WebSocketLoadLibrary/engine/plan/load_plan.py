"""What one load step sends: the plan, checked when it is made, and the pacer's wake rule."""
from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass

from ..errors import PlanError
from ..pacing.schedule import OpenLoopSchedule
from .specs import FanoutSpec, MultiReplySpec, StreamSpec

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
    replies         a MultiReplySpec (multi_reply.py): each request is answered in parts
    fanout          a FanoutSpec (fanout.py): the messages are publishes, each expected on
                    every connection of the step's `subscribers` group
    listen          a StreamSpec: send nothing and measure the stream that arrives, for
                    duration_s or until `messages` have arrived (stream_tracker.py)
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
    listen: StreamSpec | None = None    # listen only: send nothing, measure what arrives
    fanout: object | None = None        # a FanoutSpec: publishes, each expected at every subscriber
    replies: object | None = None       # a MultiReplySpec: several replies per request
    first_id: int | None = None         # the first message id (None: the engine's next)

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
        if self.listen is not None and self.rate is not None:
            raise PlanError("a listen-only step sends nothing: it has no rate")
        if self.fanout is not None and self.rate is None and self.fanout.role != "subscribe":
            raise PlanError("a fan-out step publishes at a paced rate, not at max")
        if self.replies is not None and self.rate is None:
            raise PlanError("several replies per request need a paced rate, not max")
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

    @property
    def listen_only(self) -> bool:
        return self.listen is not None

    @property
    def open_loop(self) -> bool:
        """Paced to a schedule (a rate), rather than as fast as replies come (`max`)."""
        return self.rate is not None


def plan_to_dict(plan: LoadPlan) -> dict:
    """The plan as JSON-ready data, nested specs included (load agents, worker processes)."""
    data = {f.name: getattr(plan, f.name) for f in dataclasses.fields(plan)}
    for name in ("listen", "fanout"):
        if data[name] is not None:
            data[name] = dataclasses.asdict(data[name])
    if plan.replies is not None:
        data["replies"] = {"parts": plan.replies.parts,
                           "last_part": None if plan.replies.last_part is None
                           else plan.replies.last_part.text}
    return data


def plan_from_dict(data: dict) -> LoadPlan:
    """`plan_to_dict` undone (checked again on the way in)."""
    data = dict(data)
    for name, spec in (("listen", StreamSpec), ("fanout", FanoutSpec),
                       ("replies", MultiReplySpec)):
        if data.get(name) is not None:
            data[name] = spec(**data[name])
    return LoadPlan(**data)

"""The specs of the traffic patterns a plan can name: plain data, checked when made.

Each pattern's driver (engine/patterns/) reads its spec from the plan; the plan carries it
to worker processes and load agents as JSON (load_plan.plan_to_dict).
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field

from ...errors import UsageError
from ..errors import PlanError
from .message_pattern import MessagePattern, pattern_or_none

TIMESTAMP_UNITS = {"s": 1.0, "ms": 1e-3, "us": 1e-6, "ns": 1e-9, "iso": None}


@dataclass
class StreamSpec:
    """sequence_field   JSON field with a per-connection increasing integer (None: not read)
    timestamp_field  JSON field with the server's send time (None: no staleness)
    timestamp_unit   s, ms, us, ns since the epoch, or iso (ISO-8601 text)
    clock_offset_s   the server's clock minus ours (a server on another machine)"""
    sequence_field: str | None = None
    timestamp_field: str | None = None
    timestamp_unit: str = "s"
    clock_offset_s: float = 0.0

    def __post_init__(self):
        if self.timestamp_unit not in TIMESTAMP_UNITS:
            raise UsageError(f"timestamp unit must be one of {', '.join(TIMESTAMP_UNITS)}, "
                             f"got {self.timestamp_unit!r}")
        for name in ("sequence_field", "timestamp_field"):
            value = getattr(self, name)
            if value is not None and not re.fullmatch(r"[\w\-]+(\.[\w\-]+)*", value):
                raise UsageError(f"{name.replace('_', ' ')} must be a field name (dotted "
                                 f"for nested fields), got {value!r}")


@dataclass
class MultiReplySpec:
    """parts       replies per request (None: until the last-part pattern matches)
    last_part      a reply matching this is a request's last part (message_pattern.py)"""
    parts: int | None = None
    last_part: MessagePattern | str | None = None

    def __post_init__(self):
        self.last_part = pattern_or_none(self.last_part)
        if self.parts is None and self.last_part is None:
            raise PlanError("several replies per request: give their number or the pattern "
                            "of the last one")
        if self.parts is not None and self.parts < 1:
            raise PlanError(f"replies per request must be at least 1, got {self.parts}")


SUBSCRIBERS = "subscribers"


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
                            [first id, rate, messages], all starting with this step, or
                            [first id, rate, messages, seconds after this step's start]"""
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

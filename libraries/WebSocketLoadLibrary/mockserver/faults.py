"""Fault injection settings of the mock server: plain data, checked on the way in."""
from __future__ import annotations

import random
import time
from dataclasses import asdict, dataclass, field

from ..errors import UsageError

FAULT_NAMES = ("response_delay", "stall", "read_stall", "drop_ratio", "disconnect_after",
               "garble_ratio", "slow_subscriber_delay", "sequence_gap_every")


class FaultError(UsageError):
    pass


@dataclass
class Faults:
    """What the server does wrong, on purpose.

    response_delay  seconds added before every reply, delivery and stream message
    stall_until     monotonic time until which nothing leaves (a `stall` of X s sets now + X)
    read_stall_until  monotonic time until which no message is read (`read_stall` of X s):
                    the client's sends back up through TCP, as with a server that stops consuming
    drop_ratio      share of messages (0..1) that get no reply, counted as dropped; of
                    deliveries and stream messages too (a dropped stream message is a gap)
    disconnect_after  close each connection (code 1011) after it has sent N messages (0: never)
    garble_ratio    share of replies (0..1) replaced with text that is not the message
    slow_subscriber_delay  seconds added to the deliveries to one subscriber: the connection
                    that has held a subscription the longest (topics.py)
    sequence_gap_every  every Nth stream seq number is skipped, never sent (0: none)
    """
    response_delay: float = 0.0
    stall_until: float = 0.0
    read_stall_until: float = 0.0
    drop_ratio: float = 0.0
    disconnect_after: int = 0
    garble_ratio: float = 0.0
    slow_subscriber_delay: float = 0.0
    sequence_gap_every: int = 0
    seed: int | None = None
    _rng: random.Random = field(default_factory=random.Random, repr=False, compare=False)

    def __post_init__(self):
        if self.seed is not None:
            self._rng.seed(self.seed)

    def update(self, **changes) -> None:
        """Apply changes (names as in FAULT_NAMES); unknown names and bad values raise FaultError."""
        unknown = set(changes) - set(FAULT_NAMES) - {"seed"}
        if unknown:
            raise FaultError(f"unknown fault(s) {sorted(unknown)}; known: {list(FAULT_NAMES)}")
        checked = {}
        for name, value in changes.items():
            if value is None:
                continue
            try:
                number = float(value)
            except (TypeError, ValueError):
                raise FaultError(f"fault {name} must be a number, got {value!r}") from None
            if number < 0 or number != number:
                raise FaultError(f"fault {name} must be >= 0, got {value!r}")
            if name in ("drop_ratio", "garble_ratio") and number > 1:
                raise FaultError(f"fault {name} is a ratio between 0 and 1, got {value!r}")
            checked[name] = number
        for name, number in checked.items():
            if name == "stall":
                self.stall_until = time.monotonic() + number
            elif name == "read_stall":
                self.read_stall_until = time.monotonic() + number
            elif name in ("disconnect_after", "sequence_gap_every"):
                setattr(self, name, int(number))
            elif name == "seed":
                self.seed = int(number)
                self._rng.seed(self.seed)
            else:
                setattr(self, name, number)

    def clear(self) -> None:
        """Every fault off (the seed stays)."""
        self.update(response_delay=0, drop_ratio=0, disconnect_after=0, garble_ratio=0,
                    slow_subscriber_delay=0, sequence_gap_every=0)
        self.stall_until = self.read_stall_until = 0.0

    def should_drop(self) -> bool:
        return self.drop_ratio > 0 and self._rng.random() < self.drop_ratio

    def should_garble(self) -> bool:
        return self.garble_ratio > 0 and self._rng.random() < self.garble_ratio

    def describe(self) -> dict:
        data = asdict(self)
        data.pop("_rng", None)
        now = time.monotonic()
        data["stall_remaining"] = max(0.0, data.pop("stall_until") - now)
        data["read_stall_remaining"] = max(0.0, data.pop("read_stall_until") - now)
        return data


def garble(message):
    """A reply that is well-formed as a frame but is not the message (nor valid JSON)."""
    if isinstance(message, (bytes, bytearray)):
        return b"#garbled#" + bytes(message[::-1])
    return "#garbled#" + message[::-1]

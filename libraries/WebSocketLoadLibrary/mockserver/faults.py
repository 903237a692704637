"""Fault injection settings of the mock server: plain data, checked on the way in."""
from __future__ import annotations

import random
import time
from dataclasses import asdict, dataclass, field

from ..errors import UsageError

FAULT_NAMES = ("response_delay", "stall", "read_stall", "drop_ratio", "disconnect_after",
               "garble_ratio", "slow_subscriber_delay", "sequence_gap_every",
               # the connection lifecycle (core.py) and capacity (pipeline.py)
               "handshake_delay", "refuse_for", "hang_handshakes", "close_after",
               "max_handshake_rate", "max_message_rate")
# faults that start now and last the given seconds: (name, the field of their end)
TIMED = {"stall": "stall_until", "read_stall": "read_stall_until",
         "refuse_for": "refuse_until", "hang_handshakes": "hang_until"}


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

    The connection lifecycle (decided in core.py, at each handshake and connection):
    handshake_delay  seconds before every opening handshake is answered (the 101, or a
                    refusal); other connections go on meanwhile. It counts against the
                    server's own --open-timeout (10 s), which cuts off a longer wait
    refuse_until    monotonic time until which every new handshake gets HTTP 503
                    (`refuse_for` of X s sets now + X)
    hang_until      monotonic time until which every new handshake is never answered
                    (`hang_handshakes` of X s sets now + X): the TCP connection is accepted
                    and left waiting until the client gives up or the server's open timeout
                    (--open-timeout, 10 s) ends it; those already hanging stay so
    close_after     close each connection (code 1001) this many seconds after its
                    handshake (0: never); for connections opened from the time it is set
    max_handshake_rate  handshakes per second accepted (a token bucket of one second's
                    worth); those beyond it get HTTP 429 (0: no limit)

    Capacity (pipeline.py): max_message_rate  messages per second the server serves, all
    connections together: each message waits in one queue for its slot, 1/K s after the
    previous one's, and its reply leaves then; beyond K latency grows without bound and
    nothing is dropped (0: no limit)
    """
    response_delay: float = 0.0
    stall_until: float = 0.0
    read_stall_until: float = 0.0
    drop_ratio: float = 0.0
    disconnect_after: int = 0
    garble_ratio: float = 0.0
    slow_subscriber_delay: float = 0.0
    sequence_gap_every: int = 0
    handshake_delay: float = 0.0
    refuse_until: float = 0.0
    hang_until: float = 0.0
    close_after: float = 0.0
    max_handshake_rate: float = 0.0
    max_message_rate: float = 0.0
    seed: int | None = None
    _rng: random.Random = field(default_factory=random.Random, repr=False, compare=False)
    _next_slot: float = field(default=0.0, repr=False, compare=False)
    # faults this server's engine cannot carry out: name -> why (set by the engine)
    unsupported: dict = field(default_factory=dict, repr=False, compare=False)

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
            if number and name in self.unsupported:
                raise FaultError(f"fault {name} {self.unsupported[name]}")
            checked[name] = number
        for name, number in checked.items():
            if name in TIMED:
                setattr(self, TIMED[name], time.monotonic() + number if number else 0.0)
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
                    slow_subscriber_delay=0, sequence_gap_every=0, handshake_delay=0,
                    close_after=0, max_handshake_rate=0, max_message_rate=0)
        self.stall_until = self.read_stall_until = self.refuse_until = self.hang_until = 0.0

    def service_slot(self, now: float) -> float:
        """max_message_rate's queue: when the message that came at `now` is served (its
        reply may leave), each slot 1/K after the one before, none before `now`."""
        slot = self._next_slot if self._next_slot > now else now
        self._next_slot = slot + 1.0 / self.max_message_rate
        return slot

    def should_drop(self) -> bool:
        return self.drop_ratio > 0 and self._rng.random() < self.drop_ratio

    def should_garble(self) -> bool:
        return self.garble_ratio > 0 and self._rng.random() < self.garble_ratio

    def describe(self) -> dict:
        data = asdict(self)
        for private in ("_rng", "_next_slot", "unsupported"):
            data.pop(private, None)
        now = time.monotonic()
        for name, until in TIMED.items():
            data[f"{name}_remaining"] = max(0.0, data.pop(until) - now)
        # how far behind max_message_rate's queue is: a message now waits this long
        data["message_backlog_s"] = max(0.0, self._next_slot - now) if self.max_message_rate else 0.0
        return data


def garble(message):
    """A reply that is well-formed as a frame but is not the message (nor valid JSON)."""
    if isinstance(message, (bytes, bytearray)):
        return b"#garbled#" + bytes(message[::-1])
    return "#garbled#" + message[::-1]

"""The mock server's push protocol: the server options it adds, and what the server pushes
on its own (heartbeats, a welcome), decided without I/O.

A client message that starts with the bytes `{"op":` is a command (commands.py): publish /
subscribe (topics.py), stream mode (streams.py); every other message is echoed or acked
as before, and that prefix test is all the protocol costs the echo/ack path. The server
options, set at start (CLI flags, `Start Mock Server`) or while it runs (control op
`set_options`, `{"op":"set_options","options":{"replies":3}}`):

  replies             replies per message (default 1). N > 1 in ack mode: N acks,
                      {"message_id":7,"status":"partial","part":1,"parts":3,"server_time":...}
                      up to {"message_id":7,"status":"done","part":3,"parts":3,...};
                      in echo mode N copies of the message
  heartbeat_interval  seconds (0: off): every connection gets
                      {"type":"heartbeat","ts":1733130000.123456} that often
  welcome             true: {"type":"welcome","connection":12} right after the handshake
                      (12: the server's count of connections it admitted since it started)

Faults, in short (see pipeline.py): a stall holds everything; response_delay delays
replies, command answers, deliveries and stream messages; drop_ratio drops replies,
deliveries and stream messages; heartbeats, welcomes and command answers are never dropped.
Counters: `pushes_sent` (heartbeats, welcomes, stream messages), `deliveries_sent`,
`deliveries_dropped`, `pushes_dropped`, `sequence_gaps`, `invalid_commands`, and `topics`.
"""
from __future__ import annotations

import time

from ..errors import UsageError

OPTION_NAMES = ("replies", "heartbeat_interval", "welcome")
IDLE_CHECK_S = 0.1   # how soon a heartbeat switched on by set_options starts counting


class OptionError(UsageError):
    pass


class PushOptions:
    """The server options of the push protocol: plain data, checked on the way in."""
    __slots__ = OPTION_NAMES

    def __init__(self, replies: int = 1, heartbeat_interval: float = 0.0,
                 welcome: bool = False):
        self.replies, self.heartbeat_interval, self.welcome = 1, 0.0, False
        self.update(replies=replies, heartbeat_interval=heartbeat_interval, welcome=welcome)

    def update(self, **changes) -> None:
        """Apply changes (names as in OPTION_NAMES); unknown names and bad values raise."""
        unknown = set(changes) - set(OPTION_NAMES)
        if unknown:
            raise OptionError(f"unknown option(s) {sorted(unknown)}; known: {list(OPTION_NAMES)}")
        checked = {}
        for name, value in changes.items():
            if value is None:
                continue
            if name == "welcome":
                if not isinstance(value, bool):
                    raise OptionError(f"option welcome must be true or false, got {value!r}")
                checked[name] = value
                continue
            try:
                number = float(value)
            except (TypeError, ValueError):
                raise OptionError(f"option {name} must be a number, got {value!r}") from None
            if isinstance(value, bool) or number != number or number < 0:
                raise OptionError(f"option {name} must be a number >= 0, got {value!r}")
            if name == "replies":
                if number < 1 or number != int(number):
                    raise OptionError(f"option replies must be a whole number >= 1, "
                                      f"got {value!r}")
                number = int(number)
            checked[name] = number
        for name, value in checked.items():
            setattr(self, name, value)

    def describe(self) -> dict:
        return {name: getattr(self, name) for name in OPTION_NAMES}


def welcome_message(connection_number: int) -> bytes:
    return b'{"type":"welcome","connection":%d}' % connection_number


def heartbeat_message() -> bytes:
    return b'{"type":"heartbeat","ts":%.6f}' % time.time()


class Heartbeats:
    """When the server-wide heartbeat is due: every `heartbeat_interval` from when it was
    switched on; a late wake sends one heartbeat, not the ones it missed."""

    def __init__(self, options: PushOptions):
        self.options = options
        self.next_at: float | None = None
        self.interval = 0.0

    def next_wake(self, now: float) -> float:
        """When the engine should call `due` next (monotonic)."""
        interval = self.options.heartbeat_interval
        if not interval:
            self.next_at = None
            return now + IDLE_CHECK_S
        if self.next_at is None or interval != self.interval:
            self.interval, self.next_at = interval, now + interval
        return self.next_at

    def due(self, now: float) -> bool:
        if self.next_at is None or now < self.next_at or not self.options.heartbeat_interval:
            return False
        self.next_at = max(self.next_at + self.interval, now + self.interval / 2)
        return True

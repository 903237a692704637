"""What a protocol over WebSocket is to the engine: a codec without I/O between the
transport and the correlator, as websockets' own sans-I/O core is.

A `Protocol` is made once per pool from the user's options (`Connect Clients
protocol=socketio ...`) and checks them; it says which URI and subprotocols to ask for, and
turns the user's message template into the protocol's request (`request_template`) or
publish (`publish_template`). Each connection gets a `Session`, which holds the
connection's protocol state and is fed arriving messages:

- `start()` and `handshake(message)`: the protocol's own handshake after the upgrade (a
  connect phase of its own), answered message by message until it says done, or
  `ProtocolRefused` naming what the server said;
- `control(message)`: a keep-alive or other protocol message, recognised and answered
  (`bytes` to send back, `b""` for nothing to send) -- or None: the message is the
  application's (a reply, a delivery, a push), for the correlator. Only messages that are no
  reply reach it (the correlator's slow path), so keep-alives cost the replies nothing;
- `heartbeat_s` and `heartbeat()`: what the client must send on its own, and how often.

The protocol's `payload(message)` is the application's payload inside a delivery (streams
read their sequence and timestamp fields there), or None when the message is no delivery.

Sessions never do I/O: the pools send what they return (transport/protocol_session.py).
"""
from __future__ import annotations

from typing import ClassVar

from ...errors import UsageError
from ..plan.messages import MessageTemplate

NOTHING = b""   # control(): a protocol message with nothing to answer


class ProtocolRefused(Exception):
    """The server refused the protocol's handshake, or spoke another protocol."""


class ProtocolOptionError(UsageError):
    """A protocol option is unknown or has a bad value."""


class Session:
    """One connection's protocol state. The plain protocol's: no handshake, no control."""

    heartbeat_s: float | None = None

    def start(self) -> list[bytes]:
        return []

    def handshake(self, message: bytes) -> tuple[list[bytes], bool]:
        return [], True

    def control(self, message: bytes) -> bytes | None:
        return None

    def heartbeat(self) -> bytes:
        return NOTHING


class Protocol:
    """A protocol's options and its framing of requests and publishes."""

    name: ClassVar[str] = "plain"
    title: ClassVar[str] = "plain WebSocket messages"
    options: ClassVar[dict[str, object]] = {}   # option name -> default
    subprotocols: tuple[str, ...] = ()
    text = True                 # frames are text (False: binary)
    handshakes = False          # a handshake of its own after the upgrade

    def __init__(self, **given):
        unknown = set(given) - set(self.options)
        if unknown:
            known = ", ".join(sorted(self.options)) or "none"
            raise ProtocolOptionError(
                f"protocol {self.name} has no option(s) {', '.join(sorted(unknown))} "
                f"(its options: {known})")
        self.settings = {**self.options, **{k: v for k, v in given.items() if v is not None}}

    def uri(self, uri: str) -> str:
        return uri

    def session(self, number: int) -> Session:
        return Session()

    @staticmethod
    def payload(message: bytes) -> bytes | None:
        """The application's payload inside a delivery (streams read their fields there),
        or None when the message is no delivery."""
        return message

    def request_template(self, template: MessageTemplate) -> MessageTemplate:
        """The user's template framed as this protocol's request, its reply found by id."""
        return template

    def publish_template(self, template: MessageTemplate) -> MessageTemplate:
        """The user's template framed as a publish to the protocol's topic or room."""
        return template

    def describe(self) -> str:
        shown = ", ".join(f"{k}={v}" for k, v in self.settings.items()
                          if v not in (None, "") and "pass" not in k and "auth" not in k)
        return f"{self.title}" + (f" ({shown})" if shown else "")

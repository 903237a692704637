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
  reply reach it (the correlator's slow path), so keep-alives cost the replies nothing.
  A `ServerError` is the server's own report of an error (a STOMP ERROR frame): nothing to
  answer, and what the server said goes into the running step's errors. A `Delivered` is
  an answer to send for a message that is the application's all the same (an MQTT QoS 1
  delivery, acknowledged with its PUBACK): the correlator gets it as it gets None;
- `heartbeat_s` and `heartbeat()`: what the client must send on its own, and how often.

The protocol's `payload(message)` is the application's payload inside a delivery (streams
read their sequence and timestamp fields there), or None when the message is no delivery.

Sessions never do I/O: the pools send what they return (transport/protocol_session.py).
"""
from __future__ import annotations

import re
from typing import ClassVar

from ...errors import UsageError
from ..plan.messages import MessageTemplate

NOTHING = b""   # control(): a protocol message with nothing to answer
# options whose values are never shown: they may hold credentials
SECRET_WORDS = re.compile(r"pass|auth|token|secret|init|credential", re.IGNORECASE)


class ServerError(bytes):
    """What `control()` returns for the server's report of an error: empty (nothing to
    answer), with `text`, what the server said."""

    def __new__(cls, text: str):
        said = super().__new__(cls, b"")
        said.text = text
        return said


class Delivered(bytes):
    """What `control()` returns for an application message that needs an answer of the
    protocol's (an MQTT QoS 1 delivery: its PUBACK): the answer is sent, and the message
    goes on to the correlator as a delivery, a reply or a push."""


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
        self.given = {k: v for k, v in given.items() if v is not None}
        self.settings = {**self.options, **self.given}

    def uri(self, uri: str) -> str:
        return uri

    def session(self, number: int) -> Session:
        return Session()

    @staticmethod
    def payload(message: bytes) -> bytes | None:
        """The application's payload inside a delivery (streams read their fields there),
        or None when the message is no delivery."""
        return message

    def plain_delivery(self, message: bytes) -> bytes | None:
        """A listen-only step's fast path: the payload of a delivery that asks nothing of
        the protocol (no acknowledgement to send, not the protocol's own message), in one
        look; None for anything else, which the session's `control` and `payload` then
        read as ever. A protocol without it takes that way for every message."""
        return None

    def request_template(self, template: MessageTemplate) -> MessageTemplate:
        """The user's template framed as this protocol's request, its reply found by id."""
        return template

    def publish_template(self, template: MessageTemplate) -> MessageTemplate:
        """The user's template framed as a publish to the protocol's topic or room."""
        return template

    # the mock server's side: its options (name -> default) and one session per connection
    server_options: ClassVar[dict[str, object]] = {}

    @classmethod
    def server_session(cls, number: int, **options) -> "ServerSession":
        return ServerSession()

    def to_dict(self) -> dict:
        """The protocol as JSON-ready data (load agents rebuild it with `protocol_named`);
        `uri` must give a URI it already made back unchanged."""
        return {"name": self.name, "options": dict(self.given)}

    def describe(self) -> str:
        """The protocol and its options in words; secrets (passwords, auth payloads,
        tokens, connection_init payloads) never appear."""
        shown = ", ".join(f"{k}={v}" for k, v in self.settings.items()
                          if v not in (None, "") and not SECRET_WORDS.search(k))
        return f"{self.title}" + (f" ({shown})" if shown else "")

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {self.describe()}>"


class ServerSession:
    """The mock server's side of one connection of a protocol, without I/O (the mock server
    carries it out: mockserver/protocol_serving.py). What `receive` says a client message is:

        ("answer", [bytes, ...])     the protocol's own: send these back now (a connect
                                     ack, a pong, a SUBACK); empty: nothing to send
        ("request", payload)         an application request: the reply is `reply(message,
                                     ack)`, under the mock server's faults like any reply
        ("command", json, answers)   a subscribe, publish or stream in the mock server's
                                     push protocol (`{"op":...}`, mockserver/commands.py),
                                     with the protocol's own answers to send first
        ("message",)                 an application message that wants no reply
        ("pong",)                    the client answered the server's ping
        ("close", code, reason)      close the connection
        ("invalid", why)             not this protocol: counted, answered as the protocol
                                     answers bad input (`invalid_answer`), never a crash
    """

    ping_interval_s: float | None = None   # the server pings this often (None: never)
    ping_timeout_s: float | None = None    # and closes a client silent for this long after
    text = True                            # frames are text (False: binary)

    def opening(self) -> list[bytes]:
        """What the server says first, right after the upgrade."""
        return []

    def receive(self, message: bytes) -> tuple:
        return ("request", message)

    def reply(self, request: bytes, ack: bytes | None) -> bytes:
        """The framed reply to `request`: its payload echoed (`ack` None) or `ack`."""
        return request if ack is None else ack

    def echo(self, message: bytes) -> bytes | None:
        """The fast path of the mock's echo mode, where the load is: when `message` is a
        plain request, its framed echo (what `reply(message, None)` gives), else None and
        `receive` says what the message is. A protocol without it takes `receive` always."""
        return None

    def frame(self, payload: bytes) -> bytes:
        """A message the server sends on its own (a delivery, a stream message, a push, a
        command's answer), framed as the protocol's delivery."""
        return payload

    def after_reply(self, request: bytes) -> list[bytes]:
        """What follows a request's reply, in order behind it (GraphQL's `complete`)."""
        return []

    def ping(self) -> bytes:
        return NOTHING

    def invalid_answer(self, why: str) -> list[bytes]:
        return []

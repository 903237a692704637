"""Socket.IO (protocol 5) over Engine.IO 4, on the WebSocket transport alone.

What travels (one Engine.IO packet per WebSocket message, its type the first character):

    server -> client   0{"sid":...,"pingInterval":25000,"pingTimeout":20000,...}   open
    client -> server   40  or  40/chat,{"token":...}        connect to a namespace (+ auth)
    server -> client   40{"sid":...}  or  44{"message":...}  connected, or refused
    server -> client   2          ping: the client answers 3 within pingTimeout, or is closed
    client -> server   42<id>["event",{...}]                an event asking for an ack
    server -> client   43<id>[...]                          the ack: the reply, by its id
    server -> client   42["event",{...}]                    an event of the server's own
    either             41  /  1                             disconnect / close

So a request carries its correlation id in the packet prefix (`42<id>[`) and its reply is
the ack `43<id>[`: the request template is the user's template as the event's argument, and
acks are matched by slicing their id out, as JSON replies are. Pings are answered in the
receive path the moment they are read, never queued behind the load.

`SocketIOServerSession` is the mock server's side of the same packets.
"""
from __future__ import annotations

import json

from ..plan.messages import MessageTemplate
from .base import NOTHING, Protocol, ProtocolOptionError, ProtocolRefused, ServerSession, Session

ENGINE_IO_VERSION = 4
PING, PONG = b"2", b"3"


def _namespace_prefix(namespace: str) -> str:
    """`""` for the main namespace, else `"/chat,"` (how packets name their namespace)."""
    return "" if namespace in ("", "/") else namespace + ","


class SocketIOSession(Session):
    def __init__(self, protocol: "SocketIO"):
        self.namespace = protocol.namespace
        self.connect_packet = protocol.connect_packet()
        self.opened = False             # the Engine.IO open packet came
        self.ping_interval_s = None
        self.ping_timeout_s = None

    def handshake(self, message: bytes) -> tuple[list[bytes], bool]:
        if not self.opened:
            if message[:1] != b"0":
                raise ProtocolRefused(
                    f"expected the Engine.IO open packet (0{{\"sid\":...}}) first, got "
                    f"{message[:80]!r}: is this a Socket.IO server (Engine.IO "
                    f"{ENGINE_IO_VERSION}), and is the path right?")
            try:
                opening = json.loads(message[1:])
                self.ping_interval_s = opening["pingInterval"] / 1000
                self.ping_timeout_s = opening["pingTimeout"] / 1000
            except (ValueError, KeyError, TypeError):
                raise ProtocolRefused(f"the Engine.IO open packet is not Engine.IO "
                                      f"{ENGINE_IO_VERSION}'s: {message[:120]!r}") from None
            self.opened = True
            return [self.connect_packet], False
        if message == PING:
            return [PONG], False
        prefix = b"4" + _namespace_prefix(self.namespace).encode()
        if message.startswith(b"40" + prefix[1:]):
            return [], True
        if message.startswith(b"44" + prefix[1:]):
            raise ProtocolRefused(f"the Socket.IO server refused the connection to namespace "
                                  f"{self.namespace!r}: {_error_text(message)}")
        return [], False            # an event before the connect ack: not ours to judge

    def control(self, message: bytes) -> bytes | None:
        first = message[:1]
        if first == b"4":
            kind = message[1:2]
            if kind == b"2" or kind == b"3":
                return None         # events and acks are the application's
            return NOTHING          # connect, disconnect, connect error: protocol's own
        if message == PING:
            return PONG
        return NOTHING              # pong, open, close, noop: Engine.IO's own


def _error_text(message: bytes) -> str:
    body = message[2:]
    if body[:1] == b"/":
        body = body[body.find(b",") + 1:]
    try:
        data = json.loads(body)
        return str(data.get("message", data)) if isinstance(data, dict) else str(data)
    except ValueError:
        return body[:120].decode(errors="replace") or "no reason given"


class SocketIO(Protocol):
    """Socket.IO 5 / Engine.IO 4 (Node `socket.io` 3 and 4, python-socketio 5)."""

    name = "socketio"
    title = "Socket.IO"
    options = {"path": "/socket.io/", "namespace": "/", "auth": None, "event": "message"}
    handshakes = True

    def __init__(self, **given):
        super().__init__(**given)
        self.namespace = str(self.settings["namespace"] or "/")
        if not self.namespace.startswith("/"):
            raise ProtocolOptionError(f"Socket.IO namespace must start with '/', got "
                                      f"{self.namespace!r}")
        self.event = str(self.settings["event"])
        if not self.event or '"' in self.event:
            raise ProtocolOptionError(f"Socket.IO event must be a name without quotes, got "
                                      f"{self.event!r}")
        auth = self.settings["auth"]
        if isinstance(auth, str) and auth:
            try:
                auth = json.loads(auth)
            except ValueError:
                raise ProtocolOptionError(f"Socket.IO auth must be a JSON object, got "
                                          f"{auth!r}") from None
        if auth is not None and not isinstance(auth, dict):
            raise ProtocolOptionError("Socket.IO auth must be a JSON object")
        self.auth = auth

    server_options = {"ping_interval_s": 25.0, "ping_timeout_s": 20.0}

    @classmethod
    def server_session(cls, number: int, ping_interval_s: float = 25.0,
                       ping_timeout_s: float = 20.0) -> "SocketIOServerSession":
        return SocketIOServerSession(f"mock{number}", float(ping_interval_s),
                                     float(ping_timeout_s))

    def uri(self, uri: str) -> str:
        if "EIO=" in uri:
            return uri      # the user gave the whole Socket.IO URL
        base, _, query = uri.partition("?")
        path = "/" + str(self.settings["path"]).strip("/") + "/"
        base = base.rstrip("/") if base.count("/") > 2 else base.rstrip("/")
        rest = "&" + query if query else ""
        return f"{base}{path}?EIO={ENGINE_IO_VERSION}&transport=websocket{rest}"

    def connect_packet(self) -> bytes:
        prefix = _namespace_prefix(self.namespace)
        auth = json.dumps(self.auth, separators=(",", ":")) if self.auth else ""
        return f"40{prefix}{auth}".encode()

    def session(self, number: int) -> SocketIOSession:
        return SocketIOSession(self)

    @staticmethod
    def plain_delivery(message: bytes) -> bytes | None:
        """An event of the server's (`42[...]`, no ack asked) is the application's: its
        first argument (`payload` inlined, no `self`: one Python call a delivery fewer)."""
        if message[:3] != b'42[':
            return None
        start = message.find(b",", 3) + 1
        return message[start:-1] if start > 0 else b""

    @staticmethod
    def payload(message: bytes) -> bytes | None:
        """The first argument of an event: `42["tick",{...}]` -> `{...}`."""
        if message[:2] != b"42":
            return None
        start = message.find(b",", message.find(b"[")) + 1
        return message[start:-1] if start > 0 else b""

    def request_template(self, template: MessageTemplate) -> MessageTemplate:
        prefix = _namespace_prefix(self.namespace)
        body = _without_id_field(template)
        return MessageTemplate(f'42{prefix}$message_id["{self.event}",{body}]',
                               template.payload_size, template.id_field, None, False,
                               _push_text(template), reply_prefix=f"43{prefix}", id_end="[")

    def publish_template(self, template: MessageTemplate) -> MessageTemplate:
        prefix = _namespace_prefix(self.namespace)
        return MessageTemplate(f'42{prefix}["{self.event}",{template.text}]',
                               template.payload_size, template.id_field, template.id_pattern,
                               False, _push_text(template))


def _push_text(template: MessageTemplate):
    return None if template.push is None else template.push.text


def _without_id_field(template: MessageTemplate) -> str:
    """The user's template as the event's argument: the ack carries the id, so the default
    template's leading id field goes (one `$message_id` renders fastest)."""
    head = '{"%s":$message_id,' % template.id_field
    return "{" + template.text[len(head):] if template.text.startswith(head) else template.text


class SocketIOServerSession(ServerSession):
    """The mock server's side of one Socket.IO connection: the open packet, connects to any
    namespace, pings every `ping_interval_s`, an acked event answered with its ack (the
    event's argument echoed, or the mock's ack), an event whose argument is a push-protocol
    command (`{"op":...}`) carried out, deliveries and pushes as `message` events."""

    def __init__(self, sid: str, ping_interval_s: float = 25.0, ping_timeout_s: float = 20.0):
        self.sid = sid
        self.ping_interval_s, self.ping_timeout_s = ping_interval_s, ping_timeout_s

    def opening(self) -> list[bytes]:
        return [b"0" + json.dumps({
            "sid": self.sid, "upgrades": [], "pingInterval": int(self.ping_interval_s * 1000),
            "pingTimeout": int(self.ping_timeout_s * 1000), "maxPayload": 1_000_000},
            separators=(",", ":")).encode()]

    def receive(self, message: bytes) -> tuple:
        if message[:2] == b"42":
            # `42<ns,><id>["event",X]`, read in one pass over the packet
            start = 2
            if message[2:3] == b"/":
                start = message.find(b",") + 1
            bracket = message.find(b"[", start)
            if bracket < 0 or bracket > start and not message[start:bracket].isdigit():
                return ("invalid", f"an event packet without its array: {message[:40]!r}")
            comma = message.find(b",", bracket)
            if comma > 0 and message.startswith(b'{"op":', comma + 1):
                return ("command", message[comma + 1:-1], [])
            return ("request", message) if bracket > start else ("message",)
        if message == PONG:
            return ("pong",)
        head = message[:2]
        if head == b"40":
            namespace = "/"
            if message[2:3] == b"/":
                cut = message.find(b",")
                namespace = message[2:cut if cut > 0 else None].decode(errors="replace")
            return ("answer", [f'40{_namespace_prefix(namespace)}{{"sid":"{self.sid}"}}'
                               .encode()])
        if head == b"41" or message[:1] == b"1":
            return ("close", 1000, "the client disconnected")
        return ("invalid", f"not a Socket.IO packet: {message[:40]!r}")

    def echo(self, message: bytes) -> bytes | None:
        """`42<id>["event",X]` -> `43<id>[X]` in one pass; anything else (a namespace, no
        id, a command) takes `receive`."""
        if message[:2] != b"42":
            return None
        bracket = message.find(b"[", 2)
        if bracket <= 2 or not message[2:bracket].isdigit():
            return None
        comma = message.find(b",", bracket)
        if comma < 0 or message.startswith(b'{"op":', comma + 1):
            return None
        return b"".join((b"43", message[2:bracket], b"[", message[comma + 1:]))

    def reply(self, request: bytes, ack: bytes | None) -> bytes:
        """`42<ns,><id>["event",X]` -> `43<ns,><id>[X]` (or the ack in X's place)."""
        # (echo mode's requests come by `echo`: this is ack mode's, a namespace's, and a
        # paced or repeating connection's)
        bracket = request.find(b"[")
        if ack is not None:
            return b"".join((b"43", request[2:bracket], b"[", ack, b"]"))
        comma = request.find(b",", bracket)
        if comma < 0:
            return b"".join((b"43", request[2:bracket], b"[null]"))
        return b"".join((b"43", request[2:bracket], b"[", request[comma + 1:]))

    def frame(self, payload: bytes) -> bytes:
        return b'42["message",' + payload + b"]"

    def ping(self) -> bytes:
        return PING

    def invalid_answer(self, why: str) -> list[bytes]:
        return [b'42["error",' + json.dumps({"error": why}).encode() + b"]"]

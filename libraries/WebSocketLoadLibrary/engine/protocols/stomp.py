"""STOMP 1.2 (and 1.1, 1.0) over WebSocket: RabbitMQ Web STOMP, Spring's STOMP brokers,
ActiveMQ, Artemis.

What travels (one frame per WebSocket text message, as STOMP-over-WebSocket servers send;
a frame is a command line, header lines, a blank line, the body and a NUL):

    client -> server   CONNECT accept-version host login passcode heart-beat
    server -> client   CONNECTED version heart-beat          or  ERROR message (+ body)
    client -> server   SUBSCRIBE id destination ack:auto receipt   (the `subscribe` option)
    server -> client   RECEIPT receipt-id                    the subscription is in place
    client -> server   SEND receipt:<id> destination content-type, the user's template as body
    server -> client   RECEIPT receipt-id:<id>               the reply, by its id
    server -> client   MESSAGE subscription destination ...  a delivery (streams, fan-out)
    either             a bare EOL                            a heart-beat
    server -> client   ERROR message (+ body)                the server says no

So a request carries its correlation id in its `receipt` header and its reply is
`RECEIPT\\nreceipt-id:<id>\\n\\n\\0`: matched by slicing the digits between the template's
`reply_prefix` and `id_end`, as Socket.IO's acks are (RabbitMQ sends exactly those bytes,
and an EOL after the NUL). Heart-beats are negotiated in the handshake (the client's
`cx,cy` against the server's `sx,sy`): the client sends an EOL at least every
max(cx, sy) ms (`heartbeat_s`, at half of it for a margin), and the server's EOLs are its
own messages, counted and unanswered. An ERROR after the handshake is the server's report
(`ServerError`): it goes into the step's errors, and the request it was about is lost.

A connection with the `subscribe` option subscribes in its handshake and waits for the
subscription's receipt, so that a fan-out's publishes never start before every subscriber
can get them. Publishes are SENDs without a receipt (`publish_template`).

The frames' grammar is stomp_frames.py; the mock server's side, stomp_server.py.
"""
from __future__ import annotations

import re

from ..plan.messages import MessageTemplate
from .base import NOTHING, Protocol, ProtocolOptionError, ProtocolRefused, ServerError, Session
from .stomp_frames import (HEARTBEAT, RECEIPT_PREFIX, VERSIONS, Frame, FrameError, encode,
                           error_text, escape, negotiated_ms, parse, parse_heart_beat)
from .stomp_server import StompServerSession

SUBPROTOCOLS = ("v12.stomp", "v11.stomp", "v10.stomp")
SUBSCRIPTION_RECEIPT = "subscribed-"    # never digits: no request's receipt looks like it
MESSAGE_PUSH = r"^[\r\n]*MESSAGE\r?\n"  # deliveries on a request's connection are pushes
# a MESSAGE as the mock server frames it (stomp_server.py), its body up to the NUL that
# ends the message: each line of the head has its colon, there is no other content-length,
# the blank line is the first; a CR in a value changes nothing of where the body is
_MOCK_MESSAGE = re.compile(rb"MESSAGE\nsubscription:[^\n]*+\ndestination:[^\n]*+\n"
                           rb"message-id:[^\n]*+\ncontent-length:([0-9]++)\n\n(.*)\0\Z",
                           re.DOTALL).match
# any head whose lines all have a colon (so no line is a bare CR: the blank line is the first)
_PLAIN_MESSAGE = re.compile(rb"MESSAGE(?:\n[^:\n]*:[^\n]*)*\n\n").match


class StompSession(Session):
    """One connection: CONNECT, CONNECTED (heart-beats negotiated), the subscription."""

    def __init__(self, protocol: "Stomp", number: int):
        self.protocol = protocol
        self.number = number
        self.connected = False
        self.subscribed = protocol.subscribe is None
        self.version = None
        self.server = None
        self.heartbeat_s = None
        self.receive_ms = 0         # how often the server promised heart-beats (0: never)
        self.subscription_receipt = f"{SUBSCRIPTION_RECEIPT}{number}"

    def __repr__(self) -> str:
        return f"StompSession(connection {self.number}, connected={self.connected})"

    def start(self) -> list[bytes]:
        return [self.protocol.connect_frame()]

    def handshake(self, message: bytes) -> tuple[list[bytes], bool]:
        try:
            frame = parse(message)
        except FrameError as error:
            raise ProtocolRefused(f"expected a STOMP frame, got {message[:80]!r} ({error}): "
                                  f"is this a STOMP server, and is the path right?") from None
        if frame is None:
            return [], False                # a heart-beat
        protocol = self.protocol
        if frame.command == "ERROR":
            what = ("the connection" if not self.connected
                    else f"the subscription to {protocol.subscribe!r}")
            raise ProtocolRefused(f"the STOMP server refused {what}: "
                                  f"{protocol.redacted(error_text(frame))}")
        if not self.connected:
            if frame.command != "CONNECTED":
                raise ProtocolRefused(f"expected CONNECTED or ERROR, got {frame.command} "
                                      f"({message[:80]!r}): is this a STOMP server?")
            self._connected(frame)
            if self.subscribed:
                return [], True
            return [protocol.subscribe_frame(self.number, self.subscription_receipt)], False
        if frame.command == "RECEIPT" and \
                frame.headers.get("receipt-id") == self.subscription_receipt:
            self.subscribed = True
            return [], True
        return [], False        # a delivery before the subscription's receipt: not counted

    def _connected(self, frame: Frame) -> None:
        self.connected = True
        self.version = frame.headers.get("version", "1.0")
        self.server = frame.headers.get("server")
        send_ms, receive_ms = self.protocol.heart_beat
        try:
            server_send, server_receive = parse_heart_beat(frame.headers.get("heart-beat",
                                                                             "0,0"))
        except ValueError:
            raise ProtocolRefused(f"the STOMP server's CONNECTED frame has a bad heart-beat "
                                  f"header: {frame.headers.get('heart-beat')!r}") from None
        ours = negotiated_ms(send_ms, server_receive)
        # at half the negotiated interval: the server's check then never sees a late one
        self.heartbeat_s = ours / 2000 if ours else None
        self.receive_ms = negotiated_ms(receive_ms, server_send)

    def control(self, message: bytes):
        first = message[:1]
        if first == b"R" or first == b"M":      # RECEIPT, MESSAGE: the application's
            return None
        if first == b"\n" or first == b"\r":
            rest = message.lstrip(b"\r\n")
            if not rest:
                return NOTHING                  # the server's heart-beat
            first = rest[:1]
            if first == b"R" or first == b"M":
                return None
            message = rest
        if message.startswith(b"ERROR"):
            try:
                frame = parse(message)
            except FrameError:
                return None                     # malformed: the correlator's invalid
            return ServerError(f"STOMP ERROR from the server: "
                               f"{self.protocol.redacted(error_text(frame))}")
        if message.startswith(b"CONNECTED"):
            return NOTHING
        return None                             # no STOMP frame: the correlator judges it

    def heartbeat(self) -> bytes:
        return HEARTBEAT


class _Passcode:
    """A passcode that never prints (repr, str, format); `reveal()` gives it."""
    __slots__ = ("_value",)

    def __init__(self, value: str):
        self._value = value

    def reveal(self) -> str:
        return self._value

    def __repr__(self) -> str:
        return "<secret>"

    __str__ = __repr__

    def __format__(self, spec: str) -> str:
        return "<secret>"

    def __bool__(self) -> bool:
        return bool(self._value)


def _revealed(value) -> str | None:
    """A passcode given as text, a SecretText (`reveal()`) or Robot's Secret (`value`)."""
    if value is None:
        return None
    if hasattr(value, "reveal"):
        return str(value.reveal())
    if type(value).__name__ == "Secret" and hasattr(value, "value"):
        return str(value.value)
    return str(value)


class Stomp(Protocol):
    """STOMP 1.2 / 1.1 / 1.0 over WebSocket."""

    name = "stomp"
    title = "STOMP"
    options = {"host": "/", "login": None, "passcode": None, "heart_beat": "10000,10000",
               "destination": "/topic/websocketload", "subscribe": None,
               "content_type": "application/json"}
    subprotocols = SUBPROTOCOLS
    handshakes = True

    def __init__(self, **given):
        super().__init__(**given)
        settings = self.settings
        passcode = _revealed(settings["passcode"])
        self._passcode = passcode
        settings["passcode"] = None if passcode is None else _Passcode(passcode)
        for name in ("host", "login", "destination", "subscribe", "content_type"):
            value = settings[name]
            if value is not None:
                value = settings[name] = str(value)
                if "\0" in value or (name in ("host", "login") and ("\n" in value
                                                                     or "\r" in value)):
                    raise ProtocolOptionError(f"STOMP {name} cannot hold a NUL or a line "
                                              f"break: {value!r}")
        if passcode is not None and ("\0" in passcode or "\n" in passcode or "\r" in passcode):
            raise ProtocolOptionError("STOMP passcode cannot hold a NUL or a line break "
                                      "(CONNECT sends it as it is)")
        try:
            self.heart_beat = parse_heart_beat(str(settings["heart_beat"] or "0,0"))
        except ValueError as error:
            raise ProtocolOptionError(f"STOMP {error}; 0 is none, e.g. heart_beat=10000,10000"
                                      ) from None
        self.destination = settings["destination"]
        if not self.destination:
            raise ProtocolOptionError("STOMP destination must be given, e.g. /topic/load or "
                                      "/queue/load")
        self.subscribe = settings["subscribe"] or None
        self.host = settings["host"]
        self.login = settings["login"]
        self.content_type = settings["content_type"] or None

    def __repr__(self) -> str:
        return f"<Stomp {self.describe()}>"

    server_options = {"heart_beat": "10000,10000", "login": None, "passcode": None}

    @classmethod
    def server_session(cls, number: int, heart_beat: str = "10000,10000",
                       login: str | None = None,
                       passcode: str | None = None) -> StompServerSession:
        return StompServerSession(f"mock{number}", parse_heart_beat(str(heart_beat)),
                                  login, _revealed(passcode))

    def redacted(self, text: str) -> str:
        """A server's words with the passcode taken out, should it echo it (not where it is
        the login too, which is shown anyway, nor a few letters found inside words)."""
        passcode = self._passcode
        if not passcode or len(passcode) < 4 or passcode == self.login:
            return text
        return text.replace(passcode, "<secret>")

    def connect_frame(self) -> bytes:
        headers = [("accept-version", ",".join(VERSIONS)), ("host", self.host)]
        if self.login is not None:
            headers.append(("login", self.login))
        if self._passcode is not None:
            headers.append(("passcode", self._passcode))
        headers.append(("heart-beat", "%d,%d" % self.heart_beat))
        return encode("CONNECT", headers, escaped=False)

    def subscribe_frame(self, number: int, receipt: str) -> bytes:
        return encode("SUBSCRIBE", [("id", str(number)), ("destination", self.subscribe),
                                    ("ack", "auto"), ("receipt", receipt)])

    def session(self, number: int) -> StompSession:
        return StompSession(self, number)

    @staticmethod
    def plain_delivery(message: bytes) -> bytes | None:
        """A MESSAGE asks nothing of the client (subscriptions are `ack:auto`): its body,
        for a frame that starts plainly (`MESSAGE` and LF; None for any other). The mock
        server's frames are read by their shape (0.43 us a delivery), other plain heads by
        one check of every line (`_message_body`)."""
        mock = _MOCK_MESSAGE(message)
        if mock is not None:
            body = mock[2]
            if len(body) == int(mock[1]):
                return body
        return _message_body(message) if message[:8] == b"MESSAGE\n" else None

    @staticmethod
    def payload(message: bytes) -> bytes | None:
        """A MESSAGE frame's body (None for any other frame, or a malformed one), as the
        parser reads it: `plain_delivery`'s reading for a frame that starts plainly, the
        rest (CRLF, leading heart-beats, bad frames) parsed."""
        return (Stomp.plain_delivery(message) if message[:8] == b"MESSAGE\n"
                else _parsed_body(message))

    def _send_head(self, receipt: bool) -> str:
        """The SEND frame's command and headers, as template text (`$` doubled)."""
        headers = [("receipt", "$message_id")] if receipt else []
        headers.append(("destination", escape(self.destination).replace("$", "$$")))
        if self.content_type:
            headers.append(("content-type", escape(self.content_type).replace("$", "$$")))
        return "SEND\n" + "".join(f"{name}:{value}\n" for name, value in headers) + "\n"

    def request_template(self, template: MessageTemplate) -> MessageTemplate:
        return MessageTemplate(self._send_head(True) + _without_id_field(template) + "\0",
                               template.payload_size, template.id_field,
                               r"\nreceipt-id:(\d+)\r?\n", False,
                               _push_text(template, MESSAGE_PUSH),
                               reply_prefix=RECEIPT_PREFIX, id_end="\n")

    def publish_template(self, template: MessageTemplate) -> MessageTemplate:
        return MessageTemplate(self._send_head(False) + template.text + "\0",
                               template.payload_size, template.id_field, template.id_pattern,
                               False, _push_text(template, None))


def _parsed_body(message: bytes) -> bytes | None:
    if not message.lstrip(b"\r\n").startswith(b"MESSAGE"):
        return None                             # a RECEIPT, an ERROR, ...: no parse
    try:
        frame = parse(message)
    except FrameError:
        return None
    return frame.body if frame is not None and frame.command == "MESSAGE" else None


def _push_text(template: MessageTemplate, ours: str | None) -> str | None:
    """The user's push pattern, and deliveries (a regular expression: joined)."""
    theirs = None if template.push is None else template.push
    if theirs is None:
        return ours
    if ours is None or theirs.field is not None:
        return theirs.text
    return f"{ours}|(?:{theirs.text})"


def _without_id_field(template: MessageTemplate) -> str:
    """The user's template as the SEND's body: the receipt carries the id, so the default
    template's leading id field goes (one `$message_id` renders fastest)."""
    head = '{"%s":$message_id,' % template.id_field
    return "{" + template.text[len(head):] if template.text.startswith(head) else template.text


def _message_body(message: bytes) -> bytes | None:
    """The body of a MESSAGE whose head is plain (every line has its colon, so the blank
    line is the first), by its content-length or else its NUL; the rest parsed."""
    head = _PLAIN_MESSAGE(message)
    if head is None:
        return _parsed_body(message)
    start = head.end()
    at = message.find(b"\ncontent-length:", 7, start)
    digits = (message[at + 16:message.find(b"\n", at + 16)].rstrip(b"\r")
              if at >= 0 else b"")          # (a line's CRs at its end are no value's)
    if not digits.isdigit():                # no length: the body ends at the NUL
        end = message.find(b"\0", start)
        return message[start:end] if end >= 0 else None
    end = start + int(digits)
    return message[start:end] if end < len(message) and message[end] == 0 else None

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

`ServerSession` is the mock server's side of the same frames.
"""
from __future__ import annotations

import re

from ..plan.messages import MessageTemplate
from .base import NOTHING, Protocol, ProtocolOptionError, ProtocolRefused, ServerError, Session

VERSIONS = ("1.0", "1.1", "1.2")
SUBPROTOCOLS = ("v12.stomp", "v11.stomp", "v10.stomp")
HEARTBEAT = b"\n"
RECEIPT_PREFIX = "RECEIPT\nreceipt-id:"
SUBSCRIPTION_RECEIPT = "subscribed-"    # never digits: no request's receipt looks like it
SHOWN_BYTES = 200                       # how much of a server's ERROR body a message shows
MESSAGE_PUSH = r"^[\r\n]*MESSAGE\r?\n"  # deliveries on a request's connection are pushes

_ESCAPES = {"\\": "\\\\", "\r": "\\r", "\n": "\\n", ":": "\\c"}
_UNESCAPES = {b"\\\\": b"\\", b"\\r": b"\r", b"\\n": b"\n", b"\\c": b":"}
_ESCAPED = re.compile(rb"\\.")


def escape(value: str) -> str:
    """A header value as STOMP 1.2 frames other than CONNECT/CONNECTED carry it."""
    return "".join(_ESCAPES.get(c, c) for c in value)


def unescape(value: bytes) -> bytes:
    return _ESCAPED.sub(lambda m: _UNESCAPES.get(m.group(0), m.group(0)), value)


class Frame:
    """A parsed frame: `command`, `headers` (the first of a repeated header wins, as 1.2
    says), `body`."""

    __slots__ = ("command", "headers", "body")

    def __init__(self, command: str, headers: dict[str, str], body: bytes):
        self.command, self.headers, self.body = command, headers, body

    def __repr__(self) -> str:
        return f"Frame({self.command!r}, {self.headers!r}, {self.body[:40]!r})"


class FrameError(ValueError):
    """Bytes that are no STOMP frame."""


def encode(command: str, headers: list[tuple[str, str]], body: bytes = b"",
           escaped: bool = True) -> bytes:
    """One frame; header values escaped (STOMP 1.2) unless `escaped` is False (CONNECT,
    CONNECTED: their values are sent as they are)."""
    lines = [command] + [f"{name}:{escape(value) if escaped else value}"
                         for name, value in headers]
    return ("\n".join(lines) + "\n\n").encode() + body + b"\0"


def parse(message: bytes) -> Frame | None:
    """The first frame in a message, leading heart-beat EOLs skipped; None when the message
    is heart-beats alone. Raises FrameError for anything else that is no frame."""
    start = _skip_eols(message, 0)
    if start == len(message):
        return None
    return read_frame(message, start)[0]


def _skip_eols(data: bytes, position: int) -> int:
    size = len(data)
    while position < size and data[position] in (10, 13):     # "\n", "\r"
        position += 1
    return position


def read_frame(data: bytes, start: int) -> tuple[Frame, int]:
    """The frame starting at `start`, and where it ends (after its NUL)."""
    head_end, skip = data.find(b"\n\n", start), 2
    crlf = data.find(b"\n\r\n", start)
    if crlf >= 0 and (head_end < 0 or crlf < head_end):
        head_end, skip = crlf, 3
    if head_end < 0:
        raise FrameError("no blank line after the headers")
    lines = data[start:head_end].split(b"\n")
    command = lines[0].rstrip(b"\r")
    if not command.isalpha() or not command.isupper():
        raise FrameError(f"no STOMP command: {command[:40]!r}")
    name = command.decode()
    raw = name in ("CONNECT", "CONNECTED")   # 1.2: their header values are not escaped
    headers: dict[str, str] = {}
    for line in lines[1:]:
        line = line.rstrip(b"\r")
        key, colon, value = line.partition(b":")
        if not colon:
            raise FrameError(f"a header line without a colon: {line[:40]!r}")
        key_text = (key if raw else unescape(key)).decode(errors="replace")
        if key_text not in headers:
            headers[key_text] = (value if raw else unescape(value)).decode(errors="replace")
    body_start = head_end + skip
    length = headers.get("content-length", "")
    if length.isdigit():
        end = body_start + int(length)
        if end >= len(data) or data[end] != 0:
            raise FrameError(f"the body is not content-length {length} bytes long, then NUL")
    else:
        end = data.find(b"\0", body_start)
        if end < 0:
            raise FrameError("the frame has no NUL at its end")
    return Frame(name, headers, data[body_start:end]), end + 1


def error_text(frame: Frame) -> str:
    """What an ERROR frame says: its `message` header and the start of its body."""
    said = frame.headers.get("message", "").strip()
    body = frame.body[:SHOWN_BYTES].decode(errors="replace").strip()
    if len(frame.body) > SHOWN_BYTES:
        body += "..."
    return ": ".join(part for part in (said, body) if part) or "no reason given"


def negotiated_ms(ours: int, theirs: int) -> int:
    """A heart-beat direction's interval: 0 (none) when either side says 0, else the larger."""
    return 0 if ours == 0 or theirs == 0 else max(ours, theirs)


def parse_heart_beat(value: str) -> tuple[int, int]:
    parts = value.split(",")
    if len(parts) != 2 or not all(p.strip().isdigit() for p in parts):
        raise ValueError(f"heart-beat must be two numbers of milliseconds, 'cx,cy': {value!r}")
    return int(parts[0]), int(parts[1])


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

    def redacted(self, text: str) -> str:
        """A server's words with the passcode taken out, should it echo it."""
        return text.replace(self._passcode, "<secret>") if self._passcode else text

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
    def payload(message: bytes) -> bytes | None:
        """A MESSAGE frame's body (None for any other frame, or a malformed one)."""
        if message[:8] != b"MESSAGE\n":
            stripped = message.lstrip(b"\r\n")
            if not stripped.startswith(b"MESSAGE"):
                return None
            message = stripped
        start = message.find(b"\n\n")
        if start < 0 or message.find(b"\r", 0, start) >= 0:
            try:
                frame = parse(message)       # CRLF lines: the parser's care
            except FrameError:
                return None
            return frame.body if frame is not None and frame.command == "MESSAGE" else None
        start += 2
        at = message.find(b"\ncontent-length:", 0, start)
        if at >= 0:
            value_end = message.find(b"\n", at + 16)
            digits = message[at + 16:value_end].strip()
            if digits.isdigit():
                end = start + int(digits)
                if end < len(message) and message[end] == 0:
                    return message[start:end]
        end = message.find(b"\0", start)
        return message[start:end] if end >= 0 else None

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


class ServerSession:
    """The mock server's side of one STOMP connection, without I/O: for each message from
    the client, what it is and what to answer.

    `heart_beat` is the server's `sx,sy` (ms): it offers to send every sx and wants the
    client's every sy; after CONNECT, `heartbeat_s` says how often the server must send
    `heartbeat()` (None: never) and `expect_s` how long the client may stay silent.
    """

    def __init__(self, session_id: str, heart_beat: tuple[int, int] = (10000, 10000),
                 login: str | None = None, passcode: str | None = None,
                 server: str = "WebSocketLoadLibrary-mock"):
        self.session_id = session_id
        self.heart_beat = heart_beat
        self.login, self._passcode = login, passcode
        self.server = server
        self.connected = False
        self.version = None
        self.heartbeat_s: float | None = None
        self.expect_s: float | None = None
        self.subscriptions: dict[str, str] = {}    # id -> destination

    def __repr__(self) -> str:
        return f"ServerSession({self.session_id!r}, connected={self.connected})"

    def receive(self, message: bytes) -> list[tuple]:
        """What a message from the client holds, frame by frame, each one of:
        ("heartbeat",), ("connected", reply), ("refused", error_frame),
        ("send", destination, body, headers, receipt_frame | None),
        ("subscribe", id, destination, receipt_frame | None),
        ("unsubscribe", id, receipt_frame | None), ("disconnect", receipt_frame | None),
        ("invalid", why, error_frame). After "refused" or "invalid" the server closes."""
        events: list[tuple] = []
        position, size = 0, len(message)
        while position < size:          # bounded: each turn moves past a frame or EOLs
            after = _skip_eols(message, position)
            if after > position:
                events.append(("heartbeat",))
                position = after
                continue
            try:
                frame, position = read_frame(message, position)
            except FrameError as error:
                events.append(("invalid", str(error), self.error("Malformed frame",
                                                                str(error))))
                break
            events.append(self._frame(frame))
            if events[-1][0] in ("invalid", "refused", "disconnect"):
                break
            position = _skip_eols(message, position)  # a frame's trailing EOLs: no beat
        return events

    def _frame(self, frame: Frame) -> tuple:
        command, headers = frame.command, frame.headers
        if command in ("CONNECT", "STOMP"):
            return self._connect(headers)
        if not self.connected:
            return ("invalid", f"{command} before CONNECT",
                    self.error("Not connected", f"{command} before CONNECT"))
        receipt = headers.get("receipt")
        answer = self.receipt(receipt) if receipt is not None else None
        if command == "SEND":
            destination = headers.get("destination")
            if not destination:
                return ("invalid", "SEND without a destination",
                        self.error("Missing destination", "SEND needs a destination header",
                                   receipt))
            return ("send", destination, frame.body, headers, answer)
        if command == "SUBSCRIBE":
            sub_id, destination = headers.get("id"), headers.get("destination")
            if sub_id is None or not destination:
                return ("invalid", "SUBSCRIBE needs id and destination",
                        self.error("Bad SUBSCRIBE", "id and destination are required",
                                   receipt))
            self.subscriptions[sub_id] = destination
            return ("subscribe", sub_id, destination, answer)
        if command == "UNSUBSCRIBE":
            sub_id = headers.get("id", "")
            self.subscriptions.pop(sub_id, None)
            return ("unsubscribe", sub_id, answer)
        if command == "DISCONNECT":
            return ("disconnect", answer)
        if command in ("ACK", "NACK", "BEGIN", "COMMIT", "ABORT"):
            return ("ignored", command, answer)
        return ("invalid", f"unknown command {command}",
                self.error("Bad command", f"Could not interpret command {command}", receipt))

    def _connect(self, headers: dict[str, str]) -> tuple:
        accepted = [v.strip() for v in headers.get("accept-version", "1.0").split(",")]
        common = [v for v in VERSIONS if v in accepted]
        if not common:
            return ("refused", self.error("Bad CONNECT", f"no common version: supported "
                                          f"{','.join(VERSIONS)}"))
        if self.login is not None and (headers.get("login") != self.login
                                       or headers.get("passcode") != self._passcode):
            return ("refused", self.error("Bad CONNECT", f"Access refused for user "
                                          f"'{headers.get('login', '')}'"))
        try:
            client_send, client_receive = parse_heart_beat(headers.get("heart-beat", "0,0"))
        except ValueError as error:
            return ("refused", self.error("Bad CONNECT", str(error)))
        server_send, server_receive = self.heart_beat
        send_ms = negotiated_ms(server_send, client_receive)
        expect_ms = negotiated_ms(server_receive, client_send)
        self.heartbeat_s = send_ms / 1000 if send_ms else None
        self.expect_s = expect_ms / 1000 if expect_ms else None
        self.connected, self.version = True, common[-1]
        return ("connected", encode("CONNECTED", [
            ("version", self.version), ("heart-beat", f"{server_send},{server_receive}"),
            ("session", self.session_id), ("server", self.server)], escaped=False))

    @staticmethod
    def receipt(receipt_id: str) -> bytes:
        return RECEIPT_PREFIX.encode() + escape(receipt_id).encode() + b"\n\n\0"

    def message(self, subscription: str, destination: str, body: bytes, message_id: str,
                content_type: str | None = None) -> bytes:
        headers = [("subscription", subscription), ("destination", destination),
                   ("message-id", message_id)]
        if content_type:
            headers.append(("content-type", content_type))
        headers.append(("content-length", str(len(body))))
        return encode("MESSAGE", headers, body)

    @staticmethod
    def error(message: str, detail: str = "", receipt: str | None = None) -> bytes:
        headers = [("message", message), ("content-type", "text/plain")]
        if receipt is not None:
            headers.append(("receipt-id", receipt))
        body = detail.encode()
        headers.append(("content-length", str(len(body))))
        return encode("ERROR", headers, body)

    @staticmethod
    def heartbeat() -> bytes:
        return HEARTBEAT

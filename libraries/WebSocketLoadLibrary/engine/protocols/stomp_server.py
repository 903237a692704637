"""The mock server's side of STOMP over WebSocket, without I/O (the mock server carries it
out: mockserver/protocol_serving.py; base.py's ServerSession says what `receive` returns).
"""
from __future__ import annotations

import re

import orjson

from .base import ServerSession
from .stomp_frames import (HEARTBEAT, RECEIPT_PREFIX, VERSIONS, FrameError, encode, escape,
                           negotiated_ms, parse_heart_beat, read_frame, skip_eols)

RECEIPT_FORMAT = RECEIPT_PREFIX.encode() + b"%s\n\n\0"     # of the escaped receipt id
SEND_RECEIPT = b"SEND\nreceipt:"       # how the engine's requests begin (stomp.py)
_NO_SHAPE = re.compile(rb"(?!)").match  # matches nothing: no request read in full yet


class StompServerSession(ServerSession):
    """The mock server's side of one STOMP connection (one frame per WebSocket message, as
    STOMP-over-WebSocket clients send):

        CONNECT / STOMP            CONNECTED, heart-beats negotiated; ERROR for a bad login
                                   or no common version (the connection stays, as
                                   RabbitMQ's does, and takes nothing more)
        SEND with a receipt        a request: its reply is the RECEIPT, under the faults
        SEND, body {"op":...}      a push-protocol command (a stream, a publish, ...)
        SEND without a receipt     a publish of its body to the destination's subscribers
        SUBSCRIBE                  a subscription to the destination, and its RECEIPT
        UNSUBSCRIBE, DISCONNECT    left, and their RECEIPT; DISCONNECT without one closes
        a bare EOL                 the client's heart-beat (the keep-alive's answer)

    Heart-beats: the server sends one every max(sx, cy) ms (`ping_interval_s`) and closes a
    client silent for twice max(sy, cx) after it (`ping_timeout_s`). A client that sends
    none (cx 0) gets none either: the mock's keep-alive waits for an answer to each.
    What the server sends on its own is a MESSAGE on the subscription of its destination.
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
        self.subscriptions: dict[str, str] = {}    # destination -> subscription id
        self.delivered = 0
        # the MESSAGE head up to the message id's number, per destination and for the
        # latest subscription (None): framed once, not per delivery
        self._heads: dict[str | None, bytes] = {}
        # the request `receive` read last and its receipt id (escaped): `reply` is asked
        # about that very message right after, and need not read it again
        self._request: bytes | None = None
        self._receipt = b""
        # what a request like the last one read in full looks like (see `_learn`)
        self._shape = _NO_SHAPE
        # until CONNECT says otherwise: the server's own offer
        self.ping_interval_s = heart_beat[0] / 1000 or None
        self.ping_timeout_s = 2 * heart_beat[1] / 1000 or None

    def __repr__(self) -> str:
        return f"StompServerSession({self.session_id!r}, connected={self.connected})"

    def echo(self, message: bytes) -> bytes | None:
        """A request's RECEIPT when it has the shape `_learn` kept, else None."""
        match = self._shape(message)
        return None if match is None else RECEIPT_FORMAT % match[1]

    def _learn(self, request: bytes, headers: dict[str, str]) -> None:
        """Keep the shape of a request just read in full, for the requests alike to be read
        by one regular expression: its head but for the receipt id (digits, which need no
        escaping), then a body that is no push command and ends at the only NUL after it.
        Such a request says what this one said (nothing else in its head differs). Only a
        head it may take as it is: the receipt first and digits, no CR (the blank line is
        then the first LF LF), no content-length (the body then ends at the NUL)."""
        if not request.startswith(SEND_RECEIPT) or "content-length" in headers:
            return
        end, head_end = request.find(b"\n", 13), request.find(b"\n\n")
        if request[13:end].isdigit() and request.find(b"\r", 0, head_end) < 0:
            self._shape = re.compile(SEND_RECEIPT + rb"([0-9]++)"
                                     + re.escape(request[end:head_end + 2])
                                     + rb'(?!\{"op":)[^\0]*+\0\Z').match

    def receive(self, message: bytes) -> tuple:
        match = self._shape(message)
        if match is not None:
            self._request, self._receipt = message, match[1]
            return ("request", message)
        start = skip_eols(message, 0)
        if start == len(message):
            return ("pong",)                    # the client's heart-beat
        try:
            frame, end = read_frame(message, start)
        except FrameError as error:
            return ("invalid", f"not a STOMP frame: {error}")
        if skip_eols(message, end) != len(message):
            return ("invalid", "more than one frame in a message (the mock server takes "
                               "one frame per WebSocket message)")
        command, headers = frame.command, frame.headers
        if command in ("CONNECT", "STOMP"):
            return ("answer", [self._connect(headers)])
        if not self.connected:
            return ("invalid", f"{command} before a successful CONNECT")
        receipt = headers.get("receipt")
        destination = headers.get("destination", "")
        answers = [self.receipt(receipt)] if receipt is not None else []
        if command == "SEND":
            if not destination:
                return ("invalid", "SEND without a destination header")
            if frame.body.startswith(b'{"op":'):
                return ("command", frame.body, answers)
            if receipt is not None:             # its RECEIPT is `reply`'s, under the faults
                self._request, self._receipt = message, escape(receipt).encode()
                self._learn(message, headers)
                return ("request", message)
            return ("command", orjson.dumps({"op": "publish", "topic": destination,
                                             "body": frame.body.decode(errors="replace")}),
                    [])
        if command == "SUBSCRIBE":
            sub_id = headers.get("id")
            if sub_id is None or not destination:
                return ("invalid", "SUBSCRIBE needs an id and a destination header")
            self.subscriptions[destination] = sub_id
            self._heads.clear()
            return ("command", orjson.dumps({"op": "subscribe", "topic": destination}),
                    answers)
        if command == "UNSUBSCRIBE":
            sub_id = headers.get("id")
            left = [d for d, s in self.subscriptions.items() if s == sub_id]
            for gone in left:
                del self.subscriptions[gone]
            self._heads.clear()
            if not left:
                return ("answer", answers)
            return ("command", orjson.dumps({"op": "unsubscribe", "topic": left[0]}), answers)
        if command == "DISCONNECT":
            return ("answer", answers) if answers else ("close", 1000, "the client disconnected")
        if command in ("ACK", "NACK", "BEGIN", "COMMIT", "ABORT"):
            return ("answer", answers)
        return ("invalid", f"unknown STOMP command {command}")

    def _connect(self, headers: dict[str, str]) -> bytes:
        accepted = [v.strip() for v in headers.get("accept-version", "1.0").split(",")]
        common = [v for v in VERSIONS if v in accepted]
        if not common:
            return self.error("Bad CONNECT", f"no common version: supported "
                                             f"{','.join(VERSIONS)}")
        if self.login is not None and (headers.get("login") != self.login
                                       or headers.get("passcode") != self._passcode):
            return self.error("Bad CONNECT",
                              f"Access refused for user '{headers.get('login', '')}'")
        try:
            client_send, client_receive = parse_heart_beat(headers.get("heart-beat", "0,0"))
        except ValueError as error:
            return self.error("Bad CONNECT", str(error))
        server_send, server_receive = self.heart_beat
        send_ms = negotiated_ms(server_send, client_receive)
        expect_ms = negotiated_ms(server_receive, client_send)
        self.ping_interval_s = send_ms / 1000 if send_ms and expect_ms else None
        self.ping_timeout_s = 2 * expect_ms / 1000 if expect_ms else None
        self.connected, self.version = True, common[-1]
        return encode("CONNECTED", [
            ("version", self.version), ("heart-beat", f"{server_send},{server_receive}"),
            ("session", self.session_id), ("server", self.server)], escaped=False)

    def reply(self, request: bytes, ack: bytes | None) -> bytes:
        """A SEND's RECEIPT (the mock's ack has no place in one: a receipt carries no body)."""
        if request is self._request:
            return RECEIPT_FORMAT % self._receipt
        frame, _ = read_frame(request, skip_eols(request, 0))
        return self.receipt(frame.headers.get("receipt", ""))

    def frame(self, payload: bytes) -> bytes:
        """A publish's body on the subscription of its destination; the mock's answers to
        (un)subscribing are a heart-beat (the RECEIPT said it); anything else the server
        sends on its own a MESSAGE on the connection's latest subscription."""
        destination = None                      # the latest subscription's
        if payload.startswith(b'{"op":'):
            if payload.startswith(b'"publish","topic":', 6):
                published = orjson.loads(payload)
                destination = published["topic"]
                payload = published.get("body", "").encode()
            elif payload.startswith((b'"subscribed"', b'"unsubscribed"'), 6):
                return HEARTBEAT
        head = self._heads.get(destination)
        if head is None:
            head = self._message_head(destination)
        self.delivered += 1
        return b"%s%d\ncontent-length:%d\n\n%s\0" % (head, self.delivered, len(payload),
                                                       payload)

    def _message_head(self, destination: str | None) -> bytes:
        """`message`'s frame up to the message id's number, for a delivery to `destination`
        (None: on the latest subscription)."""
        where = destination
        if where is None:
            where = next(reversed(self.subscriptions), "/topic/mock")
        head = self._heads[destination] = (
            f"MESSAGE\nsubscription:{escape(self.subscriptions.get(where, '0'))}\n"
            f"destination:{escape(where)}\nmessage-id:{escape(self.session_id)}-").encode()
        return head

    def ping(self) -> bytes:
        return HEARTBEAT

    def invalid_answer(self, why: str) -> list[bytes]:
        return [self.error("Bad frame", why)]

    @staticmethod
    def receipt(receipt_id: str) -> bytes:
        return RECEIPT_PREFIX.encode() + escape(receipt_id).encode() + b"\n\n\0"

    @staticmethod
    def message(subscription: str, destination: str, body: bytes, message_id: str,
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

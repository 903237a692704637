"""The mock server's side of GraphQL over WebSocket (graphql-transport-ws), without I/O
(the mock server carries it out: mockserver/protocol_serving.py; base.py's ServerSession
says what `receive` returns). The messages are graphql_ws_messages.py's.
"""
from __future__ import annotations

import orjson

from .base import ServerSession
from .graphql_ws_messages import ACK, PING, PONG, SUBSCRIPTION_ID, message_kind

_VARIABLES = b',"variables":'
_COMMAND = b'"variables":{"op":'
_SUBSCRIBING_OPS = ("subscribe", "stream")   # push-protocol commands that deliver later


class GraphQLWSServerSession(ServerSession):
    """The mock server's side of one graphql-transport-ws connection, as the graphql-ws
    server behaves (its close codes for bad input; nothing said first):

        connection_init            connection_ack; with a `token`, a payload without it
                                   closes with 4401, a wrong one with 4403 Forbidden; a
                                   second one closes with 4429
        subscribe                  a request: its reply is the `next` of its operation id
                                   with the variables echoed as `data` (or the mock's ack),
                                   and `after_reply` is the operation's `complete`; before
                                   the ack it closes with 4401
        subscribe, variables       a push-protocol command ({"op":"stream",...}); a
        {"op":...}                 subscribe or stream keeps its operation id, and what the
                                   server then sends on its own (`frame`) is a `next` of it;
                                   any other command (a publish) is completed at once
        complete, pong             passed over (the client ended an operation; answered
                                   the server's ping)
        ping                       pong
        anything else              closed with 4400, as graphql-ws closes it

    Pings: with `ping_interval_s` the server pings that often and closes a client silent
    for `ping_timeout_s` (graphql-ws' own server pings with WebSocket ping frames instead).
    """

    def __init__(self, ping_interval_s: float = 0.0, ping_timeout_s: float = 0.0,
                 token: str = ""):
        self.ping_interval_s = ping_interval_s or None
        self.ping_timeout_s = ping_timeout_s or None
        self.token = token
        self.initialised = self.acknowledged = False
        self.delivering = SUBSCRIPTION_ID.encode()   # the operation deliveries are framed in

    def receive(self, message: bytes) -> tuple:
        kind, op = message_kind(message)
        if kind == b"subscribe":
            if not self.acknowledged:
                return ("close", 4401, "Unauthorized")
            if not op:
                return ("close", 4400, "Invalid message received: a subscribe needs its id")
            if message.find(_COMMAND) < 0:
                return ("request", message)
            return self._command(message, op)
        if kind == b"connection_init":
            return self._init(message)
        if kind == b"ping":
            return ("answer", [PONG])
        if kind == b"pong":
            return ("pong",)
        if kind == b"complete":
            return ("answer", [])
        what = ("not a graphql-transport-ws message" if kind is None
                else f"unexpected type {kind.decode(errors='replace')!r}")
        return ("close", 4400, f"Invalid message received: {what}")

    def _init(self, message: bytes) -> tuple:
        if self.initialised:
            return ("close", 4429, "Too many initialisation requests")
        self.initialised = True
        if self.token:
            try:
                given = (orjson.loads(message).get("payload") or {}).get("token")
            except (ValueError, AttributeError):
                given = None
            if given is None:
                return ("close", 4401, "Unauthorized: connection_init carries no token")
            if given != self.token:
                return ("close", 4403, "Forbidden")
        self.acknowledged = True
        return ("answer", [ACK])

    def _command(self, message: bytes, op: bytes) -> tuple:
        command = _variables(message)
        try:
            name = orjson.loads(command).get("op")
        except (ValueError, AttributeError):
            return ("close", 4400, "Invalid message received: its variables are no JSON "
                                   "object")
        if name in _SUBSCRIBING_OPS:
            self.delivering = op
            return ("command", command, [])
        return ("command", command, [_complete(op)])

    def reply(self, request: bytes, ack: bytes | None) -> bytes:
        """`{"id":"7","type":"subscribe","payload":{...,"variables":V}}` ->
        `{"id":"7","type":"next","payload":{"data":V}}` (the ack in V's place)."""
        _, op = message_kind(request)
        data = _variables(request) if ack is None else ack
        return b'{"id":"' + (op or b"") + b'","type":"next","payload":{"data":' + data + b"}}"

    @staticmethod
    def after_reply(request: bytes) -> list[bytes]:
        """What follows a request's reply: its operation's `complete`."""
        _, op = message_kind(request)
        return [_complete(op or b"")]

    def frame(self, payload: bytes) -> bytes:
        return b'{"id":"' + self.delivering + b'","type":"next","payload":{"data":' + payload + b"}}"

    def ping(self) -> bytes:
        return PING


def _complete(op: bytes) -> bytes:
    return b'{"id":"' + op + b'","type":"complete"}'


def _variables(message: bytes) -> bytes:
    """A subscribe's variables (JSON, `null` when there are none): sliced where they end
    the message, as this library's client writes them, else parsed. A subscribe's payload
    holds query, operationName, variables and extensions: when none of the other names
    follows the variables, what follows them is the payload's and the message's end."""
    at = message.find(_VARIABLES)
    if at > 0 and message.endswith(b"}}"):
        candidate = message[at + len(_VARIABLES):-2]
        if (candidate[:1] == b"{" and b'"query":' not in candidate
                and b'"operationName":' not in candidate and b'"extensions":' not in candidate):
            return candidate
    try:
        variables = orjson.loads(message).get("payload", {}).get("variables")
    except (ValueError, AttributeError):
        return b"null"
    return orjson.dumps(variables)

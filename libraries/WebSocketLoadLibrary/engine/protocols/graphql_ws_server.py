"""The mock server's side of GraphQL over WebSocket (graphql-transport-ws), without I/O
(the mock server carries it out: mockserver/protocol_serving.py; base.py's ServerSession
says what `receive` returns). The messages are graphql_ws_messages.py's.
"""
from __future__ import annotations

import re

import orjson

from .base import ServerSession
from .graphql_ws_messages import (ACK, BACKSLASH, PING, PONG, QUICK, SUBSCRIBE_AFTER_ID,
                                  SUBSCRIPTION_ID, message_kind)

_NEXT_DATA = b'","type":"next","payload":{"data":'
_COMPLETE_AFTER_ID = b'","type":"complete"}'
_QUERY = b'"query":"'
_THEN_VARIABLES = b',"variables":{'
# what follows a request's id up to its variables, for an empty query: a head that holds
# (see GraphQLWSServerSession._head) until a request teaches the session its own
_EMPTY_QUERY_HEAD = SUBSCRIBE_AFTER_ID + _QUERY + b'"' + _THEN_VARIABLES
# a name of the payload's after the variables: they do not end it (nor are they the
# variables, when one of the names is theirs: that message is parsed)
_NAME_AFTER = re.compile(rb'"(?:query|operationName|variables|extensions)":').search
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
        # the request `receive` just read and its operation id: `reply` and `after_reply`
        # follow at once with the same object, and find its id without reading it again
        self._request, self._op = None, b""
        # the bytes between a request's id and its variables' `{`, as the last request
        # written as this library's client writes it had them (`","type":"subscribe",
        # "payload":{"query":"...","variables":{`): a client sends one query, so the next
        # request is read by comparing them, not by finding the query's end again
        self._head, self._skip = _EMPTY_QUERY_HEAD, len(_EMPTY_QUERY_HEAD) - 1

    def echo(self, message: bytes) -> bytes | None:
        """The echo mode's fast path: a request written as this library's client writes
        it (`{"id":"7","type":"subscribe","payload":{"query":"...","variables":{V}}}`)
        read once, and its `next` made from its own bytes; None for anything else, which
        `receive` reads (the answer is the same: `receive` says "request" and `reply`
        gives these bytes)."""
        if message[:7] == QUICK and self.acknowledged:
            end = message.find(b'"', 7)
            if end > 7 and message[end - 1] != BACKSLASH:
                # _variables_at, inlined: this runs for every request
                start = (end + self._skip if message.startswith(self._head, end)
                         else self._learn(message, end))
                if (start > 0 and message.endswith(b"}}")
                        and _NAME_AFTER(message, start) is None
                        and message[start + 1:start + 6] != b'"op":'):    # not a command
                    self._request = message
                    self._op = op = message[7:end]
                    return b'{"id":"' + op + _NEXT_DATA + message[start:]
        return None

    def _variables_at(self, message: bytes, end: int) -> int:
        """Where the variables of a request whose id ends at `end` start, when they end
        the message (`V}}`) and it is written as this library's client writes it; else -1."""
        start = (end + self._skip if message.startswith(self._head, end)
                 else self._learn(message, end))
        if start > 0 and message.endswith(b"}}") and _NAME_AFTER(message, start) is None:
            return start
        return -1

    def _learn(self, message: bytes, end: int) -> int:
        """Where the variables' `{` is in a request whose head is not the last one's,
        else -1; the head is kept for the next requests."""
        if not message.startswith(SUBSCRIBE_AFTER_ID, end):
            return -1
        start = _after_query(message, end + len(SUBSCRIBE_AFTER_ID))
        if start > 0:
            self._head, self._skip = message[end:start + 1], start - end
        return start

    def receive(self, message: bytes) -> tuple:
        # a subscribe written id first: sliced, once; anything else (another order,
        # spaces, an escaped quote) is message_kind's
        if message[:7] == QUICK and self.acknowledged:
            end = message.find(b'"', 7)
            if (end > 7 and message.startswith(SUBSCRIBE_AFTER_ID, end)
                    and message[end - 1] != BACKSLASH and message.find(_COMMAND, end) < 0):
                self._request, self._op = message, message[7:end]
                return ("request", message)
        kind, op = message_kind(message)
        if kind == b"subscribe":
            if not self.acknowledged:
                return ("close", 4401, "Unauthorized")
            if not op:
                return ("close", 4400, "Invalid message received: a subscribe needs its id")
            if message.find(_COMMAND) < 0:
                return ("request", message)
            return self._command(message, _written_op(message))
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
        if request is self._request:     # read by `receive` just now: id first
            op = self._op
            if ack is None:
                start = self._variables_at(request, len(QUICK) + len(op))
                if start > 0:   # the variables end the request as they end the reply
                    return b'{"id":"' + op + _NEXT_DATA + request[start:]
        else:
            op = _written_op(request)
        data = _variables(request) if ack is None else ack
        return b'{"id":"' + op + _NEXT_DATA + data + b"}}"

    def after_reply(self, request: bytes) -> list[bytes]:
        """What follows a request's reply: its operation's `complete`."""
        return [_complete(self._op if request is self._request else _written_op(request))]

    def frame(self, payload: bytes) -> bytes:
        return b'{"id":"' + self.delivering + _NEXT_DATA + payload + b"}}"

    def ping(self) -> bytes:
        return PING


def _complete(op: bytes) -> bytes:
    return b'{"id":"' + op + _COMPLETE_AFTER_ID


def _written_op(message: bytes) -> bytes:
    """A request's operation id as JSON writes it between its quotes, to be written back
    (message_kind's is the text itself when it parsed the message: an escaped quote in it
    would end the id early)."""
    try:
        op = orjson.loads(message).get("id")
    except (ValueError, AttributeError):
        op = None
    if type(op) is not str:     # sliced from a message no parser reads
        return message_kind(message)[1] or b""
    return orjson.dumps(op)[1:-1]


def _variables(message: bytes) -> bytes:
    """A subscribe's variables (JSON, `null` when there are none): parsed (a request's
    hot path slices them instead: GraphQLWSServerSession._variables_at)."""
    try:
        variables = orjson.loads(message).get("payload", {}).get("variables")
    except (ValueError, AttributeError):
        return b"null"
    return orjson.dumps(variables)


def _after_query(message: bytes, at: int) -> int:
    """Where the variables' `{` is when the payload (from `at`) starts as
    `"query":"...","variables":{`, else -1. The query's closing quote is the first one
    not escaped (a string's own quotes are)."""
    if not message.startswith(_QUERY, at):
        return -1
    close = message.find(b'"', at + len(_QUERY))
    while close > 0 and message[close - 1] == BACKSLASH:
        run = close - 1             # an even run of backslashes escapes each other
        while message[run - 1] == BACKSLASH:
            run -= 1
        if (close - run) % 2 == 0:
            break
        close = message.find(b'"', close + 1)
    if close < 0 or not message.startswith(_THEN_VARIABLES, close + 1):
        return -1
    return close + len(_THEN_VARIABLES)

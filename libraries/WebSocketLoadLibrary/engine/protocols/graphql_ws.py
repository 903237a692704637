"""GraphQL over WebSocket: the `graphql-transport-ws` subprotocol (npm `graphql-ws` 5 and 6,
Apollo Server's subscriptions, and the servers that follow its spec).

What travels (JSON text messages; the operation id is a string the client chooses):

    client -> server   {"type":"connection_init","payload":{...}}     (a token, maybe)
    server -> client   {"type":"connection_ack"}        or a close: 4400 bad request,
                       4401 unauthorized, 4403 forbidden, 4406 subprotocol, 4408 init
                       timeout, 4429 too many initialisation requests, 4500 internal
    client -> server   {"id":"7","type":"subscribe","payload":{"query":...,"variables":...}}
    server -> client   {"id":"7","type":"next","payload":{"data":...}}     the result (a
                       subscription: one per event)
    server -> client   {"id":"7","type":"complete"}     the operation is over
    server -> client   {"id":"7","type":"error","payload":[{"message":...}]}   the operation
                       failed (validation, or the server's own refusal); no complete follows
    either             {"type":"ping"} -> {"type":"pong"}

So a request is a `subscribe` whose operation id is the message id, and its reply is the
`next`: the request's result, found by that id. The graphql-ws server sends `id` first
(`{"id":"7","type":"next",...`), but an operation's `error` starts the same way, so replies
cannot be told from errors by slicing the id out (the correlator's fast path looks at
nothing past the id): replies are found by a pattern that reads the type too
(`REPLY_PATTERN`), and an `error` is an invalid reply (its request is lost at its timeout,
never counted as delivered). The `complete` after each `next` is the protocol's own message:
passed over and counted, never unmatched.

Streams and fan-out: with the `subscription` option the session subscribes as the last step
of its handshake, under an operation id of its own (`SUBSCRIPTION_ID`, no digits: outside
the message ids), so a reconnect subscribes again; its `next` messages are the deliveries,
and `payload()` is the `data` inside them. A fan-out's publish is the `query` (a mutation)
under the id `p<message id>`; its result and complete on the publisher's connection are the
protocol's own.

`GraphQLWSServerSession` is the mock server's side of the same messages.
"""
from __future__ import annotations

import json
import math

import orjson

from ..plan.messages import MessageTemplate
from .base import NOTHING, Protocol, ProtocolOptionError, ProtocolRefused, Session

SUBPROTOCOL = "graphql-transport-ws"
SUBSCRIPTION_ID = "s"           # the session's own subscription (streams, fan-out)
PUBLISH_PREFIX = "p"            # a fan-out publish's operation id: p<message id>
DEFAULT_QUERY = "{ __typename }"   # any GraphQL schema answers it
PING = b'{"type":"ping"}'
PONG = b'{"type":"pong"}'
# a request's reply: its `next`, the id first as graphql-ws sends it (spaces allowed)
REPLY_PATTERN = r'\A\{\s*"id"\s*:\s*"(\d+)"\s*,\s*"type"\s*:\s*"next"'
# on a request step, the deliveries of the session's own subscription are pushes
SUBSCRIPTION_PUSH = r'\A\{\s*"id"\s*:\s*"%s"' % SUBSCRIPTION_ID
SHOWN_BYTES = 120

CLOSE_CODES = {4400: "bad request", 4401: "unauthorized", 4403: "forbidden",
               4406: "subprotocol not acceptable", 4408: "connection initialisation timeout",
               4409: "subscriber already exists", 4429: "too many initialisation requests",
               4500: "internal server error"}

_QUICK = b'{"id":"'
_TYPE_AFTER_ID = b'","type":"'


def message_kind(message: bytes) -> tuple[bytes | None, bytes | None]:
    """(type, operation id) of a graphql-transport-ws message, either None where it has
    none; (None, None) when it is not one (not JSON, not an object, no string type).
    Sliced where the message is written as graphql-ws writes it, else parsed."""
    if message[:7] == _QUICK:
        end = message.find(b'"', 7)
        if end > 7 and message[end:end + 10] == _TYPE_AFTER_ID:
            close = message.find(b'"', end + 10)
            if close > 0:
                return message[end + 10:close], message[7:end]
    elif message[:9] == b'{"type":"':
        close = message.find(b'"', 9)
        if close > 9 and message[close + 1:] == b"}":      # {"type":"ping"}
            return message[9:close], None
    try:
        data = orjson.loads(message)
    except ValueError:
        return None, None
    if type(data) is not dict or type(data.get("type")) is not str:
        return None, None
    op = data.get("id")
    return data["type"].encode(), (op.encode() if type(op) is str else None)


class GraphQLWSSession(Session):
    """One connection: connection_init until connection_ack (then the subscription, if
    any); pings answered, pongs and completes passed over; results and deliveries are the
    application's."""

    def __init__(self, protocol: "GraphQLWS"):
        self.init = protocol.init_message()
        self.subscribe = protocol.subscribe_message()
        self.heartbeat_s = protocol.ping_interval_s
        self._secrets = protocol.secrets

    def start(self) -> list[bytes]:
        return [self.init]

    def handshake(self, message: bytes) -> tuple[list[bytes], bool]:
        kind, _ = message_kind(message)
        if kind == b"connection_ack":
            return ([self.subscribe] if self.subscribe is not None else []), True
        if kind == b"ping":
            return [PONG], False
        if kind == b"pong":
            return [], False
        if kind == b"error":
            raise ProtocolRefused(f"the GraphQL server refused connection_init: "
                                  f"{_error_text(message, self._secrets)}")
        raise ProtocolRefused(
            f"expected connection_ack, got {_shown(message, self._secrets)}: is this a "
            f"GraphQL over WebSocket server speaking {SUBPROTOCOL} (graphql-ws), and is "
            f"the path right? (the older subscriptions-transport-ws protocol is not spoken)")

    def control(self, message: bytes) -> bytes | None:
        kind, op = message_kind(message)
        if kind == b"next":
            # a publish's own result is the protocol's; a reply or a delivery is not
            return NOTHING if op is not None and op[:1] == b"p" else None
        if kind == b"complete" or kind == b"pong" or kind == b"connection_ack":
            return NOTHING
        if kind == b"ping":
            return PONG
        return None     # an operation's error, or no graphql-transport-ws message: the
                        # correlator judges it (an invalid reply)

    def heartbeat(self) -> bytes:
        return PING


def _shown(message: bytes, secrets: tuple[bytes, ...] = ()) -> str:
    shown = message[:SHOWN_BYTES]
    for secret in secrets:
        shown = shown.replace(secret, b"***")
    return repr(shown.decode(errors="replace"))


def _error_text(message: bytes, secrets: tuple[bytes, ...] = ()) -> str:
    try:
        errors = orjson.loads(message).get("payload")
        if isinstance(errors, list) and errors and isinstance(errors[0], dict):
            return "; ".join(str(e.get("message", e)) for e in errors)[:SHOWN_BYTES * 2]
    except (ValueError, AttributeError):
        pass
    return _shown(message, secrets)


def close_meaning(code: int | None) -> str:
    """What a graphql-transport-ws close code means ("" when it is none of its own)."""
    return CLOSE_CODES.get(code, "") if code is not None else ""


class GraphQLWS(Protocol):
    """GraphQL over WebSocket, graphql-transport-ws (npm graphql-ws 5 and 6, Apollo)."""

    name = "graphql-ws"
    title = "GraphQL over WebSocket"
    options = {"init_payload": None, "query": DEFAULT_QUERY, "subscription": None,
               "ping_interval": None}
    subprotocols = (SUBPROTOCOL,)
    handshakes = True

    def __init__(self, **given):
        super().__init__(**given)
        settings = self.settings
        self.init_payload = _json_object(settings["init_payload"])
        self.query = _operation(settings["query"], "query") or DEFAULT_QUERY
        self.subscription = _operation(settings["subscription"], "subscription")
        interval = settings["ping_interval"]
        try:
            interval = None if interval in (None, "", 0, "0") else float(interval)
        except (TypeError, ValueError):
            raise ProtocolOptionError(f"graphql-ws ping_interval must be seconds, got "
                                      f"{interval!r}") from None
        if interval is not None and not (interval > 0 and math.isfinite(interval)):
            raise ProtocolOptionError(f"graphql-ws ping_interval must be positive seconds, "
                                      f"got {interval!r}")
        self.ping_interval_s = interval
        self.secrets = _secrets_of(self.init_payload)

    def init_message(self) -> bytes:
        if self.init_payload is None:
            return b'{"type":"connection_init"}'
        return b'{"type":"connection_init","payload":' + orjson.dumps(self.init_payload) + b"}"

    def subscribe_message(self) -> bytes | None:
        if self.subscription is None:
            return None
        return orjson.dumps({"id": SUBSCRIPTION_ID, "type": "subscribe",
                             "payload": {"query": self.subscription}})

    def session(self, number: int) -> GraphQLWSSession:
        return GraphQLWSSession(self)

    @staticmethod
    def payload(message: bytes) -> bytes | None:
        """The `data` of a `next`: `{"id":"s","type":"next","payload":{"data":X}}` -> X."""
        kind, _ = message_kind(message)
        if kind != b"next":
            return None
        try:
            data = orjson.loads(message)["payload"]["data"]
        except (ValueError, KeyError, TypeError):
            return b""
        return orjson.dumps(data)

    def request_template(self, template: MessageTemplate) -> MessageTemplate:
        """`{"id":"<id>","type":"subscribe","payload":{"query":Q,"variables":T}}`: the
        user's template is the operation's variables (the default template's leading id
        field goes: the operation id carries it); the reply is the `next` of that id."""
        text = self._subscribe_text('"$message_id"', _without_id_field(template))
        push = _push_text(template)
        if push is None and self.subscription is not None:
            push = SUBSCRIPTION_PUSH    # the pool's own subscription: its deliveries
        return MessageTemplate(text, template.payload_size, "id", REPLY_PATTERN,
                               False, push)

    def publish_template(self, template: MessageTemplate) -> MessageTemplate:
        """The `query` (a mutation publishing to the subscribers' topic) with the user's
        template, id and all, as its variables: deliveries carry the id inside."""
        text = self._subscribe_text(f'"{PUBLISH_PREFIX}$message_id"', template.text)
        return MessageTemplate(text, template.payload_size, template.id_field,
                               template.id_pattern, False, _push_text(template))

    def _subscribe_text(self, op_id: str, variables: str) -> str:
        query = json.dumps(self.query).replace("$", "$$")   # GraphQL's $ are no placeholders
        return ('{"id":' + op_id + ',"type":"subscribe","payload":{"query":' + query
                + ',"variables":' + variables + "}}")

    def describe(self) -> str:
        shown = [f"query={self.query!r}"]
        if self.subscription:
            shown.append(f"subscription={self.subscription!r}")
        if self.ping_interval_s:
            shown.append(f"ping_interval={self.ping_interval_s:g} s")
        if self.init_payload is not None:
            shown.append("init_payload=(given, not shown)")
        return f"{self.title} ({SUBPROTOCOL}; {', '.join(shown)})"

    def __repr__(self) -> str:
        return f"GraphQLWS({self.describe()})"


def _json_object(value) -> dict | None:
    """connection_init's payload: a JSON object or its text (its contents never shown)."""
    if value is None or value == "":
        return None
    if isinstance(value, (str, bytes)):
        try:
            value = json.loads(value)
        except ValueError:
            raise ProtocolOptionError("graphql-ws init_payload must be a JSON object; the "
                                      "text given is not JSON (not shown: it may hold a "
                                      "secret)") from None
    if not isinstance(value, dict):
        raise ProtocolOptionError(f"graphql-ws init_payload must be a JSON object, got a "
                                  f"{type(value).__name__} (not shown: it may hold a secret)")
    return value


def _secrets_of(payload) -> tuple[bytes, ...]:
    """The payload's string values, to be masked wherever a message is shown."""
    found: list[bytes] = []

    def walk(value):
        if isinstance(value, dict):
            for item in value.values():
                walk(item)
        elif isinstance(value, list):
            for item in value:
                walk(item)
        elif isinstance(value, str) and len(value) >= 3:
            found.append(value.encode())
    walk(payload)
    return tuple(sorted(set(found), key=len, reverse=True))


def _operation(value, what: str) -> str | None:
    if value is None:
        return None
    text = str(value).strip()
    if not text:
        return None
    if text.count("{") != text.count("}"):
        raise ProtocolOptionError(f"graphql-ws {what} has unbalanced braces: {text[:80]!r}")
    return text


def _push_text(template: MessageTemplate):
    return None if template.push is None else template.push.text


def _without_id_field(template: MessageTemplate) -> str:
    """The user's template as the variables: the operation id carries the message id, so
    the default template's leading id field goes (one `$message_id` renders fastest)."""
    head = '{"%s":$message_id,' % template.id_field
    return "{" + template.text[len(head):] if template.text.startswith(head) else template.text

"""GraphQL over WebSocket: the `graphql-transport-ws` subprotocol (npm `graphql-ws` 5 and 6,
Apollo Server's subscriptions, and the servers that follow its spec); its messages are in
graphql_ws_messages.py.

So a request is a `subscribe` whose operation id is the message id, and its reply is the
`next`: the request's result, found by that id. The graphql-ws server sends `id` first
(`{"id":"7","type":"next",...`), but an operation's `error` starts the same way, so a
reply is read by slicing only where the type after the id says `next` (the template's
`id_end`), and by a pattern that reads the type too (`REPLY_PATTERN`) otherwise; an `error`
is an invalid reply (its request is lost at its timeout, never counted as delivered). The
`complete` after each `next` is the protocol's own message: passed over and counted, never
unmatched (the correlator asks `finished` first: it follows every request).

Streams and fan-out: with the `subscription` option the session subscribes as the last step
of its handshake, under an operation id of its own (`SUBSCRIPTION_ID`, no digits: outside
the message ids), so a reconnect subscribes again; its `next` messages are the deliveries,
and `payload()` is the `data` inside them. A fan-out's publish is the `query` (a mutation)
under the id `p<message id>`; its result and complete on the publisher's connection are the
protocol's own.

`GraphQLWSServerSession` (graphql_ws_server.py) is the mock server's side of the same
messages.
"""
from __future__ import annotations

import json
import math
import re

import orjson

from ..plan.messages import MessageTemplate
from .base import NOTHING, Protocol, ProtocolOptionError, ProtocolRefused, ServerError, Session
from .graphql_ws_messages import (NEXT_AFTER_ID, PING, PONG, PUBLISH_PREFIX, QUICK,
                                  SUBPROTOCOL, SUBSCRIPTION_ID, error_text, message_kind,
                                  secrets_of, shown)
from .graphql_ws_server import GraphQLWSServerSession

DEFAULT_QUERY = "{ __typename }"   # any GraphQL schema answers it
# a request's reply: its `next`, the id first as graphql-ws sends it (spaces allowed)
REPLY_PATTERN = r'\A\{\s*"id"\s*:\s*"(\d+)"\s*,\s*"type"\s*:\s*"next"'
# on a request step, the deliveries of the session's own subscription are pushes
SUBSCRIPTION_PUSH = r'\A\{\s*"id"\s*:\s*"%s"' % SUBSCRIPTION_ID
_SUBSCRIPTION, _PUBLISH = SUBSCRIPTION_ID.encode(), PUBLISH_PREFIX.encode()
_PUBLISH_BYTE = _PUBLISH[0]


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
                                  f"{error_text(message, self._secrets)}")
        raise ProtocolRefused(
            f"expected connection_ack, got {shown(message, self._secrets)}: is this a "
            f"GraphQL over WebSocket server speaking {SUBPROTOCOL} (graphql-ws), and is "
            f"the path right? (the older subscriptions-transport-ws protocol is not spoken)")

    def control(self, message: bytes) -> bytes | None:
        # every result and its complete come here (a reply goes on to the correlator's
        # extractor): message_kind's reading in one regular expression for them (an id
        # with no quote or backslash), the same answers
        quick = result_or_complete(message)
        if quick is not None:
            if quick[1] is not None:        # a next
                return NOTHING if message[7] == _PUBLISH_BYTE else None
            return NOTHING
        kind, op = message_kind(message)
        if kind == b"next":
            # a publish's own result is the protocol's; a reply or a delivery is not
            return NOTHING if op is not None and op[:1] == _PUBLISH else None
        if kind == b"complete" or kind == b"pong" or kind == b"connection_ack":
            return NOTHING
        if kind == b"ping":
            return PONG
        if kind == b"error" and op is not None and (op == _SUBSCRIPTION or op[:1] == _PUBLISH):
            what = "the subscription" if op == _SUBSCRIPTION else f"publish {op[1:].decode()}"
            return ServerError(f"the GraphQL server refused {what}: "
                               f"{error_text(message, self._secrets)}")
        return None     # a request's error, or no graphql-transport-ws message: the
                        # correlator judges it (an invalid reply)

    def heartbeat(self) -> bytes:
        return PING


# a `next` (group 1 set) or a `complete` as graphql-ws writes them, id first
result_or_complete = re.compile(rb'\{"id":"[^"\\]++","type":"(?:(n)ext|complete)"').match
# a `complete` as graphql-ws writes it, its id with no quote or backslash
finished = re.compile(rb'\{"id":"[^"\\]*+","type":"complete"\}').fullmatch


class RequestTemplate(MessageTemplate):
    """A request's template. Its replies are read by slicing where a `next` is written as
    graphql-ws writes it: `{"id":"` and the id's digits, then `","type":"next"`
    (`reply_prefix` and `id_end`: the type is read too, so an `error` or `complete` of the
    same id is no reply); by `REPLY_PATTERN` otherwise. Its extractor also carries
    `passed_over`, the `complete` that follows every result: the correlator passes it
    over before `control` (which says the same of it), as the full look cost the
    generator 1.3 us of its 2.6 us a request."""

    def id_extractor(self):
        extract = super().id_extractor()
        extract.passed_over = finished
        return extract


class GraphQLWS(Protocol):
    """GraphQL over WebSocket, graphql-transport-ws (npm graphql-ws 5 and 6, Apollo)."""

    name = "graphql-ws"
    title = "GraphQL over WebSocket"
    options = {"init_payload": None, "query": DEFAULT_QUERY, "subscription": None,
               "subscription_variables": None, "ping_interval": None}
    subprotocols = (SUBPROTOCOL,)
    handshakes = True

    def __init__(self, **given):
        super().__init__(**given)
        settings = self.settings
        self.init_payload = _json_object(settings["init_payload"])
        self.query = _operation(settings["query"], "query") or DEFAULT_QUERY
        self.subscription = _operation(settings["subscription"], "subscription")
        self.subscription_variables = _json_object(settings["subscription_variables"],
                                                   "subscription_variables", secret=False)
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
        self.secrets = secrets_of(self.init_payload)

    def init_message(self) -> bytes:
        if self.init_payload is None:
            return b'{"type":"connection_init"}'
        return b'{"type":"connection_init","payload":' + orjson.dumps(self.init_payload) + b"}"

    def subscribe_message(self) -> bytes | None:
        if self.subscription is None:
            return None
        payload = {"query": self.subscription}
        if self.subscription_variables is not None:
            payload["variables"] = self.subscription_variables
        return orjson.dumps({"id": SUBSCRIPTION_ID, "type": "subscribe", "payload": payload})

    def session(self, number: int) -> GraphQLWSSession:
        return GraphQLWSSession(self)

    server_options = {"ping_interval_s": 0.0, "ping_timeout_s": 0.0, "token": ""}

    @classmethod
    def server_session(cls, number: int, ping_interval_s: float = 0.0,
                       ping_timeout_s: float = 0.0, token: str = ""
                       ) -> "GraphQLWSServerSession":
        return GraphQLWSServerSession(float(ping_interval_s or 0.0),
                                      float(ping_timeout_s or 0.0), str(token or ""))

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
        return RequestTemplate(text, template.payload_size, "id", REPLY_PATTERN,
                               False, push, reply_prefix=QUICK.decode(),
                               id_end=NEXT_AFTER_ID.decode())

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
        if self.subscription_variables is not None:
            shown.append("subscription_variables="
                         + json.dumps(self.subscription_variables, separators=(",", ":")))
        if self.ping_interval_s:
            shown.append(f"ping_interval={self.ping_interval_s:g} s")
        if self.init_payload is not None:
            shown.append("init_payload=(given, not shown)")
        return f"{self.title} ({SUBPROTOCOL}; {', '.join(shown)})"


def _json_object(value, name: str = "init_payload", secret: bool = True) -> dict | None:
    """A JSON object option, given as one or as its text; a secret's text is never shown
    (connection_init's payload may hold a token)."""
    if value is None or value == "":
        return None
    given = "" if secret else f": {str(value)[:80]!r}"
    hidden = " (not shown: it may hold a secret)" if secret else ""
    if isinstance(value, (str, bytes)):
        try:
            value = json.loads(value)
        except ValueError:
            raise ProtocolOptionError(f"graphql-ws {name} must be a JSON object; the text "
                                      f"given is not JSON{given}{hidden}") from None
    if not isinstance(value, dict):
        raise ProtocolOptionError(f"graphql-ws {name} must be a JSON object, got a "
                                  f"{type(value).__name__}{given}{hidden}")
    return value


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

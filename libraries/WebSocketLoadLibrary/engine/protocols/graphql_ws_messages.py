"""GraphQL over WebSocket's messages (graphql-transport-ws), read without I/O for both
sides: the client's session (graphql_ws.py) and the mock server's (graphql_ws_server.py).

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

graphql-ws writes `id` first and `type` second, without spaces: `message_kind` slices
those, and parses anything else (an id whose closing quote may be escaped too). The hot
paths test the bytes after the id against `SUBSCRIBE_AFTER_ID` (the mock's subscribe) and
`NEXT_AFTER_ID` in place of a call, or read a next and a complete with one regular
expression (graphql_ws.py).
"""
from __future__ import annotations

import orjson

SUBPROTOCOL = "graphql-transport-ws"
SUBSCRIPTION_ID = "s"           # the session's own subscription (streams, fan-out)
PUBLISH_PREFIX = "p"            # a fan-out publish's operation id: p<message id>
PING = b'{"type":"ping"}'
PONG = b'{"type":"pong"}'
ACK = b'{"type":"connection_ack"}'
SHOWN_BYTES = 120
MASKED_LENGTH = 4       # connection_init values this long are masked; shorter: nothing shown

QUICK = b'{"id":"'                              # an id-first message starts so
SUBSCRIBE_AFTER_ID = b'","type":"subscribe","payload":{'
NEXT_AFTER_ID = b'","type":"next"'
BACKSLASH = 92                                  # before an id's quote: maybe escaped
_TYPE_AFTER_ID = b'","type":"'


def message_kind(message: bytes) -> tuple[bytes | None, bytes | None]:
    """(type, operation id) of a graphql-transport-ws message, either None where it has
    none; (None, None) when it is not one (not JSON, not an object, no string type).
    Sliced where the message is written as graphql-ws writes it, else parsed."""
    if message[:7] == QUICK:
        end = message.find(b'"', 7)
        if (end > 7 and message[end:end + 10] == _TYPE_AFTER_ID
                and message[end - 1] != BACKSLASH):
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


def shown(message: bytes, secrets: tuple[bytes, ...] | None = ()) -> str:
    """A message in an error, the connection_init payload's values masked first (secrets
    None: a value too short to mask, and the message is not shown)."""
    if secrets is None:
        return (f"a message of {len(message)} bytes (not shown: it may hold the "
                f"connection_init payload)")
    for secret in secrets:
        message = message.replace(secret, b"***")
    return repr(message[:SHOWN_BYTES].decode(errors="replace"))


def error_text(message: bytes, secrets: tuple[bytes, ...] | None = ()) -> str:
    """What an `error` message says (its errors' messages), masked as `_shown` masks."""
    try:
        errors = orjson.loads(message).get("payload")
    except (ValueError, AttributeError):
        errors = None
    if not (isinstance(errors, list) and errors and all(isinstance(e, dict) for e in errors)):
        return shown(message, secrets)
    text = "; ".join(str(e.get("message", e)) for e in errors).encode()
    if secrets is None:
        return shown(text, None)
    for secret in secrets:
        text = text.replace(secret, b"***")
    return text[:SHOWN_BYTES * 2].decode(errors="replace")


def secrets_of(payload) -> tuple[bytes, ...] | None:
    """The payload's values (text and numbers), to be masked wherever a message is shown;
    None when one is too short to mask (then no message the server sent is shown)."""
    found: list[bytes] = []

    def walk(value):
        if isinstance(value, dict):
            for item in value.values():
                walk(item)
        elif isinstance(value, list):
            for item in value:
                walk(item)
        elif isinstance(value, (str, int, float)) and not isinstance(value, bool):
            found.append(str(value).encode())
    walk(payload)
    if any(len(value) < MASKED_LENGTH for value in found):
        return None
    return tuple(sorted(set(found), key=len, reverse=True))

"""GraphQL over WebSocket's fast paths pinned to the full parse: each side slices the
messages written as graphql-ws (and this library's client) writes them, and must give the
answers a JSON parse gives -- for those messages, and for the ones that only look like them
(fields in another order, spaces, escaped quotes, names after the variables), which fall
back to the parse."""
from __future__ import annotations

import json
import re

import orjson
import pytest

from WebSocketLoadLibrary.engine import MessageTemplate
from WebSocketLoadLibrary.engine.protocols import NOTHING
from WebSocketLoadLibrary.engine.protocols.graphql_ws import REPLY_PATTERN, GraphQLWS
from WebSocketLoadLibrary.engine.protocols.graphql_ws_messages import message_kind
from WebSocketLoadLibrary.engine.transport.protocol_session import ProtocolCounts
from step_books import Books

# what arrives at the client: results, completes, errors, pings, and look-alikes
ARRIVING = [
    b'{"id":"7","type":"next","payload":{"data":{"a":1}}}',
    b'{"id":"123456","type":"next","payload":{"data":null}}',
    b'{"id":"7","type":"next"}',
    b'{"id":"007","type":"next","payload":{}}',
    b'{"id":"p7","type":"next","payload":{"data":{}}}',
    b'{"id":"s","type":"next","payload":{"data":{"seq":1}}}',
    b'{"id":"7","type":"complete"}',
    b'{"id":"p7","type":"complete"}',
    b'{"id":"7","type":"complete","extra":1}',
    b'{"id":"7","type":"error","payload":[{"message":"no"}]}',
    b'{"id":"s","type":"error","payload":[{"message":"no"}]}',
    b'{"id":"7","type":"nextx","payload":{}}',
    b'{"id":"7","type":"completed"}',
    b'{"type":"next","id":"7","payload":{"data":{}}}',            # another order
    b'{ "id": "7", "type": "next", "payload": {} }',                # spaces
    b'{"id" : "8","type":"complete"}',
    b'{"id":"a\\"b","type":"next","payload":{}}',                  # an escaped quote
    b'{"id":"a\\\\","type":"complete"}',                           # an escaped backslash
    b'{"id":"","type":"next","payload":{}}',
    b'{"id":7,"type":"next","payload":{}}',                         # a number: no id
    b'{"type":"ping"}', b'{"type":"pong"}', b'{"type":"connection_ack"}',
    b"garbage", b"[1,2]", b"", b'{"id":"7"}',
]


def parsed_kind(message: bytes):
    """message_kind's answer by a JSON parse alone."""
    try:
        data = orjson.loads(message)
    except ValueError:
        return None, None
    if type(data) is not dict or type(data.get("type")) is not str:
        return None, None
    op = data.get("id")
    return data["type"].encode(), (op.encode() if type(op) is str else None)


def parsed_control(message: bytes):
    """The client session's control by the parsed kind (for sessions with no
    subscription and no publishes in flight: the request step's)."""
    kind, op = parsed_kind(message)
    if kind == b"next":
        return NOTHING if op is not None and op[:1] == b"p" else None
    if kind in (b"complete", b"pong", b"connection_ack"):
        return NOTHING
    if kind == b"ping":
        return b'{"type":"pong"}'
    return "judged elsewhere"


@pytest.mark.parametrize("message", ARRIVING)
def test_message_kind_slices_what_the_parse_reads(message):
    assert message_kind(message) == parsed_kind(message)


@pytest.mark.parametrize("message", ARRIVING)
def test_the_client_controls_and_matches_as_the_parse_and_the_pattern_do(message):
    session = GraphQLWS().session(0)
    answer = session.control(message)
    expected = parsed_control(message)
    if expected == "judged elsewhere":      # errors of requests, garbage: the correlator's
        assert answer is None or isinstance(answer, bytes)
        assert parsed_kind(message)[0] != b"next"
    else:
        assert answer == expected
    template = GraphQLWS().request_template(MessageTemplate())
    match = re.search(REPLY_PATTERN.encode(), message)
    if match is None:
        with pytest.raises(ValueError):
            template.extract_id(message)
    else:
        assert template.extract_id(message) == int(match.group(1))


def _booked(message: bytes, width: int, hot: bool) -> tuple:
    """(received, unmatched, invalid, pushes, control messages) after `message` arrives
    with its id in flight beside ids `width` digits wide (the hot path looks for the end
    of `next` where their digits end): on the correlator's hot path with the request
    template's fast path and `passed_over` (hot), or on the full path alone, the pattern
    and the session's control."""
    template = GraphQLWS().request_template(MessageTemplate())
    extract = (template.id_extractor() if hot
               else MessageTemplate(template.text, id_field="id", id_pattern=REPLY_PATTERN)
               .id_extractor())
    base = 10 ** (width - 1)
    book = Books(1, extract, id_base=base, id_fast_path=template.id_fast_path() if hot else None)
    session, controlled = GraphQLWS().session(0), []

    def control(slot, arrived):
        handled = session.control(arrived) is not None
        controlled.extend([arrived] if handled else [])
        return handled
    book.correlator.control = control
    book.correlator.protocol_counts = counts = ProtocolCounts()
    book.sent_one(0, base, 1.0)
    op = message_kind(message)[1] or b""
    if op.isdigit() and int(op) != base:
        book.sent_one(0, int(op), 1.0)
    book.reply(0, message, 1.5)
    return (book.received, book.unmatched, book.invalid_replies, book.pushes,
            counts.control + len(controlled))


@pytest.mark.parametrize("width", [1, 3, 6])
@pytest.mark.parametrize("message", ARRIVING)
def test_the_hot_path_books_what_the_pattern_and_control_alone_book(message, width):
    """The fast path reads the type after the id (an error or a complete of an id in
    flight is no reply) and `passed_over` takes only completes: each message counts where
    the full path counts it, whatever the width of the ids in flight."""
    assert _booked(message, width, hot=True) == _booked(message, width, hot=False)


def test_the_hot_path_takes_the_results_and_completes_graphql_ws_writes():
    template = GraphQLWS().request_template(MessageTemplate())
    assert template.id_fast_path() == (b'{"id":"', 7, b'","type":"next"')
    assert _booked(b'{"id":"123","type":"next","payload":{"data":{}}}', 3, True)[0] == 1
    assert _booked(b'{"id":"123","type":"error","payload":[]}', 3, True)[:3] == (0, 0, 1)
    passed_over = template.id_extractor().passed_over
    assert passed_over(b'{"id":"123","type":"complete"}')
    for other in (b'{"id":"123","type":"complete","x":1}', b'{"id":"1\\"","type":"complete"}',
                  b'{"id":"123","type":"next"}', b' {"id":"1","type":"complete"}'):
        assert not passed_over(other)


def test_the_request_template_keeps_its_fast_extractor_when_pickled():
    import pickle
    template = GraphQLWS().request_template(MessageTemplate())
    again = pickle.loads(pickle.dumps(template))
    assert type(again) is type(template)
    assert again.extract_id(b'{"id":"41","type":"next","payload":{}}') == 41


# -- the mock server's side --------------------------------------------------------------

def _requests() -> list[bytes]:
    """Subscribes as this library's client writes them, and as others may."""
    written = [GraphQLWS(**options).request_template(MessageTemplate(template)).render(n)
               for n, (options, template) in enumerate([
                   ({}, None),
                   ({"query": 'query { echo(message: "a\\"b") }'}, None),
                   ({"query": '{ a(s: "back\\\\") }'}, None),          # ends in \\ "
                   ({"query": '{ a(s: "\\\\\\"") }'}, None),
                   ({}, '{"id":$message_id,"payload":"$payload","user":{"id":1}}'),
                   ({}, '{"query":"mine","n":$message_id}'),           # a name of its own
                   ({}, '{"variables":{"x":$message_id}}'),
                   ({}, '{"n":$message_id,"op":"echo"}'),
               ], start=100)]
    return written + [
        b'{"id":"1","type":"subscribe","payload":{"query":"q","variables":{"a":[1]}}}',
        b'{"type":"subscribe","id":"2","payload":{"variables":{"a":1},"query":"q"}}',
        b'{"id":"3","type":"subscribe","payload":{"query":"q","variables":{"a":1},'
        b'"extensions":{"b":2}}}',
        b'{"id":"4","type":"subscribe","payload":{"query":"q"}}',
        b'{"id":"5","type":"subscribe","payload":{"query":"q","variables":null}}',
        b'{"id":"6","type":"subscribe","payload":{"query":"q","variables":{"a":1},'
        b'"operationName":"X"}}',
        b'{"id":"7","type":"subscribe","payload":{"query":"q","variables":{"a":1},'
        b'"variables":{"b":2}}}',                                   # the last one counts
        b'{"id":"8","type":"subscribe","payload":{"extensions":{"a":1,"variables":{"c":3}},'
        b'"query":"q","variables":{"b":2}}}',
        b'{"id":"9","type":"subscribe","payload":{"operationName":"X","query":"q",'
        b'"variables":{"a":1}}}',
        b'{ "id": "10", "type": "subscribe", "payload": {"query": "q", "variables": {}} }',
        b'{"id":"11","type":"subscribe","payload":{"query":"q\\\\","variables":{"a":1}}}',
        b'{"id":"1\\"2","type":"subscribe","payload":{"query":"q","variables":{"a":1}}}',
    ]


REQUESTS = _requests()


def _acknowledged():
    session = GraphQLWS.server_session(0)
    assert session.receive(b'{"type":"connection_init"}')[0] == "answer"
    return session


def _expected(message: bytes):
    data = orjson.loads(message)
    return data["id"], data["payload"].get("variables")


@pytest.mark.parametrize("message", REQUESTS)
def test_the_server_echoes_a_request_as_the_parse_reads_it(message):
    op, variables = _expected(message)
    complete = {"id": op, "type": "complete"}
    for session in (_acknowledged(), _learnt_another_query()):
        echoed = session.echo(message)
        if echoed is not None:      # the fast path: what `receive` and `reply` would say
            assert orjson.loads(echoed) == {"id": op, "type": "next",
                                            "payload": {"data": variables}}
            assert [orjson.loads(m) for m in session.after_reply(message)] == [complete]
        assert session.receive(message) == ("request", message)
        reply = orjson.loads(session.reply(message, None))       # read by `receive`
        assert reply == {"id": op, "type": "next", "payload": {"data": variables}}
        assert [orjson.loads(m) for m in session.after_reply(message)] == [complete]
    unread = orjson.loads(_acknowledged().reply(message, None))   # not read before
    assert unread["id"] == op and unread["payload"]["data"] == variables
    acked = orjson.loads(_acknowledged().reply(message, b'{"status":"ok"}'))
    assert acked == {"id": op, "type": "next", "payload": {"data": {"status": "ok"}}}


def _learnt_another_query():
    session = _acknowledged()
    other = GraphQLWS(query="{ other }").request_template(MessageTemplate()).render(1)
    assert session.echo(other) is not None
    return session


def test_this_librarys_requests_take_the_fast_path():
    session = _acknowledged()
    for query in ("{ __typename }", 'query { echo(message: "a\\"b") }', '{ a(s: "\\\\") }'):
        template = GraphQLWS(query=query).request_template(MessageTemplate())
        for n in (1, 22, 333):
            assert session.echo(template.render(n)) is not None, (query, n)


def test_commands_and_refusals_are_never_echoed():
    command = GraphQLWS(subscription="subscription { stream }",
                        subscription_variables={"op": "stream", "rate": 5}).subscribe_message()
    assert GraphQLWS.server_session(0).echo(REQUESTS[0]) is None     # before the ack: 4401
    assert GraphQLWS.server_session(0).receive(REQUESTS[0])[:2] == ("close", 4401)
    session = _acknowledged()
    assert session.echo(command) is None and session.receive(command)[0] == "command"
    nested = (b'{"id":"1","type":"subscribe","payload":{"query":"q","variables":{"a":'
              b'{"variables":{"op":"x"}}}}}')
    assert session.echo(nested) is None      # the slow path's word: a command
    assert session.receive(nested)[0] == "command"
    for bad in (b'{"id":"","type":"subscribe","payload":{"query":"q","variables":{}}}',
                b'{"type":"subscribe","payload":{}}', b"garbage"):
        assert session.echo(bad) is None and session.receive(bad)[:2] == ("close", 4400)


def test_the_client_template_and_the_server_agree_on_every_id_width():
    client = GraphQLWS()
    template = client.request_template(MessageTemplate(payload_size=3))
    session = _acknowledged()
    for n in (0, 9, 10, 99999, 10 ** 12):
        request = template.render(n)
        reply = session.echo(request)
        assert reply == session.reply(request, None)            # the same bytes
        assert template.extract_id(reply) == n
        assert client.session(0).control(reply) is None
        assert client.session(0).control(session.after_reply(request)[0]) == NOTHING
    assert json.loads(reply)["payload"]["data"]["payload"] == "xxx"

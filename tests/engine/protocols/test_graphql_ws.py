"""GraphQL over WebSocket (graphql-transport-ws) against the npm `graphql-ws` 6 server,
started by the test on loopback: results as replies with their completes the protocol's
own, a subscription stream, a fan-out through the server's own pub/sub, a reconnect after a
restart, keep-alives kept under load, refusals named by close code, bad input counted; and
the codec alone, without a server."""
from __future__ import annotations

import time

import orjson
import pytest

from WebSocketLoadLibrary.engine import (ConnectError, ConnectionOptions, FanoutSpec, LoadPlan,
                                         MessageTemplate, StreamSpec, protocol_named)
from WebSocketLoadLibrary.engine.lifecycle.reconnect import ReconnectPolicy
from WebSocketLoadLibrary.engine.protocols import NOTHING, ProtocolOptionError, ProtocolRefused
from WebSocketLoadLibrary.engine.protocols.base import ServerError
from WebSocketLoadLibrary.engine.protocols.graphql_ws import (GraphQLWS, SUBSCRIPTION_ID,
                                                              message_kind)
from polling import wait_until
from reference_graphql import graphql_server, stats  # noqa: F401 - the fixture

ECHO = "query($payload: String) { echo(message: $payload) }"
TICKS = "subscription { ticks(rate: 200) { seq ts } }"
NEWS = "subscription { messages(topic: \"news\") { message_id send_time payload } }"
PUBLISH = ("mutation($message_id: Int!, $send_time: Float, $payload: String) { publish("
           "topic: \"news\", message_id: $message_id, send_time: $send_time, payload: $payload) }")
TOKEN = "s3cr3t-token-value"


def options(uri: str, **protocol) -> ConnectionOptions:
    protocol.setdefault("query", ECHO)
    return ConnectionOptions(uri, open_timeout_s=5.0,
                             protocol=protocol_named("graphql-ws", **protocol))


# -- against the real server ------------------------------------------------------------

def test_every_result_is_a_reply_and_every_complete_is_the_protocols_own(engine,
                                                                         graphql_server):
    server = graphql_server()
    pool = engine.connect(options(server.uri), count=5)
    result = engine.run_step(pool, LoadPlan(rate=500, duration_s=2.0))
    assert result.sent == 1000 and result.received == 1000 and result.lost == 0
    assert result.unmatched == 0 and result.invalid_replies == 0
    assert "pushes" not in result.sections and result.connections_closed == {}
    figures = result.sections["protocol"]
    assert figures.protocol == "graphql-ws"
    assert figures.control_messages == 1000          # one complete per result, each counted
    assert stats(server)["echoes"] == 1000
    assert result.load_applied, result.not_applied_reasons


def test_a_mutation_is_a_request_too(engine, graphql_server):
    server = graphql_server()
    pool = engine.connect(options(server.uri, query=ECHO.replace("query", "mutation")),
                          count=2)
    result = engine.run_step(pool, LoadPlan(rate=200, messages=200))
    assert result.received == 200 and result.unmatched == 0 and result.invalid_replies == 0


def test_deliveries_of_a_subscription_during_requests_are_pushes(engine, graphql_server):
    server = graphql_server()
    pool = engine.connect(options(server.uri, subscription=TICKS), count=2)
    result = engine.run_step(pool, LoadPlan(rate=200, duration_s=1.0))
    assert result.received == result.sent == 200 and result.invalid_replies == 0
    assert result.unmatched == 0 and result.sections["pushes"].total >= 2 * 100   # ~2 * 200


def test_a_subscription_stream_read_through_its_payload(engine, graphql_server):
    server = graphql_server()
    pool = engine.connect(options(server.uri, subscription=TICKS), count=3)
    result = engine.run_step(pool, LoadPlan(duration_s=1.5, listen=StreamSpec(
        sequence_field="ticks.seq", timestamp_field="ticks.ts")))
    stream = result.sections["stream"]
    assert stream.messages >= 3 * 200              # ~200 a second on each of 3 for 1.5 s
    assert stream.missing == 0 and stream.duplicates == 0
    assert stream.without_sequence == 0 and stream.without_timestamp == 0
    assert stream.staleness_ms(50) < 200           # the server's ts, in the payload's data
    assert result.connections_closed == {}


def test_fanout_to_100_subscribers_through_the_servers_pubsub(engine, graphql_server):
    server = graphql_server()
    subscribers = engine.connect(options(server.uri, subscription=NEWS), count=100)
    wait_until(lambda: stats(server)["subscribers"] == 100, 5.0,
               message="the subscriptions did not reach the server")
    publishers = engine.connect(options(server.uri, query=PUBLISH), count=1)
    template = MessageTemplate('{"message_id":$message_id,"send_time":$send_time,'
                               '"payload":"$payload"}')
    result = engine.run_step(publishers, LoadPlan(rate=50, messages=50, fanout=FanoutSpec()),
                             template, roles={"subscribers": subscribers})
    fanout = result.sections["fanout"]
    assert fanout.expected_deliveries == 5000 and fanout.deliveries == 5000
    assert fanout.lost_deliveries == 0 and result.unmatched == 0
    assert result.invalid_replies == 0 and "pushes" not in result.sections
    # each publish's result and complete on the publisher's connection: the protocol's own
    assert result.sections["protocol"].control_messages >= 2 * 50
    assert stats(server)["publishes"] == 50


def test_a_restarted_server_is_reconnected_and_subscribed_again(engine, graphql_server):
    server = graphql_server()
    pool = engine.connect(options(server.uri), count=4)
    listeners = engine.connect(options(server.uri, subscription=TICKS), count=2)
    policy = ReconnectPolicy(max_attempts=60, initial_delay_s=0.05, max_delay_s=0.2)
    engine.set_lifecycle(pool, reconnect=policy)
    engine.set_lifecycle(listeners, reconnect=policy)
    running = engine.start_step(pool, LoadPlan(rate=200, duration_s=3.0, reply_timeout_s=1.0))
    time.sleep(0.8)
    server.stop()                          # no close frame: the connections are lost
    time.sleep(0.3)
    restarted = graphql_server(port=server.port)
    result = running.wait()
    lifecycle = result.sections["lifecycle"]
    assert lifecycle.reconnects >= 4 and lifecycle.gave_up == 0
    assert result.connections_closed == {}
    assert result.sections["protocol"].handshakes >= 4     # connection_init said again
    assert result.received >= 300 and result.unmatched == 0
    assert result.sent == result.received + result.lost + lifecycle.cut_by_close
    after = engine.run_step(pool, LoadPlan(rate=200, messages=200))
    assert after.received == 200 and after.lost == 0
    wait_until(lambda: len(listeners.open_connections) == 2, 5.0,
               message="the listeners did not come back")
    stream = engine.run_step(listeners, LoadPlan(duration_s=0.5, listen=StreamSpec(
        sequence_field="ticks.seq")))
    # each came back subscribed again, under the session's own operation id
    assert stream.sections["stream"].per_connection_min >= 50
    assert stats(restarted)["connects"] >= 6


def test_the_servers_keep_alives_are_kept_under_load(engine, graphql_server):
    # graphql-ws' own keep-alive (a WebSocket ping every second, and a client that has not
    # answered by the next one is terminated) and the protocol's pings (closed with 4408
    # when no pong comes by the next), through a 3.6 s step at load: three intervals and
    # more. (Shorter intervals fail on a busy machine by the server's own lag: node's timers
    # run before it reads the pong waiting in its socket.)
    server = graphql_server(keep_alive_ms=1000, ping_ms=1000)
    pool = engine.connect(options(server.uri), count=5)
    result = engine.run_step(pool, LoadPlan(rate=500, duration_s=3.6))
    assert result.connections_closed == {} and len(pool.open_connections) == 5
    assert result.sent == result.received == 1800 and result.lost == 0
    assert result.unmatched == 0 and result.invalid_replies == 0
    assert result.sections["protocol"].keepalives_answered >= 5 * 3
    served = stats(server)
    assert served["pongs"] >= 5 * 3 and served["pongs"] >= served["pings"] - 5


def test_client_pings_are_sent_and_their_pongs_passed_over(engine, graphql_server):
    server = graphql_server()
    pool = engine.connect(options(server.uri, ping_interval=0.1), count=2)
    result = engine.run_step(pool, LoadPlan(rate=100, duration_s=1.0))
    figures = result.sections["protocol"]
    assert figures.heartbeats_sent >= 2 * 5
    assert result.received == result.sent == 100 and result.invalid_replies == 0
    assert "pushes" not in result.sections


def test_a_refused_connection_init_is_named_by_its_close_code(engine, graphql_server):
    server = graphql_server(token=TOKEN)
    with pytest.raises(ConnectError, match="4403.*Forbidden") as refused:
        engine.connect(options(server.uri, init_payload='{"token":"not-the-one"}'),
                       count=2)
    assert "not-the-one" not in str(refused.value)
    with pytest.raises(ConnectError, match="4401.*Unauthorized"):
        engine.connect(options(server.uri), count=1)
    pool = engine.connect(options(server.uri, init_payload={"token": TOKEN}),
                          count=1)
    assert engine.run_step(pool, LoadPlan(rate=50, messages=20)).received == 20


def test_a_malformed_message_is_counted_invalid_and_nothing_is_lost(engine, graphql_server):
    server = graphql_server(garbage_every=10)
    pool = engine.connect(options(server.uri), count=2)
    result = engine.run_step(pool, LoadPlan(rate=200, messages=200))
    assert result.invalid_replies == 20
    assert result.received == 200 and result.lost == 0 and result.unmatched == 0
    assert result.connections_closed == {}


def test_an_operation_error_is_an_invalid_reply_never_a_result(engine, graphql_server):
    server = graphql_server()
    pool = engine.connect(options(server.uri, query="{ noSuchField }"), count=2)
    result = engine.run_step(pool, LoadPlan(rate=100, messages=50, reply_timeout_s=0.5))
    assert result.invalid_replies == 50 and result.received == 0 and result.lost == 50
    assert result.unmatched == 0 and result.connections_closed == {}


def test_plain_websocket_where_graphql_ws_was_asked_is_named(engine, server):
    # the mock server echoes connection_init back: not an ack, and the token never shows
    with pytest.raises(ConnectError, match="expected connection_ack") as refused:
        engine.connect(ConnectionOptions(server.uri, open_timeout_s=2.0, protocol=protocol_named(
            "graphql-ws", init_payload={"token": TOKEN})), count=1)
    assert TOKEN not in str(refused.value)


# -- the codec alone ----------------------------------------------------------------------

def test_the_request_is_a_subscribe_and_its_next_the_reply():
    protocol = protocol_named("graphql_ws", query=ECHO)
    template = protocol.request_template(MessageTemplate(payload_size=4))
    message = orjson.loads(template.render(7))
    assert message["id"] == "7" and message["type"] == "subscribe"
    assert message["payload"]["query"] == ECHO               # GraphQL's $ left as they are
    assert message["payload"]["variables"]["payload"] == "xxxx"
    assert "message_id" not in message["payload"]["variables"]   # the operation id has it
    assert template.extract_id(b'{"id":"7","type":"next","payload":{"data":{}}}') == 7
    assert template.extract_id(b'{ "id": "12", "type": "next", "payload": {} }') == 12
    for not_a_result in (b'{"id":"7","type":"error","payload":[{"message":"no"}]}',
                         b'{"id":"7","type":"complete"}', b"garbage {"):
        with pytest.raises(ValueError):
            template.extract_id(not_a_result)


def test_the_publish_carries_the_template_whole_under_an_id_of_its_own():
    protocol = protocol_named("graphql", query=PUBLISH)
    message = orjson.loads(protocol.publish_template(MessageTemplate()).render(9))
    assert message["id"] == "p9" and message["payload"]["variables"]["message_id"] == 9


def test_control_answers_pings_and_passes_over_its_own():
    protocol = GraphQLWS(subscription=TICKS)
    session = protocol.session(0)
    assert session.control(b'{"type":"ping"}') == b'{"type":"pong"}'
    assert session.control(b'{"type":"ping","payload":{"x":1}}') == b'{"type":"pong"}'
    assert session.control(b'{"type":"pong"}') == NOTHING
    assert session.control(b'{"id":"7","type":"complete"}') == NOTHING
    assert session.control(b'{"id":"p7","type":"next","payload":{"data":{}}}') == NOTHING
    for application in (b'{"id":"7","type":"next","payload":{}}',
                        b'{"id":"s","type":"next","payload":{"data":{}}}',
                        b'{"id":"7","type":"error","payload":[]}', b"garbage", b"[1,2]"):
        assert session.control(application) is None, application


def test_errors_of_the_subscription_and_of_publishes_go_to_the_steps_errors():
    session = GraphQLWS(init_payload={"token": TOKEN}).session(0)
    refused = session.control(b'{"id":"s","type":"error","payload":[{"message":"Cannot '
                              b'query field \\"nope\\""}]}')
    assert refused == NOTHING and isinstance(refused, ServerError)   # nothing to answer
    assert refused.text == 'the GraphQL server refused the subscription: Cannot query field "nope"'
    refused = session.control(b'{"id":"p12","type":"error","payload":[{"message":"bad token '
                              + TOKEN.encode() + b'"}]}')
    assert refused.text == "the GraphQL server refused publish 12: bad token ***"
    assert session.control(b'{"id":"12","type":"error","payload":[]}') is None   # invalid


def test_a_connection_init_value_too_short_to_mask_hides_what_the_server_sent():
    session = GraphQLWS(init_payload={"pin": 42}).session(0)
    with pytest.raises(ProtocolRefused, match="a message of 47 bytes \\(not shown") as refused:
        session.handshake(b'{"type":"connection_init","payload":{"pin":42}}')
    assert "42" not in str(refused.value)


def test_the_handshake_inits_acks_and_subscribes():
    protocol = GraphQLWS(init_payload='{"token":"t0k3n"}', subscription=TICKS,
                         subscription_variables='{"rate":5}')
    session = protocol.session(3)
    assert session.start() == [b'{"type":"connection_init","payload":{"token":"t0k3n"}}']
    assert session.handshake(b'{"type":"ping"}') == ([b'{"type":"pong"}'], False)
    answers, done = session.handshake(b'{"type":"connection_ack","payload":{"v":1}}')
    subscribe = orjson.loads(answers[0])
    assert done and subscribe["id"] == SUBSCRIPTION_ID and subscribe["type"] == "subscribe"
    assert subscribe["payload"] == {"query": TICKS, "variables": {"rate": 5}}
    assert GraphQLWS().session(0).handshake(b'{"type":"connection_ack"}') == ([], True)
    with pytest.raises(ProtocolRefused, match="refused connection_init: bad token"):
        session.handshake(b'{"type":"error","payload":[{"message":"bad token"}]}')
    with pytest.raises(ProtocolRefused, match="expected connection_ack.*\\*\\*\\*"):
        session.handshake(b'{"type":"connection_init","payload":{"token":"t0k3n"}}')


def test_payload_is_the_data_of_a_next():
    assert orjson.loads(GraphQLWS.payload(
        b'{"id":"s","type":"next","payload":{"data":{"ticks":{"seq":1,"ts":2.5}}}}')) == {
        "ticks": {"seq": 1, "ts": 2.5}}
    assert GraphQLWS.payload(b'{"id":"s","type":"complete"}') is None
    assert GraphQLWS.payload(b'{"type":"ping"}') is None
    assert GraphQLWS.payload(b"garbage") is None


def test_message_kinds_sliced_or_parsed():
    assert message_kind(b'{"id":"12","type":"next","payload":{}}') == (b"next", b"12")
    assert message_kind(b'{"type":"ping"}') == (b"ping", None)
    assert message_kind(b'{"type": "complete", "id": "3"}') == (b"complete", b"3")
    assert message_kind(b'{"type":"connection_ack","payload":{}}') == (b"connection_ack", None)
    assert message_kind(b'{"id":7,"type":"next"}') == (b"next", None)
    for bad in (b"", b"{", b"[]", b'{"type":1}', b'{"id":"1"}', b"\xff\xfe"):
        assert message_kind(bad) == (None, None), bad


def test_the_token_never_shows_and_bad_options_are_named():
    protocol = GraphQLWS(init_payload={"token": TOKEN}, ping_interval="2.5")
    assert TOKEN not in protocol.describe() and TOKEN not in repr(protocol)
    assert TOKEN not in repr(ConnectionOptions("ws://127.0.0.1:1", protocol=protocol))
    assert protocol.session(0).heartbeat_s == 2.5
    assert protocol.session(0).heartbeat() == b'{"type":"ping"}'
    with pytest.raises(ProtocolOptionError, match="init_payload must be a JSON object") as bad:
        GraphQLWS(init_payload='{"token": "' + TOKEN)
    assert TOKEN not in str(bad.value)
    with pytest.raises(ProtocolOptionError, match="init_payload must be a JSON object"):
        GraphQLWS(init_payload="[1]")
    with pytest.raises(ProtocolOptionError, match="ping_interval"):
        GraphQLWS(ping_interval="soon")
    with pytest.raises(ProtocolOptionError, match="ping_interval"):
        GraphQLWS(ping_interval=-1)
    with pytest.raises(ProtocolOptionError, match="unbalanced"):
        GraphQLWS(query="{ echo(message: 1) ")
    with pytest.raises(ValueError, match="no option.*token"):
        protocol_named("graphql-ws", token="x")


@pytest.mark.parametrize("spelling", ["graphql-ws", "GraphQL-WS", "graphql", "graphql_ws",
                                      "graphql-transport-ws"])
def test_spellings(spelling):
    protocol = protocol_named(spelling)
    assert isinstance(protocol, GraphQLWS)
    assert protocol.subprotocols == ("graphql-transport-ws",)


# -- the mock server's side ---------------------------------------------------------------

def _server(**options):
    session = GraphQLWS.server_session(0, **options)
    assert session.opening() == []                         # the client speaks first
    return session


def test_the_server_side_acks_echoes_and_completes():
    client = GraphQLWS(query=ECHO)
    session = _server()
    assert session.receive(client.init_message()) == ("answer", [b'{"type":"connection_ack"}'])
    request = client.request_template(MessageTemplate(payload_size=3)).render(41)
    assert session.receive(request) == ("request", request)
    reply = session.reply(request, None)
    template = client.request_template(MessageTemplate())
    assert template.extract_id(reply) == 41                 # the client's reply pattern
    assert orjson.loads(reply)["payload"]["data"]["payload"] == "xxx"
    assert session.after_reply(request) == [b'{"id":"41","type":"complete"}']
    assert client.session(0).control(session.after_reply(request)[0]) == NOTHING
    acked = session.reply(request, b'{"status":"ok"}')
    assert orjson.loads(acked)["payload"] == {"data": {"status": "ok"}}
    assert session.receive(b'{"type":"ping"}') == ("answer", [b'{"type":"pong"}'])
    assert session.receive(b'{"type":"pong"}') == ("pong",)
    assert session.receive(b'{"id":"41","type":"complete"}') == ("answer", [])
    assert session.receive(client.init_message())[:2] == ("close", 4429)


def test_the_server_side_carries_out_commands_and_frames_deliveries():
    session = _server(ping_interval_s=0.5, ping_timeout_s=0.5)
    assert session.ping_interval_s == 0.5 and session.ping() == b'{"type":"ping"}'
    session.receive(b'{"type":"connection_init"}')
    listener = GraphQLWS(subscription="subscription { stream }",
                         subscription_variables={"op": "stream", "rate": 50})
    what = session.receive(listener.subscribe_message())
    assert what[0] == "command" and orjson.loads(what[1]) == {"op": "stream", "rate": 50}
    assert what[2] == []
    delivery = session.frame(b'{"seq":1,"ts":2.0}')
    assert listener.session(0).control(delivery) is None    # a delivery: the application's
    assert orjson.loads(GraphQLWS.payload(delivery)) == {"seq": 1, "ts": 2.0}
    publisher = GraphQLWS(query="mutation($op: String) { publish }")
    publish = publisher.publish_template(MessageTemplate(
        '{"op":"publish","topic":"news","message_id":$message_id}')).render(5)
    what = session.receive(publish)
    assert what[0] == "command" and orjson.loads(what[1])["message_id"] == 5
    assert what[2] == [b'{"id":"p5","type":"complete"}']


def test_the_server_side_closes_as_graphql_ws_does():
    assert _server().receive(b'{"id":"1","type":"subscribe","payload":{}}') == (
        "close", 4401, "Unauthorized")                     # before connection_init
    guarded = _server(token="right")
    assert guarded.receive(b'{"type":"connection_init"}')[:2] == ("close", 4401)
    guarded = _server(token="right")
    assert guarded.receive(b'{"type":"connection_init","payload":{"token":"no"}}') == (
        "close", 4403, "Forbidden")
    session = _server()
    session.receive(b'{"type":"connection_init"}')
    for bad in (b"garbage", b"[]", b'{"type":"next","id":"1"}', b'{"type":"subscribe"}',
                b'{"id":"1","type":"subscribe","payload":{"variables":{"op":'):
        what = session.receive(bad)
        assert what[:2] == ("close", 4400), bad


def test_the_server_side_reads_variables_written_in_any_order():
    session = _server()
    session.receive(b'{"type":"connection_init"}')
    for message, variables in (
            (b'{"id":"1","type":"subscribe","payload":{"query":"q","variables":{"a":[1]}}}',
             {"a": [1]}),
            (b'{"type":"subscribe","id":"2","payload":{"variables":{"a":1},"query":"q"}}',
             {"a": 1}),
            (b'{"id":"3","type":"subscribe","payload":{"query":"q","variables":{"a":1},'
             b'"extensions":{"b":2}}}', {"a": 1}),
            (b'{"id":"4","type":"subscribe","payload":{"query":"q"}}', None)):
        assert orjson.loads(session.reply(message, None))["payload"]["data"] == variables

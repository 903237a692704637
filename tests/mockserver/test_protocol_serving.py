"""The mock server speaking Socket.IO (`protocol=socketio`): the engine's client against it,
on both server engines -- acks as replies under the faults, pings sent and a silent client
closed, subscriptions, fan-out and streams through the push protocol's commands."""
from __future__ import annotations

import json
import time

import pytest
from websockets.sync.client import connect

from WebSocketLoadLibrary.engine import (ConnectionOptions, FanoutSpec, LoadPlan,
                                         MessageTemplate, OpeningMessages, StreamSpec,
                                         protocol_named)
from polling import wait_until


def socketio(uri: str, **options) -> ConnectionOptions:
    return ConnectionOptions(uri, open_timeout_s=5.0, protocol=protocol_named("socketio",
                                                                              **options))


@pytest.fixture(params=["websockets", "picows"])
def socketio_mock(request, start_server):
    def start(**options):
        options.setdefault("protocol_options", {"ping_interval_s": 0.3, "ping_timeout_s": 0.3})
        return start_server(protocol="socketio", engine=request.param, compression=False,
                            seed=1, **options)
    return start


def test_acks_are_replies_and_pings_are_answered_through_a_step(engine, socketio_mock):
    server = socketio_mock()
    pool = engine.connect(socketio(server.uri, event="echo"), count=4)
    result = engine.run_step(pool, LoadPlan(rate=400, duration_s=2.0))   # ~6 pings each
    assert result.sent == result.received == 800 and result.lost == 0
    assert result.connections_closed == {}
    assert result.sections["protocol"].keepalives_answered >= 4 * 4
    stats = server.stats()
    assert stats["messages_received"] == 800 and stats["keepalive_timeouts"] == 0
    assert stats["protocol_messages_received"] >= 4 * 5   # connects and pongs


def test_a_client_that_does_not_answer_pings_is_closed(socketio_mock):
    server = socketio_mock()
    with connect(server.uri + "/socket.io/?EIO=4&transport=websocket") as ws:
        assert ws.recv().startswith("0{")
        ws.send("40")
        assert ws.recv().startswith("40{")
        wait_until(lambda: server.stats()["keepalive_timeouts"] == 1, 5.0,
                   message="the silent client was not closed")


def test_ack_mode_and_faults_apply_to_protocol_replies(engine, socketio_mock):
    server = socketio_mock(mode="ack", drop_ratio=0.1)
    pool = engine.connect(socketio(server.uri), count=2)
    result = engine.run_step(pool, LoadPlan(rate=500, messages=1000, reply_timeout_s=1.0))
    dropped = server.stats()["messages_dropped"]
    assert 50 < dropped < 150 and result.lost == dropped and result.received == 1000 - dropped


def test_fanout_through_socketio_rooms(engine, socketio_mock):
    server = socketio_mock()
    subscribe = OpeningMessages(['42["subscribe",{"op":"subscribe","topic":"news"}]'],
                                reply_pattern=r'"op":"subscribed"')
    subscribers = engine.connect(ConnectionOptions(
        server.uri, opening=subscribe, protocol=protocol_named("socketio")), count=20)
    publishers = engine.connect(socketio(server.uri), count=1)
    template = MessageTemplate('{"op":"publish","topic":"news","message_id":$message_id}')
    result = engine.run_step(publishers, LoadPlan(rate=50, messages=50, fanout=FanoutSpec()),
                             template, roles={"subscribers": subscribers})
    fanout = result.sections["fanout"]
    assert fanout.expected_deliveries == 1000 and fanout.deliveries == 1000
    assert fanout.lost_deliveries == 0


def test_a_stream_over_socketio(engine, socketio_mock):
    server = socketio_mock()
    stream = OpeningMessages(['42["stream",{"op":"stream","rate":200,"duration":5}]'],
                             reply_pattern=r'"op":"streaming"')
    pool = engine.connect(ConnectionOptions(server.uri, opening=stream,
                                            protocol=protocol_named("socketio")), count=3)
    result = engine.run_step(pool, LoadPlan(duration_s=1.5, listen=StreamSpec(
        sequence_field="seq", timestamp_field="ts")))
    figures = result.sections["stream"]
    assert figures.messages >= 3 * 200 and figures.missing == 0
    assert figures.without_sequence == 0 and result.connections_closed == {}


def test_garbage_is_counted_and_answered_never_a_crash(socketio_mock):
    server = socketio_mock()
    with connect(server.uri + "/socket.io/?EIO=4&transport=websocket") as ws:
        ws.recv()
        ws.send("40")
        ws.recv()
        ws.send("not socket.io at all")
        answer = ws.recv()
        while answer == "2":
            ws.send("3")
            answer = ws.recv()
        assert answer.startswith('42["error"')
    assert server.stats()["invalid_messages"] == 1


def test_unknown_protocol_options_are_named(start_server):
    from WebSocketLoadLibrary.mockserver import MockServerError
    with pytest.raises(MockServerError, match="no option.*colour"):
        start_server(protocol="socketio", protocol_options={"colour": "red"})


def test_a_storm_times_the_protocol_handshake_as_a_phase_of_its_own(engine, socketio_mock):
    from WebSocketLoadLibrary.engine import ArrivalPlan
    # keep-alive at seconds, not the fixture's 0.3 s: pings are not what this test is about,
    # and on a busy machine a 0.3 s pong deadline closed some of the 100 before the count
    server = socketio_mock(protocol_options={"ping_interval_s": 5, "ping_timeout_s": 5})
    pool, result = engine.open_at_rate(socketio(server.uri), ArrivalPlan(100, 200.0, "storm"))
    connect = result.sections["connect"]
    assert connect.opened == 100 and connect.failed == 0
    assert connect.histograms["protocol"].count == 100          # Socket.IO's connect, timed
    assert len(pool.open_connections) == 100
    step = engine.run_step(pool, LoadPlan(rate=500, messages=500))
    assert step.received == 500


def test_a_reconnect_says_the_protocol_handshake_again(engine, socketio_mock):
    from WebSocketLoadLibrary.engine import ReconnectPolicy
    server = socketio_mock(protocol_options={"ping_interval_s": 5, "ping_timeout_s": 5})
    pool = engine.connect(socketio(server.uri), count=5)
    engine.set_lifecycle(pool, reconnect=ReconnectPolicy())
    running = engine.start_step(pool, LoadPlan(rate=200, duration_s=3.0, reply_timeout_s=1.0))
    time.sleep(1.0)
    server.control.restart()
    result = running.wait()
    assert result.sections["protocol"].handshakes == 5          # each reconnect's connect
    assert result.connections_closed == {} and result.received > 400


@pytest.mark.parametrize("name", ["stomp", "mqtt", "graphql-ws"])
def test_the_websockets_engine_serves_whoever_offers_no_subprotocol(start_server, name):
    """A protocol's subprotocols are offered, not demanded: the control connection (stats,
    faults) and a client offering none are served, a client offering one gets it back."""
    server = start_server(protocol=name, engine="websockets", compression=False)
    assert server.stats()["connections_active"] == 0          # the control connection
    with connect(server.uri) as ws:
        assert ws.subprotocol is None
    offered = protocol_named(name).subprotocols
    with connect(server.uri, subprotocols=list(offered)) as ws:
        assert ws.subprotocol == offered[0]


@pytest.mark.parametrize("engine_name", ["picows", "websockets"])
@pytest.mark.parametrize("faults", [{}, {"drop_ratio": 0.1}, {"response_delay": 0.005}])
def test_a_graphql_result_and_its_complete_leave_together_on_both_engines(
        engine, start_server, engine_name, faults):
    """The mock sends a request's `next` and its `complete` in one go when the reply goes
    at once, behind it when the reply is held; dropped, both go (the complete is never
    load): every result is booked, every complete counted as the protocol's."""
    server = start_server(protocol="graphql-ws", engine=engine_name, compression=False,
                          seed=1, **faults)
    pool = engine.connect(ConnectionOptions(server.uri, open_timeout_s=5.0,
                                            protocol=protocol_named("graphql-ws")), count=3)
    result = engine.run_step(pool, LoadPlan(rate=None, messages=600, window=8,
                                            reply_timeout_s=1.0))
    stats = server.stats()
    dropped = stats["messages_dropped"]
    assert result.received == 600 - dropped and result.lost == dropped
    assert (dropped > 20) == ("drop_ratio" in faults)
    assert result.invalid_replies == 0 and result.unmatched == 0
    assert stats["protocol_messages_sent"] >= 600 - dropped + 3     # completes and acks
    # completes came (the last of each connection may trail the step's end)
    assert result.sections["protocol"].control_messages >= 600 - dropped - 3
    assert result.connections_closed == {}

"""Socket.IO against the npm `socket.io` 4 server, started by the test on loopback: the
handshake, acks as replies, pings answered under load, pushes apart, refusals named."""
from __future__ import annotations

import pytest

from WebSocketLoadLibrary.engine import (ConnectError, ConnectionOptions, LoadPlan,
                                         MessageTemplate, protocol_named)
from reference_servers import socketio_server  # noqa: F401 - the fixture


def options(uri: str, transport: str = "auto", **protocol) -> ConnectionOptions:
    protocol.setdefault("event", "echo")
    return ConnectionOptions(uri, transport=transport, open_timeout_s=5.0,
                             protocol=protocol_named("socketio", **protocol))


@pytest.mark.parametrize("transport", ["picows", "websockets"])
def test_every_ack_is_a_reply_and_pings_are_answered_through_a_step(engine, socketio_server,
                                                                     transport):
    server = socketio_server(ping_interval_ms=500, ping_timeout_ms=400)
    pool = engine.connect(options(server.uri, transport), count=5)
    # 4 s: eight ping intervals, each answered within its 400 ms or the server drops us
    result = engine.run_step(pool, LoadPlan(rate=500, duration_s=4.0))
    assert result.connections_closed == {}
    assert result.sent == 2000 and result.received == 2000 and result.lost == 0
    assert result.unmatched == 0 and result.invalid_replies == 0
    figures = result.sections["protocol"]
    assert figures.protocol == "socketio"
    assert figures.keepalives_answered >= 5 * 6       # ~8 pings on each connection
    assert "pushes" not in result.sections            # pings are no pushes
    assert result.load_applied, result.not_applied_reasons


def test_connections_stay_open_between_steps(engine, socketio_server):
    import time
    server = socketio_server(ping_interval_ms=300, ping_timeout_ms=300)
    pool = engine.connect(options(server.uri), count=3)
    time.sleep(1.5)                                   # five pings with no step running
    result = engine.run_step(pool, LoadPlan(rate=100, messages=100))
    assert result.received == 100 and result.connections_closed == {}
    assert pool.protocol_counts.answered >= 3 * 4


def test_a_refused_auth_is_named(engine, socketio_server):
    server = socketio_server(token="right")
    with pytest.raises(ConnectError, match="refused the connection.*not authorized"):
        engine.connect(options(server.uri, auth='{"token":"wrong"}'), count=1)
    pool = engine.connect(options(server.uri, auth='{"token":"right"}'), count=1)
    assert engine.run_step(pool, LoadPlan(rate=50, messages=20)).received == 20


def test_plain_websocket_where_socketio_was_asked_is_named(engine, server):
    with pytest.raises(ConnectError, match="Socket.IO handshake did not complete|open packet"):
        engine.connect(ConnectionOptions(server.uri + "?EIO=4", open_timeout_s=2.0,
                                         protocol=protocol_named("socketio")), count=1)


def test_the_request_is_framed_and_its_ack_read_by_slicing():
    protocol = protocol_named("socketio", event="echo", namespace="/chat")
    template = protocol.request_template(MessageTemplate())
    assert template.render(7).startswith(b'42/chat,7["echo",{"send_time":')
    assert template.id_fast_path() == (b"43/chat,", 8, b"[")
    assert template.extract_id(b'43/chat,123[{"x":1}]') == 123


def test_unknown_options_and_bad_values_are_named():
    with pytest.raises(ValueError, match="no option.*colour"):
        protocol_named("socketio", colour="red")
    with pytest.raises(ValueError, match="namespace must start"):
        protocol_named("socketio", namespace="chat")
    with pytest.raises(ValueError, match="unknown protocol 'soap'"):
        protocol_named("soap")

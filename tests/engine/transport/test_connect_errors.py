"""The engine's connection errors: each one says what went wrong, and never shows a secret."""
from __future__ import annotations

import socket
import time

import pytest

from polling import wait_until
from WebSocketLoadLibrary.engine import (ConnectError, ConnectionOptions, EngineError, LoadPlan,
                                         MessageTemplate)

EXPECTED_FORM = "expected ws://host:port/path or wss://host:port/path"
TOKEN = "s3cret-token"
WRONG_TOKEN = "wrong-token-9f8e7d"
LIMIT_CLOSE = "connection closed by server with code 1013 (try again later): connection limit reached"
SERVER_ENGINES = ("websockets", "picows")


# -- helpers ---------------------------------------------------------------------------
def unused_loopback_port() -> int:
    """A port on 127.0.0.1 that was free a moment ago and has no listener now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def wait_for_closes(pool, expected: int, timeout_s: float = 5.0) -> dict[str, int]:
    """The pool's close summary once `expected` connections have been closed (or at timeout)."""
    wait_until(lambda: sum(pool.close_summary().values()) >= expected, timeout_s)
    return pool.close_summary()


def connect_error(connect, uri: str, **options) -> str:
    with pytest.raises(ConnectError) as raised:
        connect(uri, **options)
    return str(raised.value)


# -- the URI ---------------------------------------------------------------------------
BAD_URIS = ["http://x", "ws://", "ws://127.0.0.1:notaport"]


@pytest.mark.parametrize("uri", BAD_URIS)
def test_a_uri_that_is_not_a_websocket_uri_raises_connect_error_naming_it(connect, uri):
    assert repr(uri) in connect_error(connect, uri)


@pytest.mark.parametrize("uri", [
    "http://x", "ws://",
    "ws://127.0.0.1:notaport",
])
def test_a_bad_websocket_uri_error_shows_the_expected_form(uri):
    with pytest.raises(ConnectError) as raised:
        ConnectionOptions(uri)
    assert EXPECTED_FORM in str(raised.value)


# -- the network -----------------------------------------------------------------------
def test_a_refused_connection_raises_connect_error_saying_connection_refused(connect):
    port = unused_loopback_port()
    message = connect_error(connect, f"ws://127.0.0.1:{port}", open_timeout_s=5)
    assert message == (f"connection refused by 127.0.0.1:{port}: "
                       "is the server running on that port?")


def test_several_refused_connections_say_how_many_failed(connect):
    port = unused_loopback_port()
    message = connect_error(connect, f"ws://127.0.0.1:{port}", count=3, open_timeout_s=5)
    assert message.startswith(f"3 of 3 connections failed: connection refused by 127.0.0.1:{port}")


# -- auth ------------------------------------------------------------------------------
@pytest.fixture
def auth_server(start_server):
    return start_server(auth_token=TOKEN, compression=False)


def test_a_missing_token_is_rejected_with_401_and_says_the_token_is_missing(auth_server, connect):
    message = connect_error(connect, auth_server.uri)
    assert message == (f"server at {auth_server.uri} refused the handshake: "
                       "HTTP 401 Unauthorized (the bearer token is missing)")
    assert auth_server.stats()["auth_failures"] == 1


def test_a_wrong_token_is_rejected_with_401_and_never_shown(auth_server, connect):
    options = ConnectionOptions(auth_server.uri, token=WRONG_TOKEN)
    assert WRONG_TOKEN not in repr(options)
    assert WRONG_TOKEN not in str(options)
    with pytest.raises(ConnectError) as raised:
        connect(auth_server.uri, token=WRONG_TOKEN)
    message = str(raised.value)
    assert message == (f"server at {auth_server.uri} refused the handshake: "
                       "HTTP 401 Unauthorized (the bearer token was rejected)")
    for shown in (message, repr(raised.value)):
        assert WRONG_TOKEN not in shown and TOKEN not in shown
    assert auth_server.stats()["auth_failures"] == 1


def test_the_right_token_connects_and_is_not_shown_in_the_options(auth_server, connect):
    pool = connect(auth_server.uri, token=TOKEN)
    assert len(pool.open_connections) == 1
    assert TOKEN not in repr(pool.options)
    assert auth_server.stats()["auth_failures"] == 0


# -- closes by the server --------------------------------------------------------------
def test_connecting_past_the_server_limit_fails_with_1013_and_closes_the_admitted_ones(
        start_server, connect):
    server = start_server(max_connections=2, compression=False)
    message = connect_error(connect, server.uri, count=4)
    assert message == f"2 of 4 connections failed right after the handshake: {LIMIT_CLOSE}"
    stats = server.stats()
    assert stats["connections_refused"] == 2
    wait_until(lambda: not server.stats()["connections_active"], 5)
    assert server.stats()["connections_active"] == 0


def test_the_pool_notices_connections_closed_with_1013_over_the_server_limit(start_server, connect):
    server = start_server(max_connections=2, compression=False)
    pool = connect(server.uri, count=4, verify=False)
    assert wait_for_closes(pool, 2) == {LIMIT_CLOSE: 2}
    assert len(pool.open_connections) == 2
    assert server.stats()["connections_refused"] == 2


def test_a_step_on_a_pool_closed_by_the_server_raises_no_open_connections(
        start_server, connect, engine):
    server = start_server(max_connections=0, compression=False)
    pool = connect(server.uri, count=2, verify=False)
    assert wait_for_closes(pool, 2) == {LIMIT_CLOSE: 2}
    with pytest.raises(EngineError) as raised:
        engine.run_step(pool, LoadPlan(rate=200, messages=100), timeout_s=30)
    assert str(raised.value) == f"no open connections to send on (2 x {LIMIT_CLOSE})"
    stats = server.stats()
    assert (stats["connections_refused"], stats["messages_received"]) == (2, 0)


# -- picows against both server engines ------------------------------------------------
@pytest.mark.parametrize("engine_name", SERVER_ENGINES)
def test_picows_past_the_server_limit_fails_with_1013(start_server, connect, engine_name):
    server = start_server(engine=engine_name, max_connections=2, compression=False)
    with pytest.raises(ConnectError) as raised:
        connect(server.uri, count=4, transport="picows")
    assert str(raised.value) == f"2 of 4 connections failed right after the handshake: {LIMIT_CLOSE}"


@pytest.mark.parametrize("engine_name", SERVER_ENGINES)
def test_picows_bearer_token_missing_and_right(start_server, connect, engine_name):
    server = start_server(engine=engine_name, auth_token="s3cret", compression=False)
    with pytest.raises(ConnectError) as raised:
        connect(server.uri, transport="picows")
    assert str(raised.value) == (f"server at {server.uri} refused the handshake: HTTP 401 "
                                 "Unauthorized (the bearer token is missing)")
    assert connect(server.uri, transport="picows", token="s3cret").open_connections
    assert server.stats()["auth_failures"] == 1


# -- options that reach the wire -------------------------------------------------------
def test_a_subprotocol_the_server_accepts_is_negotiated(start_server, connect):
    server = start_server(compression=False, subprotocols=["chat.v2"])
    pool = connect(server.uri, subprotocols=["chat.v1", "chat.v2"])
    assert pool.connections[0].ws.subprotocol == "chat.v2"


def test_compression_is_negotiated_only_when_asked_for(start_server, connect):
    server = start_server()  # the server offers permessage-deflate
    plain = connect(server.uri, transport="websockets")
    deflate = connect(server.uri, compression=True)
    extensions = [c.ws.protocol.extensions for c in (plain.connections[0], deflate.connections[0])]
    assert extensions[0] == [] and len(extensions[1]) == 1


def test_a_message_over_the_server_max_size_closes_with_1009(start_server, engine, connect):
    server = start_server(compression=False, max_size=1000)
    pool = connect(server.uri)
    template = MessageTemplate(payload_size=5000)
    result = engine.run_step(pool, LoadPlan(rate=100, messages=3, reply_timeout_s=0.5),
                             template=template)
    assert result.received == 0
    assert any("code 1009 (message too big)" in error for error in result.errors)


def test_a_running_step_can_be_cancelled_and_the_pool_reused(server, engine, connect):
    pool = connect(server.uri)
    running = engine.start_step(pool, LoadPlan(rate=100, messages=10_000))
    time.sleep(0.3)
    running.cancel()
    wait_until(running.done, 5, 0.05)
    assert running.done()
    assert engine.run_step(pool, LoadPlan(rate=1000, messages=50)).received == 50


@pytest.mark.parametrize("transport", ["websockets", "picows"])
def test_a_connection_past_the_limit_is_refused_before_its_first_ping_is_answered(
        start_server, connect, transport):
    """The server writes its 1013 close right after the 101, before it reads anything more;
    so the connect check never mistakes a refused connection for an open one."""
    server = start_server(max_connections=2, compression=False)
    connect(server.uri, count=2)
    for attempt in range(30):
        message = connect_error(connect, server.uri, count=1, transport=transport)
        assert message.endswith(LIMIT_CLOSE), (attempt, message)
    assert server.stats()["connections_refused"] == 30


@pytest.mark.parametrize("transport", ["picows", "websockets"])
def test_a_port_that_answers_the_upgrade_with_another_protocol_is_named(engine, transport):
    """An MQTT broker's plain port, say: bytes that are no HTTP response."""
    import socket
    import threading
    listener = socket.create_server(("127.0.0.1", 0))
    port = listener.getsockname()[1]

    def answer_with_garbage():
        connection, _ = listener.accept()
        with connection:
            connection.recv(1024)
            connection.sendall(b"\x20\x02\x00\x00not http")
    threading.Thread(target=answer_with_garbage, daemon=True).start()
    try:
        with pytest.raises(ConnectError, match="valid HTTP response"):
            engine.connect(ConnectionOptions(f"ws://127.0.0.1:{port}", transport=transport,
                                             open_timeout_s=3.0), count=1)
    finally:
        listener.close()

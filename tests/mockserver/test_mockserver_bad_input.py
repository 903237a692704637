"""The mock server under bad input: each case is survived, counted, and afterwards the server
still serves a normal client at full rate."""
from __future__ import annotations

import asyncio
import time

import orjson
import psutil
import pytest
import websockets
import websockets.sync.client
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import raw_websocket as raw
from polling import wait_until
from WebSocketLoadLibrary.engine import ConnectionOptions, LoadPlan
from WebSocketLoadLibrary.mockserver import ControlError, MockServerControl


def serves_normally(server, engine, rate: int = 5000, messages: int = 5000) -> None:
    pool = engine.connect(ConnectionOptions(server.uri), count=5)
    try:
        result = engine.run_step(pool, LoadPlan(rate=rate, messages=messages), timeout_s=60)
    finally:
        engine.disconnect(pool)
    assert result.load_applied, result.not_applied_reasons
    assert (result.received, result.lost, result.unmatched) == (messages, 0, 0)


@pytest.fixture
def echo(start_server):
    return start_server(compression=False, seed=3, open_timeout_s=1.0)


def test_junk_bytes_instead_of_a_handshake_are_refused_and_counted(echo, engine):
    for junk in (b"\x00\xff\x13garbage\r\n\r\n", b"GET / HTTP/1.1\r\nHost: x\r\n\r\n",
                 b"POST / HTTP/1.0\r\nContent-Length: 5\r\n\r\nhello", b"\x16\x03\x01\x02\x00"):
        with raw.open_socket(echo.uri) as sock:
            sock.sendall(junk)
            assert raw.closed_by_peer(sock, 5.0)
    # three are bad requests; the TLS hello never completes a request, so it times out
    assert wait_until(lambda: (s := echo.stats())["handshake_failures"] == 3
                      and s["handshake_timeouts"] == 1)
    assert echo.stats()["connections_opened"] == 0
    serves_normally(echo, engine)


@settings(max_examples=40, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(junk=st.binary(min_size=1, max_size=2048).filter(lambda b: b"\r\n\r\n" in b or len(b) > 8))
def test_random_bytes_never_crash_the_server(echo, junk):
    with raw.open_socket(echo.uri) as sock:
        sock.sendall(junk + b"\r\n\r\n")
        assert raw.closed_by_peer(sock, 3.0), "the server kept a junk connection open"
    assert echo.running


def test_the_server_survives_the_fuzzing_above_and_counts_it(echo, engine):
    with raw.open_socket(echo.uri) as sock:
        sock.sendall(b"\x7f" * 300 + b"\r\n\r\n")
        assert raw.closed_by_peer(sock, 3.0)
    assert wait_until(lambda: echo.stats()["handshake_failures"] >= 1)
    serves_normally(echo, engine)


def test_a_handshake_that_never_finishes_is_timed_out(echo, engine):
    with raw.open_socket(echo.uri) as sock:
        sock.sendall(raw.upgrade_request(echo.uri)[:40])  # slowloris: half a request, then nothing
        started = time.monotonic()
        assert raw.closed_by_peer(sock, 5.0)
        waited = time.monotonic() - started
    assert 0.8 <= waited <= 3.0, waited
    assert wait_until(lambda: echo.stats()["handshake_timeouts"] == 1)
    serves_normally(echo, engine)


def test_invalid_utf8_in_a_text_frame_closes_that_connection_with_1007(echo, engine):
    with raw.handshake(echo.uri) as sock:
        sock.sendall(raw.frame(raw.TEXT, b"ok \xff\xfe not utf-8"))
        opcode, payload = raw.read_frame(sock)
    assert (opcode, raw.close_code(payload)) == (raw.CLOSE, 1007)
    stats = wait_until(lambda: (s := echo.stats())["connections_closed"] == 1 and s)
    assert stats["close_codes"] == {"1007": 1}
    assert stats["connection_errors"] == 1 and stats["messages_received"] == 0
    serves_normally(echo, engine)


def test_a_frame_over_the_maximum_size_closes_that_connection_with_1009(start_server, engine):
    server = start_server(compression=False, max_size=1000)
    with raw.handshake(server.uri) as sock:
        sock.sendall(raw.frame(raw.BINARY, b"x" * 1000))   # exactly the limit: echoed
        assert raw.read_frame(sock) == (raw.BINARY, b"x" * 1000)
        sock.sendall(raw.frame(raw.BINARY, b"y" * 1001))
        opcode, payload = raw.read_frame(sock)
    assert (opcode, raw.close_code(payload)) == (raw.CLOSE, 1009)
    stats = wait_until(lambda: (s := server.stats())["connections_closed"] == 1 and s)
    assert stats["close_codes"] == {"1009": 1} and stats["messages_received"] == 1
    serves_normally(server, engine)


def test_ack_mode_answers_messages_without_an_id_with_an_error_and_counts_them(start_server, engine):
    server = start_server(mode="ack", compression=False)
    bad = [b"hello", b'{"no_id": 1}', b"[1, 2, 3]", b'"just a string"', b"{\"message_id\": ",
           b"null"]
    with raw.handshake(server.uri) as sock:
        for message in bad:
            sock.sendall(raw.frame(raw.TEXT, message))
            opcode, payload = raw.read_frame(sock)
            assert opcode == raw.TEXT
            assert orjson.loads(payload) == {"error": "no message_id in message"}
        sock.sendall(raw.frame(raw.TEXT, b'{"message_id": 7}'))
        assert orjson.loads(raw.read_frame(sock)[1])["message_id"] == 7
    stats = server.stats()
    assert stats["invalid_messages"] == len(bad) and stats["messages_received"] == len(bad) + 1
    serves_normally(server, engine)


def test_a_client_that_never_reads_is_held_back_by_tcp_not_by_server_memory(echo, engine):
    process = psutil.Process(echo.pid)
    baseline = process.memory_info().rss
    message = raw.frame(raw.BINARY, b"m" * 65536)
    pushed, pending = 0, memoryview(message)
    with raw.handshake(echo.uri) as sock:
        sock.setblocking(False)
        blocked_since, deadline = None, time.monotonic() + 20
        while time.monotonic() < deadline:
            try:
                sent = sock.send(pending)
            except BlockingIOError:
                blocked_since = blocked_since or time.monotonic()
                if time.monotonic() - blocked_since > 1.0:
                    break  # the server stopped taking data: backpressure reached us
                time.sleep(0.01)
                continue
            pushed += sent
            pending = pending[sent:] or memoryview(message)  # whole frames only
            blocked_since = None
        growth = process.memory_info().rss - baseline
        assert blocked_since is not None, f"pushed {pushed:,} bytes without being held back"
        # bounded: 64 queued frames + write buffer, not everything the client pushed
        assert growth < 20_000_000, f"server RSS grew {growth:,} bytes for {pushed:,} pushed"
        serves_normally(echo, engine)  # the stuck connection does not hold up the others
    assert pushed < 200_000_000


def test_a_connection_storm_past_the_limit_is_refused_and_the_admitted_keep_working(
        start_server, engine):
    server = start_server(compression=False, max_connections=20)
    admitted = engine.connect(ConnectionOptions(server.uri), count=20)

    async def storm(count: int) -> list:
        async def one():
            async with websockets.connect(server.uri, compression=None, proxy=None) as ws:
                try:
                    await asyncio.wait_for(ws.recv(), 5)
                except websockets.ConnectionClosed as closed:
                    return closed.rcvd.code if closed.rcvd else None
                return "served"
        return await asyncio.gather(*(one() for _ in range(count)), return_exceptions=True)

    outcomes = asyncio.run(storm(100))
    assert outcomes == [1013] * 100
    result = engine.run_step(admitted, LoadPlan(rate=2000, messages=4000), timeout_s=60)
    assert (result.received, result.lost, result.send_errors) == (4000, 0, 0)
    stats = server.stats()
    assert (stats["connections_refused"], stats["connections_active"]) == (100, 20)
    engine.disconnect(admitted)
    serves_normally(server, engine)


def test_abrupt_resets_mid_message_are_counted_and_harmless(echo, engine):
    for _ in range(20):
        sock = raw.handshake(echo.uri)
        whole = raw.frame(raw.TEXT, b'{"message_id": 1, "payload": "' + b"z" * 500 + b'"}')
        sock.sendall(whole[: len(whole) // 2])
        raw.reset(sock)
    stats = wait_until(lambda: (s := echo.stats())["connections_closed"] == 20 and s)
    assert stats["connection_errors"] == 20 and stats["close_codes"] == {"1006": 20}
    assert stats["messages_received"] == 0 and stats["connections_active"] == 0
    serves_normally(echo, engine)


def test_unknown_or_malformed_control_messages_are_answered_with_an_error(echo, engine):
    control = MockServerControl(echo.ready["control_uri"])
    with pytest.raises(ControlError, match="unknown control op 'explode'"):
        control.request("explode")
    with pytest.raises(ControlError, match="unknown fault"):
        control.set_faults(meltdown=1)
    with pytest.raises(ControlError, match="must be >= 0"):
        control.set_faults(response_delay=-1)
    with websockets.sync.client.connect(echo.ready["control_uri"], proxy=None) as ws:
        for junk in ("not json", "[]", '{"op": 5}', "{}"):
            ws.send(junk)
            assert orjson.loads(ws.recv(timeout=5))["ok"] is False
    wrong_key = echo.ready["control_uri"].split("key=")[0] + "key=wrong"
    with pytest.raises(ControlError, match="403"):
        MockServerControl(wrong_key).stats()
    stats = echo.stats()
    assert stats["control_errors"] == 7
    assert stats["faults"]["response_delay"] == 0.0
    serves_normally(echo, engine)

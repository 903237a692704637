"""A stream faster than its client reads: the mock server makes no more than the socket
takes, so its memory stays bounded and it keeps answering (both engines); a stream that
is read is sent whole. And `Stream.due`'s cap per wake: the rest stays due, in order."""
from __future__ import annotations

import socket
import time

import orjson
import psutil
import pytest

from WebSocketLoadLibrary.mockserver.faults import Faults
from WebSocketLoadLibrary.mockserver.stats import ServerStats
from WebSocketLoadLibrary.mockserver.streams import Stream

UPGRADE = (b"GET / HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
           b"Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n")


def masked_text(payload: bytes) -> bytes:
    """A client's text frame (masked with a zero key: the payload as it is)."""
    assert len(payload) < 126
    return bytes((0x81, 0x80 | len(payload))) + b"\0\0\0\0" + payload


def test_a_stream_due_in_a_burst_comes_at_most_so_many_a_wake():
    stream = Stream(1000.0, 10_000, 4, 0.0, Faults(), ServerStats(), "TEXT")
    first = stream.due(5.0, most=300)                 # 5,001 due (seq 1 at 0 s), 300 made
    assert len(first) == 300 and first[0].startswith(b'{"seq":1,')
    second = stream.due(5.0, most=300)
    assert second[0].startswith(b'{"seq":301,') and stream.seq == 600
    assert len(stream.due(5.0)) == 5001 - 600        # no cap: all that is due


@pytest.mark.parametrize("engine_name", ["picows", "websockets"])
def test_a_client_that_stops_reading_holds_the_stream_back_not_the_servers_memory(
        start_server, engine_name):
    server = start_server(engine=engine_name, compression=False)
    process = psutil.Process(server.pid)
    host, port = server.uri.removeprefix("ws://").split(":")
    sock = socket.create_connection((host, int(port)), timeout=5)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
        sock.sendall(UPGRADE)
        assert b" 101 " in sock.recv(4096)
        rss_before = process.memory_info().rss
        command = {"op": "stream", "rate": 200_000, "duration": 10, "size": 100}
        sock.sendall(masked_text(orjson.dumps(command)))
        time.sleep(2.0)                               # never read: 400,000 messages due
        asked = time.perf_counter()
        stats = server.stats()                        # the server still answers at once
        answered_s = time.perf_counter() - asked
        grown = process.memory_info().rss - rss_before
    finally:
        sock.close()
    assert stats["pushes_sent"] < 100_000, stats["pushes_sent"]   # ~120 B each: 48 MB
    assert grown < 30_000_000, f"the server grew {grown / 1e6:.1f} MB"
    assert answered_s < 2.0


def masked_close(code: int = 1000) -> bytes:
    return bytes((0x88, 0x82)) + b"\0\0\0\0" + code.to_bytes(2, "big")


@pytest.mark.parametrize("engine_name", ["picows", "websockets"])
def test_a_stream_stops_at_the_clients_close_and_the_server_closes_behind_it(
        start_server, engine_name):
    """The client reads as fast as it can (faster than the stream is made) and closes:
    the server's close and end of connection come behind what it had queued, not at the
    end of the stream's 20 s. (The websockets engine sent all a stream had due in one go:
    behind its schedule, 13.5 MB more after the close and 0.84 s to end the connection
    quiet, over 8 s beside a busy process; at most 5,000 a wake, 0.6 MB and 0.04 s.)"""
    server = start_server(engine=engine_name, compression=False)
    host, port = server.uri.removeprefix("ws://").split(":")
    sock = socket.create_connection((host, int(port)), timeout=5)
    try:
        sock.sendall(UPGRADE)
        assert b" 101 " in sock.recv(4096)
        command = {"op": "stream", "rate": 1_000_000, "duration": 20, "size": 100}
        sock.sendall(masked_text(orjson.dumps(command)))
        read_until = time.monotonic() + 1.0
        while time.monotonic() < read_until:
            assert sock.recv(1 << 20)
        sock.sendall(masked_close())
        closed_by = time.monotonic() + 8.0
        while time.monotonic() < closed_by:
            if not sock.recv(1 << 20):
                break
        else:
            pytest.fail("the server still streamed 8 s after the client's close")
    finally:
        sock.close()

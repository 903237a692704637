"""picows as both sides use it (picows_wire.py): a client far behind a fast stream still
gives its loop to the rest of its work each pass, so a step's end, pings and a close are
not kept waiting for seconds behind the queued messages; and the mock server's two frames
in one write are two whole frames."""
from __future__ import annotations

import asyncio
import time

import pytest

from WebSocketLoadLibrary.picows_wire import server_frames
from WebSocketLoadLibrary.engine import (ConnectionOptions, LoadPlan, OpeningMessages,
                                         StreamSpec)

CONNECTIONS = 10
STREAM = '{"op":"stream","rate":200000,"duration":30,"size":100}'


def test_a_client_behind_a_stream_keeps_its_loop_and_closes_cleanly(start_server, engine):
    server = start_server(engine="picows", compression=False)
    pool = engine.connect(ConnectionOptions(server.uri, transport="picows", opening=(
        OpeningMessages([STREAM], '"op":"streaming"'))), count=CONNECTIONS)
    running = engine.start_step(pool, LoadPlan(duration_s=5.0, listen=StreamSpec()))
    time.sleep(3.0)       # 2,000,000 messages/s asked: the client is megabytes behind by now
    waits = []
    for _ in range(5):
        asked = time.perf_counter()
        engine.loop.run(asyncio.sleep(0), 10.0, "one pass of the loop")
        waits.append(time.perf_counter() - asked)
    result = running.wait()
    sockets = [connection.ws for connection in pool.connections]
    engine.disconnect(pool)
    assert result.received > 0
    # it read a socket up to 32 times in a row, each read as big as its buffer had grown:
    # one pass took 1-5 s; now one read a connection a pass, of at most 256 KB
    assert max(waits) < 1.0, [f"{wait:.2f} s" for wait in waits]
    # the server's close frame came back before the close timeout (5 s) cut it short
    assert [ws.close_code for ws in sockets] == [1000] * CONNECTIONS


@pytest.mark.parametrize("lengths", [(0, 0), (125, 126), (126, 125), (65535, 65536),
                                     (70000, 3)])
@pytest.mark.parametrize("opcode", [1, 2])
def test_two_server_frames_in_one_write_parse_as_two_frames(lengths, opcode):
    """What the mock server writes for a reply and what follows it (GraphQL's complete) in
    one go reads, by websockets' own parser, as those two frames whole and unmasked, for
    each header length (7-bit, 16-bit, 64-bit)."""
    from websockets.frames import Frame, Opcode
    from websockets.streams import StreamReader
    first, second = b"a" * lengths[0], b"b" * lengths[1]
    reader = StreamReader()
    reader.feed_data(server_frames(opcode, first, second))
    reader.feed_eof()
    frames = []
    for _ in range(2):
        parsing = Frame.parse(reader.read_exact, mask=False)
        try:
            next(parsing)
        except StopIteration as done:
            frames.append(done.value)
    assert [(f.opcode, f.fin, f.data) for f in frames] == [(Opcode(opcode), True, first),
                                                           (Opcode(opcode), True, second)]
    assert reader.at_eof()

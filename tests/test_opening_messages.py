"""Opening messages: each connection says them after its handshake, on both transports, and
a connection whose reply does not come fails the open with what arrived instead."""
from __future__ import annotations

import asyncio
import threading

import pytest
import websockets
from websockets.asyncio.server import serve

from WebSocketLoadLibrary.engine import ConnectionOptions, LoadEngine
from WebSocketLoadLibrary.engine.errors import ConnectError
from WebSocketLoadLibrary.engine.opening import OpeningMessages
from WebSocketLoadLibrary.errors import UsageError


class RoomServer:
    """A small chat-room server in a thread: a welcome first, then `joined <n>` for
    `join <n>` (or nothing, for rooms listed in `silent`); it remembers who joined."""

    def __init__(self, silent=()):
        self.silent = set(silent)
        self.joined: list[str] = []
        self.ready = threading.Event()
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, daemon=True)
        self.thread.start()
        self.server = asyncio.run_coroutine_threadsafe(self._start(), self.loop).result(10)
        self.uri = f"ws://127.0.0.1:{self.server.sockets[0].getsockname()[1]}"

    async def _start(self):
        return await serve(self._handle, "127.0.0.1", 0)

    async def _handle(self, ws):
        await ws.send('{"type":"welcome"}')
        async for message in ws:
            if message.startswith("join "):
                room = message.split()[1]
                self.joined.append(room)
                if room not in self.silent:
                    await ws.send(f'{{"type":"joined","room":"{room}"}}')
            else:
                await ws.send(message)

    def close(self):
        self.server.close()
        asyncio.run_coroutine_threadsafe(self.server.wait_closed(), self.loop).result(10)
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(10)


@pytest.fixture
def engine():
    engine = LoadEngine()
    yield engine
    engine.close()


@pytest.mark.parametrize("transport", ["websockets", "picows"])
def test_each_connection_says_its_opening_messages_before_it_counts_as_open(engine, transport):
    server = RoomServer()
    try:
        opening = OpeningMessages(["join lobby", "join room-$connection"],
                                  "type == joined", timeout_s=5)
        pool = engine.connect(ConnectionOptions(server.uri, transport=transport,
                                                opening=opening), count=3)
        assert len(pool.open_connections) == 3
        assert sorted(server.joined) == sorted(["lobby"] * 3 + ["room-0", "room-1", "room-2"])
        # the connections carry on as ordinary ones: a step's replies are its own
        assert pool.stray_replies == 0
    finally:
        server.close()


@pytest.mark.parametrize("transport", ["websockets", "picows"])
def test_a_missing_reply_fails_the_open_naming_connection_message_and_what_came(engine,
                                                                                 transport):
    server = RoomServer(silent={"room-1"})
    try:
        opening = OpeningMessages(["join room-$connection"], "type == joined", timeout_s=0.5)
        with pytest.raises(ConnectError) as failure:
            engine.connect(ConnectionOptions(server.uri, transport=transport, opening=opening),
                           count=3)
        text = str(failure.value)
        assert "connection 1: opening message 1 of 1 'join room-1'" in text
        assert "no reply within 0.5 s" in text and '{"type":"welcome"}' in text
    finally:
        server.close()


def test_opening_messages_without_a_reply_pattern_are_sent_and_not_waited_for(engine):
    server = RoomServer(silent={"quiet"})
    try:
        pool = engine.connect(ConnectionOptions(
            server.uri, opening=OpeningMessages("join quiet")), count=2)
        assert len(pool.open_connections) == 2
    finally:
        server.close()


def test_bad_opening_arguments_are_clear_errors():
    with pytest.raises(UsageError, match=r"unknown placeholder\(s\) \$room"):
        OpeningMessages("join $room")
    with pytest.raises(UsageError, match="at least one"):
        OpeningMessages([])
    with pytest.raises(UsageError, match="timeout must be positive"):
        OpeningMessages("x", timeout_s=0)

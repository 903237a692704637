"""Opening messages: each connection says them after its handshake, on both transports, and
a connection whose reply does not come fails the open with what arrived instead."""
from __future__ import annotations

import pytest

from thread_server import ThreadServer
from WebSocketLoadLibrary.engine import ConnectionOptions
from WebSocketLoadLibrary.engine.errors import ConnectError
from WebSocketLoadLibrary.engine.transport.opening import OpeningMessages
from WebSocketLoadLibrary.errors import UsageError


class RoomServer(ThreadServer):
    """A small chat-room server in a thread: a welcome first, then `joined <n>` for
    `join <n>` (or nothing, for rooms listed in `silent`); it remembers who joined."""

    def __init__(self, silent=()):
        self.silent = set(silent)
        self.joined: list[str] = []
        super().__init__()

    async def handle(self, ws):
        await ws.send('{"type":"welcome"}')
        async for message in ws:
            if message.startswith("join "):
                room = message.split()[1]
                self.joined.append(room)
                if room not in self.silent:
                    await ws.send(f'{{"type":"joined","room":"{room}"}}')
            else:
                await ws.send(message)


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

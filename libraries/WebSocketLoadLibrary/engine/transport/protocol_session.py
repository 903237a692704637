"""A protocol's sessions at work on a pool's connections (the codecs are engine/protocols/).

- `ProtocolHandshake`: the protocol's handshake after the upgrade, carried out like the
  opening messages (the pools' `_say_opening` feeds it what arrives), within the open
  timeout, failing with what the server said or sent instead;
- `controller(groups, report)`: what a step's receivers call with a message that is no
  reply (their slow path): a keep-alive is answered at once on its connection and counted,
  the server's report of an error goes to `report` (the step's errors), and True says it
  was the protocol's own;
- `Heartbeats`: what the client must send on its own (STOMP heart-beats, MQTT PINGREQ),
  every `heartbeat_s`, on every open connection of the pool.
"""
from __future__ import annotations

import asyncio
from collections import deque

from ..protocols.base import Delivered, ProtocolRefused, ServerError
from .closes import describe_close
from .opening import OpeningError, next_arrival

SEEN_KEPT = 3


class ProtocolError(OpeningError):
    """A connection's protocol handshake failed: refused, timed out, or another protocol."""


class ProtocolCounts:
    """What the protocol layer did on a pool: handshakes, keep-alives answered, its own
    messages passed over, heartbeats sent."""
    __slots__ = ("handshakes", "answered", "control", "heartbeats")

    def __init__(self):
        self.handshakes = self.answered = self.control = self.heartbeats = 0

    def snapshot(self) -> tuple[int, int, int, int]:
        return self.handshakes, self.answered, self.control, self.heartbeats


class ProtocolHandshake:
    """One connection's protocol handshake, over a transport's `send(bytes)` and a queue the
    transport fills with what arrives (None: the connection closed)."""

    def __init__(self, protocol, session, connection: int, send, timeout_s: float,
                 close_of=None):
        self.protocol, self.session, self.connection = protocol, session, connection
        self.send, self.timeout_s = send, timeout_s
        # `close_of() -> (code, reason)`: the close frame the socket got once the queue says
        # it closed (code None: none), so that a server refusing by close code is named
        self.close_of = close_of
        self.arrived: asyncio.Queue = asyncio.Queue()
        self.seen: deque = deque(maxlen=SEEN_KEPT)

    async def run(self) -> None:
        for message in self.session.start():
            await self.send(message)
        deadline = asyncio.get_running_loop().time() + self.timeout_s
        while True:
            try:
                arrived = await next_arrival(self.arrived, deadline)
            except asyncio.TimeoutError:
                raise ProtocolError(self._failure(f"no handshake within {self.timeout_s:g} s")
                                    ) from None
            if arrived is None:
                raise ProtocolError(self._closed())
            try:
                answers, done = self.session.handshake(arrived)
            except ProtocolRefused as refused:
                raise ProtocolError(f"connection {self.connection}: {refused}") from None
            self.seen.append(arrived)
            for answer in answers:
                await self.send(answer)
            if done:
                return

    def _closed(self) -> str:
        code, reason = self.close_of() if self.close_of is not None else (None, "")
        if code is None:
            return self._failure("the connection closed")
        seen = ", ".join(repr(m[:120]) for m in self.seen)
        return (f"connection {self.connection}: the server closed the connection during the "
                f"{self.protocol.title} handshake: {describe_close(code, reason)}"
                + (f"; received before: {seen}" if seen else ""))

    def _failure(self, why: str) -> str:
        seen = (", ".join(repr(m[:120]) for m in self.seen) if self.seen
                else "nothing arrived")
        return (f"connection {self.connection}: the {self.protocol.title} handshake did not "
                f"complete ({why}); received: {seen}. Is the server speaking "
                f"{self.protocol.title} at this URI?")


def controller(groups: list[tuple], report=None):
    """`control(slot, message) -> bool` over the connections of `groups`, (pool, connections)
    pairs numbered in turn (a fan-out's publishers, then its subscribers), or None when no
    pool speaks a protocol of its own. The lists are those a step receives on: a connection
    a lifecycle policy put in a slot's place is found there. `report(text)` takes what
    the server said in a `ServerError`."""
    if not any(pool.protocol is not None and pool.protocol.handshakes for pool, _ in groups):
        return None
    offsets, total = [], 0
    for pool, group in groups:
        offsets.append((total, pool, group))
        total += len(group)

    def control(slot: int, message: bytes) -> bool:
        for first, pool, group in reversed(offsets):
            if slot >= first:
                connection = group[slot - first]
                break
        session = connection.session
        if session is None:
            return False
        answer = session.control(message)
        if answer is None:
            return False
        if answer.__class__ is Delivered:   # answered, and the application's all the same
            pool.send_control(connection, answer)
            return False
        counts = pool.protocol_counts
        counts.control += 1
        if answer:
            counts.answered += 1
            pool.send_control(connection, answer)
        elif report is not None and answer.__class__ is ServerError:
            report(answer.text)
        return True
    return control


class Heartbeats:
    """Sends each open connection's `session.heartbeat()` every `interval_s`, until stopped."""

    def __init__(self, pool, interval_s: float):
        self.pool, self.interval_s = pool, interval_s
        self.task = asyncio.get_running_loop().create_task(self._run())

    async def _run(self) -> None:
        while True:
            await asyncio.sleep(self.interval_s)
            for connection in self.pool.open_connections:
                session = connection.session
                if session is not None:
                    beat = session.heartbeat()
                    if beat:
                        self.pool.send_control(connection, beat)
                        self.pool.protocol_counts.heartbeats += 1

    async def stop(self) -> None:
        self.task.cancel()
        await asyncio.gather(self.task, return_exceptions=True)

"""A pool of open client connections, each with one reader for its whole life.

The reader hands every message to the pool's current `on_message` (the running step's
receivers, see `receive_with`, or a counter of stray replies between steps) and notes how
the connection ended (close code and reason), so that a step learns at once when a server
drops it.
"""
from __future__ import annotations

import asyncio
import time

from websockets.asyncio.client import connect
from websockets.exceptions import ConnectionClosed

from .closes import describe_close, describe_ws_close
from .connections import ConnectionOptions, explain_connect_error
from ..errors import ConnectError
from ..protocols.base import Delivered
from .frames import by_connection
from .pool_changes import ChangingPool, tcp_socket
from .pooled_connection import PooledConnection
from .protocol_session import Heartbeats, ProtocolCounts, ProtocolHandshake
from .opening import Conversation
from .writer import FrameWriter

__all__ = ["ClientPool", "PooledConnection", "describe_close", "describe_ws_close"]


class ClientPool(ChangingPool):
    def __init__(self, options: ConnectionOptions):
        self.options = options
        self.connections: list[PooledConnection] = []
        self.stray_replies = 0
        self.on_message = self._stray
        self._close_listeners: list = []
        self._replacement_listeners: list = []
        self._receiving: tuple[list, list] | None = None   # a step's connections, receivers
        self.policies: list = []    # lifecycle policies at work (churn.py, reconnect.py)
        self.lifecycle = None       # their counters (lifecycle.py), made by the first
        self.protocol = options.protocol  # what is spoken over WebSocket (None: plain)
        self.protocol_counts = ProtocolCounts()
        self.heartbeats: Heartbeats | None = None
        self._control_writer = None

    def _stray(self, connection: PooledConnection, message, now: float):
        """A message while no step runs: the protocol's own (a keep-alive, answered), or a
        stray reply (counted, not booked)."""
        session = connection.session
        if session is not None:
            answer = session.control(message)
            if answer.__class__ is Delivered:     # acknowledged, and a stray all the same
                self.send_control(connection, answer)
            elif answer is not None:
                self.protocol_counts.control += 1
                if answer:
                    self.protocol_counts.answered += 1
                    self.send_control(connection, answer)
                return
        self.stray_replies += 1

    def send_control(self, connection: PooledConnection, data: bytes) -> None:
        """Send a protocol message (a keep-alive's answer, a heartbeat) at once, beside
        whatever a step is sending; a connection that closed meanwhile is passed over."""
        if self._control_writer is None:
            self._control_writer = self.writer()
        try:
            self._control_writer.send(connection.ws, data, self.protocol.text)
        except Exception:  # noqa: BLE001 - closed under us: its close is reported apart
            pass

    def _session(self, number: int):
        return self.protocol.session(number) if self.protocol is not None else None

    async def _say_protocol(self, ws, session, number: int) -> None:
        """The protocol's handshake on a connection not yet in the pool."""
        if session is None or not self.protocol.handshakes:
            return
        await self._say_opening(ws, ProtocolHandshake(
            self.protocol, session, number, self._protocol_sender(ws),
            self.options.open_timeout_s, lambda: self._close_of(ws)))
        self.protocol_counts.handshakes += 1

    @staticmethod
    def _close_of(ws) -> tuple[int | None, str]:
        """The close frame a socket not yet in the pool got: (code, reason), or (None, "")."""
        received = ws.protocol.close_rcvd
        return (received.code, received.reason) if received else (None, "")

    def _protocol_sender(self, ws):
        return self._text_sender(ws) if self.protocol.text else self._binary_sender(ws)

    def start_heartbeats(self, session) -> None:
        """Client heartbeats, when the protocol's session (the handshake set its interval)
        asks for them: one timer for the pool, at the first such session's interval."""
        if self.heartbeats is None and session is not None and session.heartbeat_s:
            self.heartbeats = Heartbeats(self, session.heartbeat_s)

    def listen_for_closes(self, listener):
        """Call `listener(connection)` whenever one of the pool's connections ends (a step
        accounts for it, a reconnect policy replaces it, ...); returns a function that
        stops the calls."""
        self._close_listeners.append(listener)
        return lambda: self._close_listeners.remove(listener)

    def connection_closed(self, connection: PooledConnection) -> None:
        """The transports report here that `connection` ended (its close code is set)."""
        connection.closed_at = time.perf_counter()
        for listener in list(self._close_listeners):
            listener(connection)

    def _install(self, connection: PooledConnection, receiver) -> None:
        """A running step's receiver for a connection that joined it (here: `on_message`
        dispatches by slot, so there is nothing to do)."""

    def receive_with(self, connections: list[PooledConnection], make_receivers) -> None:
        """Hand every reply on `connections` to a step's receivers until `stop_receiving`:
        `make_receivers(fallbacks)` gives one `on_frame(transport, frame)` per connection,
        in slot order (frames.py). Here messages arrive whole, through `on_message`."""
        receivers = make_receivers(self._frame_fallbacks(connections))
        self.on_message = by_connection(receivers)
        self._listen(connections, receivers)
        self._receiving = (connections, receivers)

    def stop_receiving(self, connections: list[PooledConnection]) -> None:
        """Replies are strays again (counted, not booked)."""
        self.on_message = self._stray
        self._listen(connections, None)
        self._receiving = None

    def _frame_fallbacks(self, connections: list[PooledConnection]) -> list:
        return [None] * len(connections)  # no frames but whole messages: never called

    def _listen(self, connections: list[PooledConnection], receivers: list | None) -> None:
        """Where sockets call a listener per frame (picows), install `receivers` as theirs
        (None: their own back). Here there is none: every message goes through `on_message`."""

    transport = "websockets"

    def writer(self):
        """The writer the load step sends through (coalesced writes, backpressure)."""
        return FrameWriter()

    async def open(self, count: int, concurrency: int = 100, verify: bool = True) -> None:
        """Open `count` connections, at most `concurrency` handshakes at a time.

        With `verify`, one ping round trip per connection follows the handshake: a server
        that accepts the handshake and closes at once (a connection limit's 1013) fails the
        open here instead of the first load step.
        """
        if count < 1:
            raise ConnectError(f"count must be at least 1, got {count}")
        ssl_context = self.options.ssl_context()
        semaphore = asyncio.Semaphore(concurrency)
        opening, base = self.options.opening, len(self.connections)

        async def one(index):
            async with semaphore:
                sock = await self._open_one(ssl_context)
                session = self._session(base + index)
                try:
                    await self._say_protocol(sock, session, base + index)
                    if opening is not None:
                        await self._say_opening(sock, Conversation(opening, base + index,
                                                                   self._text_sender(sock)))
                except BaseException:
                    await self._close_sockets([sock], self.options.close_timeout_s)
                    raise
                return sock, session

        tasks = [asyncio.ensure_future(one(i)) for i in range(count)]
        done = await asyncio.gather(*tasks, return_exceptions=True)
        failures = [r for r in done if isinstance(r, BaseException)]
        opened = [r for r in done if not isinstance(r, BaseException)]
        if failures:
            await self._close_sockets([sock for sock, _ in opened], self.options.close_timeout_s)
            first = failures[0]
            raise ConnectError(f"{len(failures)} of {count} connections failed: {first}"
                               if count > 1 else str(first)) from first  # the cause, at DEBUG
        added = self._adopt([sock for sock, _ in opened], [session for _, session in opened])
        if verify:
            await self._verify(added, count)
        self.start_heartbeats(added[0].session)

    async def _open_phased(self, ssl_context, phases: dict):
        """A websockets connection with its TCP connect timed apart from the handshake
        (TLS, when there is one, is part of websockets' handshake)."""
        began = time.perf_counter()
        sock = await tcp_socket(self.options.uri, self.options.source_addresses)
        phases["tcp"] = time.perf_counter() - began
        began = time.perf_counter()
        try:
            ws = await connect(self.options.uri, sock=sock,
                               **self.options.connect_kwargs(ssl_context))
        except BaseException:
            sock.close()
            raise
        phases["handshake"] = time.perf_counter() - began
        return ws

    def socket_fds(self, connections: list[PooledConnection]) -> list[int]:
        """Each connection's OS socket (-1 where there is none), for probes off the loop."""
        return [_fileno(self._raw_transport(c.ws)) for c in connections]

    @staticmethod
    def _raw_transport(ws):
        return ws.transport

    async def _open_one(self, ssl_context):
        """One connection of either transport (`_open_phased`, phases not kept), or
        ConnectError saying why not."""
        try:
            async with asyncio.timeout(self.options.open_timeout_s):
                return await self._open_phased(ssl_context, {})
        except (asyncio.CancelledError, KeyboardInterrupt, SystemExit):
            raise
        except BaseException as error:  # noqa: BLE001 - translated, never swallowed
            raise ConnectError(explain_connect_error(error, self.options)) from None

    # -- what differs between transports -------------------------------------------------

    @staticmethod
    def _text_sender(ws):
        async def send(message: bytes) -> None:
            await ws.send(message.decode())
        return send

    @staticmethod
    def _binary_sender(ws):
        async def send(message: bytes) -> None:
            await ws.send(message)
        return send

    async def _say_opening(self, ws, conversation: Conversation) -> None:
        """The opening messages of a connection not yet in the pool (its reader not yet
        started): what arrives meanwhile is read here and handed to the conversation."""
        async def pump():
            try:
                while True:
                    conversation.arrived.put_nowait(await ws.recv(decode=False))
            except ConnectionClosed:
                conversation.arrived.put_nowait(None)
        reading = asyncio.get_running_loop().create_task(pump())
        try:
            await conversation.run()
        finally:
            reading.cancel()  # websockets: a cancelled recv loses no message
            await asyncio.gather(reading, return_exceptions=True)

    def _adopt(self, sockets, sessions=None) -> list[PooledConnection]:
        base = len(self.connections)
        added = []
        for offset, ws in enumerate(sockets):
            connection = PooledConnection(base + offset, ws, sessions[offset] if sessions else None)
            connection.reader = asyncio.get_running_loop().create_task(self._read(connection))
            added.append(connection)
        self.connections.extend(added)
        return added

    async def _round_trip(self, connection: PooledConnection, timeout_s: float) -> None:
        pong = await connection.ws.ping()
        await asyncio.wait_for(pong, timeout_s)

    @staticmethod
    def _describe_failed(connection: PooledConnection) -> str:
        return describe_ws_close(connection.ws)

    async def _close_sockets(self, sockets, timeout_s: float) -> None:
        await asyncio.gather(*(ws.close() for ws in sockets), return_exceptions=True)

    async def _verify(self, added: list[PooledConnection], count: int) -> None:
        timeout_s = self.options.open_timeout_s
        outcomes = await asyncio.gather(*(self._round_trip(c, timeout_s) for c in added),
                                        return_exceptions=True)
        failed = [(c, o) for c, o in zip(added, outcomes) if isinstance(o, BaseException)]
        if not failed:
            return
        await asyncio.sleep(0)  # let the readers record the close frames
        connection, outcome = failed[0]
        why = (f"no pong within {timeout_s:g} s" if isinstance(outcome, asyncio.TimeoutError)
               else self._describe_failed(connection))
        for c in added:
            self.connections.remove(c)
        await self._close_sockets([c.ws for c in added], self.options.close_timeout_s)
        for c in added:
            if c.reader is not None:
                c.reader.cancel()
        await asyncio.gather(*(c.reader for c in added if c.reader), return_exceptions=True)
        raise ConnectError(f"{len(failed)} of {count} connections failed right after the "
                           f"handshake: {why}")

    async def _read(self, connection: PooledConnection) -> None:
        recv, clock = connection.ws.recv, time.perf_counter
        try:
            while True:
                message = await recv(decode=False)
                self.on_message(connection, message, clock())
        except ConnectionClosed as closed:
            received = closed.rcvd
            connection.close_code = received.code if received else None
            connection.close_reason = received.reason if received else ""
        finally:
            connection.closed = True
            self.connection_closed(connection)

    @property
    def open_connections(self) -> list[PooledConnection]:
        return [c for c in self.connections if not c.closed]

    def close_summary(self) -> dict[str, int]:
        summary: dict[str, int] = {}
        for connection in self.connections:
            if connection.closed:
                text = connection.describe_close()
                summary[text] = summary.get(text, 0) + 1
        return summary

    async def close(self, timeout_s: float = 5.0) -> None:
        await self.stop_policies()
        if self.heartbeats is not None:
            await self.heartbeats.stop()
        connections, self.connections = self.connections, []
        if not connections:
            return
        closing = [c.ws.close() for c in connections if not c.closed]
        try:
            await asyncio.wait_for(asyncio.gather(*closing, return_exceptions=True), timeout_s)
        except asyncio.TimeoutError:
            for c in connections:
                c.ws.transport.abort()
        for c in connections:
            if c.reader is not None:
                c.reader.cancel()
        await asyncio.gather(*(c.reader for c in connections if c.reader),
                             return_exceptions=True)


def _fileno(transport) -> int:
    try:
        sock = transport.get_extra_info("socket")
        return sock.fileno() if sock is not None else -1
    except (AttributeError, OSError):
        return -1

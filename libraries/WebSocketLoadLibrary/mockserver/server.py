"""The mock WebSocket server: echo or ack replies, limits, auth, TLS and injected faults.

Runs inside its own process (see __main__.py); `MockServerProcess` starts and stops it.
A control endpoint on the same port (`/_control?key=...`) reads counters and changes faults
while it runs, so that any process that knows the key -- pabot workers included -- can use it.

This module is the websockets engine: only its I/O. What the server decides -- admission,
replies, faults, counters -- is in core.py and pipeline.py, shared with picows_server.py.
"""
from __future__ import annotations

import asyncio
import logging
import time

from websockets.asyncio.server import ServerConnection, serve
from websockets.exceptions import ConnectionClosed, ConnectionClosedError
from websockets.protocol import State

from .commands import COMMAND_PREFIX, TEXT_COMMAND_PREFIX
from .core import HANG, LIMIT_REACHED, MockServerCore
from .pipeline import Exchange, wire_size
from .stats import ServerStats
from .streams import BATCH_MOST


class Outgoing:
    """Sends what one connection gets besides the replies its own reads send: the outbox
    others fill (deliveries, heartbeats, command answers), held items when they are due and
    a stream's messages, in one task per connection that needs it."""

    def __init__(self, ws, exchange: Exchange):
        self.ws, self.exchange = ws, exchange
        self.waiter: asyncio.Future | None = None
        self.timed_stream = None   # the stream stream_at is for
        self.stream_at: float | None = None
        self.task = asyncio.get_running_loop().create_task(self._run())

    def wake(self) -> None:
        waiter = self.waiter
        if waiter is not None and not waiter.done():
            waiter.set_result(None)

    async def _run(self):
        try:
            await self._send_all()
        except ConnectionClosed:
            pass  # the connection's own handler counts the close

    async def _send_all(self):
        exchange, ws = self.exchange, self.ws
        while True:
            if exchange.outbox:
                outbox, exchange.outbox = exchange.outbox, []
                for kind, item in outbox:
                    await ws.send(item, text=kind)
                continue
            now = time.monotonic()
            item = exchange.pop_due(now)
            if item is not None:
                await ws.send(item[1], text=item[0])
                continue
            stream = exchange.stream
            if stream is not self.timed_stream and stream is not None and stream.running:
                self.timed_stream, self.stream_at = stream, now  # a new stream starts now
            if self.stream_at is not None and self.stream_at <= now:
                for message in exchange.stream_due(now, BATCH_MOST):
                    await ws.send(message, text=exchange.frame_kind is not False)
                self.stream_at = exchange.stream_wake(time.monotonic())
                continue
            wakes = [at for at in (exchange.next_due(), self.stream_at) if at is not None]
            await self._nap(min(wakes) - now if wakes else None)

    async def _nap(self, seconds: float | None) -> None:
        """Sleep this long (None: until woken); `wake` ends it sooner."""
        loop = asyncio.get_running_loop()
        self.waiter = waiter = loop.create_future()
        timer = None if seconds is None else loop.call_later(
            max(0.0, seconds), lambda: waiter.done() or waiter.set_result(None))
        try:
            await waiter
        finally:
            self.waiter = None
            if timer is not None:
                timer.cancel()

    def cancel(self) -> None:
        self.task.cancel()


async def _send(ws, exchange: Exchange, reply, kind=None) -> None:
    try:
        await ws.send(reply, text=kind)
    except ConnectionClosed:
        exchange.unsent(reply)
        raise


def _flush(ws) -> None:
    """Have the connection's Outgoing task look at what there is to send."""
    if ws.outgoing is None:
        ws.outgoing = Outgoing(ws, ws.exchange)
    ws.outgoing.wake()


def _close_code(ws) -> int:
    """The code that ended a connection: the peer's if it sent a close frame, else ours;
    1006 when neither side's close frame got through (a reset, a dropped connection)."""
    frame = ws.protocol.close_rcvd or ws.protocol.close_sent
    return frame.code if frame is not None else 1006


class CountedConnection(ServerConnection):
    """Counts opening handshakes that fail (junk instead of HTTP, a bad upgrade request) or
    time out (a slowloris client), which websockets otherwise only logs."""
    stats: ServerStats
    exchange: Exchange | None = None   # None: a control connection, or refused
    outgoing: Outgoing | None = None
    hung = False              # left unanswered by hang_handshakes (counted there)
    closed_on_purpose = False  # by restart or close_after: not a connection error

    async def handshake(self, *args, **kwargs):
        try:
            await super().handshake(*args, **kwargs)
        except asyncio.CancelledError:  # open_timeout expired
            if self.hung:
                raise
            # websockets drops a request it cannot parse and waits out the timeout
            if self.protocol.handshake_exc is not None or self.transport.is_closing():
                self.stats.handshake_failures += 1
            else:
                self.stats.handshake_timeouts += 1
            raise
        except Exception:
            self.stats.handshake_failures += 1
            raise
        if self.protocol.state is not State.OPEN:
            if not _refused_on_purpose(self):
                self.stats.handshake_failures += 1
            return
        # admission right after the 101, before this coroutine yields: a client's first
        # ping cannot be answered before a refusal's close frame goes out
        self.admit(self)

    def admit(self, connection) -> None:  # replaced by MockServer.start
        pass


def _refused_on_purpose(connection) -> bool:
    """401 (auth), 403 (control key), 429 and 503 (faults) are counted where decided."""
    response = connection.response
    return response is not None and response.status_code in (401, 403, 429, 503)


class MockServer(MockServerCore):
    engine = "websockets"
    text_kind = True  # ws.send(data, text=kind): text frames of bytes
    binary_kind = False

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self._server = None
        self._heartbeats: asyncio.Task | None = None
        self.stopped = asyncio.Event()
        self._stopping = asyncio.Event()  # ends the handshakes kept waiting

    def _select_subprotocol(self, connection, offered):
        """The first subprotocol offered that the server speaks, or none at all: a client
        offering none (the control connection, a plain client) is served, not refused
        with websockets' 400 "missing subprotocol"."""
        return next((p for p in offered if p in (self.subprotocols or ())), None)

    async def start(self) -> str:
        logging.getLogger("websockets").setLevel(logging.CRITICAL)

        class Connection(CountedConnection):
            pass
        Connection.stats = self.stats
        Connection.admit = staticmethod(self._admit)
        self._server = await serve(
            self._handle, self.host, self.port, ssl=self.ssl_context,
            process_request=self._process_request, compression=self.compression,
            subprotocols=self.subprotocols, select_subprotocol=self._select_subprotocol,
            max_size=self.max_size, max_queue=64, ping_interval=None,
            # a slowloris handshake is cut off instead of holding a slot forever
            open_timeout=self.open_timeout_s, create_connection=Connection,
            backlog=4096,  # thousands of clients may connect at once
            reuse_port=self.reuse_port or None)
        self.port = self._server.sockets[0].getsockname()[1]
        self._heartbeats = asyncio.get_running_loop().create_task(self._beat())
        return self.uri

    async def _beat(self) -> None:
        while True:
            now = time.monotonic()
            await asyncio.sleep(self.heartbeat_wake(now) - now)
            for exchange in self.heartbeat(time.monotonic()):
                _flush(exchange.peer)

    async def stop(self) -> None:
        self._stopping.set()
        if self._heartbeats is not None:
            self._heartbeats.cancel()
        if self._server is not None:
            self._server.close(close_connections=True)
            await asyncio.wait_for(self._server.wait_closed(), 5)
        self.stopped.set()

    # -- the core's hooks ------------------------------------------------------------------
    def later(self, seconds: float, callback) -> None:
        asyncio.get_running_loop().call_later(seconds, callback)

    def close_connection(self, exchange: Exchange, code: int, reason: str) -> None:
        ws = exchange.peer
        ws.closed_on_purpose = True
        asyncio.get_running_loop().create_task(ws.close(code, reason))

    # -- admission ---------------------------------------------------------------------
    async def _process_request(self, connection, request):
        wait = self.handshake_wait(request.path)
        if wait:
            connection.hung = wait == HANG
            # until the time is up, the server stops, or (hung) open_timeout cancels us
            try:
                await asyncio.wait_for(self._stopping.wait(), None if connection.hung else wait)
            except asyncio.TimeoutError:
                pass
            if self._stopping.is_set():
                return connection.respond(503, "mock server stopping\n")
        refusal = self.check_request(request.path, request.headers.get("Authorization", ""))
        return None if refusal is None else connection.respond(*refusal)

    def _admit(self, ws) -> None:
        """Take a connection slot, or refuse with 1013 at once (the close frame is written
        before anything the client sends after the handshake is answered)."""
        if self.is_control(ws.request.path):
            return
        ws.exchange = self.open(wire_size)
        if ws.exchange is None:
            ws.protocol.send_close(*LIMIT_REACHED)
            ws.send_data()
        else:
            ws.exchange.peer = ws

    async def _handle(self, ws):
        if self.is_control(ws.request.path):
            return await self._control(ws)
        exchange = ws.exchange
        if exchange is None:
            return  # refused in _admit; websockets finishes the closing handshake
        error = False
        try:
            outbox, exchange.outbox = exchange.outbox, []  # a welcome, before any reply
            for kind, item in outbox:
                await ws.send(item, text=kind)
            await (self._serve if exchange.session is None else self._serve_protocol)(
                ws, exchange)
        except ConnectionClosedError:
            error = not ws.closed_on_purpose
        except ConnectionClosed:
            pass
        finally:
            if ws.outgoing is not None:
                ws.outgoing.cancel()
            self.closed(exchange, _close_code(ws), error)

    async def _serve(self, ws, exchange: Exchange):
        command = self.command
        async for message in ws:
            text = type(message) is str
            if message.startswith(TEXT_COMMAND_PREFIX if text else COMMAND_PREFIX):
                for connection in command(exchange, message, text):
                    _flush(connection.peer)
                continue
            reply = exchange.receive(message)  # not bound once: `repeat` changes its class
            if reply is None:
                reply = await self._otherwise(ws, exchange, message)
                if reply is None:
                    if exchange.close is not None:
                        return  # read no further: the messages still queued go unanswered
                    continue
            try:
                await ws.send(reply)
            except ConnectionClosed:
                exchange.unsent(reply)
                raise

    async def _serve_protocol(self, ws, exchange: Exchange):
        """`_serve` for a connection that speaks a protocol (protocol_serving.py)."""
        receive = self.protocol.receive     # protocol_serving.py
        async for message in ws:
            reply, flush = receive(exchange, message, None)
            for connection in flush:
                if connection is not exchange:
                    _flush(connection.peer)
            if reply is None:
                if exchange in flush:
                    reply = await self._otherwise(ws, exchange, message)
                if reply is None:
                    if exchange.close is not None:
                        return
                    continue
            try:
                if type(reply) is tuple:    # a reply and what follows it (protocol_serving)
                    for frame in reply:
                        await ws.send(frame, text=exchange.frame_kind)
                else:
                    await ws.send(reply, text=exchange.frame_kind)
            except ConnectionClosed:
                exchange.unsent(reply if type(reply) is not tuple else reply[0])
                raise
            if exchange.outbox:
                await self._otherwise(ws, exchange, message)

    async def _otherwise(self, ws, exchange: Exchange, message):
        """Carry out what the pipeline asked instead of one reply now (see pipeline.py);
        returns the reply to send now, if it comes to one."""
        while exchange.pause_s:
            # not consuming: websockets stops reading once its queue is full
            await asyncio.sleep(exchange.pause_s)
            exchange.pause_s = 0.0
            reply = exchange.receive(message)
            if reply is not None:
                return reply
        outbox, exchange.outbox = exchange.outbox, []
        for kind, reply in outbox:
            await _send(ws, exchange, reply, kind)
        stream = exchange.stream
        if exchange.held or stream is not None and stream.running:
            _flush(ws)      # the Outgoing task sends what waits, and a stream just asked for
        if exchange.close is not None:
            await ws.close(*exchange.close)
        return None

    # -- control -----------------------------------------------------------------------
    async def _control(self, ws):
        async for request in ws:
            answer, shutdown = self.control(request)
            await ws.send(answer)
            if shutdown:
                asyncio.get_running_loop().create_task(self.stop())

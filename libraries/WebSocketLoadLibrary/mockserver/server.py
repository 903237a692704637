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

from .core import LIMIT_REACHED, MockServerCore
from .pipeline import Exchange, wire_size
from .stats import ServerStats


class DelayedReplies:
    """Sends one connection's held replies (response_delay, a stall) when they are due."""

    def __init__(self, ws, exchange: Exchange):
        self.ws, self.exchange = ws, exchange
        self.wakeup = asyncio.Event()
        self.task = asyncio.get_running_loop().create_task(self._run())

    def wake(self) -> None:
        self.wakeup.set()

    async def _run(self):
        exchange, ws = self.exchange, self.ws
        while True:
            now = time.monotonic()
            item = exchange.pop_due(now)
            if item is None:
                due = exchange.next_due()
                if due is None:
                    self.wakeup.clear()
                    await self.wakeup.wait()
                else:
                    await asyncio.sleep(due - now)
                continue
            await _send(ws, exchange, item[1])

    def cancel(self) -> None:
        self.task.cancel()


async def _send(ws, exchange: Exchange, reply) -> None:
    try:
        await ws.send(reply)
    except ConnectionClosed:
        exchange.unsent(reply)
        raise


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
    delayed: DelayedReplies | None = None

    async def handshake(self, *args, **kwargs):
        try:
            await super().handshake(*args, **kwargs)
        except asyncio.CancelledError:  # open_timeout expired
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
    """401 (auth) and 403 (control key) answers are counted where they are decided."""
    response = connection.response
    return response is not None and response.status_code in (401, 403)


class MockServer(MockServerCore):
    engine = "websockets"

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self._server = None
        self.stopped = asyncio.Event()

    async def start(self) -> str:
        logging.getLogger("websockets").setLevel(logging.CRITICAL)

        class Connection(CountedConnection):
            pass
        Connection.stats = self.stats
        Connection.admit = staticmethod(self._admit)
        self._server = await serve(
            self._handle, self.host, self.port, ssl=self.ssl_context,
            process_request=self._process_request, compression=self.compression,
            subprotocols=self.subprotocols,
            max_size=self.max_size, max_queue=64, ping_interval=None,
            # a slowloris handshake is cut off instead of holding a slot forever
            open_timeout=self.open_timeout_s, create_connection=Connection,
            backlog=4096)  # thousands of clients may connect at once
        self.port = self._server.sockets[0].getsockname()[1]
        return self.uri

    async def stop(self) -> None:
        if self._server is not None:
            self._server.close(close_connections=True)
            await asyncio.wait_for(self._server.wait_closed(), 5)
        self.stopped.set()

    # -- admission ---------------------------------------------------------------------
    def _process_request(self, connection, request):
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

    async def _handle(self, ws):
        if self.is_control(ws.request.path):
            return await self._control(ws)
        exchange = ws.exchange
        if exchange is None:
            return  # refused in _admit; websockets finishes the closing handshake
        error = False
        try:
            await self._serve(ws, exchange)
        except ConnectionClosedError:
            error = True
        except ConnectionClosed:
            pass
        finally:
            if ws.delayed is not None:
                ws.delayed.cancel()
            self.closed(exchange, _close_code(ws), error)

    async def _serve(self, ws, exchange: Exchange):
        receive = exchange.receive
        async for message in ws:
            reply = receive(message)
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
        for _, reply in outbox:
            await _send(ws, exchange, reply)
        if exchange.held:
            if ws.delayed is None:
                ws.delayed = DelayedReplies(ws, exchange)
            ws.delayed.wake()
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

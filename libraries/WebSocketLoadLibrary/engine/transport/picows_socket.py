"""One picows connection: the listener picows calls for each frame, with the surface of a
websockets connection that the pool and the writer use (send, close, drain, describe)."""
from __future__ import annotations

import asyncio
import time

from picows import WSListener, WSMsgType

from ...picows_wire import NO_STATUS, read_close, reassemble
from .pool import describe_close
from .pooled_connection import PooledConnection

TEXT, BINARY, CLOSE, PONG, CONTINUATION = (WSMsgType.TEXT, WSMsgType.BINARY, WSMsgType.CLOSE,
                                           WSMsgType.PONG, WSMsgType.CONTINUATION)
NORMAL_CLOSURE = 1000
EARLY_KEPT = 16


class PicowsSocket(WSListener):
    """One connection: picows calls it per frame; the engine sends through it."""
    pinged_at = 0.0   # when the pool's keep-alive pinged it, until its pong (keepalive.py)

    def __init__(self, pool):
        super().__init__()
        self.pool = pool
        self.connection: PooledConnection | None = None
        self.transport = None
        self.closed = False
        self.paused = False
        self.close_code: int | None = None
        self.close_reason = ""
        self._fragments: list | None = None
        self._pong: asyncio.Future | None = None
        self._resumed: asyncio.Event | None = None
        self.conversation = None   # opening messages under way (opening.py)
        # what arrives between the handshake and the opening messages, for them to see
        self.early: list | None = ([] if pool.options.opening is not None
                                   or pool.protocol is not None else None)
        # an instance attribute, not a method: picows' per-frame dispatch then finds a plain
        # function, with no bound method to build and no `self.` lookups inside (~0.2 us
        # of the engine's per-message cost in the closed loop). A running step puts its
        # own receiver in its place (`PicowsPool._listen`), with this one as its fallback.
        self.own_listener = self.on_ws_frame = self._frame_handler()

    # -- picows callbacks --------------------------------------------------------------
    def on_ws_connected(self, transport) -> None:
        self.transport = transport

    def _frame_handler(self):
        """`on_ws_frame(transport, frame)`: data frames to the pool's `on_message`.

        Each frame's reply time is taken once per read: frames that arrived in one socket
        read share the time of the first of them (see the module's docstring).
        """
        ws, pool, clock = self, self.pool, time.perf_counter
        batch_now = 0.0

        def on_ws_frame(transport, frame) -> None:
            nonlocal batch_now
            kind = frame.msg_type
            if kind is TEXT or kind is BINARY or kind is CONTINUATION:
                now = batch_now or clock()
                batch_now = 0.0 if frame.last_in_buffer else now
                if frame.fin and ws._fragments is None:
                    payload = frame.get_payload_as_bytes()
                else:  # a fragmented message: deliver it whole, at its last frame
                    ws._fragments, payload = reassemble(ws._fragments, frame)
                    if payload is None:
                        return
                connection = ws.connection
                if connection is not None:
                    pool.on_message(connection, payload, now)
                elif ws.early is not None and len(ws.early) < EARLY_KEPT:
                    ws.early.append(payload)  # before its opening messages: a welcome
                return
            if frame.last_in_buffer:
                batch_now = 0.0
            ws._control_frame(transport, frame, kind)
        return on_ws_frame

    def closing(self) -> None:
        """It has sent its close: what still arrives before the server's close (a stream
        the server had buffered: up to tens of MB a socket on loopback) is dropped unread."""
        self.on_ws_frame = self._frame_while_closing

    def _frame_while_closing(self, transport, frame) -> None:
        kind = frame.msg_type
        if kind is not TEXT and kind is not BINARY and kind is not CONTINUATION:
            self._control_frame(transport, frame, kind)

    def _control_frame(self, transport, frame, kind) -> None:
        if kind is CLOSE:
            self.close_code, self.close_reason = read_close(frame)
            transport.send_close(frame.get_close_code())
            transport.disconnect()
        elif kind is PONG:
            self.pinged_at = 0.0
            if self._pong is not None and not self._pong.done():
                self._pong.set_result(None)

    def on_ws_disconnected(self, transport) -> None:
        self.closed = True
        # the listeners refer back to this socket
        self.__dict__.pop("on_ws_frame", None)
        self.__dict__.pop("own_listener", None)
        self.pool.paused.discard(self)
        if self._pong is not None and not self._pong.done():
            self._pong.set_exception(ConnectionError("closed"))
        if self._resumed is not None:
            self._resumed.set()
        if self.conversation is not None:
            self.conversation.arrived.put_nowait(None)
        connection = self.connection
        if connection is not None and not connection.closed:
            connection.closed = True
            connection.close_code, connection.close_reason = self.close_code, self.close_reason
            self.pool.connection_closed(connection)

    def pause_writing(self) -> None:
        self.paused = True
        self.pool.paused.add(self)

    def resume_writing(self) -> None:
        self.paused = False
        self.pool.paused.discard(self)
        if self._resumed is not None:
            self._resumed.set()

    # -- engine side -------------------------------------------------------------------
    async def ping(self, timeout_s: float) -> None:
        if self.closed or self.close_code is not None:  # closed right after the handshake
            raise ConnectionError("closed")
        self._pong = asyncio.get_running_loop().create_future()
        self.transport.send_ping()
        await asyncio.wait_for(self._pong, timeout_s)

    async def drain(self) -> None:
        while self.paused and not self.closed:
            self._resumed = asyncio.Event()
            await self._resumed.wait()

    def describe_close(self) -> str:
        if self.close_code == NO_STATUS:
            return "connection closed by server without a close code (1005 no status)"
        return describe_close(self.close_code, self.close_reason)

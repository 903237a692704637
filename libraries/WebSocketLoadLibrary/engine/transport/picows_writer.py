"""The picows transport's writer: FrameWriter's surface (writer.py) over picows sockets.

Writes are coalesced per loop pass by the transport itself (picows_wire.py); this is the
engine's side of it: one `sender` per connection for the hot loops, the backlog and
drain of TCP backpressure, and whether a socket is still open.
"""
from __future__ import annotations

import functools

from picows import WSMsgType

from .picows_socket import PicowsSocket

TEXT, BINARY = WSMsgType.TEXT, WSMsgType.BINARY


class NotOpen(Exception):
    """A message was handed to a connection that is closed or closing."""


class PicowsWriter:
    """FrameWriter's surface over picows sockets (the coalescing is in the transport)."""
    NotOpen = NotOpen

    def __init__(self, pool):
        self.pool = pool

    @staticmethod
    def send(ws: PicowsSocket, data: bytes, text: bool) -> None:
        if ws.closed or ws.transport.is_close_frame_sent:
            raise NotOpen()
        ws.transport.send(TEXT if text else BINARY, data)

    @staticmethod
    def sender(ws: PicowsSocket, text: bool, known_open: bool = False):
        """`send(data)` for one connection: `send(ws, data, text)` without the per-message
        argument passing and lookups (the hot loops hold one per connection).

        `known_open`: the caller sends only from within this connection's own data-frame
        callback, so the check -- a Python call per message -- is left out. Within a step
        the engine sends no close frame (pools close after the step), and a server's close
        frame disconnects at once; the one gap is a server sending data after its own close
        frame in the same read: picows then drops the message silently, and the step counts
        it lost when the connection closes (never as a reply).
        """
        transport = ws.transport
        send, kind = transport.send, TEXT if text else BINARY
        if known_open:
            return functools.partial(send, kind)

        def send_message(data: bytes) -> None:
            if ws.closed or transport.is_close_frame_sent:
                raise NotOpen()
            send(kind, data)
        return send_message

    def backlogged(self) -> list:
        """Connections whose write buffer is over the limit (picows paused writing)."""
        return list(self.pool.paused) if self.pool.paused else []

    @staticmethod
    async def drain(ws: PicowsSocket) -> None:
        await ws.drain()

    @staticmethod
    def is_open(ws: PicowsSocket) -> bool:
        return not ws.closed and not ws.transport.is_close_frame_sent

    @staticmethod
    def describe_closed(ws: PicowsSocket) -> str:
        if ws.closed:
            return ws.describe_close()
        return "connection is closing"

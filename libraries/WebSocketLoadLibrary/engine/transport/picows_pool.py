"""The picows transport's pool: ClientPool's surface over picows sockets (picows_socket.py)
and their writer (picows_writer.py).

picows parses frames in C and calls a listener per frame, with no task and no queue per
connection: what websockets spends per message on its reader task, its queue and its
`recv()` future is gone. Writes are coalesced per loop pass (see picows_wire.py).

Each frame's reply time is taken once per read: frames that arrived in one socket read
share the timestamp of the first of them (they were on the wire together, and the later
ones would otherwise carry the time spent booking the earlier ones).

Not available here (ConnectionOptions.transport="auto" picks websockets for them):
permessage-deflate, subprotocols, max_queue (picows reads as fast as data comes).
"""
from __future__ import annotations

import asyncio
import time

from picows import WSCloseCode
from picows.url import parse_url

from ...picows_wire import make_protocol, reassemble
from .connections import ConnectionOptions
from ..errors import ConnectError
from .picows_socket import BINARY, CONTINUATION, TEXT, PicowsSocket
from .pool import ClientPool
from .pooled_connection import PooledConnection
from .picows_writer import PicowsWriter
from .keepalive import KeepAlive
from .pool_changes import resolved, tcp_socket


class PicowsPool(ClientPool):
    """ClientPool over picows connections (same open/verify/close/close_summary contract)."""
    transport = "picows"

    def __init__(self, options: ConnectionOptions):
        super().__init__(options)
        self.paused: set[PicowsSocket] = set()
        self._url = parse_url(options.uri)
        # one keep-alive task for the pool, not picows' task and timer per connection
        self.keepalive = (KeepAlive(self, options.ping_interval_s, options.ping_timeout_s)
                          if options.ping_interval_s else None)

    def writer(self) -> PicowsWriter:
        return PicowsWriter(self)

    def _frame_fallbacks(self, connections) -> list:
        return [getattr(c.ws, "own_listener", None) for c in connections]

    def _listen(self, connections, receivers) -> None:
        """picows calls a step's receivers directly: one Python call per reply, not two."""
        for slot, connection in enumerate(connections):
            ws = connection.ws
            if not ws.closed:  # a closed socket has let go of its listeners
                ws.on_ws_frame = receivers[slot] if receivers is not None else ws.own_listener

    def _install(self, connection: PooledConnection, receiver) -> None:
        if not connection.ws.closed:
            connection.ws.on_ws_frame = receiver

    @staticmethod
    def _raw_transport(ws):
        return ws.transport.underlying_transport

    async def _open_phased(self, ssl_context, phases: dict) -> PicowsSocket:
        """A picows connection with TCP connect, TLS and the WebSocket handshake timed."""
        url, loop, clock = self._url, asyncio.get_running_loop(), time.perf_counter
        began = clock()
        if ssl_context is None and not self.options.source_addresses:
            # the event loop connects (in C with uvloop), with no socket object of ours
            # kept per connection; TCP is done when create_connection is. (From source
            # addresses tcp_socket binds without a port, which only connect() picks:
            # create_connection's bind would search each address's ports itself.)
            family, _, _, address = await resolved(self.options.uri)
            transport, ws_protocol = await loop.create_connection(
                self._protocol(), address[0], address[1], family=family)
            phases["tcp"], phases["tls"] = clock() - began, 0.0
            began = clock()
            listener = await _handshaken(transport, ws_protocol)
            phases["handshake"] = clock() - began
            return listener
        sock = await tcp_socket(self.options.uri, self.options.source_addresses)
        phases["tcp"] = clock() - began
        began = clock()
        extra = {"server_hostname": url.host} if ssl_context is not None else {}
        try:
            transport, ws_protocol = await loop.create_connection(
                self._protocol(), sock=sock, ssl=ssl_context, **extra)
        except BaseException:
            sock.close()
            raise
        phases["tls"] = clock() - began
        began = clock()
        listener = await _handshaken(transport, ws_protocol)
        phases["handshake"] = clock() - began
        return listener

    def _protocol(self):
        options, url = self.options, self._url
        headers = options.request_headers()
        if options.offered_subprotocols:
            headers["Sec-WebSocket-Protocol"] = ", ".join(options.offered_subprotocols)
        return lambda: make_protocol(True, lambda: PicowsSocket(self), netloc=url.netloc,
                                     path=url.resource_name, handshake_timeout_s=None,
                                     max_frame_size=options.max_size or (1 << 62),
                                     extra_headers=headers or None,
                                     ping_interval_s=None)   # self.keepalive pings

    @staticmethod
    def _text_sender(ws: PicowsSocket, kind=TEXT):
        async def send(message: bytes) -> None:
            if ws.closed or ws.transport.is_close_frame_sent:
                raise ConnectionError("closed")
            ws.transport.send(kind, message)
        return send

    @classmethod
    def _binary_sender(cls, ws: PicowsSocket):
        return cls._text_sender(ws, BINARY)

    async def _say_opening(self, ws: PicowsSocket, conversation) -> None:
        """The opening messages of a socket not yet in the pool: its frames go to the
        conversation (control frames to the socket, as always) until they are said."""
        def collect(transport, frame) -> None:
            kind = frame.msg_type
            if kind is TEXT or kind is BINARY or kind is CONTINUATION:
                if frame.fin and ws._fragments is None:
                    conversation.arrived.put_nowait(frame.get_payload_as_bytes())
                else:
                    ws._fragments, payload = reassemble(ws._fragments, frame)
                    if payload is not None:
                        conversation.arrived.put_nowait(payload)
            else:
                ws._control_frame(transport, frame, kind)
        if ws.closed:
            raise ConnectError(f"connection {conversation.connection} closed before its "
                               f"opening messages: {ws.describe_close()}")
        for message in ws.early or ():
            conversation.arrived.put_nowait(message)
        ws.early = None
        ws.conversation, ws.on_ws_frame = conversation, collect
        try:
            await conversation.run()
        finally:
            ws.conversation = None
            if not ws.closed:
                ws.on_ws_frame = ws.own_listener

    @staticmethod
    def _close_of(ws: PicowsSocket) -> tuple[int | None, str]:
        return ws.close_code, ws.close_reason

    def _adopt(self, sockets: list[PicowsSocket], sessions=None) -> list[PooledConnection]:
        base = len(self.connections)
        added = []
        for offset, ws in enumerate(sockets):
            connection = PooledConnection(base + offset, ws, sessions[offset] if sessions else None)
            ws.connection = connection
            if ws.closed:  # closed between the handshake and now
                connection.closed = True
                connection.close_code, connection.close_reason = ws.close_code, ws.close_reason
            added.append(connection)
        self.connections.extend(added)
        if self.keepalive is not None:
            self.keepalive.start()
        return added

    async def _round_trip(self, connection: PooledConnection, timeout_s: float) -> None:
        ws = connection.ws
        await ws.ping(timeout_s)
        # a server that closes right after the handshake may answer the ping first: its
        # close frame then comes in the same read as the pong, so look once more
        await asyncio.sleep(0)
        if ws.closed or ws.close_code is not None:
            raise ConnectionError("closed")

    @staticmethod
    def _describe_failed(connection: PooledConnection) -> str:
        return connection.ws.describe_close()

    async def _close_sockets(self, sockets: list[PicowsSocket], timeout_s: float) -> None:
        for ws in sockets:
            if not ws.closed:
                ws.transport.send_close(WSCloseCode.OK)
                ws.closing()
        waits = [ws.transport.wait_disconnected() for ws in sockets if not ws.closed]
        if not waits:
            return
        try:
            await asyncio.wait_for(asyncio.gather(*waits, return_exceptions=True), timeout_s)
        except asyncio.TimeoutError:
            for ws in sockets:
                if not ws.closed:
                    ws.transport.disconnect(False)

    async def close(self, timeout_s: float = 5.0) -> None:
        await self.stop_policies()
        if self.keepalive is not None:
            self.keepalive.stop()
        connections, self.connections = self.connections, []
        await self._close_sockets([c.ws for c in connections], timeout_s)


async def _handshaken(transport, ws_protocol) -> PicowsSocket:
    """The socket once picows' WebSocket upgrade is complete; picows ends an upgrade the
    server answered with something else than HTTP (another protocol's port) without an
    error and without a listener: named here."""
    try:
        await ws_protocol.wait_until_handshake_complete()
    except BaseException:
        transport.abort()
        raise
    if ws_protocol.listener is None:
        transport.abort()
        raise ConnectionError("did not receive a valid HTTP response to the WebSocket "
                              "upgrade: is a WebSocket server listening at this port?")
    return _forget_headers(ws_protocol.listener)


_NO_HEADERS: list = []   # one empty header set (picows' own kind), shared


def _forget_headers(ws: PicowsSocket) -> PicowsSocket:
    """picows keeps the handshake's request and response for the connection's life; their
    headers, read by nobody once it is open, were 1-2 KB of what each connection cost."""
    transport = ws.transport
    if transport is not None and transport.response is not None:
        if not _NO_HEADERS:
            _NO_HEADERS.append(type(transport.response.headers)())
        transport.request.headers = transport.response.headers = _NO_HEADERS[0]
    return ws

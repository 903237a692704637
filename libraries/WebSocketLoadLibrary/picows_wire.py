"""picows with coalesced writes: every frame of one event-loop pass, one write per connection.

picows builds frames in C, but writes each one with its own `send()` syscall whenever the
transport's buffer is empty -- and a syscall to a loopback peer costs 8-14 us here, more
than everything else a message costs. So the protocol is handed a thin transport proxy
whose buffer never looks empty: picows then passes every frame to `write`, the proxy keeps
them, and one `transport.write` per connection goes out at the end of the loop pass.
Measured here (raw pipelined echo, 1 connection, uvloop both sides): plain picows client
and server 61-92k msg/s; coalesced client and server 171-194k msg/s.

Used by the engine's picows transport and by the mock server's picows engine alike, which
is why it sits beside both rather than in either layer -- with what both read off frames:
messages in fragments put back together, and a close frame's code and reason.
"""
from __future__ import annotations

import asyncio
import logging
import struct

from picows import WSAutoPingStrategy
from picows.picows import WSProtocol

NO_STATUS = 1005  # RFC 6455: what a close frame without a code counts as
# each connection's first read buffer; picows doubles it whenever a read fills it, so a busy
# connection grows its own in its first reads and an idle one stays small (16 KB each made
# over half of what an idle client connection cost)
READ_BUFFER_BYTES = 2048
# a read at least this big likely left more waiting (uvloop offers 64 KB and up per read)
BACKLOG_READ_BYTES = 1 << 16
READ_MOST_BYTES = 1 << 18     # per read: picows doubles its buffer for as long as reads fill it


def reassemble(parts: list | None, frame) -> tuple[list | None, bytes | None]:
    """One frame of a message sent in fragments: (the payloads so far, None) up to its last
    frame, then (None, the whole message). Its type is its first frame's (the others are
    CONTINUATION). Callers take an unfragmented frame (`fin` with nothing kept) themselves:
    nearly every message is one, and this costs a Python call."""
    if parts is None:
        parts = []
    parts.append(frame.get_payload_as_bytes())
    if not frame.fin:
        return parts, None
    return None, b"".join(parts)


def read_close(frame) -> tuple[int, str]:
    """A close frame's code, a plain int (1005 when it has none), and its reason, decoded
    leniently: a peer's bad UTF-8 is reported, not raised."""
    data = frame.get_payload_as_bytes()
    code = int.from_bytes(data[:2], "big") if len(data) >= 2 else NO_STATUS
    return code, data[2:].decode(errors="replace")


class CoalescingTransport:
    """Stands in for the real transport: `write` queues, the loop's next pass flushes."""
    __slots__ = ("real", "_chunks", "_loop", "get_write_buffer_size")

    def __init__(self, real: asyncio.Transport, loop: asyncio.AbstractEventLoop):
        self.real, self._loop = real, loop
        self._chunks: list = []
        # picows asks this before every frame, only to choose between a send() syscall of
        # its own (when it is 0) and `write`: never 0, and a C callable, so that asking
        # costs no Python call (~0.1 us a frame). The real buffer's size is `real`'s.
        self.get_write_buffer_size = (1).__int__

    def write(self, data) -> None:
        chunks = self._chunks
        if not chunks:
            self._loop.call_soon(self.flush)
        chunks.append(data)

    def writelines(self, lines) -> None:
        for data in lines:
            self.write(bytes(data))  # picows may hand us views of its reused buffer

    def flush(self) -> None:
        chunks = self._chunks
        if not chunks:
            return
        self._chunks = []
        if not self.real.is_closing():
            try:
                self.real.write(chunks[0] if len(chunks) == 1 else b"".join(chunks))
            except RuntimeError:
                # uvloop: a transport closed under its handle without is_closing() saying
                # so (an attempt aborted at its timeout); a traceback each in a storm of
                # timeouts cost more CPU than the storm
                pass

    def close(self) -> None:
        self.flush()
        self.real.close()

    def abort(self) -> None:
        self._chunks = []
        self.real.abort()

    def __getattr__(self, name):
        return getattr(self.real, name)


class CoalescingProtocol(WSProtocol):
    def connection_made(self, transport) -> None:
        super().connection_made(CoalescingTransport(transport, asyncio.get_running_loop()))


class YieldingClientProtocol(CoalescingProtocol):
    """The client's: a read that found a backlog lets the loop's other work in before the
    connection's next read.

    libuv reads a socket up to 32 times in a row while it has data, and picows grows its
    buffer to what arrives: behind a stream faster than the client (megabytes queued per
    socket on loopback) one pass of the loop took seconds, so a step's end, keep-alives
    and a close waited that long (a disconnect after a saturated 8 s stream of 25
    connections timed out at 10 s). Reading is paused after such a read and resumed at
    the loop's next pass: each connection then reads once a pass while behind."""

    def connection_made(self, transport) -> None:
        loop = asyncio.get_running_loop()
        super().connection_made(transport)
        self._socket, self._call_soon = transport, loop.call_soon

    def get_buffer(self, size_hint: int):
        space = WSProtocol.get_buffer(self, size_hint)
        return space if len(space) <= READ_MOST_BYTES else space[:READ_MOST_BYTES]

    def buffer_updated(self, nbytes: int) -> None:
        WSProtocol.buffer_updated(self, nbytes)
        if nbytes >= BACKLOG_READ_BYTES:
            socket = self._socket
            if not socket.is_closing():
                socket.pause_reading()
                self._call_soon(self._read_again)

    def _read_again(self) -> None:
        if not self._socket.is_closing():
            self._socket.resume_reading()


_SHORT_HEADS = {kind: tuple(bytes((0x80 | kind, n)) for n in range(126)) for kind in (1, 2)}
_MEDIUM_HEAD, _LONG_HEAD = struct.Struct("!BBH").pack, struct.Struct("!BBQ").pack


def server_frames(opcode: int, first: bytes, second: bytes) -> bytes:
    """Two whole data frames as a server writes them (no mask, no extension: the picows
    mock server negotiates none), for one `write` where picows' `send` would make two
    (each a Python call of the coalescing transport's: ~0.25 us a frame). `opcode`: 1
    text, 2 binary."""
    short, length = _SHORT_HEADS[opcode], len(second)
    tail = (short[length] if length < 126 else _head(opcode, length)) + second
    length = len(first)
    if length < 126:
        return short[length] + first + tail
    return _head(opcode, length) + first + tail


def _head(opcode: int, length: int) -> bytes:
    if length < 65536:
        return _MEDIUM_HEAD(0x80 | opcode, 126, length)
    return _LONG_HEAD(0x80 | opcode, 127, length)


def _quiet_logger(name: str) -> logging.LoggerAdapter:
    """The logger picows is given, as an adapter: given a `logging.Logger`, picows makes a
    child logger of its own for every connection (about 1 KB each, kept until it closes)."""
    adapter = _LOGGERS.get(name)
    if adapter is None:
        adapter = _LOGGERS[name] = logging.LoggerAdapter(logging.getLogger(name), {})
    return adapter


_LOGGERS: dict[str, logging.LoggerAdapter] = {}


def make_protocol(client: bool, listener_factory, *, netloc: str | None = None,
                  path: str | None = None, handshake_timeout_s: float | None = 5.0,
                  max_frame_size: int = 1 << 20, extra_headers=None,
                  ping_interval_s: float | None = None, ping_timeout_s: float | None = None,
                  logger_name: str = "picows.websocketload") -> CoalescingProtocol:
    """A picows protocol with coalesced writes (the arguments of picows' own ws_connect /
    ws_create_server factories, in their order)."""
    return (YieldingClientProtocol if client else CoalescingProtocol)(
        netloc, path, client, listener_factory, _quiet_logger(logger_name), True,
        handshake_timeout_s, ping_interval_s is not None, ping_interval_s or 10.0,
        # picows refuses a pong timeout longer than the ping interval
        min(ping_timeout_s or 10.0, ping_interval_s or 10.0),
        WSAutoPingStrategy.PING_WHEN_IDLE, True, max_frame_size,
        extra_headers, READ_BUFFER_BYTES)

"""The mock server on picows (`--engine picows`): the same CLI, ready line, control endpoint,
counters and faults as the websockets engine, at several times its speed.

A websockets server caps at about 48k msg/s on one core here, below what the generator
sends; this one answers each frame from picows' C parser in a callback and writes all the
replies of one loop pass with one `write` per connection (picows_wire.py). What it answers
is decided in core.py and pipeline.py, as for the websockets engine; this module is I/O.

Differences from the websockets engine, on purpose or for lack of the feature in picows:
- permessage-deflate is never negotiated (a client asking for it gets a plain connection,
  as from any server without the extension); subprotocols are refused at start;
- handshakes that fail or time out are not counted (`handshake_failures`/`_timeouts` stay 0);
- `read_stall` pauses reading of the socket at the next message instead of after
  websockets' 64-message queue fills;
- the faults declared `websockets_only` (handshake_delay, hang_handshakes) are refused (at
  start and when set): picows (2.3) reads the request and writes its answer in one synchronous call of the
  listener factory, so a handshake cannot be left unanswered for a while there.
"""
from __future__ import annotations

import asyncio
import logging
import time

from picows import (WSCloseCode, WSListener, WSMsgType, WSUpgradeResponse,
                    WSUpgradeResponseWithListener)

from ..picows_wire import make_protocol, read_close, reassemble, server_frames
from .commands import COMMAND_PREFIX
from .core import LIMIT_REACHED, MockServerCore
from .faults import FAULTS, FaultError
from .pipeline import Exchange
from .streams import BATCH_MOST

_NEEDS_WEBSOCKETS = ("needs the websockets engine (--engine websockets, engine=websockets): "
                     "picows answers a handshake in the same call that reads it")
UNSUPPORTED_FAULTS = {fault.name: _NEEDS_WEBSOCKETS for fault in FAULTS if fault.websockets_only}

TEXT, BINARY, CLOSE, CONTINUATION = (WSMsgType.TEXT, WSMsgType.BINARY, WSMsgType.CLOSE,
                                     WSMsgType.CONTINUATION)
CLEAN_CLOSES = (1000, 1001)
STREAM_HIGH_WATER = 1 << 20     # bytes a stream may leave unsent before it waits


def _unsent_bytes(transport) -> int:
    """What the connection's socket has not taken yet (the coalescing writer's real
    transport: picows_wire.py)."""
    writer = transport.underlying_transport
    return getattr(writer, "real", writer).get_write_buffer_size()


def _close(transport, code: int, reason: str) -> None:
    transport.send_close(WSCloseCode(code), reason.encode())
    transport.disconnect()


class _EchoListener(WSListener):
    def __init__(self, server: "PicowsMockServer"):
        super().__init__()
        self.server = server
        self.transport = None
        self.exchange = None        # an admitted connection's (None: refused at the limit)
        self.closing_on_purpose = False
        self.code_received: int | None = None
        self.code_sent: int | None = None
        self.timer: asyncio.TimerHandle | None = None
        self.stream_timer: asyncio.TimerHandle | None = None
        self.timed_stream = None    # the stream stream_timer wakes for
        self.fragments: list | None = None
        self.kind = TEXT            # a fragmented message's, from its first frame

    def on_ws_connected(self, transport) -> None:
        self.transport = transport
        self.exchange = self.server.open(len)
        if self.exchange is None:
            self.closing_on_purpose = True
            _close(transport, *LIMIT_REACHED)
            return
        self.exchange.peer = self
        if self.exchange.session is not None:
            self.protocol_receive = self.server.protocol.receive     # protocol_serving.py
            self.protocol_follow = self.server.protocol.follow_reply
        self.server.live.add(self)
        if self.exchange.outbox:  # a welcome
            self.flush()

    def on_ws_frame(self, transport, frame) -> None:
        kind = frame.msg_type
        if kind is CLOSE:
            self.code_received, _ = read_close(frame)
            transport.send_close(frame.get_close_code())
            transport.disconnect()
            return
        if kind is not TEXT and kind is not BINARY and kind is not CONTINUATION:
            return  # pings are answered by picows
        exchange = self.exchange
        if exchange is None or self.closing_on_purpose:
            return
        if frame.fin and self.fragments is None:
            message = frame.get_payload_as_bytes()
        else:
            if self.fragments is None:
                self.kind = kind
            self.fragments, message = reassemble(self.fragments, frame)
            if message is None:
                return
            kind = self.kind
        if exchange.session is not None:
            return self._protocol_message(transport, exchange, message)
        if message.startswith(COMMAND_PREFIX):
            for connection in self.server.command(exchange, message, kind):
                connection.peer.flush()
            return
        reply = exchange.receive(message, kind)
        if reply is not None:
            transport.send(kind, reply)
        else:
            self._otherwise(transport, message, kind)

    def _protocol_message(self, transport, exchange, message: bytes) -> None:
        """A message of a connection that speaks a protocol (protocol_serving.py)."""
        echo = exchange.echo
        if echo is not None and type(exchange) is Exchange:
            # ProtocolServing.receive's echo fast path, its answer sent as it goes: with no
            # (reply, flush) pair made and read back (~0.2 us of a 2.3 us ack), and what
            # follows a reply (GraphQL's complete) sent behind it here too (~0.5 us)
            framed = echo(message)
            if framed is not None:
                kind = exchange.frame_kind
                reply = exchange.receive(message, kind, framed)
                after = exchange.after_reply
                if reply is None:
                    if after is not None:   # held or dropped: what follows waits behind
                        self.protocol_follow(exchange, message, None)
                    self._otherwise(transport, message, kind)
                    return
                if after is not None:
                    if exchange.held or exchange.outbox:    # behind what waits to go
                        self.protocol_follow(exchange, message, reply)
                        transport.send(kind, reply)
                        self.flush()
                        return
                    follows = after(message)
                    exchange.stats.protocol_messages_sent += len(follows)
                    if len(follows) == 1 and not transport.is_close_frame_sent:
                        transport.underlying_transport.write(
                            server_frames(kind, reply, follows[0]))
                        return
                    transport.send(kind, reply)
                    for frame in follows:
                        transport.send(kind, frame)
                    return
                transport.send(kind, reply)
                if exchange.outbox:
                    self.flush()
                return
        reply, flush = self.protocol_receive(exchange, message, exchange.frame_kind)
        for connection in flush:
            if connection is not exchange:
                connection.peer.flush()
        if reply is not None:
            if type(reply) is tuple:        # a reply and what follows it (protocol_serving)
                for frame in reply:
                    transport.send(exchange.frame_kind, frame)
            else:
                transport.send(exchange.frame_kind, reply)
            if exchange.outbox:
                self.flush()
        elif exchange in flush:
            self._otherwise(transport, message, exchange.frame_kind)

    def _otherwise(self, transport, message: bytes, kind) -> None:
        """Carry out what the pipeline asked instead of one reply now (see pipeline.py)."""
        exchange = self.exchange
        while exchange.pause_s:
            # the frames of this read are parsed already and answered now; the socket waits
            transport.underlying_transport.pause_reading()
            asyncio.get_running_loop().call_later(exchange.pause_s, self._resume_reading)
            exchange.pause_s = 0.0
            reply = exchange.receive(message, kind)
            if reply is not None:
                transport.send(kind, reply)
                return
        self.flush()
        if exchange.close is not None:
            self.closing_on_purpose = True
            self.code_sent = exchange.close[0]
            _close(transport, *exchange.close)

    def _resume_reading(self) -> None:
        if self.transport is not None and not self.transport.is_disconnected:
            self.transport.underlying_transport.resume_reading()

    def flush(self) -> None:
        """Send the outbox; arm the timers of held items and of a stream that has none."""
        exchange, transport = self.exchange, self.transport
        outbox, exchange.outbox = exchange.outbox, []
        if transport.is_disconnected:
            return
        for kind, item in outbox:
            transport.send(kind, item)
        if exchange.held and self.timer is None:
            self._arm()
        stream = exchange.stream
        if stream is not None and stream is not self.timed_stream and stream.running:
            if self.stream_timer is not None:  # a stream that replaced another starts now
                self.stream_timer.cancel()
            self.timed_stream = stream
            self._stream_wake()

    # -- stream mode: what is due at each wake ---------------------------------------------
    def _stream_wake(self) -> None:
        self.stream_timer = None
        exchange, transport = self.exchange, self.transport
        now = time.monotonic()
        # a client that reads slower than its stream: make no more than its socket takes
        # (the kernel's buffer full, ours past STREAM_HIGH_WATER), else a fast stream grows
        # the server's memory without bound and starves its other connections and control
        if _unsent_bytes(transport) > STREAM_HIGH_WATER:
            batch = None
        else:
            batch = exchange.stream_due(now, BATCH_MOST)
        if batch and not transport.is_disconnected:
            send, kind = transport.send, exchange.frame_kind or TEXT
            for message in batch:
                send(kind, message)
        if exchange.held and self.timer is None:
            self._arm()
        wake = exchange.stream_wake(now)
        if wake is not None:
            self.stream_timer = asyncio.get_running_loop().call_later(
                wake - time.monotonic(), self._stream_wake)

    # -- items held by response_delay or a stall, in order --------------------------------
    def _arm(self) -> None:
        self.timer = asyncio.get_running_loop().call_later(
            max(0.0, self.exchange.next_due() - time.monotonic()), self._release)

    def _release(self) -> None:
        self.timer = None
        exchange, transport = self.exchange, self.transport
        pop_due, now = exchange.pop_due, time.monotonic()
        while (item := pop_due(now)) is not None:
            transport.send(*item)
        if exchange.held:
            self._arm()

    def on_ws_disconnected(self, transport) -> None:
        if self.timer is not None:
            self.timer.cancel()
        if self.stream_timer is not None:
            self.stream_timer.cancel()
        if self.exchange is None:
            return
        self.server.live.discard(self)
        code = self.code_received if self.code_received is not None else self.code_sent
        error = not self.closing_on_purpose and (self.code_received is None
                                                 or self.code_received not in CLEAN_CLOSES)
        self.server.closed(self.exchange, code if code is not None else 1006, error)


class _ControlListener(WSListener):
    def __init__(self, server: "PicowsMockServer"):
        super().__init__()
        self.server = server

    def on_ws_frame(self, transport, frame) -> None:
        kind = frame.msg_type
        if kind is CLOSE:
            transport.send_close(frame.get_close_code())
            transport.disconnect()
            return
        if kind is not TEXT and kind is not BINARY:
            return
        answer, shutdown = self.server.control(frame.get_payload_as_bytes())
        transport.send(TEXT, answer)
        if shutdown:
            asyncio.get_running_loop().create_task(self.server.stop())


class PicowsMockServer(MockServerCore):
    """MockServer's interface and counters, served by picows."""
    engine = "picows"
    text_kind = TEXT
    binary_kind = BINARY
    negotiates_subprotocols = False

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        if self.subprotocols:
            raise ValueError("the picows engine does not negotiate subprotocols: "
                             "use --engine websockets")
        self.compression = None
        self.faults.unsupported = dict(UNSUPPORTED_FAULTS)
        for name in UNSUPPORTED_FAULTS:
            if self.faults.active(name):
                raise FaultError(f"fault {name} {_NEEDS_WEBSOCKETS}")
        self.live: set[_EchoListener] = set()
        self._server = None
        self._heartbeats: asyncio.Task | None = None
        self.stopped = asyncio.Event()

    async def start(self) -> str:
        logging.getLogger("picows").setLevel(logging.CRITICAL)
        loop = asyncio.get_running_loop()
        self._server = await loop.create_server(
            lambda: make_protocol(False, self._listener_for, max_frame_size=self.max_size,
                                  handshake_timeout_s=self.open_timeout_s),
            self.host, self.port, ssl=self.ssl_context, backlog=4096,
            reuse_port=self.reuse_port or None)
        self.port = self._server.sockets[0].getsockname()[1]
        self._heartbeats = loop.create_task(self._beat())
        return self.uri

    async def _beat(self) -> None:
        while True:
            now = time.monotonic()
            await asyncio.sleep(self.heartbeat_wake(now) - now)
            for exchange in self.heartbeat(time.monotonic()):
                exchange.peer.flush()

    async def stop(self) -> None:
        if self._heartbeats is not None:
            self._heartbeats.cancel()
        if self._server is not None:
            self._server.close()
            for listener in list(self.live):
                listener.closing_on_purpose = True
                listener.code_sent = 1001
                _close(listener.transport, 1001, "")
            try:
                await asyncio.wait_for(self._server.wait_closed(), 5)
            except asyncio.TimeoutError:
                pass
        self.stopped.set()

    # -- the core's hooks ------------------------------------------------------------------
    def later(self, seconds: float, callback) -> None:
        asyncio.get_running_loop().call_later(seconds, callback)

    def close_connection(self, exchange, code: int, reason: str) -> None:
        listener = exchange.peer
        if listener.transport.is_disconnected:
            return
        listener.closing_on_purpose = True
        listener.code_sent = code
        _close(listener.transport, code, reason)

    def _listener_for(self, request):
        path = request.path.decode("latin-1")
        refusal = self.check_request(path, request.headers.get("Authorization", ""))
        if refusal is not None:
            return WSUpgradeResponseWithListener(WSUpgradeResponse.create_error_response(
                refusal.status, refusal.body.encode()), None)
        return _ControlListener(self) if self.is_control(path) else _EchoListener(self)

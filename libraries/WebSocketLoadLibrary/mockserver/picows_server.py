"""The mock server on picows (`--engine picows`): the same CLI, ready line, control endpoint,
counters and faults as the websockets engine, at several times its speed.

A websockets server caps at about 48k msg/s on one core here, below what the generator
sends; this one answers each frame from picows' C parser in a callback and writes all the
replies of one loop pass with one `write` per connection (picows_wire.py).

Differences from the websockets engine, on purpose or for lack of the feature in picows:
- permessage-deflate is never negotiated (a client asking for it gets a plain connection,
  as from any server without the extension); subprotocols are refused at start;
- handshakes that fail or time out are not counted (`handshake_failures`/`_timeouts` stay 0);
- `read_stall` pauses reading of the socket at the next message instead of after
  websockets' 64-message queue fills.
"""
from __future__ import annotations

import asyncio
import hmac
import logging
import time
from collections import deque
from urllib.parse import parse_qs, urlsplit

import orjson
from picows import (WSCloseCode, WSListener, WSMsgType, WSUpgradeResponse,
                    WSUpgradeResponseWithListener)

from ..picows_wire import make_protocol
from .faults import FaultError, garble
from .server import (CLOSE_INTERNAL_ERROR, CLOSE_TRY_AGAIN_LATER, CONTROL_PATH, MockServer)

TEXT, BINARY, CLOSE, CONTINUATION = (WSMsgType.TEXT, WSMsgType.BINARY, WSMsgType.CLOSE,
                                     WSMsgType.CONTINUATION)
CLEAN_CLOSES = (1000, 1001)


def _close_payload(frame) -> tuple[int | None, bytes]:
    data = frame.get_payload_as_bytes()
    return (int.from_bytes(data[:2], "big") if len(data) >= 2 else 1005), data[2:]


def _close(transport, code: int, reason: str) -> None:
    transport.send_close(WSCloseCode(code), reason.encode())
    transport.disconnect()


class _EchoListener(WSListener):
    def __init__(self, server: "PicowsMockServer"):
        super().__init__()
        self.server = server
        self.stats, self.faults = server.stats, server.faults
        self.ack = server.mode == "ack"
        self.transport = None
        self.counted = False        # an admitted connection (not refused at the limit)
        self.closing_on_purpose = False
        self.code_received: int | None = None
        self.code_sent: int | None = None
        self.received_here = 0
        self.delayed: deque = deque()
        self.timer: asyncio.TimerHandle | None = None
        self.fragments: list | None = None
        self.kind = TEXT

    def on_ws_connected(self, transport) -> None:
        self.transport = transport
        stats = self.stats
        if stats.connections_active >= self.server.max_connections:
            stats.connections_refused += 1
            self.closing_on_purpose = True
            _close(transport, CLOSE_TRY_AGAIN_LATER, "connection limit reached")
            return
        self.counted = True
        self.server.live.add(self)
        stats.connections_opened += 1
        stats.connections_active += 1
        stats.connections_peak = max(stats.connections_peak, stats.connections_active)

    def on_ws_frame(self, transport, frame) -> None:
        kind = frame.msg_type
        if kind is CLOSE:
            self.code_received, _ = _close_payload(frame)
            transport.send_close(frame.get_close_code())
            transport.disconnect()
            return
        if kind is not TEXT and kind is not BINARY and kind is not CONTINUATION:
            return  # pings are answered by picows
        if not self.counted or self.closing_on_purpose:
            return
        if frame.fin and self.fragments is None:
            message, self.kind = frame.get_payload_as_bytes(), kind
        else:
            if self.fragments is None:
                self.fragments, self.kind = [], kind
            self.fragments.append(frame.get_payload_as_bytes())
            if not frame.fin:
                return
            message, self.fragments = b"".join(self.fragments), None
        self._message(transport, message, self.kind)

    def _message(self, transport, message: bytes, kind) -> None:
        stats, faults = self.stats, self.faults
        if faults.read_stall_until:
            wait = faults.read_stall_until - time.monotonic()
            if wait > 0:
                transport.underlying_transport.pause_reading()
                asyncio.get_running_loop().call_later(wait, self._resume_reading)
            else:
                faults.read_stall_until = 0.0
        self.received_here += 1
        stats.messages_received += 1
        stats.bytes_received += len(message)
        reply = self.server._ack(message) if self.ack else message
        if faults.drop_ratio and faults.should_drop():
            stats.messages_dropped += 1
        else:
            if faults.garble_ratio and faults.should_garble():
                reply = garble(reply)
                stats.messages_garbled += 1
            if not self.delayed and not faults.delays_replies:
                transport.send(kind, reply)
                stats.messages_sent += 1
                stats.bytes_sent += len(reply)
            else:
                self.delayed.append((time.monotonic() + faults.response_delay, kind, reply))
                if self.timer is None:
                    self._arm()
        if faults.disconnect_after and self.received_here >= faults.disconnect_after:
            stats.disconnects_injected += 1
            self.closing_on_purpose = True
            self.code_sent = CLOSE_INTERNAL_ERROR
            _close(transport, CLOSE_INTERNAL_ERROR,
                   f"mock server fault: disconnect after {faults.disconnect_after} messages")

    def _resume_reading(self) -> None:
        if self.transport is not None and not self.transport.is_disconnected:
            self.transport.underlying_transport.resume_reading()

    # -- replies held by response_delay or a stall, in order -----------------------------
    def _arm(self) -> None:
        due = max(self.delayed[0][0], self.faults.stall_until)  # a stall holds waiting ones too
        self.timer = asyncio.get_running_loop().call_later(
            max(0.0, due - time.monotonic()), self._release)

    def _release(self) -> None:
        self.timer = None
        delayed, stats, faults, transport = self.delayed, self.stats, self.faults, self.transport
        now = time.monotonic()
        while delayed and delayed[0][0] <= now and faults.stall_until <= now:
            _, kind, reply = delayed.popleft()
            transport.send(kind, reply)
            stats.messages_sent += 1
            stats.bytes_sent += len(reply)
        if delayed:
            self._arm()

    def on_ws_disconnected(self, transport) -> None:
        if self.timer is not None:
            self.timer.cancel()
        if not self.counted:
            return
        stats = self.stats
        self.server.live.discard(self)
        stats.replies_abandoned += len(self.delayed)
        self.delayed.clear()
        stats.connections_active -= 1
        stats.connections_closed += 1
        code = self.code_received if self.code_received is not None else self.code_sent
        stats.closed_with(code if code is not None else 1006)
        if not self.closing_on_purpose and (self.code_received is None
                                            or self.code_received not in CLEAN_CLOSES):
            stats.connection_errors += 1


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
        server = self.server
        try:
            command = orjson.loads(frame.get_payload_as_bytes())
            answer = server._command(command.get("op"), command)
        except (FaultError, ValueError, AttributeError, TypeError) as error:
            server.stats.control_errors += 1
            answer = {"ok": False, "error": str(error)}
        transport.send(TEXT, orjson.dumps(answer, option=orjson.OPT_NON_STR_KEYS))
        if answer.get("shutdown"):
            asyncio.get_running_loop().create_task(server.stop())


class PicowsMockServer(MockServer):
    """MockServer's interface and counters, served by picows."""
    engine = "picows"

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        if self.subprotocols:
            raise ValueError("the picows engine does not negotiate subprotocols: "
                             "use --engine websockets")
        self.compression = None
        self.live: set[_EchoListener] = set()

    async def start(self) -> str:
        logging.getLogger("picows").setLevel(logging.CRITICAL)
        loop = asyncio.get_running_loop()
        self._server = await loop.create_server(
            lambda: make_protocol(False, self._listener_for, max_frame_size=self.max_size,
                                  handshake_timeout_s=self.open_timeout_s),
            self.host, self.port, ssl=self.ssl_context, backlog=4096)
        self.port = self._server.sockets[0].getsockname()[1]
        return self.uri

    async def stop(self) -> None:
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

    def _listener_for(self, request):
        split = urlsplit(request.path.decode("latin-1"))
        if split.path == CONTROL_PATH:
            key = parse_qs(split.query).get("key", [""])[0]
            if not self.control_key or not hmac.compare_digest(key, self.control_key):
                return WSUpgradeResponseWithListener(
                    WSUpgradeResponse.create_error_response(403, b"wrong control key\n"), None)
            return _ControlListener(self)
        if self._expected_auth is not None:
            given = request.headers.get("Authorization", "")
            if not hmac.compare_digest(given.encode(), self._expected_auth.encode()):
                self.stats.auth_failures += 1
                return WSUpgradeResponseWithListener(
                    WSUpgradeResponse.create_error_response(
                        401, b"missing or wrong bearer token\n"), None)
        return _EchoListener(self)

"""The mock WebSocket server: echo or ack replies, limits, auth, TLS and injected faults.

Runs inside its own process (see __main__.py); `MockServerProcess` starts and stops it.
A control endpoint on the same port (`/_control?key=...`) reads counters and changes faults
while it runs, so that any process that knows the key -- pabot workers included -- can use it.
"""
from __future__ import annotations

import asyncio
import hmac
import logging
import os
import ssl
import time
from collections import deque
from http import HTTPStatus
from urllib.parse import parse_qs, urlsplit

import orjson
from websockets.asyncio.server import ServerConnection, serve
from websockets.exceptions import ConnectionClosed, ConnectionClosedError
from websockets.protocol import State

from .faults import Faults, FaultError, garble

CONTROL_PATH = "/_control"
CLOSE_TRY_AGAIN_LATER = 1013
CLOSE_INTERNAL_ERROR = 1011

COUNTERS = (
    "connections_opened", "connections_closed", "connections_refused", "auth_failures",
    "connection_errors", "messages_received", "messages_sent", "messages_dropped",
    "messages_garbled", "invalid_messages", "disconnects_injected", "replies_abandoned",
    "bytes_received", "bytes_sent", "handshake_failures", "handshake_timeouts",
    "control_errors",
)


def _size(message) -> int:
    """Bytes on the wire of a frame's payload (text frames arrive as str)."""
    if isinstance(message, str) and not message.isascii():
        return len(message.encode())
    return len(message)


class ServerStats:
    __slots__ = COUNTERS + ("connections_active", "connections_peak", "started", "close_codes")

    def __init__(self):
        self.reset()
        self.started = time.monotonic()

    def reset(self):
        for name in COUNTERS:
            setattr(self, name, 0)
        self.connections_active = getattr(self, "connections_active", 0)
        self.connections_peak = self.connections_active
        self.close_codes: dict[str, int] = {}

    def closed_with(self, code: int | None) -> None:
        key = str(code) if code is not None else "none"
        self.close_codes[key] = self.close_codes.get(key, 0) + 1

    def as_dict(self) -> dict:
        data = {name: getattr(self, name) for name in COUNTERS}
        data["close_codes"] = dict(self.close_codes)
        data["connections_active"] = self.connections_active
        data["connections_peak"] = self.connections_peak
        data["uptime_s"] = round(time.monotonic() - self.started, 3)
        data["pid"] = os.getpid()
        return data


class DelayedReplies:
    """Replies of one connection that wait for a response delay or a stall, in order."""

    def __init__(self, server: "MockServer", ws):
        self.server, self.ws = server, ws
        self.queue: deque = deque()
        self.wakeup = asyncio.Event()
        self.task = asyncio.get_running_loop().create_task(self._run())

    def push(self, due: float, reply) -> None:
        self.queue.append((due, reply))
        self.wakeup.set()

    async def _run(self):
        faults, stats, queue = self.server.faults, self.server.stats, self.queue
        while True:
            if not queue:
                self.wakeup.clear()
                await self.wakeup.wait()
                continue
            due, reply = queue[0]
            # re-read the stall each time: one set while replies wait holds them too
            wait = max(due, faults.stall_until) - time.monotonic()
            if wait > 0:
                await asyncio.sleep(wait)
                continue
            queue.popleft()
            await self.ws.send(reply)
            stats.messages_sent += 1
            stats.bytes_sent += _size(reply)

    def cancel(self) -> int:
        self.task.cancel()
        return len(self.queue)


def _close_code(ws) -> int:
    """The code that ended a connection: the peer's if it sent a close frame, else ours;
    1006 when neither side's close frame got through (a reset, a dropped connection)."""
    frame = ws.protocol.close_rcvd or ws.protocol.close_sent
    return frame.code if frame is not None else 1006


class CountedConnection(ServerConnection):
    """Counts opening handshakes that fail (junk instead of HTTP, a bad upgrade request) or
    time out (a slowloris client), which websockets otherwise only logs."""
    stats: ServerStats

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
        self.admitted = self.admit(self)

    def admit(self, connection) -> bool:  # replaced by MockServer.start
        return True


def _refused_on_purpose(connection) -> bool:
    """401 (auth) and 403 (control key) answers are counted where they are decided."""
    response = connection.response
    return response is not None and response.status_code in (401, 403)


class MockServer:
    def __init__(self, host: str = "127.0.0.1", port: int = 0, mode: str = "echo",
                 max_connections: int = 1000, auth_token: str | None = None,
                 certfile: str | None = None, keyfile: str | None = None,
                 id_field: str = "message_id", faults: Faults | None = None,
                 control_key: str = "", compression: bool = True,
                 max_size: int = 1 << 20, subprotocols: list[str] | None = None,
                 open_timeout_s: float = 10.0):
        if mode not in ("echo", "ack"):
            raise ValueError(f"mode must be 'echo' or 'ack', got {mode!r}")
        if max_connections < 0:
            raise ValueError(f"max_connections must be >= 0, got {max_connections}")
        self.host, self.port, self.mode = host, port, mode
        self.max_connections = max_connections
        self._expected_auth = f"Bearer {auth_token}" if auth_token else None
        self.ssl_context = None
        if certfile:
            self.ssl_context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
            self.ssl_context.load_cert_chain(certfile, keyfile)
        self.id_field = id_field
        self.faults = faults or Faults()
        self.control_key = control_key
        self.compression = "deflate" if compression else None
        self.max_size = max_size
        self.subprotocols = list(subprotocols) if subprotocols else None
        self.open_timeout_s = open_timeout_s
        self.stats = ServerStats()
        self._server = None
        self.stopped = asyncio.Event()

    @property
    def uri(self) -> str:
        scheme = "wss" if self.ssl_context else "ws"
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"{scheme}://{host}:{self.port}"

    async def start(self) -> str:
        logging.getLogger("websockets").setLevel(logging.CRITICAL)
        stats = self.stats

        class Connection(CountedConnection):
            pass
        Connection.stats = stats
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
        split = urlsplit(request.path)
        if split.path == CONTROL_PATH:
            key = parse_qs(split.query).get("key", [""])[0]
            if not self.control_key or not hmac.compare_digest(key, self.control_key):
                return connection.respond(HTTPStatus.FORBIDDEN, "wrong control key\n")
            return None
        if self._expected_auth is not None:
            given = request.headers.get("Authorization", "")
            if not hmac.compare_digest(given.encode(), self._expected_auth.encode()):
                self.stats.auth_failures += 1
                return connection.respond(HTTPStatus.UNAUTHORIZED,
                                          "missing or wrong bearer token\n")
        return None

    def _admit(self, ws) -> bool:
        """Take a connection slot, or refuse with 1013 at once (the close frame is written
        before anything the client sends after the handshake is answered)."""
        if urlsplit(ws.request.path).path == CONTROL_PATH:
            return True
        stats = self.stats
        if stats.connections_active >= self.max_connections:
            stats.connections_refused += 1
            ws.protocol.send_close(CLOSE_TRY_AGAIN_LATER, "connection limit reached")
            ws.send_data()
            return False
        stats.connections_opened += 1
        stats.connections_active += 1
        stats.connections_peak = max(stats.connections_peak, stats.connections_active)
        return True

    async def _handle(self, ws):
        if urlsplit(ws.request.path).path == CONTROL_PATH:
            return await self._control(ws)
        if not ws.admitted:
            return  # refused in _admit; websockets finishes the closing handshake
        stats = self.stats
        try:
            await self._serve(ws)
        except ConnectionClosedError:
            stats.connection_errors += 1
        except ConnectionClosed:
            pass
        finally:
            stats.connections_active -= 1
            stats.connections_closed += 1
            stats.closed_with(_close_code(ws))

    async def _serve(self, ws):
        stats, faults = self.stats, self.faults
        ack = self.mode == "ack"
        delayed: DelayedReplies | None = None
        received_here = 0
        try:
            async for message in ws:
                if faults.read_stall_until:
                    # not consuming: websockets stops reading once its queue is full
                    wait = faults.read_stall_until - time.monotonic()
                    if wait > 0:
                        await asyncio.sleep(wait)
                    else:
                        faults.read_stall_until = 0.0
                received_here += 1
                stats.messages_received += 1
                stats.bytes_received += _size(message)
                reply = self._ack(message) if ack else message
                if faults.drop_ratio and faults.should_drop():
                    stats.messages_dropped += 1
                elif reply is not None:
                    if faults.garble_ratio and faults.should_garble():
                        reply = garble(reply)
                        stats.messages_garbled += 1
                    if (delayed is None or not delayed.queue) and not faults.delays_replies:
                        await ws.send(reply)
                        stats.messages_sent += 1
                        stats.bytes_sent += _size(reply)
                    else:
                        if delayed is None:
                            delayed = DelayedReplies(self, ws)
                        delayed.push(time.monotonic() + faults.response_delay, reply)
                if faults.disconnect_after and received_here >= faults.disconnect_after:
                    stats.disconnects_injected += 1
                    await ws.close(CLOSE_INTERNAL_ERROR,
                                   f"mock server fault: disconnect after {faults.disconnect_after} messages")
                    return
        finally:
            if delayed is not None:
                stats.replies_abandoned += delayed.cancel()

    def _ack(self, message):
        try:
            data = orjson.loads(message)
            message_id = data[self.id_field]
        except (orjson.JSONDecodeError, TypeError, KeyError, IndexError):
            self.stats.invalid_messages += 1
            reply = orjson.dumps({"error": f"no {self.id_field} in message"})
        else:
            reply = orjson.dumps({self.id_field: message_id, "status": "ok",
                                  "server_time": time.time()})
        # answer in the frame type of the request
        return reply.decode() if isinstance(message, str) else reply

    # -- control -----------------------------------------------------------------------
    async def _control(self, ws):
        async for request in ws:
            try:
                command = orjson.loads(request)
                answer = self._command(command.get("op"), command)
            except (FaultError, ValueError, AttributeError, TypeError) as error:
                self.stats.control_errors += 1
                answer = {"ok": False, "error": str(error)}
            await ws.send(orjson.dumps(answer, option=orjson.OPT_NON_STR_KEYS))
            if answer.get("shutdown"):
                asyncio.get_running_loop().create_task(self.stop())

    def _command(self, op, command) -> dict:
        if op == "stats":
            return {"ok": True, "stats": self.stats.as_dict(), "faults": self.faults.describe()}
        if op == "set_faults":
            faults = command.get("faults", {})
            if not isinstance(faults, dict):
                raise ValueError(f"faults must be an object of name: value, got {faults!r}")
            self.faults.update(**faults)
            return {"ok": True, "faults": self.faults.describe()}
        if op == "clear_faults":
            self.faults.update(response_delay=0, drop_ratio=0, disconnect_after=0,
                               garble_ratio=0)
            self.faults.stall_until = self.faults.read_stall_until = 0.0
            return {"ok": True, "faults": self.faults.describe()}
        if op == "reset_stats":
            self.stats.reset()
            return {"ok": True, "stats": self.stats.as_dict()}
        if op == "ping":
            return {"ok": True}
        if op == "shutdown":
            return {"ok": True, "shutdown": True}
        raise ValueError(f"unknown control op {op!r}")

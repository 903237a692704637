"""The mock server's decisions beyond one message, without I/O: who may open a connection,
what the counters say when one ends, the replies of ack mode and the control commands.

The two engines (server.py, picows_server.py) subclass `MockServerCore` with their I/O: they
ask it at each handshake, connection, close and control request, and do what it answers.
A fault at the handshake is decided in `handshake_wait` (how long to leave it unanswered:
handshake_delay, or for ever with hang_handshakes) and `check_request` (refuse_for's 503,
max_handshake_rate's 429, the bearer token's 401); one per connection (close_after) where
`open` makes its `Exchange`; `restart` closes every connection at once. Per-message faults
are in pipeline.py (max_message_rate's queue too).

Two engine hooks let these plain objects act on time and on connections without I/O of
their own: `later(seconds, callback)` (the event loop's call_later) and
`close_connection(exchange, code, reason)`; tests replace them with recorders.

It also holds the push protocol's server-wide parts (pushes.py): the options, the topics,
the commands and the heartbeat. `command` and `heartbeat` return the connections with
something new to send; the engine sends what each has (see pipeline.py).
"""
from __future__ import annotations

import hmac
import math
import ssl
import time
from typing import NamedTuple
from urllib.parse import parse_qs, urlsplit

import orjson

from .commands import Commands
from .faults import Faults, FaultError
from .pipeline import Exchange
from .protocol_serving import ProtocolServing
from .pushes import Heartbeats, PushOptions, heartbeat_message, welcome_message
from .stats import ServerStats
from .topics import Topics

CONTROL_PATH = "/_control"
CLOSE_TRY_AGAIN_LATER = 1013
# how a connection over max_connections is closed right after its handshake
LIMIT_REACHED = (CLOSE_TRY_AGAIN_LATER, "connection limit reached")
# how `restart` and close_after close a connection
RESTARTED = (1012, "mock server restart")
LIFETIME_OVER = (1001, "mock server fault: close after {:g} s")
HANG = math.inf  # handshake_wait's answer for a handshake never to be answered


class Refusal(NamedTuple):
    """An HTTP answer that refuses a handshake."""
    status: int
    body: str


class MockServerCore:
    text_kind = "TEXT"   # the engine's frame type of text, for what the server makes itself
    binary_kind = "BINARY"
    reuse_port = False   # SO_REUSEPORT: several processes serve one port (multiprocess.py)
    # the engine can answer a client's subprotocols (picows' cannot: a protocol's clients
    # then get no Sec-WebSocket-Protocol back, which they accept)
    negotiates_subprotocols = True

    def __init__(self, host: str = "127.0.0.1", port: int = 0, mode: str = "echo",
                 max_connections: int = 1000, auth_token: str | None = None,
                 certfile: str | None = None, keyfile: str | None = None,
                 id_field: str = "message_id", faults: Faults | None = None,
                 control_key: str = "", compression: bool = True,
                 max_size: int = 1 << 20, subprotocols: list[str] | None = None,
                 open_timeout_s: float = 10.0, options: PushOptions | None = None,
                 protocol: str | None = None, protocol_options: dict | None = None):
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
        self.options = options or PushOptions()
        self.topics = Topics(self.stats, self.faults)
        self.commands = Commands(self.stats, self.faults, self.topics, self.text_kind, max_size)
        self.heartbeats = Heartbeats(self.options)
        self.exchanges: set[Exchange] = set()  # the connections open now
        self.admitted = 0  # connections admitted since the start, never reset (welcome's n)
        self._tokens = 0.0      # max_handshake_rate's bucket, and when it was last filled
        self._tokens_at: float | None = None
        # a protocol spoken over WebSocket (protocol_serving.py); None: plain messages
        self.protocol = (ProtocolServing(self, protocol, protocol_options)
                         if protocol not in (None, "", "plain") else None)
        if self.protocol is not None and self.negotiates_subprotocols:
            offered = list(self.protocol.protocol.subprotocols)
            self.subprotocols = (self.subprotocols or []) + [
                p for p in offered if p not in (self.subprotocols or [])] or None

    # -- the engine's hooks ------------------------------------------------------------
    def later(self, seconds: float, callback) -> None:
        """Call `callback()` after `seconds` on the server's loop (the engine's)."""
        raise NotImplementedError

    def close_connection(self, exchange: Exchange, code: int, reason: str) -> None:
        """Close an open connection with this code on purpose (the engine's)."""
        raise NotImplementedError

    @property
    def uri(self) -> str:
        scheme = "wss" if self.ssl_context else "ws"
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"{scheme}://{host}:{self.port}"

    # -- handshakes and connections ----------------------------------------------------
    @staticmethod
    def is_control(path: str) -> bool:
        return urlsplit(path).path == CONTROL_PATH

    def handshake_wait(self, path: str, now: float | None = None) -> float:
        """How long to leave this handshake unanswered before `check_request` (counted):
        0, handshake_delay's seconds, or HANG (hang_handshakes: never). The control
        endpoint is never kept waiting."""
        faults = self.faults
        if not (faults.hang_until or faults.handshake_delay) or self.is_control(path):
            return 0.0
        now = time.monotonic() if now is None else now
        if faults.hang_until > now:
            self.stats.handshakes_hung += 1
            return HANG
        if faults.handshake_delay > 0:
            self.stats.handshakes_delayed += 1
            return faults.handshake_delay
        return 0.0

    def check_request(self, path: str, authorization: str,
                      now: float | None = None) -> Refusal | None:
        """None to go on with the handshake, else the answer that refuses it (counted).
        The control endpoint wants its key, not the bearer token, and no fault acts on it.
        In order: refuse_for (503), max_handshake_rate (429), the bearer token (401)."""
        split = urlsplit(path)
        if split.path == CONTROL_PATH:
            key = parse_qs(split.query).get("key", [""])[0]
            if not self.control_key or not hmac.compare_digest(key, self.control_key):
                return Refusal(403, "wrong control key\n")
            return None
        stats, faults = self.stats, self.faults
        if faults.refuse_until or faults.max_handshake_rate:
            now = time.monotonic() if now is None else now
            if faults.refuse_until > now:
                stats.handshakes_refused_503 += 1
                return Refusal(503, "mock server fault: refusing new connections (refuse_for)\n")
            if faults.max_handshake_rate and not self._take_token(now):
                stats.handshakes_refused_429 += 1
                return Refusal(429, f"mock server fault: over max_handshake_rate "
                                    f"{faults.max_handshake_rate:g}/s\n")
        if self._expected_auth is not None:
            if not hmac.compare_digest(authorization.encode(), self._expected_auth.encode()):
                stats.auth_failures += 1
                stats.handshakes_refused_401 += 1
                return Refusal(401, "missing or wrong bearer token\n")
        stats.handshakes_accepted += 1
        return None

    def _take_token(self, now: float) -> bool:
        """max_handshake_rate as a token bucket holding one second's worth (at least 1)."""
        rate = self.faults.max_handshake_rate
        depth = max(1.0, rate)
        if self._tokens_at is None:
            self._tokens = depth   # a limit set on an idle server starts full
        else:
            self._tokens = min(depth, self._tokens + (now - self._tokens_at) * rate)
        self._tokens_at = now
        if self._tokens >= 1.0:
            self._tokens -= 1.0
            return True
        return False

    def open(self, size=len) -> Exchange | None:
        """A connection that finished its handshake: its Exchange (`size` as there), or None
        when it is over the limit (counted): the engine then closes it with LIMIT_REACHED
        before anything it sends is answered."""
        stats = self.stats
        if stats.connections_active >= self.max_connections:
            stats.connections_refused += 1
            return None
        stats.connections_opened += 1
        stats.connections_active += 1
        stats.connections_peak = max(stats.connections_peak, stats.connections_active)
        exchange = Exchange(stats, self.faults, self.ack if self.mode == "ack" else None, size)
        self.exchanges.add(exchange)
        self.admitted += 1
        if self.options.replies != 1 or self.faults.max_message_rate:
            exchange.repeat(self.options.replies)
        lifetime = self.faults.close_after
        if lifetime > 0:
            self.later(lifetime, lambda: self._lifetime_over(exchange, lifetime))
        if self.protocol is not None:
            self.protocol.open(exchange, self.admitted)
        if self.options.welcome:
            exchange.push(self.text_kind, welcome_message(self.admitted))
        return exchange

    def _lifetime_over(self, exchange: Exchange, lifetime: float) -> None:
        if exchange in self.exchanges:
            self.stats.closes_by_close_after += 1
            code, reason = LIFETIME_OVER
            self.close_connection(exchange, code, reason.format(lifetime))

    def restart(self, after_s: float = 0.0, down_for_s: float = 0.0) -> None:
        """Close every open connection at once (1012 service restart), now or after
        `after_s`; new connections are accepted meanwhile, or refused with 503 for
        `down_for_s` from the restart on (refuse_for), as a server that takes time to
        come back."""
        for name, value in (("after", after_s), ("down_for", down_for_s)):
            if not isinstance(value, (int, float)) or value < 0 or value != value:
                raise ValueError(f"restart {name} must be seconds >= 0, got {value!r}")
        if after_s > 0:
            self.later(after_s, lambda: self.restart(0.0, down_for_s))
            return
        self.stats.restarts += 1
        if down_for_s > 0:
            self.faults.update(refuse_for=down_for_s)
        code, reason = RESTARTED
        for exchange in list(self.exchanges):
            self.stats.closes_by_restart += 1
            self.close_connection(exchange, code, reason)

    def closed(self, exchange: Exchange, code: int, error: bool) -> None:
        """An opened connection ended with `code` (1006: no close frame got through);
        `error`: it ended in a way its client did not ask for."""
        stats = self.stats
        self.exchanges.discard(exchange)
        self.topics.leave(exchange)
        stats.replies_abandoned += exchange.abandon()
        stats.connections_active -= 1
        stats.connections_closed += 1
        stats.closed_with(code)
        if error:
            stats.connection_errors += 1

    # -- replies and pushes --------------------------------------------------------------
    def ack(self, message, parts: int = 1):
        """The ack of a message; with `parts` > 1 the list of its acks (one if invalid)."""
        try:
            data = orjson.loads(message)
            message_id = data[self.id_field]
        except (orjson.JSONDecodeError, TypeError, KeyError, IndexError):
            self.stats.invalid_messages += 1
            replies = [orjson.dumps({"error": f"no {self.id_field} in message"})]
        else:
            if parts == 1:
                replies = [orjson.dumps({self.id_field: message_id, "status": "ok",
                                         "server_time": time.time()})]
            else:
                now = time.time()
                replies = [orjson.dumps({self.id_field: message_id,
                                         "status": "partial" if part < parts else "done",
                                         "part": part, "parts": parts, "server_time": now})
                           for part in range(1, parts + 1)]
        # answer in the frame type of the request
        if isinstance(message, str):
            replies = [reply.decode() for reply in replies]
        return replies[0] if parts == 1 else replies

    def command(self, exchange: Exchange, message, kind) -> list[Exchange]:
        """A push protocol command (commands.py): the connections with something to send."""
        return self.commands.handle(exchange, message, kind, time.monotonic())

    def heartbeat_wake(self, now: float) -> float:
        wake = self.heartbeats.next_wake(now)
        if self.protocol is not None:
            wake = min(wake, self.protocol.keepalive_wake(now))
        return wake

    def heartbeat(self, now: float) -> list[Exchange]:
        """A heartbeat to every connection if one is due, and the protocol's keep-alives:
        the connections to send to."""
        pinged = self.protocol.keepalive(now) if self.protocol is not None else []
        if not self.heartbeats.due(now):
            return pinged
        message = heartbeat_message()
        for exchange in self.exchanges:
            exchange.push(self.text_kind, message)
        return list(self.exchanges)

    # -- control -----------------------------------------------------------------------
    def control(self, request) -> tuple[bytes, bool]:
        """The answer to a control request (JSON), and whether the server is to stop."""
        try:
            command = orjson.loads(request)
            answer = self._command(command.get("op"), command)
        except (FaultError, ValueError, AttributeError, TypeError) as error:
            self.stats.control_errors += 1
            answer = {"ok": False, "error": str(error)}
        return (orjson.dumps(answer, option=orjson.OPT_NON_STR_KEYS),
                bool(answer.get("shutdown")))

    def _command(self, op, command) -> dict:
        if op == "stats":
            return {"ok": True, "stats": self.stats.as_dict(), "faults": self.faults.describe(),
                    "options": self.options.describe(), "topics": self.stats.topics_as_dict()}
        if op == "set_faults":
            faults = command.get("faults", {})
            if not isinstance(faults, dict):
                raise ValueError(f"faults must be an object of name: value, got {faults!r}")
            self.faults.update(**faults)
            self._pace_all()
            return {"ok": True, "faults": self.faults.describe()}
        if op == "clear_faults":
            self.faults.clear()
            self._pace_all()
            return {"ok": True, "faults": self.faults.describe()}
        if op == "restart":
            self.restart(command.get("after", 0.0), command.get("down_for", 0.0))
            return {"ok": True, "connections": len(self.exchanges)}
        if op == "set_options":
            options = command.get("options", {})
            if not isinstance(options, dict):
                raise ValueError(f"options must be an object of name: value, got {options!r}")
            self.options.update(**options)
            for exchange in self.exchanges:
                exchange.repeat(self.options.replies)
            return {"ok": True, "options": self.options.describe()}
        if op == "reset_stats":
            self.stats.reset()
            return {"ok": True, "stats": self.stats.as_dict()}
        if op == "ping":
            return {"ok": True}
        if op == "shutdown":
            return {"ok": True, "shutdown": True}
        raise ValueError(f"unknown control op {op!r}")

    def _pace_all(self) -> None:
        """max_message_rate changed: the open connections' exchanges follow (pipeline.py)."""
        for exchange in self.exchanges:
            exchange.pace()

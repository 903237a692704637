"""The mock server's decisions beyond one message, without I/O: who may open a connection,
what the counters say when one ends, the replies of ack mode and the control commands.

The two engines (server.py, picows_server.py) subclass `MockServerCore` with their I/O: they
ask it at each handshake, connection, close and control request, and do what it answers.
A fault at the handshake (a refusal with some status, a rate of handshakes above which to
refuse) is a few lines in `check_request`; one per connection (closing it after a time)
goes where `open` makes its `Exchange`. Per-message faults are in pipeline.py.

It also holds the push protocol's server-wide parts (pushes.py): the options, the topics,
the commands and the heartbeat. `command` and `heartbeat` return the connections with
something new to send; the engine sends what each has (see pipeline.py).
"""
from __future__ import annotations

import hmac
import ssl
import time
from typing import NamedTuple
from urllib.parse import parse_qs, urlsplit

import orjson

from .commands import Commands
from .faults import Faults, FaultError
from .pipeline import Exchange
from .pushes import Heartbeats, PushOptions, heartbeat_message, welcome_message
from .stats import ServerStats
from .topics import Topics

CONTROL_PATH = "/_control"
CLOSE_TRY_AGAIN_LATER = 1013
# how a connection over max_connections is closed right after its handshake
LIMIT_REACHED = (CLOSE_TRY_AGAIN_LATER, "connection limit reached")


class Refusal(NamedTuple):
    """An HTTP answer that refuses a handshake."""
    status: int
    body: str


class MockServerCore:
    text_kind = "TEXT"   # the engine's frame type of text, for what the server makes itself

    def __init__(self, host: str = "127.0.0.1", port: int = 0, mode: str = "echo",
                 max_connections: int = 1000, auth_token: str | None = None,
                 certfile: str | None = None, keyfile: str | None = None,
                 id_field: str = "message_id", faults: Faults | None = None,
                 control_key: str = "", compression: bool = True,
                 max_size: int = 1 << 20, subprotocols: list[str] | None = None,
                 open_timeout_s: float = 10.0, options: PushOptions | None = None):
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

    @property
    def uri(self) -> str:
        scheme = "wss" if self.ssl_context else "ws"
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"{scheme}://{host}:{self.port}"

    # -- handshakes and connections ----------------------------------------------------
    @staticmethod
    def is_control(path: str) -> bool:
        return urlsplit(path).path == CONTROL_PATH

    def check_request(self, path: str, authorization: str) -> Refusal | None:
        """None to go on with the handshake, else the answer that refuses it (counted).
        The control endpoint wants its key, not the bearer token."""
        split = urlsplit(path)
        if split.path == CONTROL_PATH:
            key = parse_qs(split.query).get("key", [""])[0]
            if not self.control_key or not hmac.compare_digest(key, self.control_key):
                return Refusal(403, "wrong control key\n")
            return None
        if self._expected_auth is not None:
            if not hmac.compare_digest(authorization.encode(), self._expected_auth.encode()):
                self.stats.auth_failures += 1
                return Refusal(401, "missing or wrong bearer token\n")
        return None

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
        if self.options.replies != 1:
            exchange.repeat(self.options.replies)
        if self.options.welcome:
            exchange.push(self.text_kind, welcome_message(self.admitted))
        return exchange

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
        return self.heartbeats.next_wake(now)

    def heartbeat(self, now: float) -> list[Exchange]:
        """A heartbeat to every connection if one is due: the connections to send to."""
        if not self.heartbeats.due(now):
            return []
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
            return {"ok": True, "faults": self.faults.describe()}
        if op == "clear_faults":
            self.faults.clear()
            return {"ok": True, "faults": self.faults.describe()}
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

"""The controller's side of one agent: signed XML-RPC calls of the agent's remote keywords."""
from __future__ import annotations

import http.client
import json
import os
import socket
import time
import xmlrpc.client
from dataclasses import dataclass, field
from urllib.parse import urlsplit

from .. import __version__
from ..engine.errors import EngineError
from .signing import HEADER, sign


class AgentError(EngineError):
    """An agent could not be reached, refused us, or failed a call. `transient`: it did not
    answer in time, which a busy agent may do once; refused or reset connections are not."""

    def __init__(self, message: str, transient: bool = False):
        super().__init__(message)
        self.transient = transient


class _SignedTransport(xmlrpc.client.Transport):
    def __init__(self, secret: str, timeout_s: float):
        super().__init__()
        self._secret, self.timeout_s = secret, timeout_s

    def make_connection(self, host):
        # a fresh connection per call, with our timeout: a dead agent fails fast
        self._connection = host, http.client.HTTPConnection(host, timeout=self.timeout_s)
        return self._connection[1]

    def send_request(self, host, handler, request_body, debug):
        self._handler = handler
        return super().send_request(host, handler, request_body, debug)

    def send_content(self, connection, request_body):
        connection.putheader(HEADER, sign(self._secret, self._handler, request_body))
        super().send_content(connection, request_body)


@dataclass
class ClockOffset:
    """The agent's wall clock minus the controller's, from the round trip with the least
    delay (NTP's idea): the true offset is within +- `uncertainty_s`."""
    offset_s: float = 0.0
    uncertainty_s: float = 0.0
    round_trip_s: float = 0.0


@dataclass
class AgentClient:
    uri: str
    secret: str = field(repr=False)
    timeout_s: float = 10.0
    name: str = ""
    info: dict = field(default_factory=dict)
    clock: ClockOffset = field(default_factory=ClockOffset)
    session: str | None = None   # this controller's session on the agent, from hello()

    def __post_init__(self):
        self.uri = normalise_uri(self.uri)
        self.name = self.name or self.uri

    @property
    def label(self) -> str:
        return f"{self.name} ({self.uri})" if self.name != self.uri else self.uri

    def call(self, keyword: str, *args, timeout_s: float | None = None):
        """Runs one of the agent's remote keywords; its return value, or AgentError."""
        transport = _SignedTransport(self.secret, timeout_s or self.timeout_s)
        proxy = xmlrpc.client.ServerProxy(self.uri, transport=transport, allow_none=True)
        try:
            reply = proxy.run_keyword(keyword, list(args), {})
        except xmlrpc.client.ProtocolError as error:
            if error.errcode == 403:
                raise AgentError(f"load agent {self.label} refused the shared secret (HTTP "
                                 f"403): give the controller the same secret as the agent "
                                 f"(the agent's console says why it refused)") from None
            raise AgentError(f"load agent {self.label} answered HTTP {error.errcode} "
                             f"{error.errmsg} to {keyword!r}: is it a WebSocketLoadLibrary "
                             f"agent?") from None
        except (ConnectionError, socket.timeout, TimeoutError, OSError) as error:
            raise AgentError(f"load agent {self.label} cannot be reached ({_doing(keyword)}): "
                             f"{_why(error)}",
                             transient=isinstance(error, (socket.timeout, TimeoutError))) from None
        except (xmlrpc.client.Fault, xmlrpc.client.ResponseError, http.client.HTTPException) \
                as error:
            raise AgentError(f"load agent {self.label} gave a broken answer to {keyword!r}: "
                             f"{error}") from None
        if not isinstance(reply, dict) or reply.get("status") not in ("PASS", "FAIL"):
            raise AgentError(f"load agent {self.label} gave a broken answer to {keyword!r}")
        if reply["status"] == "FAIL":
            raise AgentError(f"load agent {self.label} failed to {_doing(keyword)}: "
                             f"{reply.get('error') or 'no reason given'}")
        return reply.get("return")

    def call_json(self, keyword: str, *args, timeout_s: float | None = None):
        return json.loads(self.call(keyword, *args, timeout_s=timeout_s))

    def hello(self, clock_samples: int = 5) -> None:
        """Checks the agent answers and accepts the secret; learns its name and clock, and
        opens this controller's session (its own connections and steps on the agent).

        The agent must run this controller's version: plans and results travel as the
        engine's own fields, which change between versions (an older agent would refuse a
        newer plan's fields mid-run, or a newer one report fields this controller drops).
        """
        self.info = self.call_json("get_agent_info")
        self.name = self.info.get("name") or self.uri
        version = self.info.get("version")
        if version != __version__:
            raise AgentError(f"load agent {self.label} runs WebSocketLoadLibrary "
                             f"{version or '(unknown version)'}, this controller {__version__}: "
                             f"install the same version on the agent and the controller")
        self.clock = self.measure_clock(clock_samples)
        self.session = self.call("open_agent_session",
                                 f"{socket.gethostname()} pid {os.getpid()}")

    def call_in_session(self, keyword: str, *args, timeout_s: float | None = None):
        if self.session is None:
            raise AgentError(f"load agent {self.label}: not connected (no session)")
        return self.call(keyword, self.session, *args, timeout_s=timeout_s)

    def goodbye(self) -> int:
        """Closes this controller's session: its steps cancelled, its connections closed."""
        session, self.session = self.session, None
        return int(self.call("close_agent_session", session, timeout_s=30)) if session else 0

    def measure_clock(self, samples: int = 5) -> ClockOffset:
        best = None
        for _ in range(max(1, samples)):
            before = time.time()
            agent_time = float(self.call("get_agent_clock"))
            after = time.time()
            sample = ClockOffset(agent_time - (before + after) / 2, (after - before) / 2,
                                 after - before)
            if best is None or sample.round_trip_s < best.round_trip_s:
                best = sample
        return best


def normalise_uri(uri: str) -> str:
    """`http://host:port` from `host:port`, `http://host:port/` or the like; a clear error
    for anything else."""
    text = str(uri).strip()
    if "://" not in text:
        text = "http://" + text
    parts = urlsplit(text)
    try:
        port = parts.port
    except ValueError:
        port = -1
    if parts.scheme != "http" or not parts.hostname or port is None or port < 0 \
            or parts.username or parts.password:
        raise AgentError(f"not a load agent address: {uri!r} (expected http://host:port, "
                         f"e.g. http://10.0.0.5:8270)")
    host = f"[{parts.hostname}]" if ":" in parts.hostname else parts.hostname
    return f"http://{host}:{port}{parts.path.rstrip('/')}"


def _doing(keyword: str) -> str:
    """`open_agent_connections` -> `open connections`, for messages."""
    return keyword.replace("_agent_", "_").replace("_", " ")


def _why(error: BaseException) -> str:
    if isinstance(error, ConnectionRefusedError):
        return "connection refused (is the agent running on that address and port?)"
    if isinstance(error, (socket.timeout, TimeoutError)):
        return "no answer in time"
    if isinstance(error, ConnectionResetError):
        return "connection reset (the agent process died?)"
    return f"{type(error).__name__}: {getattr(error, 'strerror', None) or error}"

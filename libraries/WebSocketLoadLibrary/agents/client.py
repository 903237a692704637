"""The controller's side of one agent: signed XML-RPC calls of the agent's remote keywords,
over http:// or, to an agent started with a certificate, https:// (the signing is the same)."""
from __future__ import annotations

import http.client
import json
import os
import socket
import ssl
import time
import xmlrpc.client
from dataclasses import dataclass, field
from urllib.parse import urlsplit

from ..engine import EngineError
from .messages import CloseSession, GetClock, GetInfo, MessageError, OpenSession, OtherVersion, \
    Request
from .signing import HEADER, sign

# the reason phrase of the agent's HTTP 400 to a plain-HTTP request on its TLS port
TLS_REQUIRED_REASON = "Plain HTTP to a TLS load agent: use https://"
_HOSTNAME_MISMATCH_CODES = (62, 64)   # X509_V_ERR_HOSTNAME_MISMATCH, _IP_ADDRESS_MISMATCH


class AgentError(EngineError):
    """An agent could not be reached, refused us, or failed a call. `transient`: it did not
    answer in time, which a busy agent may do once; refused or reset connections are not."""

    def __init__(self, message: str, transient: bool = False):
        super().__init__(message)
        self.transient = transient


class _NamedHTTPSConnection(http.client.HTTPSConnection):
    """HTTPS to an address, the certificate checked against a name (SNI too): an agent
    found behind a DNS name is reached by its address but certified for the name."""

    def __init__(self, host, *, server_name: str, **options):
        super().__init__(host, **options)
        self._server_name = server_name

    def connect(self):
        http.client.HTTPConnection.connect(self)
        self.sock = self._context.wrap_socket(self.sock, server_hostname=self._server_name)


class _SignedTransport(xmlrpc.client.Transport):
    def __init__(self, secret: str, timeout_s: float, tls: ssl.SSLContext | None = None,
                 tls_name: str | None = None):
        super().__init__()
        self._secret, self.timeout_s, self._tls, self._tls_name = secret, timeout_s, tls, \
            tls_name

    def make_connection(self, host):
        # a fresh connection per call, with our timeout: a dead agent fails fast
        if self._tls is not None and self._tls_name:
            connection = _NamedHTTPSConnection(host, server_name=self._tls_name,
                                               timeout=self.timeout_s, context=self._tls)
        elif self._tls is not None:
            connection = http.client.HTTPSConnection(host, timeout=self.timeout_s,
                                                     context=self._tls)
        else:
            connection = http.client.HTTPConnection(host, timeout=self.timeout_s)
        self._connection = host, connection
        return connection

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
    ca_file: str | None = None   # the CA to trust for an https:// agent (default: the system's)
    tls_name: str | None = None  # the name its certificate must name (default: its host)
    found_by: object | None = None   # the discovery.DnsName it was found behind, if any
    lost: str | None = None      # why it was lost mid-step: no teardown waits for it then
    _tls: ssl.SSLContext | None = field(default=None, init=False, repr=False)

    def __post_init__(self):
        self.uri = normalise_uri(self.uri)
        self.name = self.name or self.uri
        self._tls = tls_context(self.uri, self.ca_file)

    @property
    def label(self) -> str:
        return f"{self.name} ({self.uri})" if self.name != self.uri else self.uri

    def call(self, keyword: str, *args, timeout_s: float | None = None):
        """Runs one of the agent's remote keywords; its return value, or AgentError."""
        transport = _SignedTransport(self.secret, timeout_s or self.timeout_s, self._tls,
                                     self.tls_name)
        proxy = xmlrpc.client.ServerProxy(self.uri, transport=transport, allow_none=True)
        try:
            reply = proxy.run_keyword(keyword, list(args), {})
        except xmlrpc.client.ProtocolError as error:
            if error.errcode == 403:
                raise AgentError(f"load agent {self.label} refused the shared secret (HTTP "
                                 f"403): give the controller the same secret as the agent "
                                 f"(the agent's console says why it refused)") from None
            if error.errcode == 400 and error.errmsg == TLS_REQUIRED_REASON:
                raise AgentError(f"load agent {self.label} speaks TLS: give its address as "
                                 f"https://{self.uri.split('://', 1)[1]} and the CA that "
                                 f"signed its certificate as ca_file") from None
            raise AgentError(f"load agent {self.label} answered HTTP {error.errcode} "
                             f"{error.errmsg} to {keyword!r}: is it a WebSocketLoadLibrary "
                             f"agent?") from None
        except ssl.SSLCertVerificationError as error:
            raise AgentError(self._untrusted(error)) from None
        except ssl.SSLError as error:
            raise AgentError(f"load agent {self.label}: the TLS handshake failed "
                             f"({error.reason or error}): is the agent started with --tls-cert? "
                             f"Without it, it serves plain http://") from None
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

    def _untrusted(self, error: ssl.SSLCertVerificationError) -> str:
        why = error.verify_message or error.reason or str(error)
        if error.verify_code in _HOSTNAME_MISMATCH_CODES and self.tls_name:
            return (f"load agent {self.label}: its TLS certificate does not name "
                    f"{self.tls_name}, the DNS name it was found behind ({why}): give the "
                    f"agents a certificate for that name")
        if error.verify_code in _HOSTNAME_MISMATCH_CODES:
            return (f"load agent {self.label}: its TLS certificate is not for the host in its "
                    f"address ({why}): give the address by a name or IP address the "
                    f"certificate names")
        whose = (f"ca_file {self.ca_file} is not the CA that signed it" if self.ca_file
                 else "no ca_file given, and the system's CAs do not vouch for it")
        return (f"load agent {self.label}: its TLS certificate is not trusted ({why}; {whose}): "
                f"give Connect Load Agents ca_file=<PEM file of the CA that signed the agent's "
                f"certificate>")

    def call_json(self, keyword: str, *args, timeout_s: float | None = None):
        return json.loads(self.call(keyword, *args, timeout_s=timeout_s))

    def request(self, message: Request, timeout_s: float | None = None):
        """Sends one request (messages.py) and returns its reply, read and checked."""
        if message.in_session:
            value = self.call_in_session(message.keyword, *message.args(), timeout_s=timeout_s)
        else:
            value = self.call(message.keyword, *message.args(), timeout_s=timeout_s)
        try:
            return message.read_reply(value)
        except OtherVersion as error:
            raise AgentError(f"load agent {self.label} {error}") from None
        except MessageError as error:
            raise AgentError(f"load agent {self.label} gave a broken answer to "
                             f"{message.keyword!r}: {error}") from None

    def hello(self, clock_samples: int = 5) -> None:
        """Checks the agent answers and accepts the secret; learns its name and clock, and
        opens this controller's session (its own connections and steps on the agent).

        The agent must run this controller's version (messages.GetInfo): plans and results
        travel as the engine's own fields, which change between versions (an older agent
        would refuse a newer plan's fields mid-run, or a newer one report fields this
        controller drops).
        """
        try:
            self.info = GetInfo.read_reply(self.call(GetInfo.keyword))
        except OtherVersion as error:
            self.name = error.name or self.name
            raise AgentError(f"load agent {self.label} {error}") from None
        except MessageError as error:
            raise AgentError(f"load agent {self.label} gave a broken answer to "
                             f"{GetInfo.keyword!r}: {error}") from None
        self.name = self.info["name"] or self.uri
        self.clock = self.measure_clock(clock_samples)
        self.session = self.request(OpenSession(f"{socket.gethostname()} pid {os.getpid()}"))

    def call_in_session(self, keyword: str, *args, timeout_s: float | None = None):
        if self.session is None:
            raise AgentError(f"load agent {self.label}: not connected (no session)")
        return self.call(keyword, self.session, *args, timeout_s=timeout_s)

    def goodbye(self) -> int:
        """Closes this controller's session: its steps cancelled, its connections closed."""
        if self.session is None:
            return 0
        try:
            return self.request(CloseSession(), timeout_s=30)
        finally:
            self.session = None

    def measure_clock(self, samples: int = 5) -> ClockOffset:
        best = None
        for _ in range(max(1, samples)):
            before = time.time()
            agent_time = self.request(GetClock())
            after = time.time()
            sample = ClockOffset(agent_time - (before + after) / 2, (after - before) / 2,
                                 after - before)
            if best is None or sample.round_trip_s < best.round_trip_s:
                best = sample
        return best


def normalise_uri(uri: str) -> str:
    """`http://host:port` from `host:port`, `http://host:port/` or the like (`https://` kept);
    a clear error for anything else."""
    text = str(uri).strip()
    if "://" not in text:
        text = "http://" + text
    parts = urlsplit(text)
    try:
        port = parts.port
    except ValueError:
        port = -1
    if parts.scheme not in ("http", "https") or not parts.hostname or port is None \
            or port < 0 or parts.username or parts.password:
        raise AgentError(f"not a load agent address: {uri!r} (expected http://host:port, "
                         f"e.g. http://10.0.0.5:8270, or https://host:port for an agent "
                         f"started with --tls-cert)")
    host = f"[{parts.hostname}]" if ":" in parts.hostname else parts.hostname
    return f"{parts.scheme}://{host}:{port}{parts.path.rstrip('/')}"


def tls_context(uri: str, ca_file: str | None) -> ssl.SSLContext | None:
    """What an https:// agent's certificate is checked against (None for http://); a clear
    error for a ca_file that cannot be used."""
    if not uri.startswith("https://"):
        if ca_file:
            raise AgentError(f"ca_file is for load agents served over TLS, but {uri} is plain "
                             f"http: start the agent with --tls-cert and give its address as "
                             f"https://...")
        return None
    try:
        return ssl.create_default_context(cafile=ca_file or None)
    except ssl.SSLError as error:
        raise AgentError(f"ca_file {ca_file} holds no usable CA certificate (PEM expected): "
                         f"{error.reason or error}") from None
    except OSError as error:
        raise AgentError(f"ca_file {ca_file} cannot be read: {error.strerror or error}") from None


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

"""What a client connection is opened with (ConnectionOptions: the URI, TLS, token, headers,
subprotocols, transport), a secret that never prints, and a connect error in words: why an
attempt failed and what to do about it, for either transport."""
from __future__ import annotations

import asyncio
import socket
import ssl
from dataclasses import dataclass, field
from urllib.parse import urlsplit

from picows import WSHandshakeError
from websockets.exceptions import InvalidHandshake, InvalidStatus, InvalidURI

from ..errors import ConnectError
from .opening import OpeningMessages

TRANSPORTS = ("auto", "websockets", "picows")


class SecretText:
    """A secret whose repr, str() and format() never show the value; `reveal()` does."""
    __slots__ = ("_value",)

    def __init__(self, value: str):
        self._value = str(value)

    def __repr__(self) -> str:
        return "<secret>"

    __str__ = __repr__

    def __format__(self, spec: str) -> str:
        return "<secret>"

    def __bool__(self) -> bool:
        return bool(self._value)

    def reveal(self) -> str:
        return self._value


@dataclass
class ConnectionOptions:
    """How to open each client connection.

    token          bearer token sent as `Authorization: Bearer <token>` (never shown)
    ca_file        PEM file of the CA that signed the server's certificate (wss://)
    insecure       skip certificate verification (wss:// to a self-signed server)
    compression    negotiate permessage-deflate (costs ~25% throughput and memory)
    ping_interval_s / ping_timeout_s   keepalive; None disables
    max_queue      incoming messages buffered per connection before reading pauses
                   (websockets transport only)
    opening        messages each connection sends right after its handshake, waiting for
                   their replies, before it counts as open (opening.py)
    transport      "auto" (default), "websockets" or "picows". picows (C frame parser, no
                   task or queue per connection) carries about twice the messages per CPU
                   second; auto takes it unless a websockets-only feature is asked for:
                   compression or subprotocols.
    protocol       the protocol spoken over WebSocket (engine/protocols/: Socket.IO, ...):
                   its URI, subprotocols, handshake and keep-alives; None: plain messages
    source_addresses   local addresses the connections come from, in turn (each gives
                   its own ephemeral ports toward one server address and port); None: the
                   system's choice (toward loopback the engine picks 127.0.0.2, ... when one
                   address has too few ports for the count, runtime/host_limits.py)
    """
    uri: str
    headers: dict = field(default_factory=dict)
    token: str | None = field(default=None, repr=False)
    subprotocols: list = field(default_factory=list)
    ca_file: str | None = None
    insecure: bool = False
    compression: bool = False
    open_timeout_s: float = 10.0
    ping_interval_s: float | None = 20.0
    ping_timeout_s: float | None = 20.0
    close_timeout_s: float = 5.0
    max_size: int | None = 1 << 20
    max_queue: int = 1024
    transport: str = "auto"
    opening: OpeningMessages | None = None
    protocol: object | None = None
    source_addresses: list | None = None

    def __post_init__(self):
        if isinstance(self.source_addresses, str):
            self.source_addresses = [a for a in self.source_addresses.replace(",", " ").split()]
        if self.source_addresses is not None:
            self.source_addresses = list(self.source_addresses) or None
            for address in self.source_addresses or ():
                try:
                    socket.inet_pton(socket.AF_INET6 if ":" in address else socket.AF_INET,
                                     address)
                except (OSError, TypeError):
                    raise ConnectError(f"not a local IP address: {address!r} (source_addresses "
                                       f"takes addresses such as 10.0.0.5,10.0.0.6)") from None
        if self.protocol is not None and isinstance(self.uri, str):
            self.uri = self.protocol.uri(self.uri)
        if self.transport not in TRANSPORTS:
            raise ConnectError(f"transport must be one of {', '.join(TRANSPORTS)}, "
                               f"got {self.transport!r}")
        if self.transport == "picows" and self.websockets_only_features():
            raise ConnectError(f"transport picows cannot do "
                               f"{' or '.join(self.websockets_only_features())}: use "
                               "transport=websockets (or auto)")
        if self.token is not None and not isinstance(self.token, SecretText):
            self.token = SecretText(self.token)
        split = urlsplit(self.uri) if isinstance(self.uri, str) else None
        if split is None or split.scheme not in ("ws", "wss") or not split.hostname:
            raise ConnectError(f"not a WebSocket URI: {self.uri!r} "
                               "(expected ws://host:port/path or wss://host:port/path)")
        try:
            split.port
        except ValueError:
            raise ConnectError(f"bad port in WebSocket URI {self.uri!r} "
                               "(expected ws://host:port/path or wss://host:port/path)") from None

    def websockets_only_features(self) -> list[str]:
        return [name for name, wanted in (("compression", self.compression),
                                          ("subprotocols", bool(self.subprotocols))) if wanted]

    @property
    def resolved_transport(self) -> str:
        """The transport `auto` stands for with these options."""
        if self.transport != "auto":
            return self.transport
        return "websockets" if self.websockets_only_features() else "picows"

    def request_headers(self) -> dict:
        headers = dict(self.headers)
        if self.token:
            headers["Authorization"] = f"Bearer {self.token.reveal()}"
        return headers

    @property
    def offered_subprotocols(self) -> list[str]:
        """The subprotocols the handshake offers: the user's, then the protocol's. picows
        offers the protocol's as a header of the handshake (it does not negotiate: the
        protocol's own handshake is what tells a wrong server); only the user's ask for
        websockets."""
        protocol = list(self.protocol.subprotocols) if self.protocol is not None else []
        return list(self.subprotocols) + [p for p in protocol if p not in self.subprotocols]

    @property
    def target(self) -> str:
        split = urlsplit(self.uri)
        port = split.port or (443 if split.scheme == "wss" else 80)
        return f"{split.hostname}:{port}"

    def ssl_context(self) -> ssl.SSLContext | None:
        if not self.uri.startswith("wss://"):
            return None
        if self.insecure:
            context = ssl.create_default_context()
            context.check_hostname = False
            context.verify_mode = ssl.CERT_NONE
            return context
        try:
            return ssl.create_default_context(cafile=self.ca_file)
        except (OSError, ssl.SSLError) as error:
            raise ConnectError(f"cannot load CA file {self.ca_file!r}: {error}") from None

    def connect_kwargs(self, ssl_context) -> dict:
        headers = self.request_headers()
        return dict(
            additional_headers=headers or None, subprotocols=self.offered_subprotocols or None,
            compression="deflate" if self.compression else None, ssl=ssl_context,
            open_timeout=self.open_timeout_s, ping_interval=self.ping_interval_s,
            ping_timeout=self.ping_timeout_s, close_timeout=self.close_timeout_s,
            max_size=self.max_size, max_queue=self.max_queue, proxy=None)


def explain_connect_error(error: BaseException, options: ConnectionOptions) -> str:
    where = f"{options.uri}"
    status = None
    if isinstance(error, InvalidStatus):
        status = error.response.status_code
    elif isinstance(error, WSHandshakeError) and error.response is not None:
        status = int(error.response.status)
    if status is not None:
        if status == 401:
            hint = ("the bearer token is missing" if not options.token
                    else "the bearer token was rejected")
            return f"server at {where} refused the handshake: HTTP 401 Unauthorized ({hint})"
        if status == 403:
            return f"server at {where} refused the handshake: HTTP 403 Forbidden"
        return f"server at {where} refused the handshake: HTTP {status}"
    if isinstance(error, ssl.SSLCertVerificationError):
        return (f"TLS certificate of {options.target} is not trusted ({error.verify_message}): "
                "pass ca_file=<CA PEM file> to trust its CA, or insecure=True to skip the check")
    if isinstance(error, ssl.SSLError):
        return f"TLS handshake with {options.target} failed: {error.reason or error}"
    if isinstance(error, ConnectionRefusedError):
        return f"connection refused by {options.target}: is the server running on that port?"
    if isinstance(error, socket.gaierror):
        return f"cannot resolve host of {where}: {error.strerror or error}"
    if isinstance(error, (TimeoutError, asyncio.TimeoutError)):
        return (f"opening handshake with {where} did not finish within "
                f"{options.open_timeout_s} s")
    if isinstance(error, InvalidURI):
        return f"not a WebSocket URI: {options.uri!r}"
    if isinstance(error, (InvalidHandshake, WSHandshakeError)):
        return f"WebSocket handshake with {where} failed: {error}"
    if isinstance(error, OSError):
        return f"cannot connect to {options.target}: {error.strerror or error}"
    return f"cannot connect to {where}: {type(error).__name__}: {error}"

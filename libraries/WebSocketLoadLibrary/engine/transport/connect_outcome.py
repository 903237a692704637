"""What happened to one attempt to open a connection: its phases' times, or why it failed.

Phases, in seconds, as far as the attempt got: `tcp` (name lookup and TCP connect), `tls`
(the TLS handshake; picows only -- websockets does TLS within its handshake), `handshake`
(the WebSocket upgrade: request to 101), `protocol` (the handshake of the protocol spoken
over WebSocket, e.g. Socket.IO's connect), `opening` (the opening messages and their
replies, opening.py). A failure is put in one of a few categories a performance engineer
sorts by -- refused, timed out, HTTP 429/503/401..., TLS, DNS, reset, closed during the
opening messages -- with the full explanation kept beside it.
"""
from __future__ import annotations

import asyncio
import socket
import ssl
from dataclasses import dataclass, field

from picows import WSHandshakeError
from websockets.exceptions import InvalidStatus

from .opening import OpeningError
from .protocol_session import ProtocolError

PHASES = ("tcp", "tls", "handshake", "protocol", "opening")


@dataclass
class ConnectOutcome:
    number: int
    phases: dict = field(default_factory=dict)
    connection: object | None = None   # the PooledConnection, when it opened
    failure: str | None = None         # a category (see `failure_category`)
    detail: str = ""
    due: float = 0.0                   # when the attempt was due (perf_counter)
    finished: float = 0.0

    @property
    def opened(self) -> bool:
        return self.connection is not None


def failure_category(error: BaseException) -> str:
    """`refused`, `timed out`, `HTTP 503`, `TLS`, `DNS`, `reset`, `opening messages`, ..."""
    if isinstance(error, ProtocolError):
        return "protocol handshake"
    if isinstance(error, OpeningError):
        return "opening messages"
    if isinstance(error, InvalidStatus):
        return f"HTTP {error.response.status_code}"
    if isinstance(error, WSHandshakeError) and getattr(error, "response", None) is not None:
        return f"HTTP {int(error.response.status)}"
    if isinstance(error, ssl.SSLError):
        return "TLS"
    if isinstance(error, ConnectionRefusedError):
        return "refused"
    if isinstance(error, (TimeoutError, asyncio.TimeoutError)):
        return "timed out"
    if isinstance(error, socket.gaierror):
        return "DNS"
    if isinstance(error, (ConnectionResetError, BrokenPipeError, ConnectionAbortedError)):
        return "reset"
    if isinstance(error, (WSHandshakeError, OSError, EOFError)):
        return "handshake failed"
    return f"other ({type(error).__name__})"

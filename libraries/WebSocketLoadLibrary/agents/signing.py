"""The shared secret between a controller and its load agents.

The agent protocol is Robot Framework's remote library interface: XML-RPC over HTTP. Every
request carries an HMAC-SHA256 signature of its body, a timestamp and a random nonce under
the shared secret, so the secret itself never crosses the network, a stranger cannot drive
an agent, and a recorded request cannot be replayed (nonces are remembered for as long as
their timestamp is accepted). The body is not encrypted: tunnel the agent port (ssh -L, a
VPN) on a network you do not trust, see the README.

The timestamp window is wide (15 minutes) on purpose: it only bounds how long nonces are
kept. Latency is measured on each agent's own clock, so agents need no clock sync.
"""
from __future__ import annotations

import hashlib
import hmac
import os
import secrets
import threading
import time

from ..errors import UsageError

HEADER = "X-WSLoad-Signature"
SCHEME = "v1"
MIN_SECRET_LENGTH = 16
WINDOW_S = 900.0
DEFAULT_SECRET_ENV = "LOAD_AGENT_SECRET"


class SecretError(UsageError):
    """No usable shared secret."""


def check_secret(secret: str | None, where: str) -> str:
    if not secret:
        raise SecretError(
            f"no shared secret: {where} is empty or not set. Generate one, e.g. "
            f"export {DEFAULT_SECRET_ENV}=$(python -c 'import secrets; "
            f"print(secrets.token_urlsafe(32))'), and give the same one to the controller")
    secret = secret.strip()
    if len(secret) < MIN_SECRET_LENGTH:
        raise SecretError(f"the shared secret from {where} is {len(secret)} characters long; "
                          f"use at least {MIN_SECRET_LENGTH} (e.g. secrets.token_urlsafe(32))")
    return secret


def secret_from_env(name: str = DEFAULT_SECRET_ENV) -> str:
    return check_secret(os.environ.get(name), f"environment variable {name}")


def secret_from_file(path: str) -> str:
    try:
        with open(path) as stream:
            text = stream.read()
    except OSError as error:
        raise SecretError(f"cannot read the shared secret file {path}: {error.strerror}") from None
    return check_secret(text, f"file {path}")


def _mac(secret: str, timestamp: str, nonce: str, path: str, body: bytes) -> str:
    message = b"\n".join((SCHEME.encode(), timestamp.encode(), nonce.encode(), path.encode(), body))
    return hmac.new(secret.encode(), message, hashlib.sha256).hexdigest()


def sign(secret: str, path: str, body: bytes, now: float | None = None) -> str:
    """The header value for one request."""
    timestamp = f"{time.time() if now is None else now:.3f}"
    nonce = secrets.token_hex(16)
    return f"{SCHEME} {timestamp} {nonce} {_mac(secret, timestamp, nonce, path, body)}"


class Verifier:
    """Checks signatures on the agent; thread-safe (the agent serves requests in threads)."""

    def __init__(self, secret: str, window_s: float = WINDOW_S):
        self.secret, self.window_s = secret, window_s
        self._seen: dict[str, float] = {}
        self._lock = threading.Lock()

    def verify(self, header: str | None, path: str, body: bytes) -> str | None:
        """None if the request is genuine, else why it is refused (for the agent's log; the
        client is only told 403)."""
        if not header:
            return "no signature (is the controller using the shared secret?)"
        parts = header.split()
        if len(parts) != 4 or parts[0] != SCHEME:
            return "malformed signature header"
        _, timestamp, nonce, mac = parts
        try:
            sent = float(timestamp)
        except ValueError:
            return "malformed signature timestamp"
        if not hmac.compare_digest(mac, _mac(self.secret, timestamp, nonce, path, body)):
            return "wrong signature (a different shared secret?)"
        now = time.time()
        if abs(now - sent) > self.window_s:
            return (f"signature timestamp {now - sent:+.0f} s away from this agent's clock, "
                    f"more than the {self.window_s:.0f} s accepted (replay protection): "
                    f"set the clocks roughly right")
        with self._lock:
            if nonce in self._seen:
                return "replayed request (nonce already used)"
            self._seen[nonce] = sent
            if len(self._seen) > 10_000:
                self._seen = {n: t for n, t in self._seen.items() if abs(now - t) <= self.window_s}
        return None

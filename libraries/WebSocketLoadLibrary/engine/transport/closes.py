"""How a connection ended, in words: from the close frame it received, or none.

Its own module because the pools (which learn of closes) and the writers (which find a
connection closed when they send) both say it.
"""
from __future__ import annotations

CLOSE_CODE_NAMES = {1000: "normal closure", 1001: "going away", 1002: "protocol error",
                    1003: "unsupported data", 1006: "abnormal closure", 1007: "invalid data",
                    1008: "policy violation", 1009: "message too big",
                    1011: "internal error", 1012: "service restart", 1013: "try again later"}


def describe_close(code: int | None, reason: str = "") -> str:
    """How a connection ended, from the close frame it received (code None: none came)."""
    if code is None:
        return "connection lost without a close frame (1006 abnormal closure)"
    reason = f": {reason}" if reason else ""
    return f"connection closed by server with code {code} ({CLOSE_CODE_NAMES.get(code, 'close')}){reason}"


def describe_ws_close(ws) -> str:
    """How a connection that can no longer send ended (its reader may not know yet)."""
    received = ws.protocol.close_rcvd
    return describe_close(received.code if received else None, received.reason if received else "")

"""The mock server's counters, as the control endpoint's `stats` reports them."""
from __future__ import annotations

import os
import time

COUNTERS = (
    "connections_opened", "connections_closed", "connections_refused", "auth_failures",
    "connection_errors", "messages_received", "messages_sent", "messages_dropped",
    "messages_garbled", "invalid_messages", "disconnects_injected", "replies_abandoned",
    "bytes_received", "bytes_sent", "handshake_failures", "handshake_timeouts",
    "control_errors",
)


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

"""One open client connection of a pool, whichever transport carries it: its place in the
pool, its socket, its reader, and how it ended."""
from __future__ import annotations

import asyncio
import time

from .closes import describe_close


class PooledConnection:
    __slots__ = ("slot", "ws", "reader", "closed", "close_code", "close_reason",
                 "closed_by_us", "number", "opened_at", "closed_at", "session")

    def __init__(self, slot: int, ws, session=None):
        self.ws = ws
        self.slot = slot  # position within the pool, then within the running step
        self.reader: asyncio.Task | None = None
        self.closed = False
        self.close_code: int | None = None
        self.close_reason = ""
        self.closed_by_us = False   # a churn policy ended it (its in-flight messages are cut)
        self.number = slot          # its place in the pool, kept by its replacements
        self.opened_at = time.perf_counter()
        self.closed_at = 0.0
        self.session = session      # its protocol's state (engine/protocols/), if any

    def describe_close(self) -> str:
        return describe_close(self.close_code, self.close_reason)

"""Churn: connections with a lifetime, closed by the client and replaced at once.

A `ChurnPolicy` on a pool (a `Churner` carries it out) gives every connection a lifetime --
fixed, or uniform between two bounds -- and when it is over closes the connection itself
(a normal 1000 close) and opens another in its place, holding the number open steady while
messages flow. The first lifetimes of the connections already open are spread over one
lifetime, so that churn is steady from the start rather than a wave. Messages in flight on
a connection closed this way are *cut by close*: not delivered, and not lost either (the
client's doing, not the server's); so are those due on it while its replacement opens.
"""
from __future__ import annotations

import asyncio
import random
from dataclasses import dataclass

from ..errors import PlanError
from .figures import LifecycleCounters

REPLACE_ATTEMPTS = 3


@dataclass
class ChurnPolicy:
    lifetime_s: float
    max_lifetime_s: float | None = None   # given: each lifetime uniform in [lifetime, max]

    def __post_init__(self):
        if not self.lifetime_s > 0:
            raise PlanError(f"connection lifetime must be positive, got {self.lifetime_s} s")
        if self.max_lifetime_s is not None and self.max_lifetime_s < self.lifetime_s:
            raise PlanError(f"the longest lifetime ({self.max_lifetime_s} s) is below the "
                            f"shortest ({self.lifetime_s} s)")

    def lifetime(self, rng=random) -> float:
        if self.max_lifetime_s is None:
            return self.lifetime_s
        return rng.uniform(self.lifetime_s, self.max_lifetime_s)

    def describe(self) -> str:
        span = (f"{self.lifetime_s:g} s" if self.max_lifetime_s is None
                else f"{self.lifetime_s:g}-{self.max_lifetime_s:g} s")
        return f"churn: connections live {span}, replaced at once"


class Churner:
    """Carries out a ChurnPolicy on a pool (on the pool's event loop)."""

    def __init__(self, pool, policy: ChurnPolicy):
        self.pool, self.policy = pool, policy
        self.timers: dict = {}
        self.tasks: set[asyncio.Task] = set()
        if getattr(pool, "lifecycle", None) is None:
            pool.lifecycle = LifecycleCounters()
        loop = asyncio.get_running_loop()
        for connection in pool.open_connections:
            self._schedule(connection, random.uniform(0, policy.lifetime()), loop)
        self._stop_listening = pool.listen_for_replacements(self._replaced)
        pool.policies.append(self)

    def describe(self) -> str:
        return self.policy.describe()

    def _schedule(self, connection, after_s: float, loop=None) -> None:
        loop = loop or asyncio.get_running_loop()
        self.timers[connection] = loop.call_later(after_s, self._expired, connection)

    def _replaced(self, old, new, why: str) -> None:
        self.timers.pop(old, None)
        if new is not None:   # ours, or a reconnect's: it lives a lifetime too
            self._schedule(new, self.policy.lifetime())

    def _expired(self, connection) -> None:
        self.timers.pop(connection, None)
        if connection.closed:
            return
        task = asyncio.get_running_loop().create_task(self._churn(connection))
        self.tasks.add(task)
        task.add_done_callback(self.tasks.discard)

    async def _churn(self, old) -> None:
        counters = self.pool.lifecycle
        old.closed_by_us = True
        counters.closes_by_us += 1
        await self.pool.close_one(old)
        for _ in range(REPLACE_ATTEMPTS):
            outcome = await self.pool.replace(old)
            if outcome.opened:
                counters.replacements += 1
                return
            counters.failed_attempts += 1
            await asyncio.sleep(0.1)
        counters.gave_up += 1
        counters.gave_up_why[outcome.failure] = counters.gave_up_why.get(outcome.failure, 0) + 1
        self.pool.gave_up(old, f"connection {old.number}: no replacement opened after churn "
                               f"({REPLACE_ATTEMPTS} attempts): {outcome.detail}")

    async def stop(self) -> None:
        self._stop_listening()
        for timer in self.timers.values():
            timer.cancel()
        self.timers.clear()
        for task in list(self.tasks):
            task.cancel()
        await asyncio.gather(*self.tasks, return_exceptions=True)

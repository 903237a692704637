"""Reconnect: when the server closes a connection or it drops, open another in its place.

A `ReconnectPolicy` on a pool (a `Reconnector` carries it out) waits a backoff -- the
initial delay, times the multiplier per failed attempt, at most the maximum, each spread
by the jitter so that a thousand clients do not come back in the same millisecond --
then opens a connection in the old one's place (its number, its step slot, its opening
messages said again) and carries on. A connection that fails `max_attempts` times in a
row is given up: the pool tells the running step why, and the step fails on it as on any
lost connection. Connections the client closed itself (churn) are not reconnected here.
"""
from __future__ import annotations

import asyncio
import random
import time
from dataclasses import dataclass

from ..errors import PlanError
from .figures import LifecycleCounters


@dataclass
class ReconnectPolicy:
    max_attempts: int = 5
    initial_delay_s: float = 0.1
    max_delay_s: float = 5.0
    multiplier: float = 2.0
    jitter: float = 0.2        # each delay is spread by up to this share either way

    def __post_init__(self):
        if self.max_attempts < 1:
            raise PlanError(f"max attempts must be at least 1, got {self.max_attempts}")
        if self.initial_delay_s < 0 or self.max_delay_s < self.initial_delay_s:
            raise PlanError(f"reconnect delays must be 0 <= initial <= max, got "
                            f"{self.initial_delay_s} and {self.max_delay_s}")
        if self.multiplier < 1:
            raise PlanError(f"backoff multiplier must be at least 1, got {self.multiplier}")
        if not 0 <= self.jitter < 1:
            raise PlanError(f"jitter must be in [0, 1), got {self.jitter}")

    def delay_s(self, attempt: int, rng=random) -> float:
        """The wait before attempt `attempt` (1, 2, ...)."""
        base = min(self.max_delay_s, self.initial_delay_s * self.multiplier ** (attempt - 1))
        return base * (1 + self.jitter * (2 * rng.random() - 1))

    def describe(self) -> str:
        return (f"reconnect: up to {self.max_attempts} attempts, backoff "
                f"{self.initial_delay_s * 1000:g} ms x{self.multiplier:g} up to "
                f"{self.max_delay_s:g} s, jitter {self.jitter:.0%}")


class Reconnector:
    """Carries out a ReconnectPolicy on a pool (on the pool's event loop)."""

    def __init__(self, pool, policy: ReconnectPolicy):
        self.pool, self.policy = pool, policy
        self.tasks: set[asyncio.Task] = set()
        if getattr(pool, "lifecycle", None) is None:
            pool.lifecycle = LifecycleCounters()
        self._stop_listening = pool.listen_for_closes(self._closed)
        pool.policies.append(self)

    def describe(self) -> str:
        return self.policy.describe()

    def _closed(self, connection) -> None:
        if connection.closed_by_us:
            return
        task = asyncio.get_running_loop().create_task(self._reconnect(connection))
        self.tasks.add(task)
        task.add_done_callback(self.tasks.discard)

    async def _reconnect(self, old) -> None:
        counters, outcome = self.pool.lifecycle, None
        for attempt in range(1, self.policy.max_attempts + 1):
            await asyncio.sleep(self.policy.delay_s(attempt))
            outcome = await self.pool.replace(old)
            if outcome.opened:
                counters.reconnects += 1
                counters.recover_s.append(time.perf_counter() - (old.closed_at or
                                                                  outcome.due))
                return
            counters.failed_attempts += 1
        counters.gave_up += 1
        counters.gave_up_why[outcome.failure] = counters.gave_up_why.get(outcome.failure, 0) + 1
        self.pool.gave_up(old, f"connection {old.number} gave up after "
                               f"{self.policy.max_attempts} reconnect attempt(s): "
                               f"{outcome.detail or outcome.failure}")

    async def stop(self) -> None:
        self._stop_listening()
        for task in list(self.tasks):
            task.cancel()
        await asyncio.gather(*self.tasks, return_exceptions=True)

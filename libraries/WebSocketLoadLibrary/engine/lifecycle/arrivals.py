"""Connections opened at a rate: a connection storm, paced as the open loop paces messages.

Connection k is due at `start + k / rate` (the open loop's schedule, schedule.py); the
opener starts every attempt that is due each time it wakes, without waiting for earlier
ones to finish (open loop: a server that is slow to accept does not slow the arrivals
down, it makes them pile up). Each attempt is timed by phase and sorted by outcome
(connect_outcome.py); those that open join the pool at once, so a load step can run on
them afterwards. The result is a LoadResult in mode `connect` with a ConnectFigures section.

The honesty rule is the message pacer's: an attempt started more than the late bound after
it was due is *late*; more than 5% late (beyond a hiccup's worth) or a stretch behind of
over a second marks the storm *not applied* -- the generator, not the server, set the pace.
"""
from __future__ import annotations

import asyncio
import math
import time
from dataclasses import dataclass

from .connect_figures import ConnectFigures
from ..errors import PlanError
from ..pacing.lateness import Lateness, late_bound_s
from ..results.patterns import TrafficPattern, register
from ..results.result import LoadResult
from ..pacing.schedule import OpenLoopSchedule
from ..results.verdict import LATE_SHARE_LIMIT, LONGEST_LATE_LIMIT_S, hiccup_s

START_LEAD_S = 0.005
CONNECT_BASIS = "the connection's due time in the arrival schedule (connect latency)"


def _headline(result) -> str:
    connect = result.sections["connect"]
    return (f"opened {connect.opened:,} of {connect.attempted:,} connections at "
            f"{connect.achieved_rate:,.0f}/s, failed {connect.failed:,}, connect p95 "
            f"{connect.latency_ms(95):.2f} ms")


CONNECTION_STORM = register(TrafficPattern(
    mode="connect", title="connections opened at a rate", headline=_headline))


@dataclass
class ArrivalPlan:
    """count   connections to open
    rate       connections per second (open loop: each attempt starts when due)
    name       the result's name"""
    count: int
    rate: float
    name: str = ""

    def __post_init__(self):
        if self.count < 1:
            raise PlanError(f"count must be at least 1 connection, got {self.count}")
        if not self.rate > 0 or math.isinf(self.rate):
            raise PlanError(f"connection rate must be a positive number per second, got "
                            f"{self.rate!r}")


async def open_at_rate(pool, plan: ArrivalPlan) -> LoadResult:
    """Open `plan.count` connections at `plan.rate` into `pool`; never raises for a failed
    connection (it is counted), only when cancelled (then the attempts are cancelled too)."""
    started_at, clock = time.time(), time.perf_counter
    ssl_context = pool.options.ssl_context()
    start = clock() + START_LEAD_S
    schedule = OpenLoopSchedule(plan.rate, plan.count, start)
    lateness = Lateness(late_bound_s(plan.rate, 1), schedule)
    attempts: list[asyncio.Task] = []
    loop = asyncio.get_running_loop()
    k = 0
    try:
        while k < plan.count:
            now = clock()
            due = min(plan.count, schedule.due_count(now))
            if due <= k:
                await asyncio.sleep(max(0.0, schedule.intended_time(k) - now))
                continue
            lateness.batch(k, due, now)
            for number in range(k, due):
                attempts.append(loop.create_task(
                    pool.attempt(ssl_context, number, schedule.intended_time(number))))
            k = due
            await asyncio.sleep(0)  # let the attempts begin before the next wake
        lateness.finish()
        last_start = clock()
        outcomes = await asyncio.gather(*attempts)
    except BaseException:
        for attempt in attempts:
            attempt.cancel()
        await asyncio.gather(*attempts, return_exceptions=True)
        raise
    end = clock()
    span = last_start - start + schedule.interval
    figures = ConnectFigures.of(outcomes, plan.rate, plan.count / span if span > 0 else 0.0,
                                lateness, end - start)
    result = LoadResult(name=plan.name, mode="connect", latency_basis=CONNECT_BASIS,
                        target_rate=plan.rate, connections=figures.opened,
                        planned_messages=plan.count, started_at=started_at,
                        planned_duration_s=schedule.duration, duration_s=end - start,
                        late_messages=lateness.late_messages, late_bound_s=lateness.bound_s,
                        longest_late_s=lateness.longest_s)
    result.sections[figures.kind] = figures
    result.latency = figures.histograms["total"]
    judge_arrivals(result, figures)
    return result


def judge_arrivals(result: LoadResult, figures: ConnectFigures) -> None:
    """Not applied when the opener fell behind its schedule for a sustained part of it."""
    allowed = max(LATE_SHARE_LIMIT * figures.attempted,
                  hiccup_s(result) * (result.target_rate or 0.0))
    if figures.late_starts > allowed or figures.longest_late_s > LONGEST_LATE_LIMIT_S:
        result.generator_saturated = True
        result.load_applied = False
        result.not_applied_reasons = [
            f"the generator started {figures.late_starts:,} of {figures.attempted:,} "
            f"connections more than {result.late_bound_s * 1000:.0f} ms after they were due "
            f"(the longest stretch behind {figures.longest_late_s:.2f} s): the arrivals did "
            f"not come at the planned {figures.target_rate:,.0f}/s"]

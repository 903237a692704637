"""A finished step's result: the figures every style shares, the driver's own, the verdict."""
from __future__ import annotations

from ..lifecycle.figures import LifecycleCounters, LifecycleFigures
from ..results.push_counts import PushCounts
from ..results.result import LoadResult
from ..results.verdict import judge


def build_result(step, driver, connections: int, started_at: float, start: float,
                 end: float, resources: dict) -> LoadResult:
    """`started_at`: epoch seconds the step began; `start`: the perf_counter time its first
    message was due; `end`: when its last reply was in (or given up)."""
    plan, book = step.plan, step.recorder
    result = LoadResult(
        name=plan.name, mode=driver.mode, latency_basis=driver.latency_basis,
        target_rate=plan.rate, connections=connections, started_at=started_at,
        send_duration_s=max(0.0, book.last_send - start), duration_s=end - step.started,
        sent=book.sent, received=book.received, lost=book.lost, unmatched=book.unmatched,
        invalid_replies=book.invalid_replies, send_errors=book.send_errors,
        max_lag_s=book.max_lag_s, rate_tolerance=plan.rate_tolerance,
        reply_timeout_s=plan.reply_timeout_s, latency=book.latency,
        service_time=book.service_time, lag=book.lag, timeline=book.timeline,
        resources=resources, errors=dict(book.errors),
        connections_closed=dict(step.closes))
    if book.received:
        window = book.last_reply - start
        result.achieved_receive_rate = book.received / window if window > 0 else 0.0
    pushes = PushCounts.of(book.pushes_per_connection, end - start)
    if pushes is not None:
        result.sections[pushes.kind] = pushes
    policies = step.pool.policies + [p for pool in step.roles.values() for p in pool.policies]
    if policies:
        counters = step.pool.lifecycle or LifecycleCounters()
        for pool in step.roles.values():
            if pool.policies and pool.lifecycle is not counters:
                counters.add(pool.lifecycle)
        lifecycle = LifecycleFigures.of(counters, [p.describe() for p in policies])
        result.sections[lifecycle.kind] = lifecycle
    driver.describe(result)
    judge(result, **driver.verdict_inputs())
    return result

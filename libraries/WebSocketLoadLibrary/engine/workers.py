"""One load step spread over worker processes, so that the generator uses every core.

One event loop is one thread, so one generator process tops out at one core. Here each
worker process opens its share of the connections with its own engine, waits at a barrier
until all are connected, then runs its share of the plan (rate / workers, messages /
workers); the parent merges the results with `LoadResult.merge`: counters and rates add
up, histograms merge bucket by bucket (true percentiles, never averaged ones), and the load
counts as applied only if every worker applied its share.

Workers are spawned, not forked: the parent may be running an event loop thread.
"""
from __future__ import annotations

import dataclasses
import multiprocessing
import queue as queue_module

from .transport.connections import ConnectionOptions
from .errors import EngineError
from .plan.messages import MessageTemplate
from .results.result import LoadResult
from .plan.load_plan import LoadPlan


def split(total: int, parts: int) -> list[int]:
    """`total` in `parts` shares that differ by at most one, largest first."""
    return [total // parts + (1 if i < total % parts else 0) for i in range(parts)]


def plan_shares(plan: LoadPlan, workers: int) -> list[LoadPlan]:
    messages = split(plan.messages, workers) if plan.messages is not None else [None] * workers
    shares = []
    for i in range(workers):
        rate = plan.rate / workers if plan.rate is not None else None
        shares.append(dataclasses.replace(plan, rate=rate, messages=messages[i],
                                          name=f"{plan.name or 'step'} worker {i + 1}"))
    return shares


def _worker(index, options, connections, plan, template, loop_kind, server_pid, barrier,
            results, timeout_s) -> None:
    from .facade import LoadEngine
    engine = LoadEngine(loop_kind)
    try:
        pool = engine.connect(options, count=connections)
        barrier.wait(timeout_s)
        result = engine.run_step(pool, plan, template, server_pid=server_pid)
        results.put((index, result.to_dict()))
    except BaseException as error:  # noqa: BLE001 - reported to the parent, which raises
        try:
            barrier.abort()
        except Exception:  # noqa: BLE001
            pass
        results.put((index, {"error": f"{type(error).__name__}: {error}"}))
    finally:
        engine.close()


def run_step_in_workers(options: ConnectionOptions, connections: int, plan: LoadPlan,
                        workers: int = 2, template: MessageTemplate | None = None,
                        loop_kind: str = "uvloop", server_pid: int | None = None,
                        timeout_s: float | None = None) -> LoadResult:
    """Run `plan` over `connections` connections spread over `workers` processes; one
    merged result (its `parts` name the workers' results)."""
    if workers < 1:
        raise EngineError(f"workers must be at least 1, got {workers}")
    if connections < workers:
        raise EngineError(f"{workers} workers need at least {workers} connections, "
                          f"got {connections}")
    from .facade import LoadEngine
    template = template or MessageTemplate()
    if timeout_s is None:
        timeout_s = LoadEngine.default_timeout_s(plan) + options.open_timeout_s * 2 + 30
    context = multiprocessing.get_context("spawn")
    barrier, results = context.Barrier(workers), context.Queue()
    processes = [context.Process(target=_worker, name=f"load-worker-{i + 1}", daemon=True,
                                 args=(i, options, share_connections, share, template,
                                       loop_kind, server_pid, barrier, results, timeout_s))
                 for i, (share_connections, share) in enumerate(
                     zip(split(connections, workers), plan_shares(plan, workers)))]
    for process in processes:
        process.start()
    collected: dict[int, dict] = {}
    try:
        while len(collected) < workers:
            try:
                index, data = results.get(timeout=timeout_s)
            except queue_module.Empty:
                raise EngineError(f"load workers did not finish within {timeout_s:g} s "
                                  f"({len(collected)} of {workers} did)") from None
            collected[index] = data
    finally:
        for process in processes:
            process.join(10)
            if process.is_alive():
                process.kill()
                process.join(5)
    errors = [f"worker {i + 1}: {d['error']}" for i, d in sorted(collected.items()) if "error" in d]
    if errors:
        raise EngineError("; ".join(errors))
    parts = [LoadResult.from_dict(collected[i]) for i in range(workers)]
    merged = LoadResult.merge(parts, name=plan.name or f"{workers} workers")
    merged.rate_tolerance = plan.rate_tolerance
    return merged


# -- worker processes that hold connections between steps (spread.py is the parent) -----
def hold_connections(conn, loop_kind: str) -> None:
    """A worker process's life: it opens its share of a client group's connections, holds
    them, runs its share of each step on them and closes them, as its parent (spread.py)
    asks over `conn`. Each command is answered ("ok", value) or ("error", why); the end of
    the pipe (the parent gone) ends the process."""
    import time as time_module

    from .facade import LoadEngine
    from .lifecycle.arrivals import ArrivalPlan
    from .runtime.footprint import footprint
    from .runtime.memory import release_freed_memory
    engine = LoadEngine(loop_kind)
    pool = running = None

    def wait_until(start_at):
        if start_at:
            time_module.sleep(max(0.0, start_at - time_module.time()))

    try:
        while True:
            try:
                command, args = conn.recv()
            except (EOFError, OSError):
                return
            try:
                if command == "open":          # options, count, rate, name, start_at
                    options, count, rate, name, start_at = args
                    before = footprint()
                    wait_until(start_at)
                    result = None
                    if rate:
                        pool, opened = engine.open_at_rate(options, ArrivalPlan(count, rate, name))
                        result = opened.to_dict()
                    else:
                        pool = engine.connect(options, count=count, concurrency=500)
                    value = {"result": result, "open": len(pool.open_connections),
                             "before": before, "after": footprint()}
                elif command == "step":        # plan, template, start_at, timeout_s
                    plan, template, start_at, timeout_s = args
                    wait_until(start_at)
                    running = engine.start_step(pool, plan, template, timeout_s=timeout_s)
                    value = None
                elif command == "progress":
                    value = (running.progress(), running.done()) if running else (None, True)
                elif command == "result":
                    try:
                        value = running.wait().to_dict()
                    finally:
                        running = None
                        release_freed_memory()
                elif command == "cancel":
                    if running is not None:
                        running.cancel()
                    value = None
                elif command == "lifecycle":   # reconnect, churn, keep
                    engine.set_lifecycle(pool, *args)
                    value = None
                elif command == "count":
                    value = len(pool.open_connections) if pool is not None else 0
                elif command == "close":
                    if pool is not None:
                        engine.disconnect(pool, timeout_s=args)
                    pool, value = None, footprint()
                else:
                    raise EngineError(f"unknown worker command {command!r}")
                conn.send(("ok", value))
            except BaseException as error:  # noqa: BLE001 - the parent raises it, named
                conn.send(("error", f"{type(error).__name__}: {error}"))
    finally:
        engine.close()

"""Client groups larger than one process can hold, spread over worker processes; and the
engine's face that decides when (`LoadEngine`, facade.py's with that decision added).

One process holds at most its open-file limit of connections (20,000 here, a hard limit)
and uses one core. Before it opens a group, `LoadEngine` reads the host's limits
(runtime/host_limits.py): within one process's reach, the group opens here as ever; beyond
it, in as many worker processes as it needs (workers.py `hold_connections`), each opening
its share at its share of the rate from one moment on, and holding it. The group is then
a `SpreadPool`: steps on it run as shares in the workers from one moment on and come back
as one merged result (counters added, histograms merged); a fan-out to it publishes here
and books the publishes in the workers (patterns/fanout/split.py, as load agents do).
Toward loopback the connections come from 127.0.0.2, 127.0.0.3, ... when one source
address has too few ports for the count; a host that cannot serve the count fails before
any connection opens, naming the limit (host_limits.check).
"""
from __future__ import annotations

import dataclasses
import math
import time
from urllib.parse import urlsplit

from . import facade
from .errors import EngineError
from .plan.load_plan import LoadPlan
from .plan.specs import SUBSCRIBERS, FanoutSpec
from .results.connection_memory import ConnectionMemory
from .results.result import LoadResult
from .runtime.background import loop_kind_named
from .runtime.footprint import footprint
from .runtime.host_limits import (LOOPBACK_PORT_SHARE, HostLimitError, HostLimits, check,
                                  is_loopback, loopback_sources)
from .spread_pool import SpreadPool, SpreadStep
from .workers import plan_shares, split

START_LEAD_S = 0.3        # shares start this long after they are handed out
SUBSCRIBERS_LEAD_S = 1.0  # a broadcast's subscribers listen this long before its publishes


def max_processes(limits: HostLimits) -> int:
    return max(8, 2 * limits.cpus)


class LoadEngine(facade.LoadEngine):
    """The engine's face: facade.LoadEngine, spreading groups over worker processes when
    one process cannot hold them (see the module's doc)."""

    def __init__(self, loop_kind: str = "asyncio"):
        super().__init__(loop_kind)
        self.loop_kind = _worker_loop(loop_kind)

    # -- deciding ------------------------------------------------------------------------
    def _prepared(self, options, count: int, rate: float | None, server_processes: int,
                  processes: int | None = None):
        """(options with source addresses where needed, processes, limits); fails naming
        the limit when the host cannot serve `count` at `rate`."""
        limits = HostLimits.read()
        host = urlsplit(options.uri).hostname
        sources = len(options.source_addresses or ()) or 1
        wanted = limits.sources_needed(count, LOOPBACK_PORT_SHARE)
        if (not options.source_addresses and is_loopback(host) and ":" not in (host or "")
                and wanted > 1 and loopback_sources(wanted)):
            options = dataclasses.replace(options, source_addresses=loopback_sources(wanted))
            sources = len(options.source_addresses)
        if processes is not None:
            if not 1 <= processes <= count:
                raise EngineError(f"processes must be between 1 and the count ({count}), "
                                  f"got {processes}")
        else:
            processes = max(1, math.ceil(count * 1.05 / limits.connections_per_process))
        if processes > max_processes(limits):
            processes = max_processes(limits)   # check() names the limit
        check(limits, count, rate, processes, sources, is_loopback(host), server_processes)
        return options, processes, limits

    def _memory(self, limits, options, connections: int, processes: int, before: list,
                after: list, server_pids, server_before: int | None) -> ConnectionMemory:
        def grown(key):
            if any(b.get(key) is None or a.get(key) is None for b, a in zip(before, after)):
                return None
            return sum(a[key] - b[key] for b, a in zip(before, after))
        server_after = _rss(server_pids)
        return ConnectionMemory(
            connections=connections, generator_processes=processes,
            generator_rss_growth_bytes=grown("rss_bytes"),
            generator_heap_growth_bytes=grown("heap_bytes"),
            server_processes=len(server_pids or ()),
            server_rss_growth_bytes=None if server_before is None or server_after is None
            else server_after - server_before,
            source_addresses=len(options.source_addresses or ()), host=limits.as_dict())

    # -- opening -------------------------------------------------------------------------
    def open_at_rate(self, options, plan, timeout_s: float | None = None,
                     server_pids: list[int] | None = None, processes: int | None = None):
        """facade's, spread over `processes` worker processes (None: as many as the count
        needs, 1 for most); the result has a `memory` section (memory per connection, the
        host's limits). `server_pids`: the server's processes, when it is ours (measured)."""
        options, processes, limits = self._prepared(options, plan.count, plan.rate,
                                                    len(server_pids or ()) or 1, processes)
        server_before = _rss(server_pids)
        if processes == 1:
            before = footprint()
            pool, result = super().open_at_rate(options, plan, timeout_s)
            befores, afters = [before], [footprint()]
        else:
            pool, result, befores, afters = self._open_spread(options, plan.count, plan.rate,
                                                              plan.name, processes, timeout_s)
        opened = result.sections["connect"].opened
        memory = self._memory(limits, options, opened, processes, befores, afters,
                              server_pids, server_before)
        result.sections[memory.kind] = memory
        return pool, result

    def connect(self, options, count: int = 1, timeout_s: float | None = None,
                concurrency: int = 100, verify: bool = True, processes: int | None = None):
        options, processes, _ = self._prepared(options, count, None, 1, processes)
        if processes == 1:
            return super().connect(options, count, timeout_s, concurrency, verify)
        return self._open_spread(options, count, None, "", processes, timeout_s)[0]

    def _open_spread(self, options, count, rate, name, processes, timeout_s):
        pool = SpreadPool.start(options, processes, self.loop_kind)
        self.pools.append(pool)
        shares = split(count, processes)
        if timeout_s is None:
            timeout_s = (count / rate if rate else count / processes / 200) \
                + options.open_timeout_s + 60
        start_at = time.time() + START_LEAD_S
        try:
            answers = pool.ask("open", [
                (options, share, rate / processes if rate else None,
                 f"{name} worker {i + 1}", start_at) for i, share in enumerate(shares)],
                timeout_s + START_LEAD_S, "open its connections")
        except BaseException:
            self.disconnect(pool)
            raise
        pool.counts = [answer["open"] for answer in answers]
        result = None
        if rate:
            result = LoadResult.merge([LoadResult.from_dict(a["result"]) for a in answers],
                                      name=name)
            result.target_rate = rate
        return (pool, result, [a["before"] for a in answers], [a["after"] for a in answers])

    # -- steps on a spread group -----------------------------------------------------------
    def start_step(self, pool, plan, template=None, server_pid=None, timeout_s=None,
                   roles=None):
        subscribers = (roles or {}).get(SUBSCRIBERS)
        if not getattr(pool, "spread", False) and not getattr(subscribers, "spread", False):
            return super().start_step(pool, plan, template, server_pid, timeout_s, roles)
        if timeout_s is None:
            timeout_s = self.default_timeout_s(plan)
        start_at = time.time() + START_LEAD_S
        if getattr(pool, "spread", False):
            if plan.fanout is not None:
                raise EngineError("a fan-out publishes from a group of this process: give "
                                  "the spread group as the subscribers")
            pool.ask("step", [(share, template, start_at, timeout_s)
                                          for share in plan_shares(plan, len(pool.workers))],
                  START_LEAD_S + 30, "start its step")
            return SpreadStep(pool, plan, timeout_s + 10)
        first = plan.first_id if plan.first_id is not None else self._take_ids(plan)
        publish = dataclasses.replace(plan, first_id=first,
                                      fanout=FanoutSpec(role="publish"))
        # the subscribers listen from start_at, the publishes begin SUBSCRIBERS_LEAD_S
        # later: a worker a little late to start (a busy machine) misses none of them
        schedule = [[first, plan.rate, plan.planned_messages, SUBSCRIBERS_LEAD_S]]
        listen = LoadPlan(duration_s=plan.planned_messages / plan.rate + SUBSCRIBERS_LEAD_S,
                          reply_timeout_s=plan.reply_timeout_s,
                          name=f"{plan.name or 'fan-out'} subscribers",
                          fanout=FanoutSpec(None, role="subscribe", publishes=schedule))
        # every worker has started listening before the first publish: on a busy machine
        # one late by more than the lead delays the publishes (its latencies count from
        # its own start) rather than miss them
        subscribers.ask("step", [(listen, template, start_at, timeout_s)]
                        * len(subscribers.workers), START_LEAD_S + 30, "start its step")
        time.sleep(max(0.0, start_at + SUBSCRIBERS_LEAD_S - time.time()))
        local = super().start_step(pool, publish, template, server_pid, timeout_s)
        return SpreadStep(subscribers, plan, timeout_s + 10, local)

    def set_lifecycle(self, pool, reconnect=None, churn=None, keep: bool = False) -> None:
        if not getattr(pool, "spread", False):
            return super().set_lifecycle(pool, reconnect, churn, keep)
        pool.ask("lifecycle", [(reconnect, churn, keep)] * len(pool.workers), 30,
              "set its connections' lifecycle")

    def disconnect(self, pool, timeout_s: float = 10.0) -> None:
        if not getattr(pool, "spread", False):
            return super().disconnect(pool, timeout_s)
        if pool in self.pools:
            self.pools.remove(pool)
        try:
            pool.ask("close", [timeout_s / 2] * len(pool.workers), timeout_s + 10,
                  "close its connections")
        finally:
            pool.stop()


def _worker_loop(loop_kind: str) -> str:
    """Workers run uvloop where it is installed, whatever this process runs: they do
    nothing but open and serve connections, where it measures faster (a storm here: 2,000
    connections/s kept with uvloop, the asyncio loop behind near 1,500/s)."""
    return loop_kind_named("auto")


def _rss(pids) -> int | None:
    if not pids:
        return None
    sizes = [footprint(pid)["rss_bytes"] for pid in pids]
    return None if any(size is None for size in sizes) else sum(sizes)


__all__ = ["HostLimitError", "LoadEngine", "SpreadPool", "SpreadStep"]

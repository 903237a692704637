"""The engine's synchronous face, used by the keyword layer (and by bench/ and tests).

    engine = LoadEngine()
    pool = engine.connect(ConnectionOptions("ws://127.0.0.1:8765"), count=10)
    result = engine.run_step(pool, LoadPlan(rate=1000, messages=5000))
    engine.close()
"""
from __future__ import annotations

import time

from .lifecycle.arrivals import ArrivalPlan, open_at_rate
from .runtime.background import BackgroundLoop
from .lifecycle.churn import Churner, ChurnPolicy
from .lifecycle.reconnect import ReconnectPolicy, Reconnector
from .transport.connections import ConnectionOptions
from .errors import EngineError, StepTimeout
from .plan.messages import MessageTemplate
from .transport.picows_pool import PicowsPool
from .transport.pool import ClientPool
from .runtime.resources import raise_open_file_limit
from .results.result import LoadResult
from .step.load_step import LoadPlan, LoadStep


class RunningStep:
    """A step started with `LoadEngine.start_step`: poll `progress()`, then `wait()`."""

    def __init__(self, engine: "LoadEngine", step: LoadStep, future, timeout_s: float):
        self.engine, self.step, self.future = engine, step, future
        self.timeout_s = timeout_s
        self.started = time.monotonic()

    def progress(self) -> dict:
        return self.step.progress()

    def done(self) -> bool:
        return self.future.done()

    def cancel(self) -> None:
        """Stop the step; its connections stay open for the next one."""
        self.future.cancel()

    def wait(self, poll_interval_s: float | None = None, on_progress=None) -> LoadResult:
        """Wait for the result; `on_progress(snapshot)` runs on the calling thread."""
        deadline = self.started + self.timeout_s
        while poll_interval_s and on_progress is not None and not self.future.done():
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                break
            try:
                return self.future.result(timeout=min(poll_interval_s, remaining))
            except TimeoutError:
                on_progress(self.progress())
        remaining = max(0.0, deadline - time.monotonic())
        try:
            return self.engine.loop.wait(self.future, remaining, "load step")
        except StepTimeout:
            progress = self.progress()
            raise StepTimeout(
                f"load step did not finish within {self.timeout_s} s "
                f"(sent {progress['sent']}, received {progress['received']}, "
                f"lost {progress['lost']} so far)") from None


POOLS = {"websockets": ClientPool, "picows": PicowsPool}


def create_pool(options: ConnectionOptions) -> ClientPool:
    """A pool of the transport the options ask for (`auto`: see ConnectionOptions)."""
    return POOLS[options.resolved_transport](options)


class LoadEngine:
    def __init__(self, loop_kind: str = "asyncio"):
        raise_open_file_limit()  # thousands of connections need thousands of descriptors
        self.loop = BackgroundLoop(loop_kind)
        self.pools: list[ClientPool] = []
        self._next_id = 1

    def connect(self, options: ConnectionOptions, count: int = 1,
                timeout_s: float | None = None, concurrency: int = 100,
                verify: bool = True) -> ClientPool:
        """Open `count` connections; with `verify`, each must answer a ping (see ClientPool)."""
        pool = create_pool(options)
        if timeout_s is None:
            each = options.open_timeout_s
            if options.opening is not None and options.opening.reply_pattern is not None:
                each += options.opening.timeout_s * len(options.opening.messages)
            timeout_s = each * (2 + count / concurrency) + 5
        self.loop.run(pool.open(count, concurrency, verify), timeout_s,
                      f"connecting {count} clients")
        self.pools.append(pool)
        return pool

    def open_at_rate(self, options: ConnectionOptions, plan: ArrivalPlan,
                     timeout_s: float | None = None) -> tuple[ClientPool, LoadResult]:
        """Open `plan.count` connections at `plan.rate` (arrivals.py): the pool of those
        that opened, and the storm's result (connect latency by phase, failures by kind)."""
        pool = create_pool(options)
        if timeout_s is None:
            each = options.open_timeout_s
            if options.opening is not None:
                each += options.opening.timeout_s * len(options.opening.messages)
            timeout_s = plan.count / plan.rate + each + 30
        self.pools.append(pool)
        result = self.loop.run(open_at_rate(pool, plan), timeout_s,
                               f"opening {plan.count} connections at {plan.rate:g}/s")
        return pool, result

    def set_lifecycle(self, pool: ClientPool, reconnect: ReconnectPolicy | None = None,
                      churn: ChurnPolicy | None = None, keep: bool = False) -> None:
        """Put lifecycle policies to work on a pool (churn.py, reconnect.py); without
        `keep`, the ones at work are stopped first (no arguments: none at work)."""
        async def apply():
            if not keep:
                await pool.stop_policies()
            if reconnect is not None:
                Reconnector(pool, reconnect)
            if churn is not None:
                Churner(pool, churn)
        self.loop.run(apply(), 15, "setting the connections' lifecycle")

    def disconnect(self, pool: ClientPool, timeout_s: float = 10.0) -> None:
        if pool in self.pools:
            self.pools.remove(pool)
        self.loop.run(pool.close(timeout_s=timeout_s / 2), timeout_s, "disconnecting clients")

    def start_step(self, pool: ClientPool, plan: LoadPlan, template: MessageTemplate | None = None,
                   server_pid: int | None = None, timeout_s: float | None = None,
                   roles: dict[str, ClientPool] | None = None) -> RunningStep:
        """`roles`: other groups the plan's style needs (fan-out: `subscribers`). Where the
        pool speaks a protocol, the template is its message's payload: the protocol frames
        it as a request (its reply found by id) or, in a fan-out, as a publish."""
        template = template or MessageTemplate()
        if pool.protocol is not None:
            template = (pool.protocol.publish_template(template) if plan.fanout is not None
                        else pool.protocol.request_template(template))
        id_base = plan.first_id if plan.first_id is not None else self._take_ids(plan)
        step = LoadStep(pool, plan, template, id_base, server_pid, roles)
        if timeout_s is None:
            timeout_s = self.default_timeout_s(plan)
        return RunningStep(self, step, self.loop.submit(step.run()), timeout_s)

    def run_step(self, pool: ClientPool, plan: LoadPlan, template: MessageTemplate | None = None,
                 server_pid: int | None = None, timeout_s: float | None = None,
                 roles: dict[str, ClientPool] | None = None) -> LoadResult:
        return self.start_step(pool, plan, template, server_pid, timeout_s, roles).wait()

    def _take_ids(self, plan: LoadPlan) -> int:
        """Each step gets its own id range, so a late reply to one step never matches another."""
        base = self._next_id
        planned = plan.planned_messages
        # a closed loop bounded by time has no count: 2**32 ids outlast any run at any rate
        self._next_id += (planned if planned is not None else 1 << 32) + 1
        return base

    @staticmethod
    def default_timeout_s(plan: LoadPlan) -> float:
        if plan.duration_s is not None:
            sending = plan.duration_s
        elif plan.rate is not None:
            sending = plan.messages / plan.rate
        else:
            sending = plan.messages / 1000.0  # closed loop: allow for a slow 1k msg/s server
        return 2 * sending + plan.reply_timeout_s + 30

    def close(self, timeout_s: float = 10.0) -> None:
        for pool in list(self.pools):
            try:
                self.disconnect(pool, timeout_s)
            except EngineError:
                pass
        self.loop.close()

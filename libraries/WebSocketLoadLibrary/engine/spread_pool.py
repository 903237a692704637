"""A client group held by worker processes (workers.py `hold_connections`), as the parent
sees it: the workers, their commands and answers, and a step running as their shares
(spread.py decides when a group is spread, and starts the steps).
"""
from __future__ import annotations

import multiprocessing
import threading
import time

from .errors import EngineError
from .plan.load_plan import LoadPlan
from .results.result import LoadResult
from .workers import hold_connections

WORKER_START_S = 60.0     # a worker process's start (imports) may take this long


class _Worker:
    def __init__(self, context, loop_kind: str, index: int):
        self.index = index
        self.conn, child = context.Pipe()
        self.process = context.Process(target=hold_connections, args=(child, loop_kind),
                                       name=f"websocket-load-holder-{index + 1}", daemon=True)
        self.process.start()
        child.close()

    def send(self, command: str, args=None) -> None:
        self.conn.send((command, args))

    def receive(self, timeout_s: float, what: str):
        try:
            if not self.conn.poll(timeout_s):
                raise EngineError(f"worker {self.index + 1} did not {what} within "
                                  f"{timeout_s:g} s")
            status, value = self.conn.recv()
        except (EOFError, OSError):
            raise EngineError(f"worker {self.index + 1} ended (exit code "
                              f"{self.process.exitcode}) before it could {what}") from None
        if status == "error":
            raise EngineError(f"worker {self.index + 1}: {value}")
        return value

    def stop(self) -> None:
        self.conn.close()
        self.process.join(10)
        if self.process.is_alive():
            self.process.kill()
            self.process.join(5)


def each(workers: list[_Worker], command: str, args: list, timeout_s: float, what: str,
          between=None) -> list:
    """Send each worker its command, then (after `between()`) take every answer; one
    EngineError naming every worker that failed."""
    for worker, arg in zip(workers, args):
        worker.send(command, arg)
    if between is not None:
        between()
    answers, failures = [], []
    for worker in workers:
        try:
            answers.append(worker.receive(timeout_s, what))
        except EngineError as error:
            answers.append(None)
            failures.append(str(error))
    if failures:
        raise EngineError("; ".join(failures))
    return answers


class SpreadPool:
    """A client group held by worker processes; the engine runs steps on it as shares."""
    spread = True

    def __init__(self, options, workers: list[_Worker], counts: list[int]):
        self.options, self.workers, self.counts = options, workers, counts
        self.lock = threading.RLock()
        self.protocol = options.protocol
        self.transport = options.resolved_transport

    @classmethod
    def start(cls, options, processes: int, loop_kind: str) -> "SpreadPool":
        context = multiprocessing.get_context("spawn")
        workers = [_Worker(context, loop_kind, i) for i in range(processes)]
        pool = cls(options, workers, [0] * processes)
        try:
            each(workers, "count", [None] * processes, WORKER_START_S, "start")
        except BaseException:
            pool.stop()
            raise
        return pool

    def ask(self, command: str, args: list, timeout_s: float, what: str, between=None) -> list:
        """`each` over the workers, one caller at a time (the metrics endpoint's thread
        counts the connections too)."""
        with self.lock:
            return each(self.workers, command, args, timeout_s, what, between)

    def open_count(self) -> int:
        """The open connections; from another thread while the workers are busy with a
        command, as last counted."""
        if not self.lock.acquire(blocking=False):
            return sum(self.counts)
        try:
            self.counts = each(self.workers, "count", [None] * len(self.workers), 30,
                               "count its connections")
        finally:
            self.lock.release()
        return sum(self.counts)

    @property
    def open_connections(self) -> range:
        """As long as the open connections (ClientGroup.open_count reads its length)."""
        return range(self.open_count())

    @property
    def connections(self) -> range:
        return range(sum(self.counts))

    def stop(self) -> None:
        for worker in self.workers:
            worker.stop()


class SpreadStep:
    """A step running as shares in the workers (and, for a fan-out, a publishing step
    here): RunningStep's surface, one merged result."""

    def __init__(self, pool: SpreadPool, plan: LoadPlan, timeout_s: float, local=None):
        self.pool, self.plan, self.timeout_s, self.local = pool, plan, timeout_s, local
        self.step = self            # what live figures read: progress() only
        self.recorder = None
        self.started = time.monotonic()
        self._done = False

    def progress(self) -> dict:
        totals = {"sent": 0, "received": 0, "lost": 0,
                  "elapsed_s": time.monotonic() - self.started}
        answers = self.pool.ask("progress", [None] * len(self.pool.workers), 30,
                        "tell its progress")
        parts = [progress for progress, _ in answers if progress]
        if self.local is not None:
            parts.append(self.local.progress())
        for part in parts:
            for key in ("sent", "received", "lost"):
                totals[key] += int(part.get(key, 0) or 0)
        self._done = all(done for _, done in answers) and (
            self.local is None or self.local.done())
        return totals

    def done(self) -> bool:
        return self._done

    def cancel(self) -> None:
        try:
            self.pool.ask("cancel", [None] * len(self.pool.workers), 10, "cancel its step")
        except EngineError:
            pass
        if self.local is not None:
            self.local.cancel()

    def wait(self, poll_interval_s: float | None = None, on_progress=None) -> LoadResult:
        deadline = self.started + self.timeout_s
        while time.monotonic() < deadline:
            snapshot = self.progress()
            if self._done:
                break
            if on_progress is not None:
                on_progress(snapshot)
            time.sleep(min(poll_interval_s or 0.25, 0.5))
        parts = [LoadResult.from_dict(data) for data in self.pool.ask(
            "result", [None] * len(self.pool.workers),
            max(10.0, deadline - time.monotonic()), "finish its step")]
        for i, part in enumerate(parts):
            part.name = f"worker {i + 1}"
        if self.local is not None:
            parts.insert(0, self.local.wait())
        merged = LoadResult.merge(parts, name=self.plan.name or "step")
        merged.rate_tolerance = self.plan.rate_tolerance
        return merged

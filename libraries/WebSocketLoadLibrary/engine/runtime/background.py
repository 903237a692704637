"""One asyncio event loop on a background thread, and a synchronous way to use it.

Robot Framework keywords are synchronous and only the main thread may log, so the keyword
layer submits coroutines here and waits for them with a timeout; the engine never logs.
"""
from __future__ import annotations

import asyncio
import concurrent.futures
import importlib.util
import threading

from ...errors import UsageError
from ..errors import EngineError, StepTimeout


LOOP_KINDS = ("auto", "asyncio", "uvloop")


def loop_kind_named(kind: str) -> str:
    """`auto`: uvloop where it is installed (connection storms and the hot path measure
    faster on it), else asyncio; `asyncio` and `uvloop` as they say."""
    if kind not in LOOP_KINDS:
        raise UsageError(f"loop must be one of {', '.join(LOOP_KINDS)}, got {kind!r}")
    if kind == "auto":
        return "uvloop" if importlib.util.find_spec("uvloop") is not None else "asyncio"
    return kind


class BackgroundLoop:
    def __init__(self, loop_kind: str = "asyncio"):
        self.loop_kind = loop_kind_named(loop_kind)
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._lock = threading.Lock()

    @property
    def loop(self) -> asyncio.AbstractEventLoop:
        with self._lock:
            if self._loop is None or self._loop.is_closed():
                self._start()
            return self._loop

    def _start(self) -> None:
        if self.loop_kind == "uvloop":
            import uvloop
            loop = uvloop.new_event_loop()
        else:
            loop = asyncio.new_event_loop()
        ready = threading.Event()

        def run() -> None:
            asyncio.set_event_loop(loop)
            loop.call_soon(ready.set)
            loop.run_forever()

        self._thread = threading.Thread(target=run, name="websocket-load-engine", daemon=True)
        self._thread.start()
        if not ready.wait(10):
            raise EngineError("the engine's event loop did not start")
        self._loop = loop

    def submit(self, coroutine) -> concurrent.futures.Future:
        """Start a coroutine on the loop; returns a Future to wait on from any thread."""
        return asyncio.run_coroutine_threadsafe(coroutine, self.loop)

    def run(self, coroutine, timeout_s: float | None, what: str = "operation"):
        """Run a coroutine and wait for it; cancels it and raises StepTimeout after timeout_s."""
        future = self.submit(coroutine)
        return self.wait(future, timeout_s, what)

    def wait(self, future: concurrent.futures.Future, timeout_s: float | None,
             what: str = "operation"):
        try:
            return future.result(timeout=timeout_s)
        except concurrent.futures.TimeoutError:
            future.cancel()
            try:  # give the coroutine a moment to unwind its finally blocks
                future.result(timeout=5)
            except BaseException:  # noqa: BLE001 - it was cancelled; its outcome is moot
                pass
            raise StepTimeout(f"{what} did not finish within {timeout_s} s") from None

    def close(self, timeout_s: float = 5.0) -> None:
        """Cancel what still runs, stop the loop and join its thread."""
        with self._lock:
            loop, thread = self._loop, self._thread
            self._loop = self._thread = None
        if loop is None or loop.is_closed():
            return

        async def cancel_all() -> None:
            tasks = [t for t in asyncio.all_tasks() if t is not asyncio.current_task()]
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)
            await loop.shutdown_asyncgens()

        try:
            asyncio.run_coroutine_threadsafe(cancel_all(), loop).result(timeout_s)
        except (concurrent.futures.TimeoutError, RuntimeError):
            pass
        loop.call_soon_threadsafe(loop.stop)
        thread.join(timeout_s)
        if not thread.is_alive():
            loop.close()

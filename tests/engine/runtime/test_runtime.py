"""The generator's runtime: the precise pacing timer (never early, not a millisecond late, and
the loop still runs when a due time is already past) and bytes left unread on its sockets."""
from __future__ import annotations

import asyncio
import importlib.util
import time

import pytest

from WebSocketLoadLibrary.engine.runtime.background import BackgroundLoop
from WebSocketLoadLibrary.engine.runtime.precise_sleep import PreciseSleeper


@pytest.mark.parametrize("kind", ["asyncio", pytest.param("uvloop", marks=pytest.mark.skipif(
    importlib.util.find_spec("uvloop") is None, reason="uvloop is not installed"))])
def test_precise_sleeper_wakes_at_the_due_time_not_a_millisecond_later(kind):
    """On both loops the library runs (uvloop's timers tick in whole milliseconds)."""
    async def lateness() -> tuple[str, list[float]]:
        sleeper = PreciseSleeper(asyncio.get_running_loop())
        late = []
        try:
            for _ in range(50):
                due = time.perf_counter() + 0.0003
                await sleeper.until(due)
                late.append(time.perf_counter() - due)
        finally:
            sleeper.close()
        return type(asyncio.get_running_loop()).__module__, late

    background = BackgroundLoop(kind)
    try:
        module, late = background.run(lateness(), 10.0, "the pacing check")
    finally:
        background.close()
    assert module.split(".")[0] == kind
    assert min(late) >= 0                      # never early
    assert sorted(late)[len(late) // 2] < 0.0005   # typically well under the 1 ms tick


@pytest.mark.parametrize("kind", ["timerfd", "spin"])
def test_a_due_time_already_past_still_lets_the_loop_run_once(kind):
    # a pacer that is just keeping up finds every due time past: if it never yielded, the
    # replies would wait unread and the writes unsent for as long as it kept up
    async def yielded() -> bool:
        sleeper = PreciseSleeper(asyncio.get_running_loop())
        if kind == "spin":
            sleeper.close()
        ran = []
        asyncio.get_running_loop().call_soon(ran.append, True)
        try:
            await sleeper.until(time.perf_counter() - 1.0)
        finally:
            sleeper.close()
        return bool(ran)

    assert asyncio.run(yielded())


def test_unread_bytes_are_what_arrived_on_the_sockets_and_was_not_read():
    import socket
    from WebSocketLoadLibrary.engine.runtime.resources import UnreadBytes
    pairs = [socket.socketpair() for _ in range(3)]
    try:
        for n, (_, far) in enumerate(pairs):
            far.sendall(b"x" * 1000 * (n + 1))
        probe = UnreadBytes([near.fileno() for near, _ in pairs] + [-1])
        assert probe.per_connection() == 2000
        pairs[0][0].recv(1000)
        assert probe.per_connection() == 5000 / 3
    finally:
        for near, far in pairs:
            near.close()
            far.close()
    assert probe.per_connection() is None  # closed sockets are skipped, not fatal

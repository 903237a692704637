"""Which event loop runs the load: `auto` (the library's default) is uvloop where it is
installed, the loop runs coroutines on both kinds, and a wrong name is a clear error."""
from __future__ import annotations

import asyncio
import importlib.util
import time

import pytest

from WebSocketLoadLibrary.engine import loop_kind_named
from WebSocketLoadLibrary.engine.runtime.background import BackgroundLoop
from WebSocketLoadLibrary.engine.runtime.precise_sleep import PreciseSleeper
from WebSocketLoadLibrary.errors import UsageError

HAS_UVLOOP = importlib.util.find_spec("uvloop") is not None


def test_auto_is_uvloop_where_it_is_installed():
    assert loop_kind_named("auto") == ("uvloop" if HAS_UVLOOP else "asyncio")
    assert loop_kind_named("asyncio") == "asyncio"


def test_the_library_imports_on_the_faster_loop_by_default():
    from WebSocketLoadLibrary import WebSocketLoadLibrary
    assert WebSocketLoadLibrary().state.loop_kind == loop_kind_named("auto")
    assert WebSocketLoadLibrary(loop="asyncio").state.loop_kind == "asyncio"


@pytest.mark.parametrize("wrong", ["uv", "UVLOOP", ""])
def test_a_wrong_loop_name_says_which_are_known(wrong):
    with pytest.raises(UsageError, match="auto, asyncio, uvloop"):
        loop_kind_named(wrong)


@pytest.mark.parametrize("kind", ["asyncio", pytest.param("uvloop", marks=pytest.mark.skipif(
    not HAS_UVLOOP, reason="uvloop is not installed"))])
def test_the_pacing_timer_keeps_its_promise_on_each_loop(kind):
    """uvloop's timers tick in whole milliseconds: the precise sleeper must still wake
    never early and typically well under a millisecond late."""
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
    assert min(late) >= 0
    assert sorted(late)[len(late) // 2] < 0.0005

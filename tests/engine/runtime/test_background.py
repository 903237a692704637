"""Which event loop runs the load: `auto` (the library's default) is uvloop where it is
installed, and a wrong name is a clear error (the pacing timer on each loop:
test_runtime.py)."""
from __future__ import annotations

import importlib.util

import pytest

from WebSocketLoadLibrary.engine import loop_kind_named
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

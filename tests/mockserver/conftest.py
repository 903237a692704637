"""The mock server's decisions on a clock the test moves (`clock`); a test module that needs
more of the server on it overrides `clock`, asking for this one."""
from __future__ import annotations

import pytest

from fake_clock import Clock
from WebSocketLoadLibrary.mockserver import pipeline


@pytest.fixture
def clock(monkeypatch) -> Clock:
    """The pipeline's clock (what holds, paces and stalls replies), well past zero as a real
    monotonic clock would be."""
    clock = Clock(1000.0)
    monkeypatch.setattr(pipeline, "monotonic", clock)
    return clock

"""Waiting for what another process or thread does (a server's counters, an agent's stderr, a
process going away): the one polling loop of the tests."""
from __future__ import annotations

import time

import pytest


def wait_until(condition, timeout_s: float = 5.0, interval_s: float = 0.02,
               message: str | None = None, ignoring: tuple = ()):
    """Calls `condition()` every `interval_s` until it returns something true, and returns
    that. After `timeout_s` it gives up: given a `message`, the test fails with it and the
    last value; else the last (false) value is returned, for the caller to assert on.
    Exceptions of the types in `ignoring` (OSError: not listening yet) count as not yet."""
    deadline = time.monotonic() + timeout_s
    while True:
        try:
            last = condition()
        except ignoring as error:
            last = error
        else:
            if last:
                return last
        if time.monotonic() >= deadline:
            break
        time.sleep(interval_s)
    if message is not None:
        pytest.fail(f"{message} within {timeout_s:g} s (last: {last!r})")
    if isinstance(last, BaseException):
        raise last
    return last

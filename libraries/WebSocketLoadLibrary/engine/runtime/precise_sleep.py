"""Sleeping to a due time with sub-millisecond precision, without spinning a core.

The event loop's timers are coarse: epoll waits in whole milliseconds, rounded up, so
`asyncio.sleep(0.0003)` returns after ~1 ms and the pacer would add up to 1 ms to every
message's latency. A Linux timerfd armed at the absolute due time (CLOCK_MONOTONIC, the
clock of `time.perf_counter`) wakes epoll within the kernel's timer slack (~50 us); the
loop sees it as a readable descriptor. Where timerfd is missing, `spin` falls back to
waking 1 ms early and yielding to the loop until the time comes (exact, but it keeps one
core busy at low rates).
"""
from __future__ import annotations

import asyncio
import ctypes
import ctypes.util
import os
import time

CLOCK_MONOTONIC = 1
TFD_NONBLOCK = 0o4000
TFD_CLOEXEC = 0o2000000
TFD_TIMER_ABSTIME = 1


class _timespec(ctypes.Structure):
    _fields_ = [("tv_sec", ctypes.c_long), ("tv_nsec", ctypes.c_long)]


class _itimerspec(ctypes.Structure):
    _fields_ = [("it_interval", _timespec), ("it_value", _timespec)]


def _libc():
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6", use_errno=True)
        libc.timerfd_create.argtypes = (ctypes.c_int, ctypes.c_int)
        libc.timerfd_settime.argtypes = (ctypes.c_int, ctypes.c_int,
                                         ctypes.POINTER(_itimerspec), ctypes.c_void_p)
        return libc
    except (OSError, AttributeError):
        return None


_LIBC = _libc()
if time.get_clock_info("perf_counter").implementation != "clock_gettime(CLOCK_MONOTONIC)":
    _LIBC = None  # the timer's clock must be the pacer's clock


class PreciseSleeper:
    """`await sleeper.until(t)`: return at perf_counter time `t` (or just after it)."""

    def __init__(self, loop: asyncio.AbstractEventLoop, spin_s: float = 0.001):
        self.loop, self.spin_s = loop, spin_s
        self.fd = -1
        self._waiter: asyncio.Future | None = None
        self._spec = _itimerspec()
        if _LIBC is not None:
            fd = _LIBC.timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK | TFD_CLOEXEC)
            if fd >= 0:
                self.fd = fd
                loop.add_reader(fd, self._fired)

    @property
    def kind(self) -> str:
        return "timerfd" if self.fd >= 0 else "spin"

    async def until(self, due: float) -> None:
        """Return at `due`, having let the loop run at least once: a caller that finds its
        next due time already past must still let replies in and writes out (a pacer just
        able to keep up would otherwise never yield, and its replies would wait unread)."""
        wait = due - time.perf_counter()
        if wait <= 0:
            await asyncio.sleep(0)
            return
        if self.fd < 0:
            spin_s = self.spin_s
            await asyncio.sleep(wait - spin_s if wait > spin_s else 0)
            return
        seconds = int(due)
        self._spec.it_value.tv_sec = seconds
        self._spec.it_value.tv_nsec = int((due - seconds) * 1e9)
        if _LIBC.timerfd_settime(self.fd, TFD_TIMER_ABSTIME, ctypes.byref(self._spec), None):
            await asyncio.sleep(wait)
            return
        self._waiter = waiter = self.loop.create_future()
        try:
            await waiter
        finally:
            self._waiter = None

    def _fired(self) -> None:
        try:
            os.read(self.fd, 8)
        except BlockingIOError:
            return
        if self._waiter is not None and not self._waiter.done():
            self._waiter.set_result(None)

    def close(self) -> None:
        if self.fd >= 0:
            self.loop.remove_reader(self.fd)
            os.close(self.fd)
            self.fd = -1

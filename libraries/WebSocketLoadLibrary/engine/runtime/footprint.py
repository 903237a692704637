"""What a process holds in memory, for memory per connection: its RSS, and its heap.

RSS is what the operating system gives the process, freed-but-kept pages included; the
heap is what is allocated now: Python's own allocator (pymalloc's blocks in use, from
`sys._debugmallocstats`) plus the C library's (glibc's `mallinfo2`: in-use chunks and
mmapped blocks, which hold Python's larger objects and the C extensions' buffers). The two
apart tell what the connections hold from what the allocator kept.
"""
from __future__ import annotations

import ctypes
import ctypes.util
import gc
import os
import re
import sys
import tempfile

import psutil

from .memory import release_freed_memory

_PYMALLOC_IN_USE = re.compile(rb"# bytes in allocated blocks\s*=\s*([\d,]+)")


class _Mallinfo2(ctypes.Structure):
    _fields_ = [(name, ctypes.c_size_t) for name in (
        "arena", "ordblks", "smblks", "hblks", "hblkhd", "usmblks", "fsmblks", "uordblks",
        "fordblks", "keepcost")]


_mallinfo2 = None
if sys.platform.startswith("linux"):
    try:
        _mallinfo2 = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6").mallinfo2
        _mallinfo2.restype = _Mallinfo2
    except (OSError, AttributeError):   # not glibc, or older than 2.33
        _mallinfo2 = None


def pymalloc_bytes() -> int | None:
    """Bytes in pymalloc's blocks in use (its report goes to file descriptor 2, which is
    lent to a temporary file for the call)."""
    if not hasattr(sys, "_debugmallocstats"):
        return None
    sys.stderr.flush()
    saved = os.dup(2)
    try:
        with tempfile.TemporaryFile() as report:
            os.dup2(report.fileno(), 2)
            try:
                sys._debugmallocstats()
            finally:
                os.dup2(saved, 2)
            report.seek(0)
            found = _PYMALLOC_IN_USE.search(report.read())
    finally:
        os.close(saved)
    return int(found.group(1).replace(b",", b"")) if found else None


def heap_bytes() -> int | None:
    """pymalloc's blocks in use plus the C library's in-use memory; None where unknown."""
    python = pymalloc_bytes()
    if python is None or _mallinfo2 is None:
        return None
    info = _mallinfo2()
    return python + info.uordblks + info.hblkhd


def footprint(pid: int | None = None) -> dict:
    """{"rss_bytes", "heap_bytes"} of this process (garbage collected and freed pages
    handed back first, so that RSS is what is held), or the RSS of process `pid`."""
    if pid is not None:
        try:
            return {"rss_bytes": psutil.Process(pid).memory_info().rss, "heap_bytes": None}
        except psutil.Error:
            return {"rss_bytes": None, "heap_bytes": None}
    gc.collect()
    release_freed_memory()
    return {"rss_bytes": psutil.Process().memory_info().rss, "heap_bytes": heap_bytes()}

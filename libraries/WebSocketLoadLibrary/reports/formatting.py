"""Seconds and bytes as people read them: in the summary tables, and in the keywords'
messages and argument types (utils/arguments.py), which import it from here."""
from __future__ import annotations


def format_seconds(seconds: float) -> str:
    if seconds == 0:
        return "0 ms"
    if seconds < 1:
        return f"{seconds * 1000:.3g} ms"
    return f"{seconds:.3g} s"


def format_bytes(count: float) -> str:
    for unit, size in (("GB", 1e9), ("MB", 1e6), ("kB", 1e3)):
        if abs(count) >= size:
            return f"{count / size:.1f} {unit}"
    return f"{count:.0f} B"

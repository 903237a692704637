"""How a merged run's figures read in its tables and headlines: counts, ratios, shares,
latencies (None: beyond the reply timeout, or nothing measured), rates, and the verdict of a
group of steps."""
from __future__ import annotations

from ..engine import format_latency_ms


def ratio_text(value) -> str:
    return "-" if value is None else f"{value:.4f}"


def share_text(value) -> str:
    return "-" if value is None else f"{value:.2%}"


def ms_text(value) -> str:
    return "lost" if value is None else format_latency_ms(value)


def ms_words(value) -> str:
    """`12.345 ms`, or `lost` (beyond the reply timeout)."""
    return "lost" if value is None else f"{format_latency_ms(value)} ms"


def rate_text(value) -> str:
    return "-" if value is None else f"{value:,.1f}"


def applied_text(row: dict) -> str:
    if row.get("load_applied", True):
        return "yes"
    return "NO" if row["steps"] == 1 else f"NO ({row['steps_not_applied']} of {row['steps']})"


def applied_words(row: dict) -> str:
    if row.get("load_applied", True):
        return "load applied"
    if row["steps"] == 1:
        return "load NOT applied"
    return f"load NOT applied in {row['steps_not_applied']} of {row['steps']} steps"

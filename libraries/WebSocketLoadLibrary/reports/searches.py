"""The capacity searches of a merged run, one row each, and the words of the run's
all-steps line: what the merged page (merged_page.py) and the merge (merge.py) both say.

A capacity search is one figure, its capacity, found by probes that are ordinary steps: the
merge finds the searches by their probes' `capacity` sections (which carry what the whole
search found) and groups them by suite, test and search name.
"""
from __future__ import annotations

from .kinds import CAPACITY
from .records import StepRecord

SEARCH_COLUMNS = ("suite", "test", "search", "capacity", "first missed", "stopped on",
                  "probes", "time s")


def probe_figures(record: StepRecord) -> dict:
    probe = record.result.sections.get(CAPACITY)
    if probe is None:
        return {}
    return {"search": probe.search, "probe": probe.rate, "unit": probe.unit,
            "outcome": probe.outcome}


def capacity_searches(records: list[StepRecord]) -> list[dict]:
    """One row per capacity search (suite, test, search name): what it found, from its
    probes' sections."""
    searches: dict[tuple, dict] = {}
    for record in records:
        probe = record.result.sections.get(CAPACITY)
        if probe is None:
            continue
        key = (record.suite, record.test, probe.search)
        found = probe.found or {}
        row = searches.setdefault(key, {
            "suite": record.suite, "test": record.test, "name": probe.search,
            "unit": probe.unit, "capacity": found.get("capacity_msg_s"),
            "lower_bound": bool(found.get("lower_bound")),
            "first_missed": found.get("first_missed_msg_s"),
            "generator_limit": found.get("generator_limit_msg_s"),
            "stop_reason": found.get("stop_reason", ""), "total_s": found.get("total_s"),
            "message": found.get("message", ""), "probes": 0, "sent": 0, "received": 0})
        row["probes"] += 1
        row["sent"] += record.result.sent
        row["received"] += record.result.received
    return list(searches.values())


def search_words(search: dict) -> str:
    """`capacity search, 10 probes (test / search): 975 msg/s (precision reached)`."""
    unit = search["unit"]
    if search["capacity"] is None:
        found = f"no {unit} met the targets"
    else:
        found = (f"{'at least ' if search['lower_bound'] else ''}"
                 f"{search['capacity']:,.0f} {unit}")
    where = " / ".join(part for part in (search["test"], search["name"]) if part)
    return (f"capacity search, {search['probes']} probes ({where}): {found} "
            f"({search['stop_reason'] or '?'})")


def search_cells(search: dict) -> tuple:
    unit = search["unit"]
    capacity = ("none" if search["capacity"] is None else
                f"{'>= ' if search['lower_bound'] else ''}{search['capacity']:,.0f} {unit}")
    missed = "-" if search["first_missed"] is None else f"{search['first_missed']:,.0f} {unit}"
    took = "-" if search["total_s"] is None else f"{search['total_s']:,.1f}"
    return (search["suite"], search["test"], search["name"], capacity, missed,
            search["stop_reason"], f"{search['probes']:,}", took)


def all_steps_words(total: dict, files: int) -> str:
    not_applied = (f"; load NOT applied in {total['steps_not_applied']} of them"
                   if total["steps_not_applied"] else "; load applied in every one")
    return (f"All {total['steps']:,} steps from {files:,} file(s): {total['sent']:,} "
            f"messages sent, {total['received']:,} received, {total['busy_s']:,.1f} s "
            f"busy{not_applied}")

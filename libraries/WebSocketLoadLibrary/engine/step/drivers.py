"""Which driver runs a plan: each traffic pattern's module says which plans its driver
runs (`@runs_plans`), and the step asks `driver_for(plan)`.

The patterns are asked in their `order`, lowest first, and the first that takes the plan
runs it: the more particular patterns (listen only, fan-out, replies in parts) come before
the plain paced and closed loops that would take any plan.
"""
from __future__ import annotations

from typing import Callable

from ..errors import PlanError
from .driver import LoadDriver

DRIVERS: list[tuple[int, Callable, type[LoadDriver]]] = []


def runs_plans(order: int, where: Callable[[object], bool]):
    """Class decorator: the driver runs the plans for which `where(plan)` holds."""
    def register(driver: type[LoadDriver]) -> type[LoadDriver]:
        DRIVERS.append((order, where, driver))
        DRIVERS.sort(key=lambda entry: entry[0])
        return driver
    return register


def driver_for(plan) -> type[LoadDriver]:
    for _, where, driver in DRIVERS:
        if where(plan):
            return driver
    raise PlanError(f"no traffic pattern runs this plan ({plan!r})")

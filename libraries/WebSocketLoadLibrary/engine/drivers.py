"""Which driver runs a plan: the one place a step's load style is decided."""
from __future__ import annotations

from .closed_loop import ClosedLoopDriver
from .driver import LoadDriver
from .open_loop import OpenLoopDriver


def driver_for(plan) -> type[LoadDriver]:
    """Paced requests when the plan has a rate; a closed loop at rate `max`."""
    return OpenLoopDriver if plan.open_loop else ClosedLoopDriver

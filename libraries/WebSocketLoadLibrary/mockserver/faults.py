"""The fault state of the mock server: the value of each fault, checked on the way in.

Which faults there are, what their values are and what they do is declared once, in
fault_declarations.py; this is the state the server reads while it serves.
"""
from __future__ import annotations

import random
import time

from .fault_declarations import BY_NAME, COUNT, FAULT_NAMES, FAULTS, FaultError, checked_names

__all__ = ["FAULT_NAMES", "FAULTS", "FaultError", "Faults", "garble"]


class Faults:
    """What the server does wrong, on purpose: one attribute per declared fault.

    A fault's attribute is its name and holds its value (``faults.response_delay``, seconds),
    but a timed one's (a `Fault` with ``ends``: stall, read_stall, refuse_for,
    hang_handshakes) holds the monotonic time it ends: a `stall` of X s sets ``stall_until``
    to now + X. `update` checks values and sets them; `describe` tells them, a timed fault
    as ``<name>_remaining``. `Faults(seed=1, hang_until=...)` sets attributes as they are.

    Besides, for the behaviour: the random choices of drop_ratio and garble_ratio (``seed``
    makes them repeatable) and max_message_rate's queue (`service_slot`).
    """

    def __init__(self, seed: int | None = None, **attributes):
        unknown = set(attributes) - {fault.attribute for fault in FAULTS}
        if unknown:
            raise TypeError(f"Faults() got unknown attribute(s) {sorted(unknown)}")
        for fault in FAULTS:
            setattr(self, fault.attribute, 0.0 if fault.ends else fault.kind.number(0))
        self.seed = seed
        self._rng = random.Random(seed)
        self._next_slot = 0.0
        # faults this server's engine cannot carry out: name -> why (set by the engine)
        self.unsupported: dict = {}
        self.update(**{fault.name: fault.default for fault in FAULTS if fault.default})
        for name, value in attributes.items():
            setattr(self, name, value)

    def __repr__(self) -> str:
        values = ", ".join(f"{fault.attribute}={getattr(self, fault.attribute)!r}"
                           for fault in FAULTS)
        return f"Faults({values}, seed={self.seed!r})"

    def update(self, **changes) -> None:
        """Apply changes (names as in FAULT_NAMES, and ``seed``); unknown names and bad
        values raise FaultError and change nothing. None leaves a fault as it is."""
        checked_names(set(changes) - {"seed"})
        checked = {}
        for name, value in changes.items():
            if value is None:
                continue
            if name == "seed":
                checked[name] = COUNT.checked(name, value)  # as before: a whole number >= 0
                continue
            fault = BY_NAME[name]
            number = fault.kind.checked(name, value)
            if number and name in self.unsupported:
                raise FaultError(f"fault {name} {self.unsupported[name]}")
            checked[name] = number
        for name, number in checked.items():
            if name == "seed":
                self.seed = number
                self._rng.seed(number)
            elif BY_NAME[name].ends:
                setattr(self, BY_NAME[name].ends, time.monotonic() + number if number else 0.0)
            else:
                setattr(self, name, number)

    def clear(self) -> None:
        """Every fault back to its default, off (the seed stays)."""
        self.update(**{fault.name: fault.default for fault in FAULTS})

    def active(self, name: str) -> bool:
        """Whether the fault is on now (a timed one: its end still to come)."""
        fault = BY_NAME[name]
        value = getattr(self, fault.attribute)
        return value > time.monotonic() if fault.ends else bool(value)

    def service_slot(self, now: float) -> float:
        """max_message_rate's queue: when the message that came at `now` is served (its
        reply may leave), each slot 1/K after the one before, none before `now`."""
        slot = self._next_slot if self._next_slot > now else now
        self._next_slot = slot + 1.0 / self.max_message_rate
        return slot

    def should_drop(self) -> bool:
        return self.drop_ratio > 0 and self._rng.random() < self.drop_ratio

    def should_garble(self) -> bool:
        return self.garble_ratio > 0 and self._rng.random() < self.garble_ratio

    def describe(self) -> dict:
        """Every fault's value (a timed one's seconds to go, as ``<name>_remaining``), the
        seed, and how far behind max_message_rate's queue is (``message_backlog_s``)."""
        now = time.monotonic()
        data = {fault.name: getattr(self, fault.name) for fault in FAULTS if not fault.ends}
        data["seed"] = self.seed
        for fault in FAULTS:
            if fault.ends:
                data[f"{fault.name}_remaining"] = max(0.0, getattr(self, fault.ends) - now)
        # how far behind max_message_rate's queue is: a message now waits this long
        data["message_backlog_s"] = max(0.0, self._next_slot - now) if self.max_message_rate else 0.0
        return data


def garble(message):
    """A reply that is well-formed as a frame but is not the message (nor valid JSON)."""
    if isinstance(message, (bytes, bytearray)):
        return b"#garbled#" + bytes(message[::-1])
    return "#garbled#" + message[::-1]

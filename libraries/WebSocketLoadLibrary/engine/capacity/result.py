"""The result of a capacity search: a ScalingResult of kind "capacity" whose steps are the
measured probes, each carrying a CapacityProbe section (its verdict and what the whole search
found), so that a probe read back alone from a saved or merged file still knows its search.
"""
from __future__ import annotations

from dataclasses import asdict, dataclass, field

from .targets import MET, CapacityTargets, probe_figures
from ..results.result import LoadResult
from ..results.scaling import ScalingResult
from ..results.sections import ResultSection

# why a search stopped
PRECISION = "precision reached"
PROBE_BUDGET = "probe budget"
TIME_BUDGET = "time budget"
GENERATOR_LIMIT = "generator limit"
HIGH_BOUND = "high bound met"
LOW_MISSED = "lowest probe missed the targets"
SERVER_LOST = "server lost"
PROBE_ERROR = "probe error"
FAILED_STOPS = (LOW_MISSED, SERVER_LOST, PROBE_ERROR)

# what a search varies: the message rate (the default, and every file saved before the
# unit was), the number of connections (Find Maximum Connections) or of subscribers of a
# fan-out (Find Maximum Subscribers)
RATE_UNIT, CONNECTIONS_UNIT, SUBSCRIBERS_UNIT = "msg/s", "connections", "subscribers"
UNITS = (RATE_UNIT, CONNECTIONS_UNIT, SUBSCRIBERS_UNIT)
COUNT_UNITS = (CONNECTIONS_UNIT, SUBSCRIBERS_UNIT)   # whole numbers


def amount(value: float, unit: str = RATE_UNIT, decimals: int = 0) -> str:
    """`1,000 msg/s`, `40 connections` (a count is always whole)."""
    if unit in COUNT_UNITS:
        return f"{value:,.0f} {unit}"
    return f"{value:,.{decimals}f} {unit}"


@dataclass
class CapacityProbe(ResultSection):
    """One probe of a capacity search: its verdict, and what the whole search found."""
    kind = "capacity"
    search: str = ""
    rate: float = 0.0
    outcome: str = ""            # met, missed, generator limit, server lost
    reasons: list = field(default_factory=list)
    targets: dict = field(default_factory=dict)      # CapacityTargets.to_dict()
    found: dict = field(default_factory=dict)        # CapacityResult.found()

    @classmethod
    def merged(cls, sections: list["CapacityProbe"]) -> "CapacityProbe":
        first = sections[0]
        if all(s.search == first.search and s.found == first.found for s in sections):
            if len(sections) == 1 or all(s.rate == first.rate for s in sections):
                return cls(**first.to_dict())
            return cls(first.search, 0.0, f"{len(sections)} probes", [], first.targets,
                       first.found)
        return cls("", 0.0, f"{len(sections)} probes of several searches")

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict) -> "CapacityProbe":
        known = {"search", "rate", "outcome", "reasons", "targets", "found"}
        return cls(**{k: v for k, v in data.items() if k in known})

    def summary(self) -> dict:
        return {"capacity_probe_outcome": self.outcome,
                "capacity_msg_s": self.found.get("capacity_msg_s")}

    @property
    def unit(self) -> str:
        """What the search varied: msg/s (a rate search) or connections."""
        return self.found.get("unit") or RATE_UNIT

    def rows(self) -> list[tuple[str, str]]:
        verdict = self.outcome + (": " + "; ".join(self.reasons) if self.reasons else "")
        rows = [("capacity probe", f"{amount(self.rate, self.unit, 1)} {verdict}")]
        if self.found.get("message"):
            rows.append(("capacity search", self.found["message"]))
        return rows


@dataclass(repr=False)
class CapacityResult(ScalingResult):
    """Every probe of a search (`steps`, in the order run) and what it found.

    The figures named `..._msg_s` are in the search's `unit`: msg/s for a rate search,
    a number of connections for a connections search (the names are kept for the files
    saved before the unit was)."""
    kind: str = "capacity"
    targets: CapacityTargets | None = None
    settings: dict = field(default_factory=dict)
    capacity_msg_s: float | None = None     # the highest rate (count) that met the targets
    lower_bound: bool = False               # capacity is at least that (not bracketed)
    first_missed_msg_s: float | None = None
    generator_limit_msg_s: float | None = None
    stop_reason: str = ""
    error: str = ""
    probes_s: float = 0.0                   # warm-ups and measured steps
    pauses_s: float = 0.0
    unit: str = RATE_UNIT

    def __repr__(self) -> str:
        found = "none" if self.capacity_msg_s is None else self._amount(self.capacity_msg_s)
        return (f"CapacityResult(name={self.name!r}, capacity={found}, "
                f"probes={len(self.steps)}, stop={self.stop_reason!r})")

    # -- probes --------------------------------------------------------------------------
    def probe(self, step: LoadResult) -> CapacityProbe:
        return step.sections["capacity"]

    @property
    def outcomes(self) -> list[str]:
        return [self.probe(step).outcome for step in self.steps]

    def _probe_at(self, rate: float | None, outcome: str | None = None) -> LoadResult | None:
        """The last probe at `rate` (with `outcome`): a rate retried has several."""
        return next((s for s in reversed(self.steps) if rate is not None
                     and self.probe(s).rate == rate
                     and outcome in (None, self.probe(s).outcome)), None)

    @property
    def last_met(self) -> LoadResult | None:
        """The probe at the capacity: the highest rate that met the targets."""
        return self._probe_at(self.capacity_msg_s, MET)

    @property
    def first_missed(self) -> LoadResult | None:
        """The lowest rate above the capacity that missed the targets."""
        return self._probe_at(self.first_missed_msg_s)

    @property
    def total_s(self) -> float:
        return self.probes_s + self.pauses_s

    @property
    def failed(self) -> bool:
        return self.stop_reason in FAILED_STOPS

    # -- words ---------------------------------------------------------------------------
    @property
    def capacity(self) -> float | None:
        """The capacity found, in the search's unit (msg/s or connections)."""
        return self.capacity_msg_s

    def _amount(self, value: float) -> str:
        return amount(value, self.unit)

    @property
    def message(self) -> str:
        """What the search found, in one paragraph."""
        targets = self.targets.describe() if self.targets else "the targets"
        capacity = self.capacity_msg_s
        took = f" ({len(self.steps)} probes, {self.total_s:.1f} s)"
        if self.stop_reason == GENERATOR_LIMIT:
            limited = self._probe_at(self.generator_limit_msg_s)
            why = "; ".join(self.probe(limited).reasons) if limited is not None else ""
            if capacity is None:
                return (f"generator limit reached at the lowest rate, "
                        f"{self._amount(self.generator_limit_msg_s)}: the load was not applied "
                        f"({why}); nothing is known of the server's capacity{took}")
            return (f"generator limit reached at {self._amount(capacity)}: the probe at "
                    f"{self._amount(self.generator_limit_msg_s)} could not be applied ({why}); "
                    f"the server met its targets ({targets}) there; capacity is above "
                    f"{self._amount(capacity)}{took}")
        if self.stop_reason == LOW_MISSED:
            return (f"the lowest probe, {self._amount(self.first_missed_msg_s)}, already missed "
                    f"the targets ({targets}): {self._missed_words()}; "
                    f"{probe_figures(self.first_missed)}{took}")
        if self.stop_reason in (SERVER_LOST, PROBE_ERROR):
            before = (f"; before it, the targets were met at {self._amount(capacity)}"
                      if capacity is not None else "")
            return f"the search stopped: {self.error}{before}{took}"
        if capacity is None:
            return f"no probe met the targets ({targets}){took}"
        if self.stop_reason == HIGH_BOUND:
            return (f"the server met its targets ({targets}) at the high bound: capacity is "
                    f"at least {self._amount(capacity)}{took}")
        if self.first_missed_msg_s is None:
            return (f"the search stopped at its {self.stop_reason} before any rate missed the "
                    f"targets ({targets}): capacity is at least {self._amount(capacity)}{took}")
        gap = self.first_missed_msg_s / capacity - 1
        how = (f"within {gap:.1%}" if self.stop_reason == PRECISION else
               f"{gap:.1%} apart: the {self.stop_reason} ran out before the precision "
               f"{self.settings.get('precision', 0):.0%}")
        return (f"capacity {self._amount(capacity)} ({how}): the targets ({targets}) were met at "
                f"{self._amount(capacity)} and missed at {self._amount(self.first_missed_msg_s)} "
                f"({self._missed_words()}){took}")

    def _missed_words(self) -> str:
        missed = self.first_missed
        return "; ".join(self.probe(missed).reasons) if missed is not None else ""

    def found(self) -> dict:
        """What the search found, as each probe's section and the saved file carry it."""
        return {"capacity_msg_s": self.capacity_msg_s, "unit": self.unit,
                "lower_bound": self.lower_bound,
                "first_missed_msg_s": self.first_missed_msg_s,
                "generator_limit_msg_s": self.generator_limit_msg_s,
                "stop_reason": self.stop_reason, "error": self.error,
                "probes": len(self.steps), "probes_s": round(self.probes_s, 3),
                "pauses_s": round(self.pauses_s, 3), "total_s": round(self.total_s, 3),
                "message": self.message}

    def stamp_probes(self) -> None:
        """Put the search's outcome into every probe's section."""
        found = self.found()
        for step in self.steps:
            self.probe(step).found = found

    # -- exchange ------------------------------------------------------------------------
    def to_dict(self) -> dict:
        return {**super().to_dict(), "capacity": self.found(),
                # every probe's messages together (warm-ups not counted)
                "sent": sum(step.sent for step in self.steps),
                "received": sum(step.received for step in self.steps),
                "targets": self.targets.to_dict() if self.targets else {},
                "settings": dict(self.settings)}

    @classmethod
    def from_dict(cls, data: dict) -> "CapacityResult":
        found = data.get("capacity") or {}
        unit = found.get("unit") or (data.get("settings") or {}).get("unit") or RATE_UNIT
        return cls(unit=unit, kind="capacity", name=data.get("name", ""),
                   steps=[LoadResult.from_dict(step) for step in data.get("steps", [])],
                   targets=CapacityTargets.from_dict(data["targets"]) if data.get("targets")
                   else None,
                   settings=data.get("settings", {}),
                   capacity_msg_s=found.get("capacity_msg_s"),
                   lower_bound=found.get("lower_bound", False),
                   first_missed_msg_s=found.get("first_missed_msg_s"),
                   generator_limit_msg_s=found.get("generator_limit_msg_s"),
                   stop_reason=found.get("stop_reason", ""), error=found.get("error", ""),
                   probes_s=found.get("probes_s", 0.0), pauses_s=found.get("pauses_s", 0.0))

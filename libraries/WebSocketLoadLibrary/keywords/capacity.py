"""Keywords that search for a server's capacity: the highest rate within its targets."""
from __future__ import annotations

import re

from robot.api import logger
from robot.api.deco import keyword

from ..engine import LoadPlan
from ..engine.capacity import (GENERATOR_LIMIT, LOW_MISSED, MET, CapacityResult,
                               CapacityTargets, SearchSettings, find_capacity)
from ..engine.memory import release_freed_memory
from ..engine.result import format_latency_ms
from ..errors import ArgumentError, CheckFailed, RunError, UsageError
from .arguments import Duration, Rate, Ratio
from .component import LibraryComponent
from .step_report import (PROGRESS_EVERY_S, ProgressPrinter, describe_plan, report_step,
                          run_step, save_result)
from .summary_table import column_table, log_charts

TARGET_FORMS = ("latency percentiles as p95=200 ms, p99=500 ms, p99.9=1 s; delivery=99.9% "
                "(replies per message expected, at least); errors=0.1% (messages not sent "
                "or answered with something invalid, at most)")
PERCENTILE_TARGET = re.compile(r"p(\d+(?:\.\d+)?)$", re.IGNORECASE)

PROBE_COLUMNS = ("#", "target msg/s", "achieved send msg/s", "received msg/s", "sent", "lost",
                 "delivery", "p50 ms", "p95 ms", "p99 ms", "verdict")


class CapacityKeywords(LibraryComponent):

    @keyword
    def find_maximum_rate(self, low: Rate, high: Rate, probe_duration: Duration = Duration(10),
                          warm_up: Duration = Duration(2), pause: Duration = Duration(2),
                          precision: Ratio = Ratio(0.05), max_probes: int = 12,
                          time_budget: Duration = Duration(300), retries: int = 0,
                          step_factor: float = 2.0,
                          reply_timeout: Duration = Duration(5),
                          rate_tolerance: Ratio = Ratio(0.05), on_agents: bool = False,
                          name: str = "capacity", **targets: str) -> CapacityResult:
        """Searches for the highest message rate at which the server still meets the
        targets, between ``low`` and ``high``; returns the search with every probe.

        The targets are named arguments, any of: ``p95=200 ms`` (any percentile:
        ``p50``, ``p99``, ``p99.9``; met when the percentile is *below* the bound, ranked
        among all the replies expected, so lost messages count), ``delivery=99.9%``
        (replies received per message sent, at least), ``errors=0.1%`` (messages that
        could not be sent or got an invalid reply, at most). At least one is needed.

        Each probe is an ordinary paced step on the current clients: a ``warm-up`` at the
        probe's rate (not judged), then a measured step of ``probe_duration`` at that
        rate, judged by the targets; ``pause`` between probes lets the server drain what
        it queued. The search steps up from ``low`` (each probe ``step_factor`` times the
        last, doubling by default, never above ``high``) until a probe misses the
        targets, then bisects between the last rate that met them and the first that did
        not until these are within ``precision`` (5%: capacity 1,000 msg/s means a rate
        at most 1,050 msg/s missed). It stops earlier after ``max_probes`` probes, or
        before a probe that would not end within ``time_budget`` (warm-up + probe + pause
        each, plus what replies take to arrive, up to ``reply_timeout``). The capacity
        is the highest rate that met the targets; the result also has the first rate
        that missed them, every probe's figures, why the search stopped, and its total
        time (probes plus pauses).

        ``retries=1`` runs a probe that missed the targets once more, and takes the rate
        as missed only if it misses again: on a busy machine a moment's stall (another
        process, a garbage collection) can push one short probe's p95 over its bound far
        below the knee, and one such miss would set the capacity too low. Each retry is
        a probe of its own (shown, saved, counted against ``max_probes``). Leave it at 0
        when a rate must meet the targets every time.

        *Honesty.* A probe the generator could not apply (it fell short of the rate with
        no backpressure from the server: its CPU, not the server) is never taken for the
        server failing: the search stops and says ``generator limit reached at X msg/s;
        the server met its targets there; capacity is above X``, with a warning. Lift
        the limit with load agents: ``on_agents=True`` runs every probe on the agents'
        connections (`Connect Load Agents`, `Connect Clients On Agents`), the rate split
        among them, their results merged. A probe the server held back (TCP backpressure,
        messages that could not be sent) misses the targets, and its verdict says so.

        *Choosing the probe duration.* Long enough for two things. (1) Enough messages
        for the percentile you judge: about 100 beyond it, i.e. 100 / (1 - 0.95) = 2,000
        messages for p95 and 100 / (1 - 0.99) = 10,000 for p99: at 1,000 msg/s that is
        2 s for p95 and 10 s for p99 -- at the lowest rate of the search, where messages
        are fewest. (2) Past its knee a server queues: at a rate x% above its capacity
        latency grows by x% of the elapsed time (5% over: 50 ms more each second). To
        tell a rate 5% above the knee from one below it, the queue must reach the
        latency bound within the probe: at least bound / precision, i.e. 20x the latency
        target (p95=200 ms with precision 5%: at least 4 s; p99=500 ms: 10 s). Take the
        longer of the two. The warm-up (1-2 s, or more for a server that caches or
        scales) opens the server's steady state; the pause should let a queue from a
        probe past the knee drain (about as long as the probe, for a server that queues).

        The log gets one table row per probe and a chart (achieved rate, p95 and p99 by
        target rate; the targets and the knee marked); the result is saved with every
        probe (`Save Load Results` format), and becomes the last result for
        `Capacity Should Be At Least` (the other assertion keywords read it as a series
        of steps, the probes past the knee included; ``${found.last_met}`` is the probe at
        the capacity, ``${found.first_missed}`` the first above it that missed, for
        assertions on their figures). The keyword fails, after saving, when the lowest probe
        already misses the targets (with that probe's figures), or when the server closes
        connections or a probe fails during the search (with the reason; the probes so
        far are kept). Bad bounds (``low`` not below ``high``, ``max``), a ``precision``
        of 0 and a budget too small for one probe fail before any probe.

        Example:
        | Connect Clients | count=10 |
        | ${found}= | Find Maximum Rate | 500/s | 50k/s | probe_duration=10 s | p95=200 ms | p99=500 ms | delivery=99.9% |
        | Capacity Should Be At Least | 2000/s |
        | Find Maximum Rate | 1k/s | 100k/s | on_agents=${True} | p99=50 ms | time_budget=10 min |
        """
        for bound, label in ((low, "low"), (high, "high")):
            if bound.per_second is None:
                raise ArgumentError(f"the {label} bound must be a rate such as 1000/s, not max: "
                                    f"the search paces every probe")
        checked = parse_targets(targets)
        settings = SearchSettings(float(low), float(high), precision=float(precision),
                                  step_factor=float(step_factor), max_probes=max_probes,
                                  time_budget_s=float(time_budget),
                                  probe_s=float(probe_duration), warm_up_s=float(warm_up),
                                  pause_s=float(pause), retries=retries)
        runner = (self._agents_runner if on_agents else self._local_runner)(
            float(reply_timeout), float(rate_tolerance))
        where = "on the load agents" if on_agents else "on the current clients"
        self.console(f"[INFO] {name}: searching {low} .. {high} for {checked.describe()} "
                     f"{where} (probes of {float(probe_duration):g} s after "
                     f"{float(warm_up):g} s warm-up, precision {float(precision):.0%}, "
                     f"at most {max_probes} probes in {float(time_budget):g} s)")
        found = find_capacity(settings, checked, runner, name, on_probe=self._tell_probe)
        self._report(found)
        if found.stop_reason == LOW_MISSED:
            raise CheckFailed(f"Capacity search '{name}': {found.message}. The probe is "
                              f"saved and kept as the last result.")
        if found.failed:
            raise RunError(f"Capacity search '{name}' could not finish: {found.message}. "
                           f"The {len(found.steps)} probe(s) so far are saved and kept as "
                           f"the last result.")
        return found

    @keyword
    def capacity_should_be_at_least(self, minimum: Rate, result=None) -> float:
        """Fails unless the capacity found by `Find Maximum Rate` (the last result, or
        ``result``) is at least ``minimum`` msg/s; returns the capacity.

        The failure says what was found and where the targets were missed. When the
        search hit the generator's limit below ``minimum``, the server was never shown to
        fall short: the failure says ``generator limit`` and at which rate, so that the
        load is lifted (load agents, ``on_agents=True``) rather than the server blamed.
        A search that ended on a budget before any rate missed the targets gives only a
        lower bound, and a failure says that too.

        Example:
        | Find Maximum Rate | 500/s | 20k/s | p95=200 ms |
        | Capacity Should Be At Least | 2000/s |
        """
        if minimum.per_second is None:
            raise ArgumentError("the minimum capacity must be a rate such as 2000/s, not max")
        found = result if result is not None else self.state.last_result
        if not isinstance(found, CapacityResult):
            raise UsageError("Capacity Should Be At Least needs the result of Find Maximum "
                             "Rate: run it first, or pass its result as result=")
        capacity, wanted = found.capacity_msg_s, float(minimum)
        if capacity is not None and capacity >= wanted:
            logger.info(f"Capacity {capacity:,.0f} msg/s is at least {wanted:,.0f} msg/s "
                        f"({found.targets.describe()}).")
            return capacity
        if found.stop_reason == GENERATOR_LIMIT:
            raise CheckFailed(f"Capacity could not be shown to be at least {wanted:,.0f} msg/s: "
                              f"{found.message}. The generator, not the server, stopped the "
                              f"search: run the probes on load agents (on_agents=True).")
        if capacity is not None and found.lower_bound:
            raise CheckFailed(f"Capacity is at least {capacity:,.0f} msg/s, not shown to be "
                              f"at least {wanted:,.0f} msg/s: {found.message}")
        shown = "none" if capacity is None else f"{capacity:,.0f} msg/s"
        raise CheckFailed(f"Capacity is {shown}, expected at least {wanted:,.0f} msg/s: "
                          f"{found.message}")

    # -- probes --------------------------------------------------------------------------
    def _plan(self, rate: float, duration_s: float, name: str, reply_timeout_s: float,
              rate_tolerance: float) -> LoadPlan:
        return LoadPlan(rate=rate, duration_s=duration_s, reply_timeout_s=reply_timeout_s,
                        rate_tolerance=rate_tolerance, name=name, **self.state.pacing)

    def _local_runner(self, reply_timeout_s: float, rate_tolerance: float):
        group = self.state.clients.current

        def run(rate: float, duration_s: float, name: str):
            plan = self._plan(rate, duration_s, name, reply_timeout_s, rate_tolerance)
            return run_step(self, group, plan, None, remember=False, fail_on_disconnect=False)
        return run

    def _agents_runner(self, reply_timeout_s: float, rate_tolerance: float):
        fleet = self.state.agents
        if fleet is None:
            raise UsageError("on_agents=True needs load agents: use Connect Load Agents and "
                             "Connect Clients On Agents first")
        target = fleet.options.uri if fleet.options is not None else None

        def run(rate: float, duration_s: float, name: str):
            plan = self._plan(rate, duration_s, name, reply_timeout_s, rate_tolerance)
            self.console(f"[INFO] {name}: {describe_plan(plan)} on the load agents")
            step = fleet.start_step(plan, self.state.template, None, None,
                                    self.state.server_pid_for(target))
            printer = ProgressPrinter(self.console, name, plan.planned_messages)
            try:
                result = step.wait(on_progress=printer,
                                   poll_interval_s=min(0.5, PROGRESS_EVERY_S / 4))
            except BaseException:
                step.cancel()
                raise
            finally:
                release_freed_memory()
            report_step(self, result, name, remember=False, fail_on_disconnect=False)
            return result
        return run

    def _tell_probe(self, found: CapacityResult, step) -> None:
        probe = found.probe(step)
        words = "met the targets" if probe.outcome == MET else (
            f"{probe.outcome}: " + "; ".join(probe.reasons))
        self.console(f"[INFO] {found.name}: probe {len(found.steps)} at {probe.rate:,.0f} "
                     f"msg/s {words}")

    # -- reporting -----------------------------------------------------------------------
    def _report(self, found: CapacityResult) -> None:
        self.state.files.remember_context(found)
        save_result(self, found)
        logger.info(capacity_table(found), html=True)
        log_charts(found)
        if found.stop_reason == GENERATOR_LIMIT:
            logger.warn(f"{found.name}: {found.message}")
        verdict = ("[FAIL]" if found.failed else
                   "[WARN]" if found.stop_reason == GENERATOR_LIMIT else "[INFO]")
        self.console(f"{verdict} {found.name}: {found.message}")
        self.state.remember(found)


def parse_targets(targets: dict) -> CapacityTargets:
    """`p95=200 ms`, `delivery=99.9%`, `errors=0.1%` -> CapacityTargets."""
    latency, delivery, errors = {}, None, None
    for key, value in targets.items():
        label = key.strip().lower()
        percentile = PERCENTILE_TARGET.match(label)
        try:
            if percentile:
                latency[float(percentile.group(1))] = float(Duration.from_text(value)) * 1000
            elif label in ("delivery", "delivery_ratio"):
                delivery = float(Ratio.from_text(value))
            elif label in ("errors", "error_ratio"):
                errors = float(Ratio.from_text(value))
            else:
                raise ArgumentError(f"unknown target {key}={value}; the targets are "
                                    f"{TARGET_FORMS}")
        except ArgumentError as error:
            if str(error).startswith("unknown target"):
                raise
            raise ArgumentError(f"target {key}={value}: {error}") from None
    return CapacityTargets(latency, delivery, errors)


def capacity_table(found: CapacityResult) -> str:
    """One row per probe in the order run, the verdict of each; the outcome as caption."""
    rows = []
    for number, step in enumerate(found.steps, 1):
        probe = found.probe(step)
        verdict = probe.outcome + (": " + "; ".join(probe.reasons) if probe.reasons else "")
        rows.append((number, f"{probe.rate:,.0f}", f"{step.achieved_send_rate:,.1f}",
                     f"{step.achieved_receive_rate:,.1f}", f"{step.sent:,}", f"{step.lost:,}",
                     f"{step.delivery_ratio:.4%}",
                     *(format_latency_ms(step.latency_ms(p)) for p in (50, 95, 99)), verdict))
    targets = found.targets.describe() if found.targets else "-"
    return column_table(PROBE_COLUMNS, rows,
                        f"{found.name}: targets {targets}; stopped on {found.stop_reason}; "
                        f"{found.message}; probes {found.probes_s:.1f} s + pauses "
                        f"{found.pauses_s:.1f} s = {found.total_s:.1f} s")

"""Assertion keywords: each checks the last result (or the one given) and says, when it fails,
what was expected, what was measured, and over how many messages."""
from __future__ import annotations

import math

from robot.api import logger
from robot.api.deco import keyword

from ..base.component import LibraryComponent
from ..engine import ConnectionMemory, LoadResult, ScalingResult
from ..engine import pattern_of
from ..errors import CheckFailed, UsageError
from ..reports.formatting import format_bytes, format_seconds
from ..utils.arguments import ByteSize, Duration, Percentile, Rate, Ratio

SIDES = ("generator", "server")


class LoadNotApplied(CheckFailed):
    """The result's load was not applied, so no check on it may pass."""


class AssertionKeywords(LibraryComponent):

    @keyword
    def latency_p50_should_be_below(self, limit: Duration, result=None) -> float:
        """Fails unless the median latency is below ``limit`` (``200 ms``, ``0.5 s``).

        See `Latency Percentile Should Be Below`.
        """
        return self._latency(Percentile(50), limit, result)

    @keyword
    def latency_p95_should_be_below(self, limit: Duration, result=None) -> float:
        """Fails unless the 95th percentile latency is below ``limit``.

        See `Latency Percentile Should Be Below`.

        Example:
        | Send Burst At Rate | 10000 | 2k/s |
        | Latency P95 Should Be Below | 200 ms |
        """
        return self._latency(Percentile(95), limit, result)

    @keyword
    def latency_p99_should_be_below(self, limit: Duration, result=None) -> float:
        """Fails unless the 99th percentile latency is below ``limit``.

        See `Latency Percentile Should Be Below`.
        """
        return self._latency(Percentile(99), limit, result)

    @keyword
    def latency_percentile_should_be_below(self, percentile: Percentile, limit: Duration,
                                           result=None) -> float:
        """Fails unless the given latency ``percentile`` (``99.9``, ``p99.9``) is below ``limit``.

        Latency of a message is the time from when it was *due* (its intended send time
        in a paced step) to its reply, so a stall of the server or of the generator counts
        in full (no coordinated omission). In a ``rate=max`` step it is service time.
        Percentiles come from an HdrHistogram of every message (3 significant digits).

        Lost messages count as slower than any reply: if more than (100 - percentile)% of
        the messages got no reply, the percentile lies beyond the reply timeout and the
        keyword fails saying so. A result with no replies at all fails. This is the one
        definition of a latency percentile everywhere: the summary table, the saved JSON
        (``None`` there when beyond the timeout), the console, merged results and the
        regression check show the same figure.

        Checks the last result unless ``result`` is given; for a scaling result every step
        must pass. Refuses to pass a result whose load was not applied. Returns the
        measured value in milliseconds.

        Example:
        | Latency Percentile Should Be Below | 99.9 | 1 s |
        | ${p99_ms}= | Latency Percentile Should Be Below | 99 | 500 ms | result=${burst} |
        """
        return self._latency(percentile, limit, result)

    @keyword
    def delivery_ratio_should_be_at_least(self, minimum: Ratio, result=None) -> float:
        """Fails unless replies received / messages attempted is at least ``minimum``
        (``0.999`` or ``99.9%``). Messages that could not be sent count as not delivered.

        Returns the measured ratio. For a scaling result every step must pass.

        Example:
        | Delivery Ratio Should Be At Least | 0.999 |
        """
        results = self._results(result, "delivery ratio")
        failures = []
        for step in results:
            if step.delivery_ratio < minimum:
                failures.append(
                    f"delivery ratio {step.delivery_ratio:.6f}, expected at least {minimum:g} "
                    f"({_received(step)}: {step.lost:,} "
                    f"lost, {step.send_errors:,} not sent, {step.unmatched:,} unmatched and "
                    f"{step.invalid_replies:,} invalid replies{_step(step)})")
        measured = min(step.delivery_ratio for step in results)
        return self._verdict(failures, f"delivery ratio {measured:.6f} >= {minimum:g}", measured)

    @keyword
    def throughput_should_be_at_least(self, minimum: Rate, result=None) -> float:
        """Fails unless replies received per second reached ``minimum`` (``1000``,
        ``1000/s``, ``2k/s``).

        Throughput is replies received over the time from the first due message to the
        last reply. For a scaling result it is the peak over the steps. Returns the measured
        throughput in messages per second.

        Example:
        | Throughput Should Be At Least | 2k/s |
        """
        if minimum.is_max:
            raise UsageError("minimum must be a rate such as 1000/s, not max")
        target = self._target(result, "throughput")
        if isinstance(target, ScalingResult):
            measured, over = target.peak_throughput, target.messages
            where = f" (peak step of {target.name!r}, {len(target.steps)} steps)"
        else:
            measured, over, where = target.achieved_receive_rate, target.sent, _step(target)
        failures = []
        if measured < minimum:
            failures.append(f"throughput {measured:,.1f} msg/s, expected at least "
                            f"{float(minimum):,.1f} msg/s (over {over:,} messages{where})")
        return self._verdict(failures, f"throughput {measured:,.1f} msg/s >= {float(minimum):,.1f}",
                             measured)

    @keyword
    def memory_growth_should_be_below(self, limit: ByteSize, process: str = "both",
                                      result=None) -> int:
        """Fails unless resident memory grew by less than ``limit`` (``100 MB``, ``512 KiB``)
        during the load.

        Growth is the peak RSS sampled during the step minus the RSS at its start (for a
        scaling result: over all steps, from the first step's start). ``process`` is
        ``generator`` (this Robot process), ``server`` (the embedded mock server; an
        external server cannot be measured) or ``both``. Returns the largest growth in bytes.

        Example:
        | Run Sustained Load | 500/s | 60 s |
        | Memory Growth Should Be Below | 100 MB |
        """
        process = process.strip().lower()
        if process not in (*SIDES, "both"):
            raise UsageError(f"process must be generator, server or both, got {process!r}")
        target = self._target(result, "memory growth")
        sides = SIDES if process == "both" else (process,)
        growths = {side: _growth(target, side) for side in sides}
        measured = {side: g for side, g in growths.items() if g is not None}
        if not measured:
            raise CheckFailed(f"no memory samples of the {process} process in this result"
                              f"{' (an external server cannot be measured)' if process != 'generator' else ''}")
        if process == "server" and growths["server"] is None:
            raise CheckFailed("the server's memory was not sampled: only the embedded mock "
                              "server can be measured")
        over = target.messages if isinstance(target, ScalingResult) else target.sent
        failures = [f"{side} memory grew by {format_bytes(g)}, expected below {limit} "
                    f"(over {over:,} messages{_step(target)})"
                    for side, g in measured.items() if g >= limit]
        shown = ", ".join(f"{side} {format_bytes(g)}" for side, g in measured.items())
        return self._verdict(failures, f"memory growth {shown} < {limit}", max(measured.values()))

    @keyword
    def memory_per_connection_should_be_below(self, limit: ByteSize, side: str = "generator",
                                              result=None) -> float:
        """Fails unless each connection opened cost less than ``limit`` of memory
        (``10 KB`` is 10,000 bytes, ``10 KiB`` 10,240); returns the bytes per connection.

        Measured by `Open Connections At Rate` over its own open (its result's memory
        figures): the growth of resident memory (RSS) from just before the first connection
        to just after the last, of every process of the ``side`` together, divided by the
        connections opened. ``side`` is ``generator`` (this process, or the worker
        processes that hold the connections when the count needs several), ``heap`` (the
        generator's allocated heap instead of its RSS: what the connections hold, without
        the pages the allocator kept) or ``server`` (the embedded mock server, all its
        processes; an external server cannot be measured).

        Example:
        | Open Connections At Rate | 100000 | 3000/s |
        | Memory Per Connection Should Be Below | 10 KB |
        | Memory Per Connection Should Be Below | 30 KB | side=server |
        """
        side = side.strip().lower()
        if side not in ("generator", "heap", "server"):
            raise UsageError(f"side must be generator, heap or server, got {side!r}")
        target = checked_target(self, result, "memory per connection")
        memory = target.sections.get(ConnectionMemory.kind)
        if memory is None:
            raise UsageError(f"cannot check memory per connection: {target.name!r} has no "
                             f"memory figures (they come from Open Connections At Rate)")
        measured = memory.per_connection(side)
        if measured is None:
            raise CheckFailed(f"the {side} memory per connection was not measured"
                              f"{' (only the embedded mock server can be)' if side == 'server' else ''}")
        processes = memory.server_processes if side == "server" else memory.generator_processes
        detail = (f"{side} memory per connection is {format_bytes(measured)} (over "
                  f"{memory.connections:,} connections in {processes} process(es))")
        if measured >= limit:
            return self._verdict([f"{detail}, expected below {limit}"], "", None)
        return self._verdict([], f"{detail} < {limit}", measured)

    @keyword
    def scaling_efficiency_should_be_at_least(self, minimum: Ratio, result=None) -> float:
        """Fails unless every step of a scaling result reached ``minimum`` of linear
        scaling (``0.9`` or ``90%``).

        A step's efficiency is its achieved throughput divided by the throughput linear
        scaling would give: its target rate for paced steps, or the first step's throughput
        per connection times its connections for ``max`` steps. Needs the result of `Run
        Rate Scaling` or `Run Connection Scaling`. Returns the worst step's efficiency.

        Example:
        | Run Connection Scaling | ${counts} | 100/s | 5 s |
        | Scaling Efficiency Should Be At Least | 90% |
        """
        target = self._target(result, "scaling efficiency")
        if not isinstance(target, ScalingResult):
            raise CheckFailed("scaling efficiency needs the result of Run Rate Scaling or "
                              f"Run Connection Scaling, got a single step ({target.name!r})")
        failures = [f"step {step.name!r}: efficiency {efficiency:.3f}, expected at least "
                    f"{minimum:g} ({step.achieved_receive_rate:,.1f} of "
                    f"{target.ideal_throughput(step):,.1f} msg/s over {step.sent:,} messages)"
                    for step, efficiency in zip(target.steps, target.efficiencies)
                    if efficiency < minimum]
        return self._verdict(failures, f"scaling efficiency {target.efficiency:.3f} >= {minimum:g}",
                             target.efficiency)

    # -- shared ------------------------------------------------------------------------
    def _target(self, result, what: str):
        return checked_target(self, result, what)

    def _results(self, result, what: str) -> list[LoadResult]:
        target = self._target(result, what)
        return list(target.steps) if isinstance(target, ScalingResult) else [target]

    def _latency(self, percentile: Percentile, limit: Duration, result) -> float:
        label = f"latency {percentile}"
        failures, values = [], []
        for step in self._results(result, label):
            over = (f"over {_over(step)}, "
                    f"{step.lost + step.send_errors:,} lost; latency from "
                    f"{step.latency_basis}{_step(step)}")
            if step.received == 0:
                failures.append(f"{label} cannot be measured: no replies ({over})")
                continue
            # lost messages rank above every reply (LoadResult.latency_ms, the one definition)
            measured_ms = step.latency_ms(percentile)
            if math.isinf(measured_ms):
                failures.append(
                    f"{label} is beyond the reply timeout ({format_seconds(step.reply_timeout_s)}): "
                    f"more than {100 - percentile:g}% of messages got no reply ({over})")
                continue
            values.append(measured_ms)
            if measured_ms >= limit * 1000:
                failures.append(f"{label} is {measured_ms:,.3f} ms, expected below "
                                f"{format_seconds(limit)} ({over})")
        measured = max(values, default=float("nan"))
        return self._verdict(failures, f"{label} {measured:,.3f} ms < {format_seconds(limit)}",
                             measured)

    def _verdict(self, failures: list[str], passed: str, measured):
        return verdict(self, failures, passed, measured)


def checked_target(component, result, what: str):
    """The result to check (the last one unless given), refused when its load was not
    applied: no check may pass on figures that do not describe the planned load."""
    target = component.state.result_or_last(result, f"to check {what} on")
    if not target.load_applied:
        message = (f"Refusing to judge {what}: the planned load was not applied, so the "
                   f"figures do not describe it: " + "; ".join(target.not_applied_reasons))
        component.console(f"[FAIL] {message}")
        raise LoadNotApplied(message)
    return target


def verdict(component, failures: list[str], passed: str, measured):
    """Fail with the failures (each says expected vs measured), or log the pass."""
    if failures:
        message = failures[0] if len(failures) == 1 else (
            f"{len(failures)} steps failed:\n" + "\n".join(failures))
        component.console(f"[FAIL] {failures[0]}")
        raise CheckFailed(_capital(message))
    logger.info(_capital(passed))
    component.console(f"[PASS] {_capital(passed)}")
    return measured


def _over(step) -> str:
    """`400 messages: 400 replies`, or in the step's own terms (a fan-out's deliveries)."""
    return pattern_of(step.mode).counted(step)


def _received(step) -> str:
    """`900 replies to 1,000 messages`, or in the step's own terms."""
    return pattern_of(step.mode).received(step)


def _step(target) -> str:
    name = getattr(target, "name", "")
    return f"; step {name!r}" if name else ""


def _growth(target, side: str) -> int | None:
    if isinstance(target, ScalingResult):
        return target.memory_growth_bytes(side)
    return target.resources.get(side, {}).get("rss_growth_bytes")


def _capital(text: str) -> str:
    return text[:1].upper() + text[1:]

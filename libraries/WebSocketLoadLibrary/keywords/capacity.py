"""Keywords that search for a server's capacity: the highest rate, or the most connections,
within its targets."""
from __future__ import annotations

import dataclasses

from robot.api import logger
from robot.api.deco import keyword

from ..base.capacity_probes import (agents_runner, connections_step, current_clients_runner,
                                    subscribers_step)
from ..base.component import LibraryComponent
from ..base.step_report import log_charts, save_result
from ..engine import ConnectionOptions
from ..engine import (CONNECTIONS_UNIT, GENERATOR_LIMIT, LOW_MISSED, MET, RATE_UNIT,
                      SUBSCRIBERS_UNIT, CapacityResult, CapacityTargets, ConnectionsProbe,
                      SearchSettings, amount, find_capacity)
from ..engine import OpeningMessages
from ..errors import ArgumentError, CheckFailed, RunError, UsageError
from ..reports.summary_table import capacity_table
from ..utils.arguments import Duration, Rate, Ratio
from ..utils.capacity_arguments import parse_minimum, parse_targets, search_settings


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
        settings = search_settings(RATE_UNIT, low, high, precision, step_factor, max_probes,
                                   time_budget, probe_duration, warm_up, pause, retries)
        runner = (agents_runner if on_agents else current_clients_runner)(
            self, float(reply_timeout), float(rate_tolerance))
        where = "on the load agents" if on_agents else "on the current clients"
        return self._search(settings, checked, runner, name, f"{low} .. {high}", where)

    @keyword
    def find_maximum_connections(self, low: int, high: int,
                                 rate_per_connection: Rate = Rate(1),
                                 connect_rate: Rate = Rate(500), uri: str | None = None,
                                 probe_duration: Duration = Duration(10),
                                 warm_up: Duration = Duration(2), pause: Duration = Duration(2),
                                 precision: Ratio = Ratio(0.05), max_probes: int = 12,
                                 time_budget: Duration = Duration(300), retries: int = 0,
                                 step_factor: float = 2.0,
                                 reply_timeout: Duration = Duration(5),
                                 rate_tolerance: Ratio = Ratio(0.05),
                                 settle: Duration = Duration(0.3),
                                 name: str = "connection capacity",
                                 **targets: str) -> CapacityResult:
        """Searches for the most connections the server holds while still meeting the
        targets, between ``low`` and ``high`` connections; returns the search with every
        probe.

        The search, the targets and the result are those of `Find Maximum Rate` (see
        there: the targets as named arguments, ``precision``, ``max_probes``,
        ``time_budget``, ``retries``, ``step_factor``, choosing the probe duration), with
        the number of connections in place of the rate: it steps up from ``low``
        connections (doubling by default) until a probe misses the targets, then bisects
        to ``precision`` (never finer than one connection).

        A probe at n connections opens n new connections to ``uri`` (default: the
        current client group's target and options, or else the current mock server) at
        ``connect_rate`` per second, waits ``settle`` for a server that closes what is
        over its limit right after the handshake, then runs a ``warm-up`` and a measured
        step of ``probe_duration`` at ``rate_per_connection`` x n msg/s on them (1/s
        each by default), judged by the targets; then it closes them, before the
        ``pause``. The current client group is not used for the probes, nor closed.

        *Failed connections miss the targets*: a connection that could not be opened
        (refused, timed out, ``HTTP 503``, ...) or that the server closed during the
        settle (code 1013, a connection limit) means the server did not take n
        connections, whatever the latency of the rest; the probe's verdict says how many
        failed and why. Connections the server closes *during* a step end the search as
        the server lost, as with `Find Maximum Rate`. A probe whose messages the
        generator could not send at the rate is the generator's limit, not the server's
        (the result says so); lower ``rate_per_connection`` or use load agents.

        The capacity and every figure of the result are in connections (the result's
        ``unit``); the log table and chart show connections per probe, and
        `Capacity Should Be At Least` takes ``1000 connections`` or ``1000``.

        Example:
        | ${found}= | Find Maximum Connections | 100 | 20000 | rate_per_connection=0.5/s | probe_duration=10 s | p95=200 ms | delivery=99.9% |
        | Log | ${found.capacity} connections |
        | Capacity Should Be At Least | 5000 connections |
        """
        if rate_per_connection.per_second is None or connect_rate.per_second is None:
            raise ArgumentError("rate_per_connection and connect_rate must be rates such as "
                                "1/s, not max: the search paces every probe")
        checked = parse_targets(targets)
        settings = search_settings(CONNECTIONS_UNIT, low, high, precision, step_factor, max_probes,
                                   time_budget, probe_duration, warm_up, pause, retries)
        if uri is not None:
            options = ConnectionOptions(uri)
        elif self.state.clients:
            options = self.state.clients.current.options
        else:
            options = ConnectionOptions(self.state.servers.current.uri)
        step = connections_step(self, options, float(reply_timeout), float(rate_tolerance))
        runner = ConnectionsProbe(self.state.engine, options, float(rate_per_connection),
                                  step, float(connect_rate), float(settle))
        where = (f"to {options.uri} at {float(rate_per_connection):g} msg/s per connection, "
                 f"opened at {float(connect_rate):g}/s")
        try:
            return self._search(settings, checked, runner, name, f"{low} .. {high} "
                                f"connections", where)
        finally:
            runner.end_probe()

    @keyword
    def find_maximum_subscribers(self, low: int, high: int, publish_rate: Rate,
                                 opening_messages: list[str] | str,
                                 opening_reply: str | None = None,
                                 publishers: str | None = None,
                                 connect_rate: Rate = Rate(500), uri: str | None = None,
                                 probe_duration: Duration = Duration(10),
                                 warm_up: Duration = Duration(2), pause: Duration = Duration(2),
                                 precision: Ratio = Ratio(0.05), max_probes: int = 12,
                                 time_budget: Duration = Duration(300), retries: int = 0,
                                 step_factor: float = 2.0,
                                 delivery_timeout: Duration = Duration(5),
                                 rate_tolerance: Ratio = Ratio(0.05),
                                 settle: Duration = Duration(0.3),
                                 name: str = "subscriber capacity",
                                 **targets: str) -> CapacityResult:
        """Searches for the most subscribers a publish/subscribe server serves while
        still meeting the targets: `Find Maximum Connections` for a fan-out.

        A probe at n opens n subscriber connections at ``connect_rate`` per second, each
        saying ``opening_messages`` (its subscription) and waiting for ``opening_reply``,
        lets them ``settle``, then publishes at ``publish_rate`` from the ``publishers``
        client group (the current one by default: open it with `Connect Clients` and set
        the publish message with `Set Message Template` first) as `Publish At Rate` does,
        each publish expected at every one of the n subscribers. The targets are judged on
        that: ``delivery=99.9%`` (deliveries per delivery expected), latency percentiles
        of every delivery (a lost delivery ranks above all), ``errors=``. A subscriber
        that could not subscribe misses the targets (the verdict says how many and why).
        The probe's subscribers are closed before the pause. The search, the budgets, the
        result and `Capacity Should Be At Least` (``500 subscribers``) are as in `Find
        Maximum Rate`.

        Example:
        | Connect Clients | count=1 | alias=writer |
        | Set Message Template | {"op":"publish","topic":"room","message_id":$message_id,"send_time":$send_time} |
        | Find Maximum Subscribers | 100 | 10000 | publish_rate=10/s | opening_messages={"op":"subscribe","topic":"room"} | opening_reply=op == subscribed | p99=200 ms | delivery=99.9% |
        | Capacity Should Be At Least | 2000 subscribers |
        """
        checked = parse_targets(targets)
        if publish_rate.per_second is None or connect_rate.per_second is None:
            raise ArgumentError("publish_rate and connect_rate must be rates such as 10/s, "
                                "not max: the search paces every probe")
        writers = self.state.clients.get(publishers)
        settings = search_settings(SUBSCRIBERS_UNIT, low, high, precision, step_factor, max_probes,
                                   time_budget, probe_duration, warm_up, pause, retries)
        # the publishers' options (token, headers, transport) with the subscription
        options = dataclasses.replace(writers.options, uri=uri or writers.options.uri,
                                      opening=OpeningMessages(opening_messages, opening_reply))
        step = subscribers_step(self, writers, options, float(delivery_timeout),
                                float(rate_tolerance))
        runner = ConnectionsProbe(self.state.engine, options, 1.0, step,
                                  float(connect_rate), float(settle),
                                  fixed_rate=float(publish_rate))
        where = (f"to {options.uri}, publishing at {float(publish_rate):g}/s, subscribers "
                 f"opened at {float(connect_rate):g}/s")
        try:
            return self._search(settings, checked, runner, name, f"{low} .. {high} "
                                f"subscribers", where)
        finally:
            runner.end_probe()

    def _search(self, settings: SearchSettings, checked: CapacityTargets, runner, name: str,
                between: str, where: str) -> CapacityResult:
        self.console(f"[INFO] {name}: searching {between} for {checked.describe()} "
                     f"{where} (probes of {settings.probe_s:g} s after "
                     f"{settings.warm_up_s:g} s warm-up, precision {settings.precision:.0%}, "
                     f"at most {settings.max_probes} probes in {settings.time_budget_s:g} s)")
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
    def capacity_should_be_at_least(self, minimum: str, result=None) -> float:
        """Fails unless the capacity found by `Find Maximum Rate` (the last result, or
        ``result``) is at least ``minimum`` msg/s; returns the capacity.

        After `Find Maximum Connections` the minimum is a number of connections:
        ``1000 connections``, ``1k connections`` or ``1000``; after `Find Maximum
        Subscribers` a number of subscribers: ``500 subscribers``.

        The failure says what was found and where the targets were missed. When the
        search hit the generator's limit below ``minimum``, the server was never shown to
        fall short: the failure says ``generator limit`` and at which rate, so that the
        load is lifted (load agents, ``on_agents=True``) rather than the server blamed.
        A search that ended on a budget before any rate missed the targets gives only a
        lower bound, and a failure says that too.

        Examples:
        | Find Maximum Rate | 500/s | 20k/s | p95=200 ms |
        | Capacity Should Be At Least | 2000/s |
        | Find Maximum Connections | 100 | 20000 | p95=200 ms |
        | Capacity Should Be At Least | 1000 connections |
        """
        found = result if result is not None else self.state.last_result
        if not isinstance(found, CapacityResult):
            raise UsageError("Capacity Should Be At Least needs the result of Find Maximum "
                             "Rate or Find Maximum Connections: run it first, or pass its "
                             "result as result=")
        unit = found.unit
        wanted = parse_minimum(minimum, unit)
        capacity = found.capacity_msg_s
        if capacity is not None and capacity >= wanted:
            logger.info(f"Capacity {amount(capacity, unit)} is at least "
                        f"{amount(wanted, unit)} ({found.targets.describe()}).")
            return capacity
        if found.stop_reason == GENERATOR_LIMIT:
            raise CheckFailed(f"Capacity could not be shown to be at least "
                              f"{amount(wanted, unit)}: {found.message}. The generator, not "
                              f"the server, stopped the search: run the probes on load "
                              f"agents (on_agents=True).")
        if capacity is not None and found.lower_bound:
            raise CheckFailed(f"Capacity is at least {amount(capacity, unit)}, not shown to "
                              f"be at least {amount(wanted, unit)}: {found.message}")
        shown = "none" if capacity is None else amount(capacity, unit)
        raise CheckFailed(f"Capacity is {shown}, expected at least {amount(wanted, unit)}: "
                          f"{found.message}")

    # -- reporting -----------------------------------------------------------------------
    def _tell_probe(self, found: CapacityResult, step) -> None:
        probe = found.probe(step)
        words = "met the targets" if probe.outcome == MET else (
            f"{probe.outcome}: " + "; ".join(probe.reasons))
        self.console(f"[INFO] {found.name}: probe {len(found.steps)} at "
                     f"{amount(probe.rate, found.unit)} {words}")

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

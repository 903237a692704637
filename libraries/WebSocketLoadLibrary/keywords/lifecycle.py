"""Keywords for connection storms: open connections at a rate, check how fast and how many."""
from __future__ import annotations

from robot.api import logger
from robot.api.deco import keyword
from robot.api.types import Secret

from ..base.component import LibraryComponent
from ..base.state import ClientGroup
from ..base.step_report import report_step
from ..engine import LoadResult
from ..engine import ArrivalPlan
from ..engine import ChurnPolicy
from ..engine import ReconnectPolicy
from ..engine import ConnectFigures, ConnectionMemory
from ..engine import PHASES
from ..engine import OpeningMessages
from ..errors import UsageError
from ..reports.formatting import format_seconds
from ..utils.arguments import ByteSize, Duration, Percentile, Rate, Ratio
from ..utils.tokens import token_from
from .assertions import checked_target, verdict
from .connections import connection_options, held_by_our_server
from .streams import count_or_share

PHASE_NAMES = ("total",) + PHASES


class LifecycleKeywords(LibraryComponent):

    @keyword
    def open_connections_at_rate(self, count: int, rate: Rate, uri: str | None = None,
                                 alias: str | None = None,
                                 opening_messages: list[str] | str | None = None,
                                 opening_reply: str | None = None,
                                 opening_timeout: Duration = Duration(5),
                                 open_timeout: Duration = Duration(10),
                                 token: Secret | str | None = None, token_env: str | None = None,
                                 headers: dict | None = None, ca_file: str | None = None,
                                 insecure: bool = False, transport: str = "auto",
                                 ping_interval: Duration | None = Duration(20),
                                 max_message_size: ByteSize = ByteSize(1 << 20),
                                 name: str | None = None, protocol: str | None = None,
                                 source_addresses: list[str] | str | None = None,
                                 processes: int | None = None,
                                 **protocol_options) -> LoadResult:
        """Opens ``count`` connections at ``rate`` per second (``2000/s``) and returns the
        result: connect latency by phase, and the failures by kind. The connections that
        opened form a client group (``alias``), which becomes current: a load step can run
        on them next.

        A connection storm -- a deploy drops every client and they all come back, a fleet
        reconnects after an outage -- is an open loop of connections: connection k is due
        at k / rate, and its attempt starts then whether or not earlier ones have opened,
        so a server slow to accept sees the pile-up it would see in production. *Connect
        latency* runs from the due time to the connection being open (its opening messages
        answered, when there are any); each phase is timed besides: ``tcp`` (TCP connect),
        ``tls`` (picows transport only; with websockets TLS is part of the handshake),
        ``handshake`` (the HTTP upgrade), ``protocol`` (the handshake of the protocol spoken
        over WebSocket, with ``protocol=socketio`` and the like, as in `Connect Clients`)
        and ``opening`` (the opening messages).

        A failed connection does not fail the keyword: it is counted by kind -- refused,
        timed out, ``HTTP 503``, ``HTTP 429``, ``HTTP 401``, TLS, DNS, reset, protocol
        handshake, opening messages -- with the first explanation of each kind in the summary table. Check
        them with `Connection Failures Should Be At Most`, and the latency with `Connect
        Latency P95 Should Be Below`. If the generator could not start the attempts on
        schedule (over 5% more than the late bound behind, or behind for over a second),
        the result is marked *not applied* and those checks refuse to pass.

        Arguments not described here are as in `Connect Clients` (``source_addresses``
        and ``processes`` too); ``open_timeout`` bounds each attempt's TCP connect and
        handshake (an attempt past it is *timed out*).

        *Large counts.* Before the first attempt the host's limits are read: the
        open-file limit (raised to the hard limit), the ephemeral ports per source
        address, somaxconn and the SYN backlog. A count one process cannot hold is opened
        by as many worker processes as it needs, each its share at its share of the rate,
        from one moment on, and held there: the group, its steps and their results are
        one to you, as ever. Against a mock server of this library, the server runs as
        many processes as the count needs too. When the host cannot serve the count at
        the rate, the keyword fails before any connection opens, naming the limit, its
        value, what is needed and how to raise it. The result's memory figures give the
        generator's and the mock server's memory per connection (RSS growth over the
        open, all their processes together, and the generator's heap per connection) and
        the host's limits: check them with `Memory Per Connection Should Be Below`. See
        the README, "Scale".

        Measured here (2 cores, the picows mock server on the same machine): about 2,000
        connections a second kept to schedule, connect p50 1.4 ms, on the default event
        loop (uvloop); imported with ``loop=asyncio`` the opener falls behind near 1,500 a
        second (and says so). Past what the two cores give both sides (about 0.6 ms of
        CPU per connection, generator and server together) the opener is flagged late
        rather than its rate claimed.

        Example:
        | Open Connections At Rate | 1000 | 500/s | opening_messages={"op":"subscribe","topic":"t"} | opening_reply=op == subscribed |
        | Connection Failures Should Be At Most | 0 |
        | Connect Latency P95 Should Be Below | 100 ms |
        | Send Burst At Rate | 10000 | 2k/s |
        """
        if rate.per_second is None:
            raise UsageError("connections open at a paced rate such as 500/s, not max")
        if uri is None:
            uri = self.state.servers.current.uri
        options = connection_options(uri, token_from(token, token_env), headers, None, ca_file,
                                     insecure, False, open_timeout, ping_interval,
                                     max_message_size, transport, protocol, protocol_options,
                                     source_addresses)
        if opening_messages:
            options.opening = OpeningMessages(opening_messages, opening_reply,
                                              float(opening_timeout))
        plan = ArrivalPlan(count, rate.per_second,
                           name or f"{count:,} connections at {rate}")
        self.console(f"[INFO] {plan.name}: opening {count:,} connections at "
                     f"{rate.per_second:,.0f}/s")
        server_pids = held_by_our_server(self.state, options.uri, count)
        pool, result = self.state.engine.open_at_rate(options, plan, server_pids=server_pids,
                                                      processes=processes)
        self.state.clients.register(ClientGroup(pool, options, count, alias), alias)
        connect = result.sections[ConnectFigures.kind]
        report_step(self, result, plan.name)
        logger.info(f"{connect.opened:,} of {count:,} connections open; failures: "
                    f"{connect.describe_failures()}.")
        memory = result.sections.get(ConnectionMemory.kind)
        if memory is not None:
            self.console(f"[INFO] {plan.name}: " + "; ".join(
                f"{label} {text}" for label, text in memory.rows()[:2]))
        return result

    @keyword
    def connect_latency_p95_should_be_below(self, limit: Duration, phase: str = "total",
                                            result=None) -> float:
        """Fails unless 95% of the connections opened within ``limit`` of their due time
        (``phase=total``), or within ``limit`` in one phase (``tcp``, ``tls``, ``handshake``,
        ``opening``). See `Connect Latency Percentile Should Be Below`."""
        return self.connect_latency_percentile_should_be_below(Percentile(95), limit, phase,
                                                               result)

    @keyword
    def connect_latency_percentile_should_be_below(self, percentile: Percentile,
                                                   limit: Duration, phase: str = "total",
                                                   result=None) -> float:
        """Fails unless the given ``percentile`` of connect latency is below ``limit``.

        Connect latency runs from a connection's due time in `Open Connections At Rate`
        to its being open; a phase is timed from its own start. Failed connections rank
        above every opened one (as lost messages do for message latency): with more than
        (100 - percentile)% failed, the check fails however fast the rest opened. Returns
        the measured value in ms."""
        if phase not in PHASE_NAMES:
            raise UsageError(f"phase must be one of {', '.join(PHASE_NAMES)}, got {phase!r}")
        connect = self._connect(result, f"connect latency {percentile}")
        label = f"connect latency {percentile}" + ("" if phase == "total" else f" ({phase})")
        histogram = connect.histograms[phase]
        over = (f"over {connect.attempted:,} connections: {connect.opened:,} opened, "
                f"{connect.failed:,} failed ({connect.describe_failures()})")
        if not histogram.count:
            return verdict(self, [f"{label} cannot be measured: no connection got through "
                                  f"that phase ({over})"], "", None)
        within = percentile * connect.attempted / histogram.count if phase == "total" \
            else float(percentile)
        if within > 100:
            return verdict(self, [f"{label} is beyond the open timeout: more than "
                                  f"{100 - percentile:g}% of connections failed ({over})"], "",
                           None)
        measured = histogram.percentile_us(within) / 1000
        if measured >= limit * 1000:
            return verdict(self, [f"{label} is {measured:,.3f} ms, expected below "
                                  f"{format_seconds(limit)} ({over})"], "", None)
        return verdict(self, [], f"{label} {measured:,.3f} ms < {format_seconds(limit)} "
                                 f"({over})", measured)

    @keyword
    def connection_failures_should_be_at_most(self, maximum: str, result=None) -> int:
        """Fails unless at most ``maximum`` connections failed to open: a count (``0``) or a
        share of the attempts (``1%``). The message lists the failures by kind. Returns the
        number that failed."""
        connect = self._connect(result, "connection failures")
        limit, share = count_or_share(maximum)
        allowed = limit if share is None else share * connect.attempted
        detail = (f"{connect.failed:,} of {connect.attempted:,} connections failed "
                  f"({connect.failure_ratio:.2%}): {connect.describe_failures()}")
        if connect.failed > allowed:
            return verdict(self, [f"{detail}; expected at most {maximum}"], "", None)
        return verdict(self, [], f"{detail}; at most {maximum}", connect.failed)

    @keyword
    def reconnect_clients_automatically(self, max_attempts: int = 5,
                                        initial_delay: Duration = Duration(0.1),
                                        max_delay: Duration = Duration(5),
                                        multiplier: float = 2.0, jitter: Ratio = Ratio(0.2),
                                        alias: str | None = None) -> None:
        """From now on, a connection of the current (or ``alias``) client group that the
        server closes, or that drops, is opened again in its place.

        Before each attempt it waits a backoff: ``initial_delay``, times ``multiplier`` per
        failed attempt, at most ``max_delay``, each spread by up to ``jitter`` either way so
        that a fleet does not come back in the same millisecond. The new connection says
        the group's opening messages again and takes over the old one's share of the load
        at once. After ``max_attempts`` failed attempts in a row the connection is given up:
        a load step then fails on it as on any lost connection, naming the reason.

        During a step, the result's lifecycle figures count reconnects, failed attempts,
        the time from a close to the connection being back (a histogram), and the
        messages lost while it was down (they count as lost for the delivery ratio). A
        close that was recovered from does not fail the step. Without this keyword
        (the default) a closed connection stays closed.

        Example:
        | Connect Clients | count=100 |
        | Reconnect Clients Automatically | max_attempts=10 | initial_delay=50 ms |
        | Run Sustained Load | 1000/s | 60 s |
        | Delivery Ratio Should Be At Least | 99% |
        """
        policy = ReconnectPolicy(max_attempts, float(initial_delay), float(max_delay),
                                 float(multiplier), float(jitter))
        group = self.state.clients.get(alias)
        self.state.engine.set_lifecycle(group.pool, reconnect=policy, keep=True)
        logger.info(f"Client group {alias or 'current'}: {policy.describe()}.")

    @keyword
    def churn_clients(self, lifetime: Duration, max_lifetime: Duration | None = None,
                      alias: str | None = None) -> None:
        """From now on, each connection of the current (or ``alias``) client group lives
        ``lifetime`` (or a time uniformly between ``lifetime`` and ``max_lifetime``), then
        the client closes it and opens another in its place at once, holding the number of
        open connections steady while messages flow.

        The first lifetimes of the connections already open are spread over one lifetime,
        so that churn is steady from the start. Messages in flight on a connection closed
        this way are *cut by close*: neither delivered nor lost, and left out of the
        delivery ratio (the client's doing, not the server's); the result's lifecycle
        figures count them, with the connections closed and opened. `Stop Churn And
        Reconnects` ends it.

        Example:
        | Churn Clients | 2 s | 5 s |
        | Run Sustained Load | 500/s | 30 s |
        | Delivery Ratio Should Be At Least | 100% |
        """
        policy = ChurnPolicy(float(lifetime), None if max_lifetime is None
                             else float(max_lifetime))
        group = self.state.clients.get(alias)
        self.state.engine.set_lifecycle(group.pool, churn=policy, keep=True)
        logger.info(f"Client group {alias or 'current'}: {policy.describe()}.")

    @keyword
    def stop_churn_and_reconnects(self, alias: str | None = None) -> None:
        """Ends `Churn Clients` and `Reconnect Clients Automatically` on the current (or
        ``alias``) client group: its connections stay as they are from now on."""
        self.state.engine.set_lifecycle(self.state.clients.get(alias).pool)

    def _connect(self, result, what: str) -> ConnectFigures:
        target = checked_target(self, result, what)
        connect = target.sections.get(ConnectFigures.kind)
        if connect is None:
            raise UsageError(f"cannot check {what}: {target.name!r} has no connection figures "
                             f"(they come from Open Connections At Rate)")
        return connect

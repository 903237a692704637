"""Keywords that apply load: a burst, a sustained rate, rate scaling, connection scaling."""
from __future__ import annotations

from robot.api import logger
from robot.api.deco import keyword

from ..base.component import LibraryComponent
from ..base.state import ClientGroup
from ..base.step_report import log_charts, run_step, save_result
from ..engine import ConnectionOptions, LoadPlan, LoadResult, ScalingResult
from ..engine import MultiReplySpec
from ..engine import MAX_RUN
from ..engine import WAKE_INTERVAL_PER_RATE, WAKE_INTERVAL_S
from ..errors import ArgumentError, UsageError
from ..reports.summary_table import scaling_table
from ..utils.arguments import Duration, Rate, Ratio

class LoadKeywords(LibraryComponent):

    @keyword
    def set_pacing(self, wake_interval: str = "auto", max_run: str = "auto") -> None:
        """Sets how the paced steps that follow spread their messages over time and over
        the connections. The defaults (``auto``) suit most runs; the settings hold until
        set again.

        ``wake_interval``: when it keeps up, the pacer wakes at most this often and sends
        what fell due in between together. ``auto``: 0.25 ms, and from 25,000 msg/s on a
        longer interval, growing with the rate to 1 ms at 100,000 msg/s and above. ``0``
        wakes for every message at its own due time: the most precise sends, at the most
        CPU (a wake costs far more than a message: at 10,000 msg/s about a whole core
        here, against ~75% with ``auto``). Waiting for the next wake is part of a
        message's measured latency either way: latency counts from each message's own due
        time.

        ``max_run``: at most this many consecutive messages go to one connection before
        the next one's turn. ``auto``: 64, as many as one wake sends, and few enough that
        every connection has its turn within 20 ms. ``1`` sends one message per
        connection in turn: for a server that limits or smooths each connection's rate,
        where runs of 64 within a fraction of a millisecond would look like bursts.

        Example:
        | Set Pacing | max_run=1 |
        | Set Pacing | wake_interval=0 | max_run=1 | # every message on its own, in turns |
        | Set Pacing | # back to the defaults |
        """
        pacing = {}
        if str(wake_interval).strip().lower() != "auto":
            try:
                seconds = Duration.from_text(wake_interval)
            except ArgumentError:
                raise ArgumentError(f"a wake interval must be {Duration.FORMS}, or auto; got "
                                    f"{wake_interval!r}") from None
            pacing["wake_interval_s"] = float(seconds)
        if str(max_run).strip().lower() != "auto":
            try:
                pacing["max_run"] = int(str(max_run).strip())
            except ValueError:
                raise ArgumentError(f"the longest run (max_run) must be a whole number of "
                                    f"messages or auto, got {max_run!r}") from None
        LoadPlan(rate=1, messages=1, **pacing)  # the engine's own checks of both, now
        self.state.pacing = pacing
        shortest, longest = WAKE_INTERVAL_S
        logger.info("Pacing: wake interval "
                    + (f"{pacing['wake_interval_s'] * 1000:g} ms" if "wake_interval_s" in pacing
                       else f"auto ({shortest * 1000:g} ms, up to {longest * 1000:g} ms at "
                            f"{longest / WAKE_INTERVAL_PER_RATE:,.0f} msg/s)")
                    + ", runs of " + (f"at most {pacing['max_run']}" if "max_run" in pacing
                                      else f"up to {MAX_RUN} (auto)")
                    + " messages per connection")

    @keyword
    def send_burst_at_rate(self, messages: int, rate: Rate, timeout: Duration | None = None,
                           reply_timeout: Duration = Duration(5), window: int = 16,
                           rate_tolerance: Ratio = Ratio(0.05),
                           name: str | None = None,
                           fail_on_disconnect: bool = True, replies: int = 1,
                           last_reply: str | None = None) -> LoadResult:
        """Sends ``messages`` messages at ``rate`` over the current clients; returns the result.

        ``rate`` is the total rate over all connections: ``1000``, ``1000/s``, ``2k/s``, or
        ``max`` for as fast as the server answers. A paced rate is open loop: every message
        has an intended send time (message k at k / rate), the pacer sends what is due, and
        latency is measured from the intended time, so a stalled server or generator shows
        in the latency instead of hiding in fewer sends. With ``max`` each connection keeps
        ``window`` messages in flight and latency is service time (the result says which).

        Connections take the messages in turns: one message each at low rates, runs of up
        to 64 consecutive ones at high rates (every connection still has its turn within
        20 ms), so that one write carries several. The pacer wakes at most every 0.25 ms
        (from 25,000 msg/s on the interval grows with the rate, to 1 ms at 100,000 msg/s and
        above) and sends what fell due in between together: each wake costs more CPU than
        a message. That wait is part of the measured latency, never hidden from it.
        `Set Pacing` changes both.

        Replies are matched to messages by id; a message without a reply after
        ``reply_timeout`` counts as lost. The keyword fails if the step does not end within
        ``timeout`` (by default twice the planned sending time plus ``reply_timeout`` plus
        30 s), saying how far it got. A paced step whose achieved send rate falls short of
        the target by more than ``rate_tolerance``, or whose pacer was behind its schedule
        for a sustained part of the step (more than 5% of the messages sent late, beyond a
        0.25 s hiccup's worth of them, or over 1 s behind without a break: messages sent
        late and bunched, not the planned load), is marked *not applied*; the assertion
        keywords refuse to pass such a result. A single late send recovered at once is not: its
        latency counts the delay. See "Load applied" in the library introduction.

        The result becomes the last result for the assertion keywords, its summary table
        goes to the log and progress to the console.

        If the server closes connections during the step (or dies), the keyword fails
        with how many connections closed, why (close code and reason), and what was sent,
        received and lost so far; the result is still saved and kept as the last result.
        ``fail_on_disconnect=False`` returns the result instead, for tests that close
        connections on purpose.

        A server that answers each message in several parts (a GraphQL subscription's
        ``next`` ... ``complete``, an RPC stream): ``replies=3`` waits for three replies per
        message, ``last_reply=status == done`` until a reply matches that pattern (a
        ``field == value`` comparison or a regular expression). Latency then runs to the
        last part, and the latency to the first part is reported besides; a message whose
        last part did not come within ``reply_timeout`` is lost (*incomplete* when some parts
        came: its missing parts are counted as lost parts), and a part beyond the expected
        ones is counted as an extra part. Needs a paced rate.

        Example:
        | Connect Clients | count=10 |
        | Send Burst At Rate | 5000 | 1000/s |
        | Latency P95 Should Be Below | 200 ms |
        | ${result}= | Send Burst At Rate | messages=20000 | rate=max | window=32 |
        """
        plan = LoadPlan(rate=rate.per_second, messages=messages, window=window,
                        reply_timeout_s=float(reply_timeout), rate_tolerance=float(rate_tolerance),
                        name=name or f"burst {messages:,} at {rate}",
                        replies=_replies(replies, last_reply), **self.state.pacing)
        return self._run(self._group(), plan, timeout, fail_on_disconnect=fail_on_disconnect)

    @keyword
    def run_sustained_load(self, rate: Rate, duration: Duration, timeout: Duration | None = None,
                           reply_timeout: Duration = Duration(5), window: int = 16,
                           rate_tolerance: Ratio = Ratio(0.05),
                           name: str | None = None,
                           fail_on_disconnect: bool = True, replies: int = 1,
                           last_reply: str | None = None) -> LoadResult:
        """Sends at ``rate`` for ``duration`` over the current clients; returns the result.

        The same as `Send Burst At Rate` with a duration instead of a count: a paced rate
        sends rate x duration messages on schedule; ``max`` keeps ``window`` messages in
        flight per connection until the time is up. Memory of the generator and the mock
        server is sampled throughout, for `Memory Growth Should Be Below`. Connections closed
        during the step fail it unless ``fail_on_disconnect=False``, as in `Send Burst At Rate`,
        and ``replies`` / ``last_reply`` wait for replies in several parts as there.

        Example:
        | Run Sustained Load | 500/s | 30 s |
        | Memory Growth Should Be Below | 100 MB |
        """
        plan = LoadPlan(rate=rate.per_second, duration_s=float(duration), window=window,
                        reply_timeout_s=float(reply_timeout), rate_tolerance=float(rate_tolerance),
                        name=name or f"sustained {rate} for {duration}",
                        replies=_replies(replies, last_reply), **self.state.pacing)
        return self._run(self._group(), plan, timeout, fail_on_disconnect=fail_on_disconnect)

    @keyword
    def run_rate_scaling(self, rates: list[Rate], step_duration: Duration,
                         max_messages_per_step: int | None = None,
                         reply_timeout: Duration = Duration(5),
                         rate_tolerance: Ratio = Ratio(0.05),
                         name: str = "rate scaling") -> ScalingResult:
        """Runs one paced step per rate in ``rates`` on the current clients; returns them all.

        Each step sends at its rate for ``step_duration``, capped at
        ``max_messages_per_step`` messages when given. The result holds every step; the
        assertion keywords check every step (latency, delivery) or the series (`Throughput
        Should Be At Least` takes the peak, `Scaling Efficiency Should Be At Least` the
        least efficient step, efficiency being achieved / target throughput). The log gets
        one table row per step.

        Example:
        | @{rates}= | Create List | 100/s | 500/s | 1k/s | 2k/s |
        | Run Rate Scaling | ${rates} | 5 s | max_messages_per_step=5000 |
        | Scaling Efficiency Should Be At Least | 0.95 |
        """
        if not rates:
            raise UsageError("rates is empty: give at least one rate, e.g. [100, 500, 1k/s]")
        group = self._group()
        scaling = ScalingResult("rate", name)
        for rate in rates:
            messages = None
            if max_messages_per_step is not None and not rate.is_max:
                messages = max(1, min(max_messages_per_step, round(float(rate) * step_duration)))
            plan = LoadPlan(rate=rate.per_second, messages=messages,
                            duration_s=None if messages else float(step_duration),
                            reply_timeout_s=float(reply_timeout),
                            rate_tolerance=float(rate_tolerance), name=f"{name}: {rate}",
                            **self.state.pacing)
            scaling.steps.append(self._run(group, plan, None, remember=False))
        return self._finish_scaling(scaling)

    @keyword
    def run_connection_scaling(self, connection_counts: list[int], rate_per_connection: Rate,
                               duration: Duration, uri: str | None = None,
                               reply_timeout: Duration = Duration(5),
                               rate_tolerance: Ratio = Ratio(0.05),
                               name: str = "connection scaling") -> ScalingResult:
        """Runs one step per count in ``connection_counts``, each on that many fresh
        connections at ``rate_per_connection`` x connections, for ``duration``.

        Connections are opened like the current client group's (same URI, token, headers,
        TLS settings) or, with ``uri``, to that URI with default settings; they are closed
        after each step. ``rate_per_connection`` may be ``max``; efficiency is then measured
        against the first step's throughput per connection. The result holds every step,
        see `Run Rate Scaling` for how the assertions read it.

        Example:
        | @{counts}= | Create List | 1 | 5 | 10 | 25 |
        | Run Connection Scaling | ${counts} | 100/s | 5 s |
        | Scaling Efficiency Should Be At Least | 0.9 |
        """
        if not connection_counts:
            raise UsageError("connection_counts is empty: give at least one count, e.g. [1, 5, 10]")
        options = self._options_for(uri)
        scaling = ScalingResult("connections", name)
        engine = self.state.engine
        for count in connection_counts:
            pool = engine.connect(options, count=count)
            try:
                rate = None if rate_per_connection.is_max else float(rate_per_connection) * count
                plan = LoadPlan(rate=rate, duration_s=float(duration),
                                reply_timeout_s=float(reply_timeout),
                                rate_tolerance=float(rate_tolerance),
                                name=f"{name}: {count} connections", **self.state.pacing)
                scaling.steps.append(self._run(ClientGroup(pool, options, count), plan, None,
                                               remember=False))
            finally:
                engine.disconnect(pool)
        return self._finish_scaling(scaling)

    # -- running one step --------------------------------------------------------------
    def _group(self) -> ClientGroup:
        return self.state.clients.current

    def _options_for(self, uri: str | None):
        if uri is not None:
            return ConnectionOptions(uri)
        if self.state.clients:
            return self.state.clients.current.options
        return ConnectionOptions(self.state.servers.current.uri)

    def _run(self, group: ClientGroup, plan: LoadPlan, timeout: Duration | None,
             remember: bool = True, fail_on_disconnect: bool = True) -> LoadResult:
        return run_step(self, group, plan, timeout, remember, fail_on_disconnect)

    def _finish_scaling(self, scaling: ScalingResult) -> ScalingResult:
        self.state.files.remember_context(scaling)
        self._save(scaling)
        logger.info(scaling_table(scaling), html=True)
        log_charts(scaling)
        self.console(f"[INFO] {scaling.name}: efficiency {scaling.efficiency:.3f} (worst step), "
                     f"peak {scaling.peak_throughput:,.0f} msg/s")
        self.state.remember(scaling)
        return scaling

    def _save(self, result) -> None:
        save_result(self, result)


def _replies(replies: int, last_reply: str | None) -> MultiReplySpec | None:
    """The plan's several-replies rule, or None for one reply per message."""
    if replies < 1:
        raise UsageError(f"replies must be at least 1, got {replies}")
    if replies == 1 and not last_reply:
        return None
    return MultiReplySpec(None if last_reply and replies == 1 else replies, last_reply or None)

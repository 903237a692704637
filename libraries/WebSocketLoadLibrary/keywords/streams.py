"""Keywords for servers that push: listen to a stream, and check what arrived."""
from __future__ import annotations

import re

from robot.api.deco import keyword
from robot.utils import timestr_to_secs

from ..base.component import LibraryComponent
from ..base.step_report import run_step
from ..engine import LoadResult
from ..engine import LoadPlan
from ..engine import PushCounts
from ..engine import StreamFigures
from ..engine import StreamSpec
from ..errors import ArgumentError, UsageError
from ..reports.formatting import format_seconds
from ..utils.arguments import Duration, Percentile, Rate
from .assertions import checked_target, verdict

COUNT_OR_SHARE = "a whole number of messages (10) or a share of them (0.1%)"
LISTEN_TIMEOUT_S = 60.0   # a count without a duration: how long it may take at most


class StreamKeywords(LibraryComponent):

    @keyword
    def listen_for_messages(self, duration: Duration | None = None, count: int | None = None,
                            sequence_field: str | None = None,
                            timestamp_field: str | None = None, timestamp_unit: str = "s",
                            clock_offset: str = "0 s", timeout: Duration | None = None,
                            name: str | None = None,
                            fail_on_disconnect: bool = True) -> LoadResult:
        """Sends nothing and measures what the server pushes to the current clients, for
        ``duration`` or until ``count`` messages have arrived (whichever comes first).

        For feeds, market data, dashboards and subscriptions: open the connections with
        their subscription as opening messages (`Connect Clients` ``opening_messages``),
        then listen. Every message that arrives on the group's connections counts:
        messages and bytes per second, per connection (the slowest connection is named),
        and the gaps between a connection's messages as a histogram.

        | =Argument= | =Meaning= |
        | ``sequence_field`` | JSON field with a number that grows by one per message on a connection (``seq``; dotted for nested fields): gives missing, duplicate and out-of-order messages. A connection's first number is its start: joining a running feed misses nothing |
        | ``timestamp_field`` | JSON field with the time the server sent the message: gives *staleness*, its age on arrival, as an HdrHistogram |
        | ``timestamp_unit`` | ``s`` (default), ``ms``, ``us`` or ``ns`` since the epoch, or ``iso`` for ISO-8601 text |
        | ``clock_offset`` | the server's clock minus this machine's (``-12 ms``, ``0.3 s``), for a server on another machine; a timestamp still in the future after it is counted, and recorded as 0 |
        | ``timeout`` | the keyword fails if listening has not ended by then (default: ``duration`` + 30 s, or 60 s with only a ``count``) |

        Fields are found by their name, without parsing the whole message, so hundreds of
        thousands of messages a second are read on one core. A message without the field
        is counted (``without``), never a crash. Pushes are not requests: nothing is lost
        or late in this step; its load counts as *not applied* only when messages waited
        unread in this machine's sockets for over 100 ms at the median (the generator,
        not the server, could not keep up, and staleness would include its queueing).

        The result becomes the last result; the stream's figures are in its summary table,
        its saved JSON and its charts. Check them with `Stream Rate Should Be At Least`,
        `Missing Messages Should Be At Most` and `Staleness P99 Should Be Below`.

        Example:
        | Connect Clients | count=50 | opening_messages={"op":"stream","rate":100,"duration":10} | opening_reply=op == streaming |
        | Listen For Messages | 5 s | sequence_field=seq | timestamp_field=ts |
        | Stream Rate Should Be At Least | 4000/s |
        | Missing Messages Should Be At Most | 0 |
        | Staleness P99 Should Be Below | 50 ms |
        """
        plan = listen_plan(duration, count, sequence_field, timestamp_field, timestamp_unit,
                           clock_offset, name)
        if timeout is None and duration is None:
            timeout = Duration(LISTEN_TIMEOUT_S)
        return run_step(self, self.state.clients.current, plan, timeout,
                        fail_on_disconnect=fail_on_disconnect)

    # -- assertions --------------------------------------------------------------------
    @keyword
    def stream_rate_should_be_at_least(self, minimum: Rate, per_connection: bool = False,
                                       result=None) -> float:
        """Fails unless the messages that arrived in a listen step came at ``minimum`` a
        second or more (``4000/s``, ``5k/s``); over all connections, or with
        ``per_connection=True`` on the slowest connection. Returns the measured rate."""
        stream = self._stream(result, "the stream rate")
        measured = stream.rate_per_connection_min if per_connection else stream.rate
        what = "slowest connection's stream rate" if per_connection else "stream rate"
        over = (f"{stream.messages:,} messages over {stream.connections:,} connection(s) in "
                f"{stream.duration_s:.2f} s")
        if measured < minimum.per_second:
            return self._fail(f"{what} is {measured:,.1f} msg/s, expected at least "
                              f"{float(minimum):,.1f} msg/s ({over})")
        return self._pass(f"{what} {measured:,.1f} msg/s >= {float(minimum):,.1f} msg/s "
                          f"({over})", measured)

    @keyword
    def missing_messages_should_be_at_most(self, maximum: str, result=None) -> int:
        """Fails unless the stream's sequence numbers show at most ``maximum`` missing
        messages: a count (``0``, ``10``) or a share of the messages the numbers say were
        sent (``0.1%``). Needs ``sequence_field`` in `Listen For Messages`. Duplicates and
        messages out of order are reported with it. Returns the missing count."""
        stream = self._stream(result, "missing messages")
        if not stream.sequence_field:
            raise UsageError("missing messages need sequence numbers: give sequence_field "
                             "to Listen For Messages")
        limit, share = count_or_share(maximum)
        allowed = limit if share is None else share * stream.expected
        detail = (f"{stream.missing:,} of {stream.expected:,} expected "
                  f"({stream.missing_ratio:.4%}); {stream.duplicates:,} duplicate, "
                  f"{stream.out_of_order:,} out of order, {stream.without_sequence:,} without "
                  f"{stream.sequence_field}")
        if stream.missing > allowed:
            return self._fail(f"missing messages: {detail}; expected at most {maximum}")
        return self._pass(f"missing messages: {detail} <= {maximum}", stream.missing)

    @keyword
    def staleness_p99_should_be_below(self, limit: Duration, result=None) -> float:
        """Fails unless 99% of the stream's messages were younger than ``limit`` on arrival.
        See `Staleness Percentile Should Be Below`."""
        return self.staleness_percentile_should_be_below(Percentile(99), limit, result)

    @keyword
    def staleness_percentile_should_be_below(self, percentile: Percentile, limit: Duration,
                                             result=None) -> float:
        """Fails unless the given ``percentile`` of staleness -- a message's arrival time
        minus the time the server wrote in it (``timestamp_field``), corrected by the
        clock offset -- is below ``limit``. Messages without a timestamp do not count;
        how many there were is in the message. Returns the measured value in ms."""
        stream = self._stream(result, f"staleness {percentile}")
        if not stream.timestamp_field:
            raise UsageError("staleness needs the server's timestamps: give timestamp_field "
                             "to Listen For Messages")
        if not stream.staleness.count:
            return self._fail(f"staleness {percentile} cannot be measured: no message carried "
                              f"{stream.timestamp_field!r} ({stream.without_timestamp:,} "
                              f"without it)")
        measured = stream.staleness_ms(float(percentile))
        over = (f"over {stream.staleness.count:,} messages; {stream.without_timestamp:,} "
                f"without a timestamp, {stream.future_timestamps:,} in the future, clock "
                f"offset {stream.clock_offset_s * 1000:+,.3f} ms")
        if measured >= limit * 1000:
            return self._fail(f"staleness {percentile} is {measured:,.3f} ms, expected below "
                              f"{format_seconds(limit)} ({over})")
        return self._pass(f"staleness {percentile} {measured:,.3f} ms < "
                          f"{format_seconds(limit)} ({over})", measured)

    @keyword
    def pushes_should_be_at_least(self, minimum: int, result=None) -> int:
        """Fails unless at least ``minimum`` pushes -- messages that were not replies, such
        as heartbeats (see `Set Message Template` ``push_pattern``) -- arrived during the
        step. Returns the count."""
        target = self._checked(result, "pushes")
        pushes = target.sections.get(PushCounts.kind)
        total = pushes.total if pushes else 0
        if total < minimum:
            return self._fail(f"{total:,} pushes arrived, expected at least {minimum:,}")
        return self._pass(f"{total:,} pushes >= {minimum:,}", total)

    # -- shared ------------------------------------------------------------------------
    def _checked(self, result, what: str) -> LoadResult:
        return checked_target(self, result, what)

    def _stream(self, result, what: str) -> StreamFigures:
        target = self._checked(result, what)
        stream = target.sections.get(StreamFigures.kind)
        if stream is None:
            raise UsageError(f"cannot check {what}: {target.name!r} has no stream figures "
                             f"(they come from Listen For Messages)")
        return stream

    def _fail(self, message: str):
        return verdict(self, [message], "", None)

    def _pass(self, message: str, measured):
        return verdict(self, [], message, measured)


def listen_plan(duration, count, sequence_field, timestamp_field, timestamp_unit,
                clock_offset, name) -> LoadPlan:
    """The plan of `Listen For Messages` (here and on load agents) from its arguments."""
    if duration is None and count is None:
        raise UsageError("listening needs a duration or a count")
    if count is not None and count < 1:
        raise UsageError(f"count must be at least 1, got {count}")
    try:
        offset_s = timestr_to_secs(clock_offset, round_to=None)
    except (ValueError, TypeError):
        raise ArgumentError(f"clock_offset: expected a time such as -12 ms or 0.3 s, got "
                            f"{clock_offset!r}") from None
    spec = StreamSpec(sequence_field or None, timestamp_field or None, timestamp_unit, offset_s)
    what = (f"{count:,} messages" if duration is None else
            f"{format_seconds(duration)}" + (f" or {count:,} messages" if count else ""))
    return LoadPlan(messages=count, duration_s=None if duration is None else float(duration),
                    listen=spec, name=name or f"listen {what}")


def count_or_share(text) -> tuple[int | None, float | None]:
    value = str(text).strip()
    if value.endswith("%"):
        try:
            share = float(value[:-1]) / 100
        except ValueError:
            share = -1.0
        if not 0 <= share <= 1:
            raise ArgumentError(f"maximum: expected {COUNT_OR_SHARE}, got {text!r}")
        return None, share
    if not re.fullmatch(r"\d+", value):
        raise ArgumentError(f"maximum: expected {COUNT_OR_SHARE}, got {text!r}")
    return int(value), None

"""Steps of a merged run by kind: what adds up within a kind, and what each kind shows.

A delivery ratio is replies per message expected, and only steps of one kind can be added
up into one: a listen-only step receives thousands of messages and sends none, a fan-out
step delivers each publish to every subscriber, a connection storm sends nothing at all.
Summed with request/reply steps they made "delivery 190.8" -- so a merged run keeps every
kind apart: one group per traffic pattern (the result's `mode`, as `pattern_of` reads it:
paced requests, the closed loop, listen-only streams, fan-outs, connection storms), and
the probes of capacity searches apart from them all (`capacity`), whatever their pattern.

Within a kind every ratio is a sum over a sum of the steps' own figures (replies over the
replies each step expected, missing stream messages over those each stream's sequence said
were sent, failed connections over attempts), so it is never above 1 when no step's is;
percentiles come from the merged HdrHistograms, ranked as each step ranks them (a message
without a reply above every reply). Across kinds only what means the same everywhere adds
up: steps, messages sent and received, the time any step was running.

A kind is declared here with `@merged_kind(modes, title)`: its figures from its steps,
the columns its tables show, its headline in words. A mode nothing declared merges as
requests and replies (as `pattern_of` reads it).
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Callable

from ..engine import LatencyHistogram, LoadResult, pattern_of
from .figure_words import (applied_text, applied_words, ms_text, ms_words, rate_text,
                           ratio_text, share_text)

CAPACITY = "capacity"
REQUESTS = ""          # the kind of a mode nothing declared: requests and replies


@dataclass(frozen=True)
class Column:
    """One column of a kind's tables: its header, the figure it shows, and how."""
    label: str
    key: str | None          # None: `show` reads the whole row
    show: Callable = None

    def text(self, row: dict) -> str:
        if self.key is None:
            return self.show(row)
        value = row.get(self.key)
        if self.show is not None:
            return self.show(value)
        return "-" if value is None else f"{value:,}"


@dataclass(frozen=True)
class Kind:
    """figures   (results, busy_s) -> the figures of those steps, all of this kind
    columns      what its tables show of them
    headline     figures -> the figures in words
    histogram    results -> the distribution its chart draws by percentile, with what it
                 measures (the axis) and counts (the legend)"""
    title: str
    figures: Callable
    columns: tuple
    headline: Callable
    histogram: Callable
    measures: str = "latency (ms)"
    counts: str = "replies"
    note: str = ""       # what its columns mean, under its table


KINDS: dict[str, Kind] = {}


def merged_kind(modes: tuple, columns: tuple, headline: Callable, histogram: Callable,
                measures: str = "latency (ms)", counts: str = "replies", note: str = ""):
    """Declares how steps of `modes` merge: the decorated `figures(results, busy_s)`."""
    def register(figures):
        for mode in modes:
            KINDS[mode] = Kind(pattern_of(mode).title, figures, columns, headline, histogram,
                               measures, counts, note)
        return figures
    return register


def latencies(results: list[LoadResult]) -> LatencyHistogram:
    return LatencyHistogram.merged(r.latency for r in results)


def kind_of(result: LoadResult) -> str:
    """The kind a step merges with: `capacity` for a probe of a capacity search, else its
    traffic pattern's (`pattern_kind`)."""
    return CAPACITY if CAPACITY in result.sections else pattern_kind(result)


def pattern_kind(result: LoadResult) -> str:
    """The step's traffic pattern's mode; REQUESTS for a mode nothing declared."""
    mode = pattern_of(result.mode).mode
    return mode if mode in KINDS else REQUESTS


def kind_named(key: str) -> Kind:
    return KINDS.get(key) or KINDS[REQUESTS]


def title_of(key: str) -> str:
    return kind_named(key).title if key != CAPACITY else "capacity searches"


# -- what every kind shares ----------------------------------------------------------------
def common_figures(results: list[LoadResult], busy_s: float) -> dict:
    """What adds up across every kind: steps, messages, busy time, steps not applied (a
    capacity probe not counted: a search drives its probes past what can be applied, and
    its verdict is the search's)."""
    received = sum(r.received for r in results)
    not_applied = sum(not r.load_applied for r in results if CAPACITY not in r.sections)
    return {"steps": len(results), "sent": sum(r.sent for r in results),
            "received": received, "busy_s": round(busy_s, 3),
            "received_msg_s": round(received / busy_s, 1) if busy_s else 0.0,
            "steps_not_applied": not_applied, "load_applied": not not_applied}


def ratio(part: int, whole: int) -> float | None:
    return round(part / whole, 6) if whole else None


def ranked_ms(histogram: LatencyHistogram, percentile: float, count: int,
              expected: int) -> float | None:
    """The percentile among `expected` values of which `count` are in `histogram` and the
    missing rank above every one (LoadResult.latency_ms's rule); None beyond the timeout."""
    ranked = LoadResult(sent=expected, received=count, latency=histogram)
    value = ranked.latency_ms(percentile)
    return None if math.isinf(value) else value


def percentiles(histogram: LatencyHistogram, prefix: str, count: int | None = None,
                expected: int | None = None, which=(50, 95, 99)) -> dict:
    """`<prefix>_p50_ms` ...; ranked when `expected` is given, plain otherwise; None where
    the histogram is empty and nothing was expected."""
    figures = {}
    for p in which:
        key = f"{prefix}_p{str(p).replace('.', '_')}_ms"
        if expected is not None:
            figures[key] = ranked_ms(histogram, p, count, expected)
        else:
            figures[key] = histogram.percentile_us(p) / 1000 if histogram.count else None
    figures[f"{prefix}_max_ms"] = histogram.max_us() / 1000 if histogram.count else None
    return figures


STEPS = Column("steps", "steps")
APPLIED = Column("applied", None, applied_text)


# -- requests and replies --------------------------------------------------------------------
def _requests_headline(row: dict) -> str:
    return (f"{row['sent']:,} sent, {row['received']:,} replies, {row['lost']:,} lost "
            f"(delivery {ratio_text(row['delivery_ratio'])}), {row['throughput_msg_s']:,.0f} "
            f"msg/s, p95 {ms_words(row['latency_p95_ms'])}, p99 "
            f"{ms_words(row['latency_p99_ms'])}")


REQUEST_COLUMNS = (
    STEPS, Column("sent", "sent"), Column("received", "received"), Column("lost", "lost"),
    Column("unmatched", "unmatched"), Column("delivery", "delivery_ratio", ratio_text),
    Column("msg/s", "throughput_msg_s", rate_text), Column("p50 ms", "latency_p50_ms", ms_text),
    Column("p95 ms", "latency_p95_ms", ms_text), Column("p99 ms", "latency_p99_ms", ms_text),
    Column("max ms", "latency_max_ms", ms_text), APPLIED)


@merged_kind(("open", "closed", REQUESTS), REQUEST_COLUMNS, _requests_headline, latencies,
             note="delivery: replies over the messages the steps expected; msg/s: replies a "
                  "second while any of these steps ran; latency from each message's intended "
                  "send time (the closed loop's from its send); lost: beyond the reply "
                  "timeout.")
def request_figures(results: list[LoadResult], busy_s: float) -> dict:
    """Replies to messages: lost and delivery over the replies each step expected."""
    received, expected = sum(r.received for r in results), sum(r.expected for r in results)
    latency = latencies(results)
    service = LatencyHistogram.merged(r.service_time for r in results)
    return {**common_figures(results, busy_s), "expected": expected,
            **{name: sum(getattr(r, name) for r in results)
               for name in ("lost", "unmatched", "invalid_replies", "send_errors")},
            "delivery_ratio": ratio(received, expected),
            "throughput_msg_s": round(received / busy_s, 1) if busy_s else 0.0,
            **percentiles(latency, "latency", received, expected, (50, 95, 99, 99.9)),
            "service_p99_ms": service.percentile_us(99) / 1000 if service.count else None}


# -- listen-only streams ---------------------------------------------------------------------
def _stream_headline(row: dict) -> str:
    text = f"{row['received']:,} stream messages, {row['stream_rate']:,.0f} msg/s"
    if row["missing"] is not None:
        text += f", {row['missing']:,} missing ({share_text(row['missing_ratio'])})"
    if row["staleness_p99_ms"] is not None:
        text += f", staleness p99 {row['staleness_p99_ms']:,.2f} ms"
    return text


STREAM_COLUMNS = (
    STEPS, Column("messages", "received"), Column("msg/s", "stream_rate", rate_text),
    Column("missing", "missing"), Column("missing %", "missing_ratio", share_text),
    Column("duplicates", "duplicates"),
    Column("stale p50 ms", "staleness_p50_ms", lambda v: "-" if v is None else ms_text(v)),
    Column("stale p99 ms", "staleness_p99_ms", lambda v: "-" if v is None else ms_text(v)),
    Column("gap p99 ms", "gap_p99_ms", lambda v: "-" if v is None else ms_text(v)), APPLIED)


@merged_kind(("listen",), STREAM_COLUMNS, _stream_headline,
             lambda results: LatencyHistogram.merged(
                 r.sections["stream"].staleness for r in results if "stream" in r.sections),
             "staleness (ms)", "messages",
             "missing: messages the sequence numbers say were skipped (streams with a "
             "sequence field), and their share of those sent; stale: a message's age on "
             "arrival (streams with a timestamp field); gap: the time between two messages.")
def stream_figures(results: list[LoadResult], busy_s: float) -> dict:
    """Stream messages; missing over what the sequence numbers said was sent (streams
    with a sequence field only), staleness of streams with a timestamp field."""
    streams = [r.sections["stream"] for r in results if "stream" in r.sections]
    numbered = [s for s in streams if s.sequence_field]
    stamped = [s for s in streams if s.timestamp_field]
    missing = sum(s.missing for s in numbered) if numbered else None
    staleness = LatencyHistogram.merged(s.staleness for s in stamped)
    gaps = LatencyHistogram.merged(s.gap for s in streams)
    received = sum(r.received for r in results)
    return {**common_figures(results, busy_s),
            "stream_rate": round(received / busy_s, 1) if busy_s else 0.0,
            "missing": missing,
            "missing_ratio": ratio(missing, sum(s.expected for s in numbered)) if numbered
            else None,
            "duplicates": sum(s.duplicates for s in numbered) if numbered else None,
            "out_of_order": sum(s.out_of_order for s in numbered) if numbered else None,
            **percentiles(staleness, "staleness"),
            "gap_p99_ms": gaps.percentile_us(99) / 1000 if gaps.count else None}


# -- publish/subscribe fan-out -----------------------------------------------------------
def _fanout_headline(row: dict) -> str:
    publishes = f"{row['publishes']:,} publish{'es' if row['publishes'] != 1 else ''}"
    return (f"{publishes}, {row['received']:,} of "
            f"{row['expected_deliveries']:,} deliveries (delivery "
            f"{ratio_text(row['delivery_ratio'])}), {row['deliveries_s']:,.0f} deliveries/s, "
            f"p95 {ms_words(row['latency_p95_ms'])}")


FANOUT_COLUMNS = (
    STEPS, Column("publishes", "publishes"), Column("subscribers", "subscribers"),
    Column("deliveries", "received"), Column("expected", "expected_deliveries"),
    Column("lost", "lost_deliveries"), Column("delivery", "delivery_ratio", ratio_text),
    Column("deliveries/s", "deliveries_s", rate_text), Column("p95 ms", "latency_p95_ms", ms_text),
    Column("p99 ms", "latency_p99_ms", ms_text),
    Column("last p99 ms", "last_delivery_p99_ms", lambda v: "-" if v is None else ms_text(v)),
    APPLIED)


@merged_kind(("fanout",), FANOUT_COLUMNS, _fanout_headline, latencies,
             "delivery latency (ms)", "deliveries",
             "delivery: deliveries over those expected, each step's publishes times the "
             "subscribers each was expected at; latency from the publish's intended send "
             "time; last: from a publish to its last subscriber.")
def fanout_figures(results: list[LoadResult], busy_s: float) -> dict:
    """Deliveries over the deliveries each step expected (its publishes times the
    subscribers each was expected at): never one fan-out's subscribers times another's
    publishes."""
    fans = [r.sections["fanout"] for r in results if "fanout" in r.sections]
    received, expected = sum(r.received for r in results), sum(r.expected for r in results)
    latency = LatencyHistogram.merged(r.latency for r in results)
    last = LatencyHistogram.merged(f.last_delivery for f in fans)
    return {**common_figures(results, busy_s),
            "publishes": sum(f.publishes for f in fans),
            "subscribers": max((f.subscribers for f in fans), default=0),
            "expected_deliveries": expected,
            "lost_deliveries": sum(f.lost_deliveries for f in fans),
            "delivery_ratio": ratio(received, expected),
            "deliveries_s": round(received / busy_s, 1) if busy_s else 0.0,
            **percentiles(latency, "latency", received, expected),
            "last_delivery_p99_ms": last.percentile_us(99) / 1000 if last.count else None}


# -- connection storms -----------------------------------------------------------------
def _connect_headline(row: dict) -> str:
    return (f"opened {row['opened']:,} of {row['attempted']:,} connections, "
            f"{row['failed']:,} failed ({share_text(row['failure_ratio'])}), connect p95 "
            + (f"{row['connect_p95_ms']:,.3f} ms" if row["connect_p95_ms"] is not None
               else "none (no connection opened)"))


CONNECT_COLUMNS = (
    STEPS, Column("attempted", "attempted"), Column("opened", "opened"),
    Column("failed", "failed"), Column("failed %", "failure_ratio", share_text),
    *(Column(f"{p} ms", f"connect_{p}ms_text", lambda v: "-" if v is None else ms_text(v))
      for p in ("p50", "p95", "p99", "max")),
    Column("late starts", "late_starts"), APPLIED)


@merged_kind(("connect",), CONNECT_COLUMNS, _connect_headline,
             lambda results: LatencyHistogram.merged(
                 r.sections["connect"].histograms["total"] for r in results
                 if "connect" in r.sections),
             "connect latency (ms)", "connections",
             "latency: from each connection's due time in the arrival schedule to its being "
             "open; late starts: attempts the generator started later than the late bound.")
def connect_figures(results: list[LoadResult], busy_s: float) -> dict:
    """Connections opened and failed over those attempted; connect latency from each
    connection's due time, merged."""
    storms = [r.sections["connect"] for r in results if "connect" in r.sections]
    attempted = sum(s.attempted for s in storms)
    failed = sum(s.failed for s in storms)
    latency = LatencyHistogram.merged(s.histograms["total"] for s in storms)
    return {**common_figures(results, busy_s), "attempted": attempted,
            "opened": sum(s.opened for s in storms), "failed": failed,
            "failure_ratio": ratio(failed, attempted),
            **percentiles(latency, "connect"),
            "late_starts": sum(s.late_starts for s in storms)}


def figures_of(key: str, results: list[LoadResult], busy_s: float) -> dict:
    """The figures of steps of one kind."""
    return kind_named(key).figures(results, busy_s)


def headline_of(key: str, row: dict) -> str:
    """`paced requests, 5 steps: 20,670 sent, ...`, and `; load NOT applied in 1 of 5
    steps` when so."""
    steps = f"{row['steps']} step{'s' if row['steps'] != 1 else ''}"
    verdict = "" if row.get("load_applied", True) else f"; {applied_words(row)}"
    return f"{title_of(key)}, {steps}: {kind_named(key).headline(row)}{verdict}"

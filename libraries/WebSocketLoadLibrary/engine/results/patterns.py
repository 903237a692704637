"""Traffic patterns as a result reads them: one declaration per mode, made in the pattern's
own module (engine/patterns/, and lifecycle/arrivals.py for connection storms).

A result's `mode` names the pattern that made it. Everything outside the pattern that must
speak about its results asks the declaration instead of switching on the mode: the words
of its timeline (the chart), its headline (the console, the chart's subtitle), what its
assertions count (replies to messages, or deliveries of those expected) and the inputs of
the verdict (held to a schedule or not, whether its receiving side is checked). A new
pattern is one `TrafficPattern(...)` registered in its module; a mode nothing declared
reads as plain requests and replies.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

from .result import format_latency_ms


@dataclass(frozen=True)
class Words:
    """What a step's timeline counts, in the pattern's words (legends add "/s"): `sent`
    None when nothing is sent (listen only)."""
    sent: str | None = "sent"
    received: str = "received"
    lost: str = "lost"
    latency: str = "latency"


def requests_headline(result) -> str:
    return (f"sent {result.sent:,}, received {result.received:,}, lost {result.lost:,}, "
            f"{result.achieved_receive_rate:,.0f} msg/s, p95 "
            f"{format_latency_ms(result.latency_ms(95), 2)} ms")


def requests_subtitle(result, throughput: float) -> str:
    return (f"{result.sent:,} sent, {result.received:,} received, {result.lost:,} lost; "
            f"{throughput:,.0f} msg/s; p50 {result.latency_ms(50):,.2f} ms, "
            f"p99 {result.latency_ms(99):,.2f} ms")


def requests_counted(step) -> str:
    """What a delivery assertion counted over: `400 messages: 400 replies`."""
    return f"{step.attempted:,} messages: {step.received:,} replies"


def requests_received(step) -> str:
    return f"{step.received:,} replies to {step.attempted:,} messages"


@dataclass(frozen=True)
class TrafficPattern:
    """mode         the result's mode this pattern writes
    title           the pattern in a few words
    words           its timeline's words
    paced           its sends keep to a schedule: the verdict checks rate and lateness,
                    the summary shows them
    unread_limit_s  its receiving side is checked for messages left unread in the sockets:
                    None no, 0 within the step's late bound, else this many seconds
    saturates       as fast as possible: a CPU at its limit marks the generator saturated
    headline        result -> its headline figures in words (console, summaries)
    subtitle        (result, throughput) -> the timeline chart's subtitle
    counted         step -> what a delivery assertion counted over
    received        step -> what arrived, against what was expected"""
    mode: str
    title: str
    words: Words = Words()
    paced: bool = False
    unread_limit_s: float | None = None
    saturates: bool = False
    headline: Callable = requests_headline
    subtitle: Callable = requests_subtitle
    counted: Callable = requests_counted
    received: Callable = requests_received


PATTERNS: dict[str, TrafficPattern] = {}
REQUESTS = TrafficPattern(mode="", title="requests and replies")


def register(pattern: TrafficPattern) -> TrafficPattern:
    """Make a pattern known by its mode; a mode declared twice is a mistake."""
    if PATTERNS.get(pattern.mode, pattern) != pattern:
        raise ValueError(f"traffic pattern mode {pattern.mode!r} is declared twice")
    PATTERNS[pattern.mode] = pattern
    return pattern


def pattern_of(mode: str) -> TrafficPattern:
    """The declaration of a result's mode (a merged result of mixed modes, or a mode nothing
    declared, reads as requests and replies)."""
    return PATTERNS.get(mode, REQUESTS)

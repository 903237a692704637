"""Was the planned load applied? The rule, as plain functions of a step's result.

Refusing to judge is right when the server did not get the planned load; a hiccup of the
generator that it recovered from at once is not that (its late messages' latencies
already count the delay: latency runs from the intended send time). An open-loop step's
load counts as *not applied* when any of these holds:

1. messages could not be sent (a connection closed under the pacer);
2. the achieved send rate fell below the target by more than the rate tolerance, and the
   step ended behind its schedule by more than a hiccup;
3. the pacer was behind for a sustained part of the step: more than LATE_SHARE_LIMIT (5%)
   of the messages went out late (later than the late bound, see lateness.py) and more
   than a hiccup's worth of them -- or it was behind for an unbroken stretch longer than
   LONGEST_LATE_LIMIT_S (1 s), whatever the step's length;
4. replies waited unread in the generator's sockets, at the median, for longer than the
   late bound (the generator could not keep up on its receiving side).

A *hiccup* is HICCUP_S (0.25 s) of the schedule, but never more than HICCUP_SHARE_LIMIT
(a quarter) of the step: on a busy machine the scheduler can leave the generator off the
CPU for 100-200 ms (measured here: 143 ms in a one-second step beside two busy processes,
14% of its messages late), while 20,000 messages planned within 2 ms (10M msg/s) and sent
over 60 ms are all hiccup and no step. Forgiving a hiccup cannot pass a test on load that
never happened: the messages it delayed still went out, and their latency counts the delay
(latency runs from the intended send time), so the figures only get worse for it.

For 2 and 3 the verdict says whose doing it was: the server's when the pacer waited on TCP
backpressure (it read more slowly than planned), the generator's otherwise (its CPU, or a
machine too busy to run it on time). The figures behind the rule stay in the result
whatever the verdict: lag p99 and max, final lag, late messages and the longest stretch.
A closed loop has no schedule to fall behind: only 1 applies to it. A listen-only step
sends nothing; it counts as not applied when the stream waited unread in its sockets (the
median) for more than LISTEN_UNREAD_LIMIT_S: the generator, not the server, was behind.
"""
from __future__ import annotations

from .patterns import pattern_of

SATURATED_CPU_PERCENT = 90    # the event loop is one thread: ~100% is all it gets
LATE_SHARE_LIMIT = 0.05
HICCUP_S = 0.25
HICCUP_SHARE_LIMIT = 0.25
LONGEST_LATE_LIMIT_S = 1.0
LISTEN_UNREAD_LIMIT_S = 0.1   # a listener this far behind its stream measures itself


def judge(result, backpressure_waits: int = 0, reply_bytes: int = 0) -> None:
    """Set `result.load_applied`, `not_applied_reasons` and `generator_saturated`.

    `reply_bytes`: the size of one reply on the wire (to turn unread bytes into time).
    """
    pattern = pattern_of(result.mode)
    reasons = []
    generator = result.resources.get("generator", {})
    cpu = generator.get("cpu_percent_mean", 0.0)
    result.generator_saturated = pattern.saturates and cpu >= SATURATED_CPU_PERCENT
    if result.send_errors:
        first = next((e for e in result.errors if e.startswith("not sent")), "not sent")
        reasons.append(f"{result.send_errors} of {result.attempted} messages could not be "
                       f"sent ({first.removeprefix('not sent: ')})")
    if pattern.paced and result.planned_messages:
        reasons += _schedule_reasons(result, cpu, backpressure_waits)
    if pattern.unread_limit_s is not None:   # the receiving side kept up?
        listen = not pattern.words.sent
        unread_s = unread_reply_s(result, generator.get("unread_reply_bytes_median"),
                                  reply_bytes)
        if unread_s > (pattern.unread_limit_s or result.late_bound_s):
            result.generator_saturated = True
            reasons.append(
                f"messages waited unread in the generator's sockets (median {unread_s * 1000:.1f}"
                f" ms of the stream, generator CPU {cpu:.0f}%): the generator could not keep "
                f"up reading, and staleness includes its own queueing" if listen else
                f"replies waited unread in the generator's sockets (median "
                f"{unread_s * 1000:.1f} ms of replies, generator CPU {cpu:.0f}%): latencies "
                f"include the generator's own queueing")
    result.not_applied_reasons = reasons
    result.load_applied = not reasons


def applied_so_far(sent: int, send_errors: int, late_messages: int,
                   rate: float | None) -> bool:
    """Rules 1 and 3 on a running step's counts so far, for a live view: False once a
    message could not be sent, or once more of the messages sent so far went out late than
    the rule allows (LATE_SHARE_LIMIT of them, and more than a hiccup's worth at `rate`).
    What only the step's end tells (the achieved rate, the longest stretch behind, replies
    left unread) waits for `judge`."""
    if send_errors:
        return False
    allowed = max(LATE_SHARE_LIMIT * sent, HICCUP_S * (rate or 0.0))
    return late_messages <= allowed


def sustained_lateness(result) -> bool:
    """Rule 3: the pacer was behind for a sustained part of the step."""
    if result.longest_late_s > LONGEST_LATE_LIMIT_S:
        return True
    allowed = max(LATE_SHARE_LIMIT * result.planned_messages,
                  hiccup_s(result) * (result.target_rate or 0.0))
    return result.late_messages > allowed


def hiccup_s(result) -> float:
    """How much of the schedule a moment's stall of the generator may take."""
    planned_s = result.planned_messages / result.target_rate if result.target_rate else 0.0
    return min(HICCUP_S, HICCUP_SHARE_LIMIT * planned_s)


def lateness_figures(result) -> str:
    """The schedule figures in words, e.g. for a reason or the log."""
    share = result.late_messages / result.attempted if result.attempted else 0.0
    return (f"{result.late_messages:,} of {result.attempted:,} messages ({share:.1%}) went out "
            f"more than {result.late_bound_s * 1000:.0f} ms late, the longest stretch behind "
            f"{result.longest_late_s:.2f} s, lag p99 {result.lag.percentile_us(99) / 1000:.1f} "
            f"ms, max {result.max_lag_s * 1000:.1f} ms")


def _schedule_reasons(result, cpu: float, backpressure_waits: int) -> list[str]:
    floor = result.target_rate * (1 - result.rate_tolerance)
    short = result.achieved_send_rate < floor and result.final_lag_s > hiccup_s(result)
    late = sustained_lateness(result)
    if not (short or late):
        return []
    result.generator_saturated = not backpressure_waits
    if backpressure_waits:
        whose = (f"the pacer waited {backpressure_waits} times for the server to read what "
                 f"was sent (TCP backpressure): the server took the load more slowly than "
                 f"planned")
    elif cpu >= SATURATED_CPU_PERCENT:
        whose = (f"generator CPU saturated ({cpu:.0f}% of one core): latencies include the "
                 f"generator's own queueing")
    else:
        whose = (f"the generator fell behind its schedule (CPU {cpu:.0f}% of one core) with no "
                 f"backpressure from the server: messages went out late and bunched, not at "
                 f"the planned rate")
    if short:
        return [f"achieved send rate {result.achieved_send_rate:.1f} msg/s is below the target "
                f"{result.target_rate:g} msg/s (tolerance {result.rate_tolerance:.0%}): "
                f"{whose}; {lateness_figures(result)}"]
    return [f"{whose}; {lateness_figures(result)}"]


def unread_reply_s(result, unread_bytes: float | None, reply_bytes: int) -> float:
    """How many seconds of replies the unread bytes per connection stand for, at the step's
    receive rate (taking each reply as long as its message: an echo; shorter replies make
    this an underestimate, never an overestimate)."""
    if not unread_bytes or not result.achieved_receive_rate or not result.connections:
        return 0.0
    per_connection = result.achieved_receive_rate / result.connections * max(1, reply_bytes)
    return unread_bytes / per_connection

"""The not-applied rule, on plain data: whether the planned load reached the server.

No network and no clock: the pacer's lateness is fed batch by batch, and the verdict is
asked of results built by hand, so every case here has one outcome on any machine.
"""
from __future__ import annotations

import pytest

from WebSocketLoadLibrary.engine.pacing.lateness import Lateness, late_bound_s
from WebSocketLoadLibrary.engine.results.result import LoadResult
from WebSocketLoadLibrary.engine.pacing.schedule import OpenLoopSchedule
from WebSocketLoadLibrary.engine.results.verdict import judge


# -- the late bound ----------------------------------------------------------------------
@pytest.mark.parametrize("rate, connections, bound_ms", [
    (50, 1, 20),          # one connection at 50/s: its next message is due 20 ms later
    (10_000, 10, 10),     # 1 ms apart per connection: the 10 ms floor
    (10, 5, 100),         # 0.5 s apart: the 100 ms ceiling
    (2_000, 50, 25),
])
def test_a_message_is_late_when_it_reaches_its_connection_after_the_next_was_due(
        rate, connections, bound_ms):
    assert late_bound_s(rate, connections) * 1000 == pytest.approx(bound_ms)


# -- counting late messages --------------------------------------------------------------
def _pace(rate, messages, send_at, bound_s=0.010):
    """Feed a Lateness the batches a pacer would send, one per message, at send_at(k)
    (a clock that never runs backwards), the way the pacer reports them."""
    schedule = OpenLoopSchedule(rate, messages, start=0.0)
    lateness = Lateness(bound_s, schedule)
    k = 0
    while k < messages:
        now = send_at(k)
        end = max(k + 1, schedule.due_count(now))
        if now - schedule.intended_time(k) > bound_s or lateness.behind:
            lateness.batch(k, end, now)
        k = end
    lateness.finish()
    return lateness


def test_a_pacer_on_time_has_no_late_messages():
    lateness = _pace(1000, 3000, lambda k: k / 1000 + 0.002)
    assert lateness.late_messages == 0 and lateness.longest_s == 0


def test_a_hiccup_makes_late_the_messages_due_more_than_the_bound_before_its_end():
    # the pacer sleeps from 1.000 s to 1.0305 s, then sends what is due at once
    def send_at(k):
        due = k / 1000
        return 1.0305 if 1.0 <= due <= 1.0305 else due
    lateness = _pace(1000, 3000, send_at)
    assert lateness.late_messages == 21                  # due at 1.000 ... 1.020 s
    assert lateness.longest_s == pytest.approx(0.0305)   # behind from 1.000 to 1.0305 s


def test_a_stall_of_a_second_is_one_stretch_of_a_second_behind():
    def send_at(k):
        due = k / 1000
        return 2.0005 if 1.0 <= due <= 2.0005 else due
    lateness = _pace(1000, 3000, send_at)
    assert lateness.late_messages == 991                 # due at 1.000 ... 1.990 s
    assert lateness.longest_s == pytest.approx(1.0005)


def test_two_hiccups_are_two_stretches_and_the_longest_is_kept():
    def send_at(k):
        due = k / 1000
        if 0.5 <= due <= 0.6005:
            return 0.6005
        if 1.5 <= due <= 1.5505:
            return 1.5505
        return due
    lateness = _pace(1000, 3000, send_at)
    assert lateness.late_messages == 91 + 41
    assert lateness.longest_s == pytest.approx(0.1005)


def test_a_step_that_ends_behind_closes_its_stretch():
    # everything goes out at 1.0 s: all but the messages due in its last 10 ms are late
    lateness = _pace(1000, 1000, lambda k: 1.0)
    assert lateness.late_messages == 991
    assert lateness.longest_s == pytest.approx(1.0)


# -- the verdict -------------------------------------------------------------------------
def _open_result(rate=10_000, messages=20_000, achieved=None, late=0, longest_s=0.0,
                 cpu=50.0, bound_s=0.010, lags_ms=(), final_lag_s=0.0):
    result = LoadResult(mode="open", target_rate=rate, connections=10, planned_messages=messages,
                        sent=messages, received=messages,
                        achieved_send_rate=rate if achieved is None else achieved,
                        achieved_receive_rate=rate, late_messages=late, late_bound_s=bound_s,
                        longest_late_s=longest_s, final_lag_s=final_lag_s)
    result.resources = {"generator": {"cpu_percent_mean": float(cpu)}}
    result.lag.record_many([100] * 90 + [int(ms * 1000) for ms in lags_ms])
    return result


def test_one_late_send_in_a_short_step_recovered_at_once_is_applied():
    """The busy-runner case: 50 messages at 50/s, one send 11.6 ms late (lag p99 11.6 ms)."""
    result = _open_result(rate=50, messages=50, achieved=49.98, bound_s=0.020, lags_ms=[11.6])
    judge(result)
    assert result.load_applied, result.not_applied_reasons
    assert not result.generator_saturated


def test_a_hiccup_at_the_very_end_of_a_short_step_is_not_a_rate_short_of_its_target():
    # the 50th message 60 ms late: 50 / 1.06 s = 47.2 msg/s, 5.7% short of 50/s
    result = _open_result(rate=50, messages=50, achieved=47.2, late=2, longest_s=0.04,
                          bound_s=0.020, final_lag_s=0.06)
    judge(result)
    assert result.load_applied, result.not_applied_reasons
    result = _open_result(rate=50, messages=50, achieved=37.9, late=15, longest_s=0.3,
                          bound_s=0.020, final_lag_s=0.32)       # 320 ms behind at the end
    judge(result)
    assert not result.load_applied
    assert result.not_applied_reasons[0].startswith("achieved send rate 37.9 msg/s")


def test_a_step_planned_within_milliseconds_is_never_all_hiccup():
    # 20,000 messages at 10M/s are due within 2 ms; sent over 65 ms, 17,000 went out late
    result = _open_result(rate=10_000_000, messages=20_000, achieved=307_000, late=17_000,
                          longest_s=0.063, final_lag_s=0.063)
    judge(result)
    assert not result.load_applied
    assert result.not_applied_reasons[0].startswith("achieved send rate 307000.0 msg/s")
    # the same lateness with the rate within its tolerance: the late share alone flags it
    result = _open_result(rate=10_000_000, messages=20_000, late=17_000, longest_s=0.063)
    judge(result)
    assert not result.load_applied


def test_a_hiccup_worth_less_than_a_quarter_second_is_applied_even_in_a_short_step():
    # 4 of 50 messages (8%) late: more than 5%, but 0.08 s of the schedule
    result = _open_result(rate=50, messages=50, late=4, longest_s=0.08, bound_s=0.020)
    judge(result)
    assert result.load_applied, result.not_applied_reasons


@pytest.mark.parametrize("late, longest_s, applied", [
    (5_000, 0.2, True),       # 5% of 100,000 in short stretches: the limit itself
    (5_001, 0.2, False),      # one more
    (1_500, 1.01, False),     # 1.5%, but behind for over a second without a break
    (1_500, 0.99, True),
])
def test_lateness_sustained_over_5_percent_or_over_a_second_is_not_applied(late, longest_s,
                                                                         applied):
    result = _open_result(messages=100_000, late=late, longest_s=longest_s, lags_ms=[40] * 10)
    judge(result)
    assert result.load_applied is applied, result.not_applied_reasons


@pytest.mark.parametrize("late, applied", [
    (720, True),       # measured beside two busy processes: a 143 ms stall, 14.4% late
    (1_250, True),     # a quarter-second hiccup
    (1_251, False),
])
def test_a_one_second_step_forgives_a_quarter_second_hiccup_and_no_more(late, applied):
    result = _open_result(rate=5_000, messages=5_000, late=late, longest_s=late / 5_000)
    judge(result)
    assert result.load_applied is applied, result.not_applied_reasons


@pytest.mark.parametrize("cpu, waits, whose, saturated", [
    (50, 0, "the generator fell behind its schedule (CPU 50% of one core) with no "
            "backpressure", True),
    (95, 0, "generator CPU saturated (95% of one core)", True),
    (50, 7, "the pacer waited 7 times for the server to read what was sent", False),
])
def test_the_verdict_says_whose_doing_the_lateness_was(cpu, waits, whose, saturated):
    result = _open_result(late=4_000, longest_s=0.3, cpu=cpu, lags_ms=[40] * 10)
    judge(result, backpressure_waits=waits)
    assert not result.load_applied
    assert result.generator_saturated is saturated
    [reason] = result.not_applied_reasons
    assert reason.startswith(whose), reason
    assert ("4,000 of 20,000 messages (20.0%) went out more than 10 ms late, the longest "
            "stretch behind 0.30 s, lag p99 40.0 ms") in reason


def test_a_rate_below_the_tolerance_is_not_applied_with_the_schedule_figures():
    result = _open_result(achieved=8_000, late=15_000, longest_s=2.5, lags_ms=[900] * 10,
                          final_lag_s=0.5)
    judge(result)
    [reason] = result.not_applied_reasons
    assert reason.startswith("achieved send rate 8000.0 msg/s is below the target 10000 msg/s "
                             "(tolerance 5%): the generator fell behind its schedule")
    assert "15,000 of 20,000 messages (75.0%) went out more than 10 ms late" in reason


@pytest.mark.parametrize("unread_bytes, applied", [(None, True), (300, True), (30_000, False)])
def test_replies_waiting_unread_in_the_generator_mark_the_load_not_applied(unread_bytes, applied):
    result = _open_result()
    if unread_bytes is not None:
        result.resources["generator"]["unread_reply_bytes_median"] = unread_bytes
    judge(result, reply_bytes=100)
    # 1,000 replies/s per connection of 100 bytes: 300 bytes is 3 ms of them, 30 kB 300 ms
    assert result.load_applied is applied, result.not_applied_reasons
    assert result.generator_saturated is not applied
    if not applied:
        assert "replies waited unread in the generator's sockets" in result.not_applied_reasons[0]


def test_a_closed_loop_has_no_schedule_to_fall_behind():
    result = LoadResult(mode="closed", target_rate=None, connections=2, sent=100, received=100,
                        late_messages=0)
    result.resources = {"generator": {"cpu_percent_mean": 99.0}}
    judge(result)
    assert result.load_applied and result.generator_saturated


def test_the_schedule_figures_stay_in_the_result_whatever_the_verdict():
    result = _open_result(rate=50, messages=50, late=1, longest_s=0.02, bound_s=0.020,
                          lags_ms=[31] * 10)
    result.final_lag_s = 0.0004
    judge(result)
    summary = result.summary()
    assert result.load_applied
    assert (summary["late_messages"], summary["late_bound_ms"], summary["longest_late_ms"],
            summary["final_lag_ms"]) == (1, 20.0, 20.0, 0.4)
    assert summary["lag_p99_ms"] == pytest.approx(31, rel=0.01)
    again = LoadResult.from_dict(result.to_dict())
    assert (again.late_messages, again.late_bound_s, again.longest_late_s) == (1, 0.02, 0.02)


def test_a_result_saved_before_these_figures_existed_still_loads():
    data = _open_result().to_dict()
    for name in ("late_messages", "late_bound_s", "longest_late_s"):
        del data[name]
    old = LoadResult.from_dict(data)
    assert old.late_messages == 0 and old.longest_late_s == 0.0

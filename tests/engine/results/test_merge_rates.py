"""`LoadResult.merge` takes rates over time: steps that ran at the same time add up, steps
that ran one after another give the overall rate (not the sum of their rates)."""
from __future__ import annotations

import pytest

from WebSocketLoadLibrary.engine import LoadResult
from WebSocketLoadLibrary.reports.merge import merge_records
from WebSocketLoadLibrary.reports.records import StepRecord


def step(name: str, started_at: float, rate: float = 100.0, seconds: float = 10.0,
         received_share: float = 1.0) -> LoadResult:
    """A paced step as the engine reports it: its rates are its counts over its windows."""
    sent = int(rate * seconds)
    received = int(sent * received_share)
    return LoadResult(name=name, target_rate=rate, connections=2, planned_messages=sent,
                      started_at=started_at, planned_duration_s=seconds,
                      send_duration_s=seconds - 1 / rate, duration_s=seconds + 0.2,
                      sent=sent, received=received, achieved_send_rate=rate,
                      achieved_receive_rate=received / seconds)


def test_two_steps_one_after_another_merge_to_their_overall_rate():
    merged = LoadResult.merge([step("a", 1000.0), step("b", 1012.0)])
    assert merged.sent == 2000
    assert merged.achieved_send_rate == pytest.approx(100.0)
    assert merged.achieved_receive_rate == pytest.approx(100.0)
    assert merged.target_rate == pytest.approx(100.0)


def test_two_steps_at_the_same_time_add_up():
    merged = LoadResult.merge([step("a", 1000.0), step("b", 1000.0)])
    assert merged.achieved_send_rate == pytest.approx(200.0)
    assert merged.achieved_receive_rate == pytest.approx(200.0)
    assert merged.target_rate == pytest.approx(200.0)


def test_shares_of_one_plan_that_start_a_few_ms_apart_keep_the_plans_target():
    # workers and load agents start together to within milliseconds: the plan's rate
    # stays the target, the achieved rate counts the few ms the spread really took
    merged = LoadResult.merge([step("w1", 1000.0, rate=1000, seconds=1.501),
                               step("w2", 1000.004, rate=1000, seconds=1.5)])
    assert merged.target_rate == 2000
    assert merged.achieved_send_rate == pytest.approx(2000, rel=0.005)
    assert merged.achieved_send_rate < 2000


def test_a_merged_step_keeps_its_own_rates():
    alone = step("a", 1000.0, rate=250, seconds=4, received_share=0.9)
    merged = LoadResult.merge([alone])
    assert merged.achieved_send_rate == pytest.approx(alone.achieved_send_rate)
    assert merged.achieved_receive_rate == pytest.approx(alone.achieved_receive_rate)
    assert merged.target_rate == alone.target_rate


def test_partly_overlapping_steps_count_the_overlap_once():
    # 100/s for 10 s, then 100/s for 10 s starting 5 s in: 2000 messages in 15 s
    merged = LoadResult.merge([step("a", 1000.0), step("b", 1005.0)])
    assert merged.achieved_send_rate == pytest.approx(2000 / 15)
    assert merged.target_rate == pytest.approx(200.0)   # the busiest moment of the group


def test_rates_of_steps_at_different_rates_one_after_another_weigh_by_time():
    merged = LoadResult.merge([step("slow", 1000.0, rate=100, seconds=10),
                               step("fast", 1020.0, rate=400, seconds=5)])
    assert merged.achieved_send_rate == pytest.approx(3000 / 15)
    assert merged.target_rate == pytest.approx(3000 / 15)


def test_a_closed_loop_step_leaves_the_target_max_and_rates_still_merge():
    closed = step("closed", 1020.0)
    closed.target_rate, closed.mode = None, "closed"
    merged = LoadResult.merge([step("a", 1000.0), closed])
    assert merged.target_rate is None
    assert merged.achieved_send_rate == pytest.approx(100.0)


def test_steps_without_windows_merge_to_zero_rates_not_an_error():
    merged = LoadResult.merge([LoadResult(name="a", sent=5), LoadResult(name="b")])
    assert merged.achieved_send_rate == merged.achieved_receive_rate == 0.0


def test_the_merged_summary_of_a_run_shows_the_overall_rate_of_its_sequential_steps():
    records = [StepRecord(step(f"s{i}", 1000.0 + 11 * i), "Suite", f"T{i}") for i in range(3)]
    run = merge_records(records)
    assert run.total.achieved_receive_rate == pytest.approx(100.0)
    assert run.suites["Suite"].achieved_send_rate == pytest.approx(100.0)
    assert run.total_row["throughput_msg_s"] == pytest.approx(3000 / 30.6, rel=0.001)

"""The open-loop schedule: a message is due at its intended time and never before."""
from __future__ import annotations

from WebSocketLoadLibrary.engine import OpenLoopSchedule


def test_schedule_makes_a_message_due_at_its_intended_time_and_not_before():
    schedule = OpenLoopSchedule(rate=1000, messages=10, start=100.0)
    assert schedule.due_count(99.999) == 0
    assert schedule.due_count(100.0) == 1
    assert schedule.due_count(100.0009) == 1
    assert schedule.due_count(100.001) == 2
    assert schedule.due_count(200.0) == 10
    for k in range(10):
        assert schedule.due_count(schedule.intended_time(k)) == k + 1


def test_schedule_at_odd_rates_never_releases_early():
    schedule = OpenLoopSchedule(rate=3, messages=1000, start=0.1)
    for k in range(1000):
        t = schedule.intended_time(k)
        assert schedule.due_count(t) == k + 1
        assert schedule.due_count(t - 1e-9) == k

"""The open-loop pacer: which connection each message takes, how often the pacer wakes, and
what it books -- driven over picows sockets with a fake transport that keeps what is sent
(no network), on a real clock.
"""
from __future__ import annotations

import asyncio
import json
import time

import pytest

from WebSocketLoadLibrary.engine import LoadPlan, MessageTemplate, PlanError
from step_books import Books
from WebSocketLoadLibrary.engine.patterns.open_loop import OpenLoopDriver
from WebSocketLoadLibrary.engine.pacing.schedule import MAX_RUN, OpenLoopSchedule
from WebSocketLoadLibrary.engine.plan.load_plan import auto_wake_interval
from fake_transport import fake_picows_sockets


@pytest.mark.parametrize("rate, messages, connections, wake_s, run", [
    (1000, 10_000, 25, 0.00025, 1),      # below 1 message a wake: plain turns
    (10_000, 100_000, 25, 0.00025, 2),   # 2.5 a wake
    (60_000, 600_000, 25, 0.0006, 36),   # what one wake sends
    (40_000, 400_000, 25, 0.001, 32),    # every connection's turn within 20 ms: 32
    (250_000, 10**6, 25, 0.001, MAX_RUN),
    (250_000, 100, 25, 0.001, 4),        # a short step still reaches every connection
    (250_000, 10**6, 1000, 0.001, 5),    # many connections: each has its turn within 20 ms
    (10_000, 10_000, 10_000, 0.00025, 1),
])
def test_run_length_grows_with_the_rate_within_its_bounds(rate, messages, connections, wake_s,
                                                          run):
    schedule = OpenLoopSchedule(rate, messages, 0.0)
    assert schedule.run_length(connections, wake_s) == run
    assert [schedule.connection_of(k, connections, run) for k in range(2 * run + 1)] == \
        [0] * run + [1 % connections] * run + [2 % connections]


@pytest.mark.parametrize("rate, wake_s", [(10, 0.00025), (1000, 0.00025), (25_000, 0.00025),
                                          (50_000, 0.0005), (100_000, 0.001), (10**7, 0.001)])
def test_the_wake_interval_follows_the_rate_from_a_quarter_to_one_millisecond(rate, wake_s):
    assert auto_wake_interval(rate) == pytest.approx(wake_s)
    assert LoadPlan(rate=rate, messages=1).wake_interval == pytest.approx(wake_s)
    assert LoadPlan(rate=rate, messages=1, wake_interval_s=0.002).wake_interval == 0.002


@pytest.mark.parametrize("wake_s", [-0.001, 0.5])
def test_a_wake_interval_out_of_range_is_refused(wake_s):
    with pytest.raises(PlanError, match="wake interval must be between 0 and 0.1 s"):
        LoadPlan(rate=1000, messages=10, wake_interval_s=wake_s)


def _pace(rate: float, messages: int, connections: int, closed=(), wake_s=None, timer="precise",
          max_run=None):
    """Run the open-loop driver over fake sockets; returns (book, per-connection ids sent,
    schedule)."""
    pool, sockets = fake_picows_sockets(connections)
    for slot, ws in enumerate(sockets):
        ws.closed = slot in closed
        ws.close_code = 1001 if ws.closed else None
    template = MessageTemplate(payload_size=4)
    plan = LoadPlan(rate=rate, messages=messages, wake_interval_s=wake_s, max_run=max_run,
                    pacing_timer=timer)   # "spin": wakes 1 ms early, then yields until due

    async def run():
        start = time.perf_counter() + 0.002
        book = Books(connections, template.id_extractor(), 500, start,
                     OpenLoopDriver.latency_interval(plan), template.id_fast_path())
        driver = OpenLoopDriver(plan, template, 500, book.recorder, book.correlator,
                                pool.writer())
        driver.prepare(pool, [ws.connection for ws in sockets])
        driver.begin(start)
        await driver.run()
        return book, driver.schedule
    book, schedule = asyncio.run(run())
    sent = [[json.loads(m)["message_id"] for m in ws.transport.sent] for ws in sockets]
    return book, sent, schedule


def test_at_a_low_rate_connections_take_turns_one_message_each():
    book, sent, _ = _pace(rate=2000, messages=40, connections=5)
    assert sent == [[500 + k for k in range(40) if k % 5 == slot] for slot in range(5)]
    assert book.sent == 40 and book.send_errors == 0


def test_at_a_high_rate_connections_take_runs_and_the_pacer_wakes_at_most_every_interval():
    rate, messages, connections = 200_000, 40_000, 25
    book, sent, schedule = _pace(rate, messages, connections)
    run = schedule.run_length(connections, auto_wake_interval(rate))
    assert run == MAX_RUN
    for slot, ids in enumerate(sent):  # even shares, in runs of consecutive ids
        assert len(ids) in (messages // connections, messages // connections + 1)
        assert all(schedule.connection_of(i - 500, connections, run) == slot for i in ids)
        assert ids == sorted(ids)
    # one lag sample per batch: 0.2 s of messages, at most one wake a millisecond, and a
    # wake that came late sends what fell due in batches of max_batch
    assert len(book.lag_s) <= 0.2 / 0.001 + messages / 256 + 20
    # each message is booked with its send time and its own intended time
    for slot in range(connections):
        for key, (sent_at, due_at) in book.outstanding[slot].items():
            k = int(key) - 500
            assert due_at == pytest.approx(schedule.intended_time(k), abs=1e-9)
            assert sent_at >= due_at - 1e-9


def test_without_a_wake_interval_every_due_message_goes_out_at_once():
    # 0.1 s at 10k msg/s: a message every 0.1 ms; at most a wake per 0.25 ms by default,
    # per 2 ms when asked; with no floor a wake per message, or per few when timers run late
    book, _, _ = _pace(rate=10_000, messages=1000, connections=5, wake_s=0.0)
    floored, _, _ = _pace(rate=10_000, messages=1000, connections=5)
    sparse, _, _ = _pace(rate=10_000, messages=1000, connections=5, wake_s=0.002)
    assert len(floored.lag_s) <= 0.1 / 0.00025 + 20
    assert len(sparse.lag_s) <= 0.1 / 0.002 + 20
    assert len(book.lag_s) > 2 * len(sparse.lag_s), (len(book.lag_s), len(sparse.lag_s))


def test_a_closed_connection_gets_none_of_its_share_and_the_reason_is_kept():
    book, sent, schedule = _pace(rate=100_000, messages=5000, connections=5, closed={2})
    run = schedule.run_length(5, auto_wake_interval(100_000))
    share = sum(schedule.connection_of(k, 5, run) == 2 for k in range(5000))
    assert run > 1 and share > 900
    assert sent[2] == []
    assert book.send_errors == share and book.sent == 5000 - share
    why = "not sent: connection closed by server with code 1001 (going away)"
    assert book.errors == {why: share}
    assert not book.outstanding[2]
    assert sum(len(ids) for ids in sent) == 5000 - share


def test_a_timer_that_wakes_early_does_not_push_the_message_later():
    # the spin timer comes back 1 ms early and yields until due: each early return must
    # keep the planned wake, not add another wake interval to it
    book, sent, _ = _pace(rate=2000, messages=200, connections=4, timer="spin")
    assert sum(map(len, sent)) == 200
    lags = sorted(book.lag_s)
    assert lags[len(lags) // 2] < 0.00025, lags[len(lags) // 2]  # was 0.8-0.9 ms


def test_max_run_one_keeps_plain_turns_at_a_high_rate():
    book, sent, _ = _pace(rate=200_000, messages=4000, connections=4, wake_s=0.0005)
    assert any(ids[:2] == [ids[0], ids[0] + 1] for ids in sent)  # runs by default
    book, sent, _ = _pace(rate=200_000, messages=4000, connections=4, max_run=1)
    assert sent == [[500 + k for k in range(4000) if k % 4 == slot] for slot in range(4)]


def test_a_max_run_below_one_is_refused():
    with pytest.raises(PlanError, match="max run must be at least 1 message, got 0"):
        LoadPlan(rate=1000, messages=10, max_run=0)

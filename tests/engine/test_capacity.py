"""Capacity search: the highest rate at which a server still meets its targets.

The search logic runs against a fake probe runner (a server with a known knee, a generator
with a known limit) on a fake clock: no network, no waiting. Then the result's journey
through a saved file, merge and the regression check. (Real searches against the mock
server: tests/acceptance/test_capacity_searches.py.)
"""
from __future__ import annotations

import json
import math

import pytest

from fake_clock import Clock
from WebSocketLoadLibrary.engine.capacity.search import (
    GENERATOR_LIMIT, HIGH_BOUND, LOW_MISSED, MET, MISSED, NOT_APPLIED, PRECISION,
    PROBE_BUDGET, PROBE_ERROR, SERVER_LOST, TIME_BUDGET, CapacityResult, CapacitySearchError,
    CapacityTargets, SearchSettings, find_capacity)
from WebSocketLoadLibrary.engine.results.result import LoadResult
from WebSocketLoadLibrary.reports.merge import merge_records
from WebSocketLoadLibrary.reports.records import records_from_document, result_document
from WebSocketLoadLibrary.reports.regression import compare

TARGETS = CapacityTargets({95: 50.0}, min_delivery_ratio=0.99)


class FakeServer:
    """Meets p95 < 50 ms up to `capacity` msg/s; beyond it latency grows with the overload.
    The generator cannot apply more than `generator_limit` msg/s. Each step takes its
    duration on the fake clock."""

    def __init__(self, clock: Clock, capacity: float, generator_limit: float = math.inf,
                 die_above: float = math.inf, backpressure_above: float = math.inf):
        self.clock, self.capacity, self.generator_limit = clock, capacity, generator_limit
        self.die_above, self.backpressure_above = die_above, backpressure_above
        self.calls: list[tuple[float, float, str]] = []

    def __call__(self, rate: float, duration_s: float, name: str) -> LoadResult:
        self.calls.append((rate, duration_s, name))
        self.clock.now += duration_s
        messages = max(1, round(rate * duration_s))
        result = LoadResult(name=name, target_rate=rate, connections=5,
                            planned_messages=messages, sent=messages, received=messages,
                            duration_s=duration_s, achieved_send_rate=rate,
                            achieved_receive_rate=rate)
        overload = max(0.0, rate / self.capacity - 1)
        result.latency.record_seconds([0.002 + overload * duration_s * i / messages
                                       for i in range(messages)])
        if rate > self.die_above:
            result.connections_closed = {"1006 (connection lost)": 5}
            result.received = result.lost = messages // 2
        if rate > self.generator_limit:
            result.load_applied, result.generator_saturated = False, True
            result.achieved_send_rate = self.generator_limit
            result.not_applied_reasons = [f"achieved send rate {self.generator_limit:g} msg/s "
                                          f"is below the target {rate:g} msg/s: generator "
                                          f"CPU saturated"]
        elif rate > self.backpressure_above:
            result.load_applied = False
            result.not_applied_reasons = ["the pacer waited 40 times for the server to read "
                                          "what was sent (TCP backpressure)"]
        return result


def search(server_capacity: float, low: float = 100, high: float = 100_000, **options):
    clock = Clock()
    server = FakeServer(clock, server_capacity, **{k: options.pop(k) for k in list(options)
                                                  if k in ("generator_limit", "die_above",
                                                           "backpressure_above")})
    settings = SearchSettings(low, high, **{"probe_s": 2.0, "warm_up_s": 0.5, "pause_s": 1.0,
                                            **options})
    found = find_capacity(settings, TARGETS, server, "capacity", clock=clock,
                          sleep=clock.sleep)
    return found, server, clock


# -- the search ------------------------------------------------------------------------
@pytest.mark.parametrize("capacity", [730.0, 1000.0, 4321.0, 27_000.0])
def test_the_search_brackets_the_knee_then_bisects_it_to_the_precision(capacity):
    found, server, _ = search(capacity, max_probes=16)
    assert found.stop_reason == PRECISION
    assert found.capacity_msg_s <= capacity * 1.02     # a 2% overload over 2 s: p95 < 50 ms
    assert found.first_missed_msg_s > capacity
    assert found.first_missed_msg_s - found.capacity_msg_s <= 0.05 * found.capacity_msg_s
    assert found.capacity_msg_s >= capacity * 0.95
    assert not found.lower_bound and not found.failed
    assert found.last_met.target_rate == found.capacity_msg_s
    assert found.first_missed.target_rate == found.first_missed_msg_s
    # stepping up doubles from the low bound until a probe misses
    rates = [found.probe(step).rate for step in found.steps]
    first_miss = rates.index(next(r for r, o in zip(rates, found.outcomes) if o == MISSED))
    assert rates[:first_miss + 1] == [100 * 2 ** i for i in range(first_miss + 1)]
    assert f"capacity {found.capacity_msg_s:,.0f} msg/s (within" in found.message


def test_every_probe_is_a_warm_up_then_a_measured_step_with_pauses_between():
    found, server, clock = search(1000.0)
    assert [d for _, d, _ in server.calls] == [0.5, 2.0] * len(found.steps)
    assert all("warm-up" in name for _, _, name in server.calls[::2])
    assert found.probes_s == pytest.approx(2.5 * len(found.steps))
    assert found.pauses_s == pytest.approx(1.0 * (len(found.steps) - 1))
    assert found.total_s == pytest.approx(clock.now)
    assert f"{len(found.steps)} probes, {found.total_s:.1f} s" in found.message


def test_the_probe_budget_stops_the_search_with_the_best_bracket_so_far():
    found, _, _ = search(1000.0, max_probes=6)
    assert found.stop_reason == PROBE_BUDGET and len(found.steps) == 6
    assert found.capacity_msg_s < 1000 < found.first_missed_msg_s
    assert "probe budget ran out before the precision 5%" in found.message


def test_the_time_budget_stops_before_a_probe_that_would_not_fit():
    found, _, clock = search(50_000.0, time_budget_s=10)
    assert found.stop_reason == TIME_BUDGET
    assert len(found.steps) == 3 and clock.now <= 10     # 2.5 + 1 + 2.5 + 1 + 2.5
    assert found.lower_bound and found.capacity_msg_s == 400
    assert "capacity is at least 400 msg/s" in found.message


def test_meeting_the_targets_at_the_high_bound_says_capacity_is_at_least_that():
    found, _, _ = search(1e9, low=1000, high=5000)
    assert found.stop_reason == HIGH_BOUND and found.lower_bound
    assert [found.probe(s).rate for s in found.steps] == [1000, 2000, 4000, 5000]
    assert "capacity is at least 5,000 msg/s" in found.message


def test_the_generator_limit_is_never_taken_for_the_server_failing():
    found, _, _ = search(1e9, low=1000, generator_limit=5000)
    assert found.stop_reason == GENERATOR_LIMIT
    assert found.outcomes == [MET, MET, MET, NOT_APPLIED]
    assert found.capacity_msg_s == 4000 and found.generator_limit_msg_s == 8000
    assert found.lower_bound and found.first_missed_msg_s is None and not found.failed
    assert found.message.startswith(
        "generator limit reached at 4,000 msg/s: the probe at 8,000 msg/s could not be "
        "applied (achieved send rate 5000 msg/s")
    assert "the server met its targets (p95 < 50 ms, delivery >= 99%) there; capacity is " \
           "above 4,000 msg/s" in found.message


def test_a_generator_limit_at_the_lowest_rate_says_nothing_is_known():
    found, _, _ = search(1e9, low=1000, generator_limit=500)
    assert found.stop_reason == GENERATOR_LIMIT and found.capacity_msg_s is None
    assert "nothing is known of the server's capacity" in found.message


def test_load_the_server_held_back_counts_as_missing_the_targets_and_says_so():
    found, _, _ = search(1e9, low=1000, backpressure_above=3000)
    assert found.stop_reason == PRECISION
    assert found.capacity_msg_s <= 3000 < found.first_missed_msg_s
    missed = found.probe(found.first_missed)
    assert missed.outcome == MISSED
    assert missed.reasons[0].startswith("load not applied because of the server: the pacer "
                                        "waited 40 times")


def test_targets_the_lowest_probe_misses_fail_with_that_probes_figures():
    found, _, _ = search(50.0, low=100)
    assert found.stop_reason == LOW_MISSED and found.failed and len(found.steps) == 1
    assert found.capacity_msg_s is None and found.first_missed_msg_s == 100
    assert "the lowest probe, 100 msg/s, already missed the targets (p95 < 50 ms" in \
        found.message
    assert "at 100 msg/s: sent 200, received 200, lost 0" in found.message


def test_a_server_that_dies_keeps_the_probes_so_far_and_says_why():
    found, _, _ = search(1e9, low=1000, die_above=3000)
    assert found.stop_reason == SERVER_LOST and found.failed
    assert found.outcomes == [MET, MET, "server lost"]
    assert found.capacity_msg_s == 2000
    assert "at 4,000 msg/s the server closed 5 of 5 connection(s) (5 x 1006" in found.error
    assert "before it, the targets were met at 2,000 msg/s" in found.message


def test_a_probe_that_raises_stops_the_search_with_the_error_and_keeps_the_rest():
    clock = Clock()
    server = FakeServer(clock, 1e9)

    def flaky(rate, duration_s, name):
        if rate > 1000:
            raise ConnectionError("connection refused")
        return server(rate, duration_s, name)

    found = find_capacity(SearchSettings(500, 10_000, probe_s=1, warm_up_s=0, pause_s=0),
                          TARGETS, flaky, clock=clock, sleep=clock.sleep)
    assert found.stop_reason == PROBE_ERROR and len(found.steps) == 2
    assert found.error == ("the probe at 2,000 msg/s failed: ConnectionError: connection "
                           "refused")


@pytest.mark.parametrize("settings, message", [
    (dict(low=5000, high=1000), "the bounds are in the wrong order: low 5,000 msg/s must be "
                                "below high 1,000 msg/s"),
    (dict(low=1000, high=1000), "wrong order"),
    (dict(low=0, high=1000), "above 0 msg/s"),
    (dict(low=10, high=1000, precision=0), "precision must be a share above 0 and below 1"),
    (dict(low=10, high=1000, max_probes=1), "max probes must be at least 2"),
    (dict(low=10, high=1000, probe_s=0), "probe duration must be above 0 s"),
    (dict(low=10, high=1000, step_factor=1), "step factor must be above 1"),
    (dict(low=10, high=1000, probe_s=10, time_budget_s=5), "does not fit even one probe"),
])
def test_bad_search_settings_fail_before_any_probe(settings, message):
    with pytest.raises(CapacitySearchError, match=message):
        SearchSettings(**settings)


@pytest.mark.parametrize("targets, message", [
    (dict(), "needs at least one target"),
    (dict(latency_ms={95: 0}), "p95 target must be above 0 ms"),
    (dict(latency_ms={100: 5}), "percentile must be between 0 and 100"),
    (dict(min_delivery_ratio=1.5), "delivery ratio target must be between 0 and 1"),
])
def test_bad_targets_fail_clearly(targets, message):
    with pytest.raises(CapacitySearchError, match=message):
        CapacityTargets(**targets)


def test_each_target_is_checked_with_its_figure():
    result = LoadResult(target_rate=100, planned_messages=1000, sent=990, send_errors=10,
                        received=950, lost=40, invalid_replies=5)
    result.latency.record_seconds([0.010] * 950)
    targets = CapacityTargets({95: 5, 50: 20}, min_delivery_ratio=0.99, max_error_ratio=0.001)
    missed = targets.misses(result)
    assert missed[0] == "p95 beyond the reply timeout ms, target < 5 ms" or \
        missed[0].startswith("p95 ")
    assert len(missed) == 3   # p50 of 10 ms is met
    assert missed[1].startswith("delivery 95.0000% (950 of 1,000), target >= 99%")
    assert missed[2].startswith("errors 1.5000% (15 of 1,000), target <= 0.1%")
    assert not CapacityTargets({99: 20}).misses(result) == []   # 5% missing: p99 beyond


# -- the result as files, merge and regression -----------------------------------------
def saved(found: CapacityResult) -> dict:
    return json.loads(json.dumps(result_document(found, "Capacity", "Find It"), default=str))


def test_a_capacity_result_saves_to_json_and_loads_back():
    found, _, _ = search(1000.0)
    document = saved(found)
    assert document["kind"] == "capacity"
    assert document["capacity"]["capacity_msg_s"] == found.capacity_msg_s
    assert document["capacity"]["stop_reason"] == PRECISION
    back = CapacityResult.from_dict(document)
    assert back.capacity_msg_s == found.capacity_msg_s
    assert back.first_missed_msg_s == found.first_missed_msg_s
    assert back.targets == found.targets and back.outcomes == found.outcomes
    assert back.message == found.message
    # every probe, read back alone, still knows its search
    records = records_from_document(document, "capacity.json")
    assert len(records) == len(found.steps)
    assert {r.scaling_kind for r in records} == {"capacity"}
    assert {r.result.sections["capacity"].found["capacity_msg_s"] for r in records} == \
        {found.capacity_msg_s}


def test_merge_counts_every_probe_and_keeps_the_capacity_in_the_merged_file():
    found, _, _ = search(1000.0)
    merged = merge_records(records_from_document(saved(found), "capacity.json"))
    assert merged.total.sent == sum(step.sent for step in found.steps)
    document = json.loads(json.dumps(merged.to_document(), default=str))
    again = records_from_document(document, "merged.json")
    assert again[0].result.sections["capacity"].found["capacity_msg_s"] == \
        found.capacity_msg_s
    assert merged.html_page()   # the capacity chart is drawn from the probes alone


def test_a_capacity_that_drops_beyond_the_tolerance_is_a_regression():
    baseline = records_from_document(saved(search(1000.0)[0]), "baseline.json")
    same = records_from_document(saved(search(1000.0)[0]), "current.json")
    lower = records_from_document(saved(search(800.0)[0]), "current.json")
    slightly = records_from_document(saved(search(960.0)[0]), "current.json")
    ok = compare(baseline, same, tolerance=0.10)
    assert ok.passed, ok.summary()
    assert [c.figure for c in ok.checks] == ["capacity"]   # probes are not matched one by one
    assert compare(baseline, slightly, tolerance=0.10).passed
    dropped = compare(baseline, lower, tolerance=0.10)
    assert not dropped.passed
    assert "Capacity / Find It / capacity: capacity regressed" in dropped.summary()
    check = dropped.checks[0]
    assert check.baseline > 950 and check.current <= 800 and check.verdict == "REGRESSED"


def test_a_generator_limited_capacity_below_the_baseline_cannot_be_judged_and_fails():
    baseline = records_from_document(saved(search(10_000.0, low=1000)[0]), "baseline.json")
    limited, _, _ = search(1e9, low=1000, generator_limit=3000)
    current = records_from_document(saved(limited), "current.json")
    comparison = compare(baseline, current, tolerance=0.10)
    assert not comparison.passed
    assert comparison.checks[0].verdict == "GENERATOR LIMIT"
    # the other way round: a baseline limited by its generator, a server now slower
    assert not compare(current, records_from_document(saved(search(1000.0)[0]), "c.json"),
                       tolerance=0.10).passed


def test_a_capacity_search_missing_from_the_current_run_is_missing():
    baseline = records_from_document(saved(search(1000.0)[0]), "baseline.json")
    comparison = compare(baseline, [], tolerance=0.10)
    assert [c.verdict for c in comparison.checks] == ["MISSING"]


def test_the_capacity_chart_marks_the_targets_and_the_knee():
    from WebSocketLoadLibrary.reports import charts
    found, _, _ = search(1000.0)
    drawn = charts.result_charts(found)
    assert drawn[0].title.endswith("achieved rate and latency by target rate")
    assert "knee" in drawn[0].svg and "p95 target" in drawn[0].svg
    limited, _, _ = search(1e9, low=1000, generator_limit=5000)
    assert "generator limit" in charts.result_charts(limited)[0].svg


def test_a_miss_retried_counts_only_when_it_repeats():
    """A stall of a busy machine makes one probe far below the knee miss: with retries=1
    it is run again and the search goes on; a real miss repeats and stands."""
    clock = Clock()
    server = FakeServer(clock, 1000.0)
    stalled = []

    def stalling_once(rate, duration_s, name):
        result = server(rate, duration_s, name)
        if rate == 800 and not stalled and "warm-up" not in name:
            stalled.append(name)
            result.latency.record_seconds([0.3] * result.sent)   # half the messages late
        return result

    settings = SearchSettings(100, 100_000, probe_s=2, warm_up_s=0.5, pause_s=1, retries=1,
                              max_probes=20)
    found = find_capacity(settings, TARGETS, stalling_once, clock=clock, sleep=clock.sleep)
    assert stalled and found.stop_reason == PRECISION
    assert found.capacity_msg_s >= 950, found.message
    rates = [found.probe(step).rate for step in found.steps]
    assert rates.count(800) == 2 and found.outcomes[rates.index(800)] == MISSED
    assert any(name.endswith("/s (retry 1)") for _, _, name in server.calls)
    # every real miss above the knee was run twice
    assert all(rates.count(r) == 2 for r, o in zip(rates, found.outcomes) if r > 1000)
    # without retries the stall sets the knee far too low
    clock, stalled[:] = Clock(), []
    server.clock = clock
    once = find_capacity(SearchSettings(100, 100_000, probe_s=2, warm_up_s=0.5, pause_s=1),
                         TARGETS, stalling_once, clock=clock, sleep=clock.sleep)
    assert once.capacity_msg_s < 800


# -- the most connections ----------------------------------------------------------------
def connections_probe(clock: Clock, knee: int, limit: int | None = None):
    """A server whose p95 grows past `knee` connections (1 msg/s each), and that closes
    what is over `limit` right after the handshake (a connect section, as ConnectionsProbe
    gives it)."""
    from WebSocketLoadLibrary.engine.lifecycle.connect_figures import ConnectFigures
    server = FakeServer(clock, float(knee))
    calls = []

    def run(count, duration_s, name):
        calls.append(count)
        result = server(count, duration_s, name)   # 1 msg/s per connection: rate = count
        refused = max(0, int(count) - limit) if limit is not None else 0
        figures = ConnectFigures(target_rate=500.0, attempted=int(count),
                                 opened=int(count) - refused)
        if refused:
            figures.failures = {"closed after the handshake": refused}
            figures.failure_examples = {"closed after the handshake": "1013 (try again later)"}
        result.sections[figures.kind] = figures
        return result
    run.calls = calls
    return run


def test_a_connections_search_finds_the_knee_in_connections():
    clock = Clock()
    run = connections_probe(clock, knee=1234)
    settings = SearchSettings(10, 50_000, probe_s=2, warm_up_s=0.5, pause_s=1,
                              max_probes=20, unit="connections")
    found = find_capacity(settings, TARGETS, run, "connections", clock=clock,
                          sleep=clock.sleep)
    assert found.stop_reason == PRECISION, found.message
    assert found.unit == "connections" and found.capacity == found.capacity_msg_s
    assert 1234 * 0.95 <= found.capacity <= 1234 * 1.02 < found.first_missed_msg_s
    assert all(float(n).is_integer() for n in run.calls)     # a count is whole
    assert run.calls[:2] == [10, 10] and run.calls[2] == 20  # warm-up, probe; doubling
    assert f"capacity {found.capacity:,.0f} connections (within" in found.message
    assert "msg/s" not in found.message.split("(p95")[0]
    assert found.probe(found.last_met).rows()[0][1].startswith(
        f"{found.capacity:,.0f} connections met")
    # the unit is saved, and read back; a file of today's format (no unit) is msg/s
    document = saved(found)
    assert document["capacity"]["unit"] == "connections"
    assert document["settings"]["unit"] == "connections"
    back = CapacityResult.from_dict(document)
    assert back.unit == "connections" and back.message == found.message
    del document["capacity"]["unit"], document["settings"]["unit"]
    assert CapacityResult.from_dict(document).unit == "msg/s"
    rate_search, _, _ = search(1000.0)
    assert rate_search.unit == "msg/s" and "msg/s" in rate_search.message


def test_connections_that_fail_to_open_miss_the_targets_and_say_so():
    clock = Clock()
    run = connections_probe(clock, knee=10**9, limit=300)
    found = find_capacity(SearchSettings(50, 5000, probe_s=2, warm_up_s=0, pause_s=0,
                                         unit="connections", max_probes=20),
                          TARGETS, run, "limited", clock=clock, sleep=clock.sleep)
    assert found.stop_reason == PRECISION and found.capacity == 300, found.message
    missed = found.probe(found.first_missed)
    assert missed.outcome == MISSED
    assert missed.reasons[0].startswith(f"{found.first_missed_msg_s - 300:,.0f} of "
                                        f"{found.first_missed_msg_s:,.0f} connections failed")
    assert "closed after the handshake" in missed.reasons[0]
    # a connections search that is also short of the generator's rate: still a miss, since
    # the server refused connections
    step = run(400, 1, "x")
    step.load_applied, step.generator_saturated = False, True
    from WebSocketLoadLibrary.engine.capacity.search import judge_probe
    assert judge_probe(step, TARGETS)[0] == MISSED


def test_the_connections_keyword_parts_table_minimum_and_chart():
    from WebSocketLoadLibrary.reports import charts
    from WebSocketLoadLibrary.reports.summary_table import capacity_table
    from WebSocketLoadLibrary.utils.capacity_arguments import parse_minimum
    clock = Clock()
    found = find_capacity(SearchSettings(10, 5000, probe_s=2, warm_up_s=0, pause_s=0,
                                         unit="connections"),
                          TARGETS, connections_probe(clock, knee=200), "conns", clock=clock,
                          sleep=clock.sleep)
    table = capacity_table(found)
    assert ">connections</th>" in table and ">target msg/s</th>" in table
    assert "capacity 200 connections" in table or "connections (within" in table
    assert parse_minimum("1000 connections", "connections") == 1000
    assert parse_minimum("1k connections", "connections") == 1000
    assert parse_minimum("250", "connections") == 250
    assert parse_minimum("2k/s", "msg/s") == 2000
    with pytest.raises(Exception, match="number of connections"):
        parse_minimum("2k/s", "connections")
    drawn = charts.result_charts(found)[0]
    assert drawn.title.endswith("latency by connections") and "connections" in drawn.svg
    with pytest.raises(CapacitySearchError, match="wrong order: low 20 connections"):
        SearchSettings(20, 10, unit="connections")
    with pytest.raises(CapacitySearchError, match="at least 1 connection"):
        SearchSettings(0.5, 10, unit="connections")

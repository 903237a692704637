"""The regression check compares a step with a baseline step of its own kind, and checks only
figures that were measured: the mixing mistake of the merged table (replies added to stream
messages) has no way into it."""
from __future__ import annotations

from test_merge_by_kind import fanning_out, listening, record, requests, storm
from WebSocketLoadLibrary.reports.regression import compare


def test_a_step_that_changed_kind_fails_without_comparing_its_figures():
    baseline = [record(requests("the step", 1000))]
    current = [record(listening("the step", 30_000))]   # 10,000 msg/s: "improved"?
    comparison = compare(baseline, current)
    assert not comparison.passed
    assert [(c.figure, c.verdict) for c in comparison.checks] == [("kind", "KIND CHANGED")]
    assert comparison.checks[0].allowed == ("paced requests, now listen only (a stream the "
                                            "server pushes)")
    assert "Suite A / T / the step: kind kind changed" in comparison.summary()


def test_a_listen_step_is_not_checked_on_reply_latency_it_never_had():
    stream = listening("stream", 6000)
    comparison = compare([record(stream)], [record(listening("stream", 6000))])
    assert comparison.passed, comparison.summary()
    figures = [c.figure for c in comparison.checks]
    assert "throughput" in figures and "missing stream messages" in figures
    assert "p95" not in figures and "p99" not in figures


def test_a_connection_storm_is_not_checked_on_a_throughput_of_nothing():
    comparison = compare([record(storm("storm", 300))], [record(storm("storm", 300))])
    assert comparison.passed, comparison.summary()
    figures = [c.figure for c in comparison.checks]
    assert "throughput" not in figures and "failed connections" in figures
    worse = compare([record(storm("storm", 300))], [record(storm("storm", 300, failed=30))])
    assert not worse.passed and "failed connections regressed" in worse.summary()


def test_a_run_of_every_kind_passes_against_itself_and_each_step_meets_its_own():
    run = [record(requests("burst", 1000)), record(listening("stream", start=3)),
           record(fanning_out("fan-out", start=6)), record(storm("storm", start=9))]
    comparison = compare(run, run)
    assert comparison.passed, comparison.summary()
    steps = {c.step for c in comparison.checks}
    assert steps == {"Suite A / T / burst", "Suite A / T / stream", "Suite A / T / fan-out",
                     "Suite A / T / storm"}
    assert "kind" not in {c.figure for c in comparison.checks}

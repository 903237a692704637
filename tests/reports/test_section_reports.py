"""The charts in log.html and the regression check know the sections: a listen-only stream,
a fan-out (up to 10,000 subscribers) and pushes beside replies. Results are built by hand,
as the engine would give them, without a network."""
from __future__ import annotations

import subprocess
import sys
import time
import xml.etree.ElementTree as ET

import numpy as np
import pytest

from robot_runs import LIBRARIES
from WebSocketLoadLibrary.engine.patterns.fanout.figures import FanoutFigures
from WebSocketLoadLibrary.engine.results.histogram import LatencyHistogram
from WebSocketLoadLibrary.engine.results.push_counts import PushCounts
from WebSocketLoadLibrary.engine.results.result import LoadResult
from WebSocketLoadLibrary.engine.results.sections import SECTIONS
from WebSocketLoadLibrary.engine.patterns.listen_only.figures import StreamFigures
from WebSocketLoadLibrary.reports import charts
from WebSocketLoadLibrary.reports.records import (StepRecord, read_records, result_document,
                                                  write_json_atomically)
from WebSocketLoadLibrary.reports.regression import compare, section_figures

SVG = "{http://www.w3.org/2000/svg}"


def svg_texts(svg: str) -> str:
    """All text a chart shows, as one string; parsing it proves the SVG well formed."""
    root = ET.fromstring(svg)
    return " ".join("".join(element.itertext()) for element in root.iter(f"{SVG}text"))


def histogram(median_us: float, count: int, seed: int = 1) -> LatencyHistogram:
    h = LatencyHistogram()
    rng = np.random.default_rng(seed)
    h.record_many(rng.lognormal(np.log(median_us), 0.4, count).astype(np.int64))
    return h


def timeline(seconds: int, sent: int, received: int, lost: int = 0, **more) -> list[dict]:
    return [{"second": s, "span_s": 1.0, "sent": sent, "received": received, "lost": lost,
             "latency_p50_ms": 1.0, "latency_p99_ms": 3.0, **more} for s in range(seconds)]


def listen_result(rate: float = 1000.0, missing: int = 4, timestamps: bool = True) -> LoadResult:
    messages = int(rate * 3)
    stream = StreamFigures(
        connections=2, messages=messages, bytes=messages * 40, duration_s=3.0,
        per_connection_min=messages // 2, per_connection_max=messages // 2,
        slowest_connection=0, sequence_field="seq", missing=missing,
        timestamp_field="ts" if timestamps else None,
        staleness=histogram(2000, messages) if timestamps else LatencyHistogram(),
        gap=histogram(2000, messages - 2, seed=2))
    return LoadResult(name="listen step", mode="listen", duration_s=3.0, received=messages,
                      achieved_receive_rate=stream.rate, connections=2,
                      timeline=timeline(3, 0, int(rate)), sections={"stream": stream})


def fanout_result(subscribers: int = 10_000, publishes: int = 100, lost_at: int = 17,
                  lost: int = 25, slow_at: int = 42) -> LoadResult:
    deliveries = [publishes] * subscribers
    deliveries[lost_at] -= lost
    means = [round(float(m), 3) for m in np.random.default_rng(3).lognormal(0, 0.3, subscribers)]
    means[slow_at] = 300.0
    fanout = FanoutFigures(
        publishers=1, subscribers=subscribers, expected_receivers=subscribers,
        publishes=publishes, deliveries=sum(deliveries), lost_deliveries=lost,
        reached_some=lost, subscriber_deliveries=deliveries,
        subscriber_latency_mean_ms=means, subscriber_latency_max_ms=[m * 2 for m in means],
        last_delivery=histogram(20_000, publishes))
    result = LoadResult(name="fan-out step", mode="fanout", target_rate=float(publishes),
                        sent=publishes, received=sum(deliveries), lost=lost, duration_s=1.0,
                        achieved_receive_rate=float(sum(deliveries)),
                        timeline=timeline(1, publishes, sum(deliveries), lost),
                        sections={"fanout": fanout})
    result.latency = histogram(5000, 20_000)
    return result


def pushes_result() -> LoadResult:
    # pushes appear in the timeline from the first second that had one
    points = timeline(1, 100, 100) + timeline(3, 100, 100, pushes=2)[1:]
    result = LoadResult(name="replies and heartbeats", target_rate=100.0, sent=300,
                        received=300, duration_s=3.0, achieved_receive_rate=100.0,
                        timeline=points, sections={"pushes": PushCounts(4, 2, 2, 2, 0, 3.0)})
    result.latency = histogram(1000, 300)
    return result


# -- charts ----------------------------------------------------------------------------
def test_a_listen_step_charts_its_stream_rate_and_staleness_not_an_empty_latency():
    result = listen_result()
    timeline_chart, staleness = charts.result_charts(result)
    texts = svg_texts(timeline_chart.svg)
    assert "stream messages/s" in texts and "sent" not in texts
    assert "3,000 stream messages on 2 connections, 4 missing" in texts
    assert "latency" not in texts      # a listen step has no latency per second
    assert [y for _, y in timeline_chart.series["stream messages (msg/s)"]] == [1000.0] * 3
    texts = svg_texts(staleness.svg)
    stream = result.sections["stream"]
    assert "staleness by percentile" in texts and "staleness (ts)" in texts
    assert f"p99 {stream.staleness_ms(99):,.2f} ms" in texts
    assert "gap between messages" in texts and "2,998 gaps" in texts
    assert staleness.series["staleness (ts)"] == [
        (p, us / 1000) for p, us in stream.staleness.percentile_spectrum() if p < 100]


def test_a_listen_step_without_timestamps_charts_the_gaps_alone():
    _, gaps = charts.result_charts(listen_result(timestamps=False))
    texts = svg_texts(gaps.svg)
    assert "gap between messages by percentile" in texts and "staleness" not in texts


def test_a_fan_out_of_10000_subscribers_charts_readably_and_in_linear_time():
    result = fanout_result()
    started = time.perf_counter()
    drawn = charts.result_charts(result)
    elapsed_s = time.perf_counter() - started
    timeline_chart, distribution, subscribers = drawn
    texts = svg_texts(timeline_chart.svg)
    assert "publishes/s" in texts and "deliveries/s" in texts and "lost deliveries/s" in texts
    assert "100 publishes to 10,000 subscribers: 999,975 deliveries, 25 lost" in texts
    texts = svg_texts(distribution.svg)
    assert "delivery latency by percentile" in texts
    assert "publish to last subscriber" in texts and "(100 publishes)" in texts
    assert "(20,000 deliveries)" in texts
    texts = svg_texts(subscribers.svg)
    assert "10,000 subscribers; worst 17 got 0.7500 of 100 publishes" in texts
    assert "slowest 42 300.00 ms mean" in texts
    # binned: every subscriber is counted once, the lossy one in a bin of its own
    by_ratio = subscribers.series["subscribers by delivery ratio"]
    assert sum(count for _, count in by_ratio) == 10_000
    assert by_ratio[0] == (0.75, 1) and by_ratio[-1][1] == 9_999
    by_latency = subscribers.series["subscribers by mean latency (ms)"]
    assert sum(count for _, count in by_latency) == 10_000 and by_latency[-1][1] == 1
    # the same size of chart at 10,000 subscribers as at 100: nothing drawn per subscriber
    small = charts.subscribers_chart(fanout_result(subscribers=100).sections["fanout"], "s")
    assert len(subscribers.svg) < 2 * len(small.svg)
    # no time limit asserted (a shared runner); only that 100x the subscribers is not
    # 100x the work: the per-subscriber part is one pass and one numpy histogram
    few_started = time.perf_counter()
    charts.subscribers_chart(fanout_result(subscribers=100).sections["fanout"], "s")
    few_s = time.perf_counter() - few_started
    many_started = time.perf_counter()
    charts.subscribers_chart(result.sections["fanout"], "s")
    many_s = time.perf_counter() - many_started
    assert many_s < few_s * 10, (few_s, many_s, elapsed_s)


def test_a_few_subscribers_get_a_bar_each_with_the_worst_and_the_slowest_named():
    result = fanout_result(subscribers=6, lost_at=2, slow_at=1)
    result.sections["fanout"].subscriber_latency_mean_ms[5] = None   # got nothing
    chart = charts.subscribers_chart(result.sections["fanout"], "few")
    texts = svg_texts(chart.svg)
    assert "worst 2 got 0.7500" in texts and "slowest 1 300.00 ms mean" in texts
    assert "1 got none" in texts and "subscriber (connection order)" in texts
    assert chart.series["delivery ratio"][2] == (2, 0.75)
    assert [i for i, _ in chart.series["mean latency (ms)"]] == [0, 1, 2, 3, 4]


def test_a_request_reply_step_with_pushes_draws_them_per_second_on_their_own_scale():
    result = pushes_result()
    timeline_chart, distribution = charts.result_charts(result)
    texts = svg_texts(timeline_chart.svg)
    assert "pushes/s" in texts and "pushes / s" in texts and "4 pushes" in texts
    assert "sent/s" in texts and "received/s" in texts and "latency (ms)" in texts
    assert [y for _, y in timeline_chart.series["pushes (msg/s)"]] == [0.0, 2.0, 2.0]
    assert "latency by percentile" in svg_texts(distribution.svg)


def test_a_step_without_sections_keeps_its_two_charts():
    result = pushes_result()
    result.sections, result.timeline = {}, timeline(3, 100, 100)
    drawn = charts.result_charts(result)
    assert len(drawn) == 2 and "pushes (msg/s)" not in drawn[0].series
    assert "pushes" not in svg_texts(drawn[0].svg)


def test_every_chart_of_a_section_result_survives_saving_and_loading():
    for result in (listen_result(), fanout_result(subscribers=50), pushes_result()):
        again = LoadResult.from_dict(result.to_dict())
        assert [c.title for c in charts.result_charts(again)] == \
            [c.title for c in charts.result_charts(result)]


# -- regression ------------------------------------------------------------------------
def records(result: LoadResult) -> list[StepRecord]:
    return [StepRecord(LoadResult.from_dict(result.to_dict()), "S", "T")]


def test_the_compared_figures_are_those_the_sections_name():
    named = {figure for kind in SECTIONS.values()
             for figure in (*kind.higher_is_worse, *kind.lower_is_worse)}
    assert {figure for figure, _, _ in section_figures()} == named
    assert {"stream_rate", "staleness_p99_ms", "fanout_lost_deliveries",
            "fanout_delivery_ratio"} <= named


def test_equal_section_results_pass_with_their_figures_checked():
    for result in (listen_result(), fanout_result(subscribers=50)):
        comparison = compare(records(result), records(result))
        assert comparison.passed, comparison.text()
        figures = [c.figure for c in comparison.checks]
        # a stream has no reply latency: its own figures (staleness) stand for it
        core = ["throughput"] if result.mode == "listen" else ["throughput", "p95", "p99"]
        assert figures[:len(core)] == core and len(figures) > len(core)
        assert result.mode != "listen" or "p95" not in figures
    listen = compare(records(listen_result()), records(listen_result()))
    assert {"stream rate (msg/s)", "missing stream messages", "staleness p99 (ms)"} <= \
        {c.figure for c in listen.checks}
    assert "stream rate (msg/s)" in listen.summary()


def test_a_drop_in_stream_rate_regresses():
    comparison = compare(records(listen_result(rate=1000)), records(listen_result(rate=800)),
                         tolerance=0.10)
    assert not comparison.passed
    failed = {c.figure for c in comparison.failures}
    assert "stream rate (msg/s)" in failed
    assert "stream rate (msg/s) regressed (-20.0%, allowed >= 900.000)" in comparison.summary()
    assert "stream rate (msg/s)" in comparison.text()


def test_a_rise_in_lost_deliveries_regresses_and_a_fall_improves():
    clean = fanout_result(subscribers=50, lost=0)
    lossy = fanout_result(subscribers=50, lost=25)
    worse = compare(records(clean), records(lossy))
    assert not worse.passed
    assert "lost deliveries" in {c.figure for c in worse.failures}
    assert "S / T / fan-out step: lost deliveries regressed" in worse.summary()
    better = compare(records(lossy), records(clean))
    verdicts = {c.figure: c.verdict for c in better.checks}
    assert verdicts["lost deliveries"] == "improved" and better.passed


def test_results_saved_before_sections_existed_still_compare(tmp_path):
    old = fanout_result(subscribers=50).to_dict()
    old.pop("sections")
    old["summary"] = {k: v for k, v in old["summary"].items() if not k.startswith("fanout_")}
    write_json_atomically(tmp_path / "old.json", {**result_document(LoadResult()), **old,
                                                  "suite": "S", "test": "T"})
    before = read_records(tmp_path / "old.json")
    assert before[0].result.sections == {}
    both_old = compare(before, before)
    assert both_old.passed and [c.figure for c in both_old.checks] == ["throughput", "p95",
                                                                      "p99"]
    # an old baseline against a step with sections: its figures are new, nothing fails
    newer = compare(before, records(fanout_result(subscribers=50, lost=0)))
    assert newer.passed, newer.text()
    assert {c.verdict for c in newer.checks if c.figure not in ("throughput", "p95", "p99")} \
        == {"new"}
    assert "figure(s) the baseline did not have" in newer.summary()


def test_a_figure_the_baseline_had_and_the_current_step_lacks_is_missing():
    comparison = compare(records(listen_result()), records(listen_result(timestamps=False)))
    missing = [c for c in comparison.failures if c.verdict == "MISSING"]
    assert [c.figure for c in missing] == ["staleness p99 (ms)"]
    assert not comparison.passed


@pytest.mark.parametrize("tolerance", [0.10, 0.25])
def test_section_figures_move_within_the_tolerance_without_failing(tolerance):
    base = listen_result(rate=1000)
    near = listen_result(rate=1000 * (1 - tolerance / 2))
    assert compare(records(base), records(near), tolerance=tolerance).passed


def test_the_compare_command_shows_and_fails_on_section_figures(tmp_path):
    for name, result in (("base", listen_result(rate=1000)), ("same", listen_result(rate=1000)),
                         ("slower", listen_result(rate=800))):
        write_json_atomically(tmp_path / f"{name}.json", result_document(result, "S", "T"))

    def compare_files(current: str) -> subprocess.CompletedProcess:
        return subprocess.run([sys.executable, "-m", "WebSocketLoadLibrary", "compare",
                               str(tmp_path / "base.json"), str(tmp_path / current)],
                              capture_output=True, text=True, timeout=120, cwd=LIBRARIES)
    same = compare_files("same.json")
    assert same.returncode == 0, same.stdout + same.stderr
    assert "stream rate (msg/s)" in same.stdout and "staleness p99 (ms)" in same.stdout
    slower = compare_files("slower.json")
    assert slower.returncode == 1, slower.stdout + slower.stderr
    assert "stream rate (msg/s) regressed (-20.0%, allowed >= 900.000)" in slower.stdout

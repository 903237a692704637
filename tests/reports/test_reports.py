"""Reports people would rather look at than read: charts from real runs, merged runs with
true percentiles, regression checks and live Prometheus metrics. (The reporting keywords in
Robot, result files saved per test among them: tests/acceptance/test_reports_in_robot.py.)"""
from __future__ import annotations

import json
import re
import subprocess
import sys
import time
import urllib.request
import xml.etree.ElementTree as ET
from types import SimpleNamespace

import numpy as np
import pytest

from robot_runs import LIBRARIES
from WebSocketLoadLibrary.engine import LatencyHistogram, LoadPlan, LoadResult, ScalingResult
from WebSocketLoadLibrary.reports import charts
from WebSocketLoadLibrary.reports import metrics
from WebSocketLoadLibrary.reports.metrics import BUCKETS_S, Figure, LiveCounters
from WebSocketLoadLibrary.reports.metrics_endpoint import LiveCollector, MetricsEndpoint
from WebSocketLoadLibrary.reports.records import (StepRecord, read_records, result_document,
                                                  write_json_atomically)
from WebSocketLoadLibrary.reports.regression import compare

SVG = "{http://www.w3.org/2000/svg}"


def svg_texts(svg: str) -> str:
    """All text a chart shows (titles, labels, ticks, legends), as one string."""
    root = ET.fromstring(svg)
    return " ".join("".join(element.itertext()) for element in root.iter(f"{SVG}text"))


def command(*arguments: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "WebSocketLoadLibrary", *arguments],
                          capture_output=True, text=True, timeout=120, cwd=LIBRARIES)


# -- charts from a real run ------------------------------------------------------------
@pytest.fixture(scope="module")
def measured(tmp_path_factory):
    """A real step, a rate scaling and a connection scaling against the mock server."""
    from WebSocketLoadLibrary.engine import ConnectionOptions, LoadEngine
    from WebSocketLoadLibrary.mockserver import MockServerProcess
    server = MockServerProcess(compression=False, seed=5)
    uri = server.start()
    engine = LoadEngine()
    try:
        pool = engine.connect(ConnectionOptions(uri), count=2)
        step = engine.run_step(pool, LoadPlan(rate=1000, messages=2500, name="charted step"))
        rate = ScalingResult("rate", "rates")
        for target in (200, 400):
            rate.steps.append(engine.run_step(pool, LoadPlan(rate=target, messages=target,
                                                             name=f"rates: {target}/s")))
        connections = ScalingResult("connections", "connections")
        for count in (1, 2):
            more = engine.connect(ConnectionOptions(uri), count=count)
            connections.steps.append(engine.run_step(more, LoadPlan(
                rate=100 * count, duration_s=1, name=f"connections: {count} connections")))
            engine.disconnect(more)
    finally:
        engine.close()
        server.stop()
    return step, rate, connections


def test_the_step_chart_draws_the_measured_timeline_and_names_the_figures(measured):
    step, _, _ = measured
    chart = charts.step_timeline_chart(step)
    texts = svg_texts(chart.svg)  # parses: a well-formed SVG
    assert "charted step" in texts
    assert f"{step.sent:,} sent, {step.received:,} received, {step.lost:,} lost" in texts
    assert f"p99 {step.latency_ms(99):,.2f} ms" in texts
    assert "messages / s" in texts and "latency (ms)" in texts and "time since" in texts
    full = [p for p in step.timeline if p["span_s"] >= 0.5]
    drawn = chart.series["received (msg/s)"]
    assert [round(y, 6) for _, y in drawn] == [round(p["received"] / p["span_s"], 6)
                                               for p in full]
    assert [y for _, y in chart.series["p99 (ms)"]] == [p["latency_p99_ms"]
                                                        for p in step.timeline if p["received"]]


def test_the_distribution_chart_draws_the_percentile_spectrum(measured):
    step, _, _ = measured
    chart = charts.latency_distribution_chart({"charted step": step.latency})
    texts = svg_texts(chart.svg)
    assert f"p95 {step.latency_ms(95):,.2f}" in texts and "99%" in texts
    assert "percentile" in texts and "latency (ms)" in texts
    spectrum = [(p, us / 1000) for p, us in step.latency.percentile_spectrum() if p < 100]
    assert chart.series["charted step"] == spectrum


def test_the_scaling_charts_draw_achieved_against_target_and_ideal(measured):
    _, rate, connections = measured
    by_rate = charts.rate_scaling_chart(rate)
    assert by_rate.series["achieved (msg/s)"] == [(s.target_rate, s.achieved_receive_rate)
                                                  for s in rate.steps]
    texts = svg_texts(by_rate.svg)
    assert "target rate (msg/s)" in texts and "p95 latency (ms)" in texts
    assert f"{rate.steps[1].latency_ms(95):,.2f} ms" in texts
    assert f"efficiency {rate.efficiency:.3f}" in texts
    by_connections = charts.connection_scaling_chart(connections)
    assert by_connections.series["ideal (msg/s)"] == [
        (s.connections, connections.ideal_throughput(s)) for s in connections.steps]
    texts = svg_texts(by_connections.svg)
    assert "connections" in texts and "ideal (linear)" in texts
    assert f"{connections.efficiencies[-1] * 100:.0f}%" in texts


def test_importing_the_engine_does_not_import_matplotlib_or_prometheus():
    code = ("import sys; import WebSocketLoadLibrary.engine, WebSocketLoadLibrary.reports.metrics;"
            "print(any(m.startswith(('matplotlib', 'prometheus_client')) for m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         cwd=LIBRARIES, timeout=60)
    assert out.stdout.strip() == "False", out.stderr


# -- merging ---------------------------------------------------------------------------
def synthetic(name: str, samples_us: np.ndarray, started_at: float) -> LoadResult:
    result = LoadResult(name=name, target_rate=1000.0, sent=len(samples_us),
                        received=len(samples_us), started_at=started_at, duration_s=2.0,
                        achieved_receive_rate=len(samples_us) / 2.0)
    result.latency.record_many(samples_us)
    result.service_time.record_many(samples_us)
    return result


def test_merging_files_from_two_pabot_processes_gives_the_p95_of_all_samples(tmp_path):
    rng = np.random.default_rng(4)
    fast = rng.lognormal(6.5, 0.4, 9500).astype(np.int64)     # ~0.7 ms
    slow = rng.lognormal(8.5, 0.6, 500).astype(np.int64)      # ~5 ms, a slower server
    for index, (suite, samples) in enumerate((("Fast", fast), ("Slow", slow)), start=1):
        result = synthetic(f"{suite.lower()} step", samples, 1_700_000_000.0 + index)
        write_json_atomically(tmp_path / "pabot_results" / str(index) / "load-results" /
                              f"{suite}.json", result_document(result, suite, "T"))
    (tmp_path / "unrelated.json").write_text('{"not": "a result"}')
    completed = command("merge", str(tmp_path), "--json", str(tmp_path / "m.json"),
                        "--html", str(tmp_path / "m.html"))
    assert completed.returncode == 0, completed.stderr
    merged = json.loads((tmp_path / "m.json").read_text())
    everything = LatencyHistogram()
    everything.record_many(np.concatenate([fast, slow]))
    paced = merged["kinds"]["open"]     # both are paced request/reply steps
    assert paced["total"]["latency_p95_ms"] == everything.percentile_us(95) / 1000
    averaged_ms = sum(row["latency_p95_ms"] for row in paced["suites"]) / 2
    assert paced["total"]["latency_p95_ms"] < averaged_ms / 2   # what averaging would claim
    assert merged["total"]["received"] == 10_000 and merged["total"]["steps"] == 2
    assert [row["name"] for row in merged["suites"]] == ["Fast", "Slow"]
    assert [row["name"] for row in paced["suites"]] == ["Fast", "Slow"]
    assert merged["total"]["busy_s"] == pytest.approx(3.0)   # two 2 s steps 1 s apart
    page = (tmp_path / "m.html").read_text()
    assert page.count("<svg") >= 1 and "Per suite" in page   # no timeline: no timeline chart
    assert "All 2 steps" in completed.stdout and "Slow" in completed.stdout
    assert "paced requests" in completed.stdout
    # a merged file is a baseline too: every step with its histograms
    assert len(read_records(tmp_path / "m.json")) == 2


def test_merge_says_so_when_there_is_nothing_to_merge(tmp_path):
    completed = command("merge", str(tmp_path))
    assert completed.returncode == 2 and "no saved load results" in completed.stderr


# -- regression ------------------------------------------------------------------------
def test_equal_results_pass_and_a_20_percent_throughput_drop_fails(tmp_path):
    samples = np.random.default_rng(2).lognormal(7, 0.3, 3000).astype(np.int64)
    baseline = synthetic("steady", samples, 1.0)
    slower = LoadResult.from_dict(baseline.to_dict())
    slower.achieved_receive_rate *= 0.8
    assert compare([StepRecord(baseline, "S", "T")], [StepRecord(baseline, "S", "T")]).passed
    dropped = compare([StepRecord(baseline, "S", "T")], [StepRecord(slower, "S", "T")], 0.10)
    assert not dropped.passed
    assert [c.figure for c in dropped.failures] == ["throughput"]
    assert "S / T / steady: throughput regressed (-20.0%" in dropped.summary()

    for name, result in (("base", baseline), ("same", baseline), ("slower", slower)):
        write_json_atomically(tmp_path / f"{name}.json", result_document(result, "S", "T"))
    same = command("compare", str(tmp_path / "base.json"), str(tmp_path / "same.json"),
                   "--tolerance", "10%")
    assert same.returncode == 0, same.stdout + same.stderr
    assert "No regression beyond 10%" in same.stdout
    worse = command("compare", str(tmp_path / "base.json"), str(tmp_path / "slower.json"),
                    "--tolerance", "10%")
    assert worse.returncode == 1
    assert re.search(r"throughput\s+1,500\.000 msg/s\s+1,200\.000 msg/s\s+-20\.0%.*REGRESSED",
                     worse.stdout), worse.stdout


def test_a_step_missing_from_the_current_run_is_reported_and_fails(tmp_path):
    samples = np.random.default_rng(3).lognormal(7, 0.3, 500).astype(np.int64)
    one, two = synthetic("one", samples, 1.0), synthetic("two", samples, 5.0)
    comparison = compare([StepRecord(one, "S", "T"), StepRecord(two, "S", "T")],
                         [StepRecord(one, "S", "T")])
    assert not comparison.passed and "S / T / two: step missing" in comparison.summary()
    assert "MISSING" in comparison.text()


# -- live metrics ----------------------------------------------------------------------
def scrape(url: str) -> dict[str, float]:
    text = urllib.request.urlopen(url, timeout=5).read().decode()
    return {line.split(" ")[0]: float(line.split(" ")[1]) for line in text.splitlines()
            if line and not line.startswith("#")}


def test_the_prometheus_counters_rise_while_a_step_runs(server, engine, connect):
    live = LiveCounters()
    endpoint = MetricsEndpoint(live, port=0)
    local = '{agent="local"}'
    try:
        pool = connect(server.uri, count=2)
        running = engine.start_step(pool, LoadPlan(rate=600, duration_s=2.5, name="scraped"))
        live.step_started(running.step)
        seen = []
        for _ in range(3):
            time.sleep(0.7)
            seen.append(scrape(endpoint.url))
        result = running.wait()
        live.step_finished(running.step)
        after = scrape(endpoint.url)
    finally:
        endpoint.stop()
    sent = [s[f"websocket_load_messages_sent_total{local}"] for s in seen]
    assert 0 < sent[0] < sent[1] < sent[2] < result.sent, sent
    received = [s[f"websocket_load_messages_received_total{local}"] for s in seen]
    assert received[0] < received[2]
    assert all(s["websocket_load_steps_running"] == 1 for s in seen)
    assert seen[2][f"websocket_load_latency_seconds_count{local}"] > 0  # a second closed by then
    assert after[f"websocket_load_messages_sent_total{local}"] == result.sent
    assert after[f"websocket_load_latency_seconds_count{local}"] == result.latency.count
    assert after['websocket_load_latency_seconds_bucket{agent="local",le="+Inf"}'] == \
        result.latency.count
    below_5ms, _, _ = result.latency.cumulative_counts([5000])
    assert after['websocket_load_latency_seconds_bucket{agent="local",le="0.005"}'] == \
        below_5ms[0]
    assert after["websocket_load_steps_running"] == 0
    assert after["websocket_load_steps_finished_total"] == 1
    assert after[f"websocket_load_late_messages_total{local}"] == result.late_messages
    assert after[f"websocket_load_send_errors_total{local}"] == result.send_errors
    assert after[f"websocket_load_generator_resident_memory_bytes{local}"] > 10e6
    assert after[f"websocket_load_generator_cpu_seconds_total{local}"] > 0
    assert after["process_cpu_seconds_total"] > 0   # prometheus-client's own, of this process


class AgentStepStandIn:
    """What the collector reads of a DistributedStep: its agents' live figures."""

    def __init__(self, live: dict):
        self.figures, self.finished = live, False

    def live(self, refresh: bool = True) -> dict:
        return self.figures


def share(sent: int, late: int = 0, replies_under_1ms: int = 0) -> dict:
    """An agent's live figures as step_snapshot sends them."""
    below = [replies_under_1ms if bound >= 0.001 else 0 for bound in BUCKETS_S]
    return {"figures": {"messages_sent_total": sent, "late_messages_total": late},
            "latency": [*below, replies_under_1ms, replies_under_1ms * 0.0008],
            "cpu_seconds": 2.5, "rss_bytes": 50_000_000, "open_connections": 4}


def library_state(**values) -> SimpleNamespace:
    return SimpleNamespace(**{"results": [], "agent_step": None, "last_result": None,
                              "agents": None, "_engine": None, "clients": [], **values})


def exposed(collector) -> dict[str, float]:
    return {f"{sample.name}{_labels(sample.labels)}": sample.value
            for family in collector.collect() for sample in family.samples}


def _labels(labels: dict) -> str:
    return "{" + ",".join(f'{k}="{v}"' for k, v in labels.items()) + "}" if labels else ""


def test_an_agents_share_is_labelled_with_its_name_while_it_runs_and_once_remembered():
    state = library_state()
    collector = LiveCollector(LiveCounters(), state)
    state.agent_step = AgentStepStandIn({"agent-1": share(100, late=3, replies_under_1ms=90)})
    running = exposed(collector)
    assert running['websocket_load_messages_sent_total{agent="agent-1"}'] == 100
    assert running['websocket_load_messages_sent_total{agent="local"}'] == 0
    assert running['websocket_load_late_messages_total{agent="agent-1"}'] == 3
    assert running['websocket_load_latency_seconds_bucket{agent="agent-1",le="0.001"}'] == 90
    assert running['websocket_load_latency_seconds_count{agent="agent-1"}'] == 90
    assert running['websocket_load_generator_resident_memory_bytes{agent="agent-1"}'] == 50e6
    assert running['websocket_load_generator_cpu_seconds_total{agent="agent-1"}'] == 2.5
    assert running["websocket_load_steps_running"] == 1
    # the step has ended, its result is not remembered yet: nothing goes down meanwhile
    state.agent_step = None
    assert exposed(collector)['websocket_load_messages_sent_total{agent="agent-1"}'] == 100
    merged = SimpleNamespace(load_applied=False, agents=[
        {"name": "agent-1", "live": share(150, late=3, replies_under_1ms=140), "result": {}}])
    state.results.append(merged)
    state.last_result = merged
    done = exposed(collector)
    assert done['websocket_load_messages_sent_total{agent="agent-1"}'] == 150
    assert done['websocket_load_latency_seconds_count{agent="agent-1"}'] == 140
    assert done["websocket_load_steps_running"] == 0
    assert done["websocket_load_steps_finished_total"] == 1
    assert done["websocket_load_last_step_load_applied"] == 0
    # the next step on the agent adds to what its finished steps counted
    state.agent_step = AgentStepStandIn({"agent-1": share(10)})
    assert exposed(collector)['websocket_load_messages_sent_total{agent="agent-1"}'] == 160


def test_a_new_figure_is_one_entry_read_from_the_step_or_from_results(monkeypatch):
    monkeypatch.setattr(metrics, "FIGURES", metrics.FIGURES + (
        Figure("pushes_total", "Pushes received", step="recorder.pushes"),
        Figure("fanout_deliveries_total", "Fan-out deliveries", result="fanout.deliveries")))
    state = library_state()
    live = LiveCounters()
    collector = LiveCollector(live, state)
    step = SimpleNamespace(recorder=SimpleNamespace(
        sent=5, received=5, lost=0, unmatched=0, send_errors=0, pushes=7,
        latency=LatencyHistogram()))
    live.step_started(step)
    assert exposed(collector)['websocket_load_pushes_total{agent="local"}'] == 7
    live.step_finished(step)
    state.results.append(SimpleNamespace(agents=[], fanout={"deliveries": 40}, load_applied=True))
    state.results.append(SimpleNamespace(load_applied=True, agents=[
        {"name": "agent-1", "live": {"figures": {"pushes_total": 2}},
         "result": {"fanout": {"deliveries": 9}}}]))
    figures = exposed(collector)
    assert figures['websocket_load_pushes_total{agent="local"}'] == 7
    assert figures['websocket_load_pushes_total{agent="agent-1"}'] == 2
    assert figures['websocket_load_fanout_deliveries_total{agent="local"}'] == 40
    assert figures['websocket_load_fanout_deliveries_total{agent="agent-1"}'] == 9
    # a closed loop has no lateness: the figure reads 0, it does not fail the scrape
    assert figures['websocket_load_late_messages_total{agent="local"}'] == 0

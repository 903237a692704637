"""Merging a run keeps its kinds of step apart (reports/kinds.py, merge.py): request/reply
steps, listen-only streams, fan-outs, connection storms and capacity searches each get their
own figures, so no ratio is ever above 1 -- checked for any mix of kinds with hypothesis --
and the files' order changes nothing."""
from __future__ import annotations

import json
import math
import random

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from WebSocketLoadLibrary.engine import (ConnectFigures, FanoutFigures, LatencyHistogram,
                                         LoadResult, StreamFigures)
from WebSocketLoadLibrary.engine.capacity.result import CapacityProbe
from WebSocketLoadLibrary.reports.merge import merge_records
from WebSocketLoadLibrary.reports.merged_page import details_html, summary_html
from WebSocketLoadLibrary.reports.records import StepRecord, records_from_document
from property_examples import examples

START = 1_700_000_000.0


def latencies(count: int, median_us: float = 800.0, seed: int = 1) -> LatencyHistogram:
    histogram = LatencyHistogram()
    if count:
        rng = np.random.default_rng(seed)
        histogram.record_many(rng.lognormal(math.log(median_us), 0.4, count).astype(np.int64))
    return histogram


def requests(name="burst", sent=1000, lost=0, mode="open", start=0.0, applied=True):
    received = sent - lost
    return LoadResult(name=name, mode=mode, sent=sent, received=received, lost=lost,
                      started_at=START + start, duration_s=2.0, planned_messages=sent,
                      achieved_receive_rate=received / 2.0, target_rate=sent / 2.0,
                      load_applied=applied, latency=latencies(received, seed=sent))


def listening(name="listen", messages=5000, missing=0, start=0.0):
    stream = StreamFigures(connections=2, messages=messages, duration_s=3.0,
                           per_connection_min=messages // 2,
                           per_connection_max=messages - messages // 2,
                           sequence_field="seq", missing=missing, timestamp_field="ts",
                           staleness=latencies(messages, 300.0), gap=latencies(messages, 2000))
    return LoadResult(name=name, mode="listen", received=messages, started_at=START + start,
                      duration_s=3.0, achieved_receive_rate=messages / 3.0,
                      sections={"stream": stream})


def fanning_out(name="fan-out", publishes=10, subscribers=20, lost=0, start=0.0):
    expected = publishes * subscribers
    fanout = FanoutFigures(publishers=1, subscribers=subscribers,
                           expected_receivers=subscribers, publishes=publishes,
                           deliveries=expected - lost, lost_deliveries=lost,
                           last_delivery=latencies(publishes, 3000.0))
    return LoadResult(name=name, mode="fanout", sent=publishes, received=expected - lost,
                      lost=lost, started_at=START + start, duration_s=1.0,
                      achieved_receive_rate=float(expected - lost), target_rate=publishes,
                      planned_messages=publishes, sections={"fanout": fanout},
                      latency=latencies(expected - lost, 1500.0))


def storm(name="storm", attempted=100, failed=0, start=0.0, applied=True):
    connect = ConnectFigures(target_rate=100.0, attempted=attempted, opened=attempted - failed,
                             failures={"HTTP 503": failed} if failed else {},
                             achieved_rate=100.0, duration_s=1.0)
    connect.histograms["total"] = latencies(attempted - failed, 5000.0)
    return LoadResult(name=name, mode="connect", connections=attempted - failed,
                      planned_messages=attempted, started_at=START + start, duration_s=1.0,
                      load_applied=applied, sections={"connect": connect},
                      latency=connect.histograms["total"])


def probe(search="capacity", rate=1000.0, sent=1000, lost=0, start=0.0, applied=True,
          capacity=900.0):
    step = requests(f"{search}: {rate:g}/s", sent=sent, lost=lost, start=start,
                    applied=applied)
    step.sections["capacity"] = CapacityProbe(
        search=search, rate=rate, outcome="met" if not lost else "missed",
        found={"capacity_msg_s": capacity, "unit": "msg/s", "stop_reason": "precision reached",
               "lower_bound": False, "first_missed_msg_s": capacity * 1.1, "total_s": 9.0})
    return step


def record(result, suite="Suite A", test="T", source="a.json") -> StepRecord:
    return StepRecord(result, suite, test, source=source)


def ratios(node, path="") -> list[tuple[str, float]]:
    """Every figure named like a ratio or share, anywhere in a merged document."""
    found = []
    if isinstance(node, dict):
        for key, value in node.items():
            if key == "records":
                continue
            if (key.endswith("_ratio") or key.endswith("share")) and value is not None:
                found.append((f"{path}/{key}", value))
            found += ratios(value, f"{path}/{key}")
    elif isinstance(node, list):
        for number, value in enumerate(node):
            found += ratios(value, f"{path}[{number}]")
    return found


# -- the mistake the issue found ---------------------------------------------------------
def test_listen_and_fan_out_steps_no_longer_lift_the_delivery_of_request_steps():
    records = [record(requests("replies", 1000, lost=10)),
               record(listening("stream", 24_000, missing=12, start=3)),
               record(fanning_out("fan-out", publishes=100, subscribers=100, start=8))]
    merged = merge_records(records)
    document = merged.to_document()
    assert set(document["kinds"]) == {"open", "listen", "fanout"}
    assert document["kinds"]["open"]["total"]["delivery_ratio"] == pytest.approx(0.99)
    assert document["kinds"]["fanout"]["total"]["delivery_ratio"] == 1.0
    assert document["kinds"]["listen"]["total"]["missing_ratio"] == pytest.approx(
        12 / 24_012, abs=1e-6)
    assert all(0 <= value <= 1 for _, value in ratios(document))
    # over all kinds only what adds up: no ratio, no percentile
    total = document["total"]
    assert total["sent"] == 1000 + 100 and total["received"] == 990 + 24_000 + 10_000
    assert not [key for key in total if "ratio" in key or "latency" in key]
    headlines = document["suites"][0]["headlines"]
    assert [line.split(",")[0] for line in headlines] == [
        "paced requests", "listen only (a stream the server pushes)",
        "publish/subscribe fan-out"]


def test_fan_outs_of_different_sizes_expect_each_ones_own_deliveries():
    """100 publishes to 10 subscribers and 10 publishes to 100: 2,000 expected, not
    110 publishes x 100 subscribers (what merging them as shares of one step claims)."""
    small = fanning_out("ten subscribers", publishes=100, subscribers=10, lost=20)
    large = fanning_out("a hundred", publishes=10, subscribers=100, start=5)
    fanout = merge_records([record(small), record(large)]).to_document()["kinds"]["fanout"]
    assert fanout["total"]["expected_deliveries"] == 2000
    assert fanout["total"]["received"] == 1980
    assert fanout["total"]["delivery_ratio"] == pytest.approx(0.99)
    assert fanout["total"]["publishes"] == 110


def test_paced_and_closed_loop_steps_are_apart_and_their_percentiles_their_own():
    paced = requests("paced", 2000)
    closed = requests("as fast as possible", 3000, mode="closed", start=10)
    closed.latency = latencies(3000, 40_000.0)
    kinds = merge_records([record(paced), record(closed)]).to_document()["kinds"]
    assert kinds["open"]["total"]["latency_p95_ms"] == pytest.approx(
        paced.latency_ms(95))
    assert kinds["closed"]["total"]["latency_p95_ms"] == pytest.approx(
        closed.latency_ms(95))


def test_capacity_probes_are_searches_not_request_steps_nor_steps_not_applied():
    probes = [probe(rate=500, sent=500), probe(rate=1000, lost=200, start=3, applied=False)]
    steps = [record(p, "Capacity", "Search") for p in probes]
    steps.append(record(requests("plain", 100, start=10), "Capacity", "Other"))
    document = merge_records(steps).to_document()
    assert document["kinds"]["open"]["total"]["steps"] == 1
    searches = document["kinds"]["capacity"]["searches"]
    assert [(s["name"], s["capacity"], s["probes"]) for s in searches] == [
        ("capacity", 900.0, 2)]
    assert document["total"]["steps"] == 3 and document["total"]["steps_not_applied"] == 0
    assert document["total"]["sent"] == 1600
    assert "capacity search, 2 probes (Search / capacity): 900 msg/s (precision reached)" in \
        document["suites"][0]["headlines"]


def test_a_step_not_applied_is_named_in_its_kind_and_its_suite():
    merged = merge_records([record(requests("fine", 100)),
                            record(requests("behind", 100, start=5, applied=False)),
                            record(storm("storm", 50, start=9), "Suite B")])
    document = merged.to_document()
    suite_a, suite_b = document["suites"]
    assert (suite_a["steps_not_applied"], suite_b["steps_not_applied"]) == (1, 0)
    assert suite_a["headlines"][0].endswith("; load NOT applied in 1 of 2 steps")
    assert document["kinds"]["connect"]["total"]["opened"] == 50
    assert "NO (1 of 2)" in details_html(merged)


def test_a_merged_file_is_read_back_step_by_step_and_merges_the_same():
    records = [record(requests("a", 800)), record(listening("b", start=4)),
               record(fanning_out("c", start=9)), record(storm("d", start=12)),
               record(probe(start=20), "Capacity", "Search")]
    document = json.loads(json.dumps(merge_records(records).to_document(), default=str))
    again = merge_records(records_from_document(document, "merged.json")).to_document()
    assert figures(again) == figures(document)


def figures(document: dict) -> dict:
    """A merged document without what depends on when or from where it was merged."""
    return {key: value for key, value in json.loads(json.dumps(document, default=str)).items()
            if key not in ("generated_at", "records", "files", "steps")} | {
        "steps": [{k: v for k, v in row.items() if k != "source"}
                  for row in document["steps"]]}


# -- properties over any mix of kinds ---------------------------------------------------
def some(draw, whole: int) -> int:
    """None of `whole` half the time (a healthy step), else any part of it."""
    return draw(st.one_of(st.just(0), st.integers(0, whole)))


@st.composite
def steps(draw):
    """A run: steps of every kind in any mix, each with figures a real step can have
    (nothing received beyond what it expected), in up to three suites."""
    count = draw(st.integers(1, 9))
    made = []
    for number in range(count):
        kind = draw(st.sampled_from(("open", "closed", "listen", "fanout", "connect",
                                     "probe")))
        start = draw(st.floats(0, 60, allow_nan=False))
        suite = draw(st.sampled_from(("Suite A", "Suite B", "Suite C")))
        name = f"step {number}"
        if kind in ("open", "closed"):
            sent = draw(st.integers(1, 3000))
            result = requests(name, sent, lost=some(draw, sent), mode=kind,
                              start=start, applied=draw(st.booleans()))
        elif kind == "listen":
            result = listening(name, draw(st.integers(0, 40_000)),
                               missing=some(draw, 500), start=start)
        elif kind == "fanout":
            publishes, subscribers = draw(st.integers(1, 200)), draw(st.integers(1, 300))
            result = fanning_out(name, publishes, subscribers,
                                 lost=some(draw, publishes * subscribers),
                                 start=start)
        elif kind == "connect":
            attempted = draw(st.integers(1, 500))
            result = storm(name, attempted, failed=some(draw, attempted),
                           start=start)
        else:
            sent = draw(st.integers(1, 2000))
            result = probe(f"search {draw(st.integers(0, 1))}", draw(st.floats(1, 1e5)),
                           sent, lost=some(draw, sent), start=start,
                           applied=draw(st.booleans()))
        made.append(record(result, suite, f"test {number % 3}", f"file{number}.json"))
    return made


SETTINGS = settings(max_examples=examples(60), deadline=None,
                    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])


@SETTINGS
@given(steps())
def test_no_ratio_of_a_merged_run_is_above_one_for_any_mix_of_kinds(run):
    document = merge_records(run).to_document()
    found = ratios(document)
    assert all(0 <= value <= 1 for _, value in found), [r for r in found if not 0 <= r[1] <= 1]
    # what adds up over every kind is the sum of the steps' own
    assert document["total"]["sent"] == sum(r.result.sent for r in run)
    assert document["total"]["received"] == sum(r.result.received for r in run)
    kinds = document["kinds"]
    assert sum(kind.get("total", {}).get("steps", 0) for key, kind in kinds.items()
               if key != "capacity") + len(kinds.get("capacity", {}).get("steps", [])) \
        == len(run)


@SETTINGS
@given(steps(), st.randoms(use_true_random=False))
def test_merging_in_any_order_gives_the_same_figures(run, shuffler: random.Random):
    shuffled = list(run)
    shuffler.shuffle(shuffled)
    first, second = merge_records(run), merge_records(shuffled)
    assert figures(first.to_document()) == figures(second.to_document())
    assert first.text() == second.text()
    assert summary_html(first) == summary_html(second)
    assert details_html(first) == details_html(second)

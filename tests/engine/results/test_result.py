"""A load result: saved to JSON and loaded back with its histograms, and merged."""
from __future__ import annotations

import pytest

from WebSocketLoadLibrary.engine import LoadResult


def _result(name, latencies_us, sent, received, started_at=1000.0):
    result = LoadResult(name=name, target_rate=100.0, connections=1, planned_messages=sent,
                        sent=sent, received=received, lost=sent - received,
                        achieved_send_rate=100.0, achieved_receive_rate=99.0,
                        started_at=started_at)
    result.latency.record_many(latencies_us)
    result.timeline = [{"second": 0, "sent": sent, "received": received, "lost": sent - received,
                        "latency_histogram": result.latency.encode()}]
    return result


def test_result_round_trips_through_json_with_its_histograms():
    import orjson
    result = _result("a", [1000, 2000, 3000], sent=4, received=3)
    copy = LoadResult.from_dict(orjson.loads(orjson.dumps(result.to_dict())))
    assert copy.summary() == result.summary()
    assert copy.latency.percentile_us(99) == result.latency.percentile_us(99)
    assert copy.delivery_ratio == 0.75


def test_merged_results_sum_counters_and_merge_histograms():
    a = _result("a", [1000] * 90, sent=100, received=90)
    b = _result("b", [50_000] * 10, sent=10, received=10, started_at=1001.2)
    merged = LoadResult.merge([a, b])
    assert (merged.sent, merged.received, merged.lost, merged.connections) == (110, 100, 10, 2)
    assert merged.target_rate == 100.0   # b started after a: see test_merge_rates.py
    assert merged.latency.count == 100
    assert merged.reply_latency_ms(95) == pytest.approx(50.0, rel=0.01)
    # the one definition ranks the 10 lost above every reply: p95 is among them
    assert merged.latency_ms(95) == float("inf") and merged.summary()["latency_p95_ms"] is None
    assert merged.latency_ms(90) == pytest.approx(50.0, rel=0.01)
    assert [p["second"] for p in merged.timeline] == [0, 1]
    assert merged.parts == ["a", "b"]

"""A step over worker processes: counts and histograms merged, not averaged; what a worker
needs travels to it by pickle, and merged results survive JSON."""
from __future__ import annotations

import pickle

import pytest

from WebSocketLoadLibrary.engine import (ConnectionOptions, LoadPlan, LoadResult, MessageTemplate,
                                         run_step_in_workers)


def test_a_step_over_two_worker_processes_merges_counts_and_histograms(start_server):
    server = start_server(engine="picows")
    plan = LoadPlan(rate=2000, messages=3001, name="split")
    result = run_step_in_workers(ConnectionOptions(server.uri), 4, plan, workers=2,
                                 loop_kind="asyncio")
    stats = server.stats()
    assert result.parts == ["split worker 1", "split worker 2"]
    assert result.sent == result.received == stats["messages_received"] == 3001
    assert result.connections == 4 and result.target_rate == pytest.approx(2000)
    assert result.latency.count == result.service_time.count == 3001   # merged, not averaged
    # the two workers' rates add up (concurrent shares), and neither ran ahead of its plan
    assert 1000 < result.achieved_send_rate <= 2000 * 1.001
    assert result.load_applied


def test_templates_and_options_travel_to_worker_processes():
    template = MessageTemplate('{"id":$message_id,"p":"$payload"}', payload_size=3, id_field="id")
    copy = pickle.loads(pickle.dumps(template))
    assert copy.render(7) == template.render(7) == b'{"id":7,"p":"xxx"}'
    assert copy.extract_id(b'{"id":7}') == 7
    options = pickle.loads(pickle.dumps(ConnectionOptions("ws://127.0.0.1:1", token="t0k")))
    assert options.token.reveal() == "t0k" and "t0k" not in repr(options)


def test_merged_results_of_workers_survive_json():
    part = LoadResult(name="w1", sent=10, received=10)
    part.latency.record_seconds([0.001] * 10)
    merged = LoadResult.merge([part, part])
    again = LoadResult.from_dict(merged.to_dict())
    assert again.received == 20 and again.latency.count == 20

"""Memory per connection, a result section (engine/results/connection_memory.py): per side
and per connection, merged over processes, saved and read back, in the summary and the
table, and served to Prometheus (reports/metrics_endpoint.py)."""
from __future__ import annotations

from WebSocketLoadLibrary.engine import ConnectionMemory, LoadResult
from WebSocketLoadLibrary.reports.metrics_endpoint import memory_families

HOST = {"open_files_soft": 20000, "open_files_hard": 20000, "ephemeral_ports": "32768-60999",
        "ports_per_source": 28232, "somaxconn": 4096, "syn_backlog": 2048, "syncookies": 1,
        "cpus": 2}


def memory(connections=50_000, rss=450_000_000, heap=370_000_000, server=None):
    return ConnectionMemory(connections=connections, generator_processes=3,
                            generator_rss_growth_bytes=rss, generator_heap_growth_bytes=heap,
                            server_processes=0 if server is None else 3,
                            server_rss_growth_bytes=server, source_addresses=18, host=HOST)


def test_per_connection_on_each_side_and_merged_over_processes():
    one, two = memory(server=500_000_000), memory(server=500_000_000)
    assert one.per_connection("generator") == 9000 and one.per_connection("heap") == 7400
    assert one.per_connection("server") == 10_000
    merged = ConnectionMemory.merged([one, two])
    assert merged.connections == 100_000 and merged.generator_processes == 6
    assert merged.generator_bytes_per_connection == 9000
    assert memory().per_connection("server") is None      # not our server: not measured
    assert memory(connections=0).per_connection("generator") is None


def test_saved_read_back_summarised_and_shown():
    result = LoadResult(name="storm", mode="connect")
    result.sections["memory"] = memory(server=500_000_000)
    again = LoadResult.from_dict(result.to_dict()).sections["memory"]
    assert again == result.sections["memory"]
    summary = again.summary()
    assert summary["memory_generator_kb_per_connection"] == 9.0
    assert summary["memory_server_kb_per_connection"] == 10.0
    rows = dict(again.rows())
    assert rows["memory per connection (generator)"].startswith("9.00 KB RSS, 7.40 KB heap")
    assert "ephemeral ports 32768-60999" in rows["host limits"]
    assert "memory_generator_kb_per_connection" in ConnectionMemory.higher_is_worse


def test_served_to_prometheus_from_the_last_storm():
    storm = LoadResult(name="storm", mode="connect")
    storm.sections["memory"] = memory(server=500_000_000)

    class State:
        results = [storm, LoadResult(name="a step after it")]
    [family] = list(memory_families(State()))
    assert family.name == "websocket_load_memory_per_connection_bytes"
    assert {s.labels["side"]: s.value for s in family.samples} == {
        "generator": 9000, "heap": 7400, "server": 10_000}
    assert list(memory_families(type("Empty", (), {"results": []})())) == []

"""Real capacity searches against the mock server: its max_message_rate found as the rate
capacity, its connection limit as the connections capacity, and a server that dies midway
ending the search with the reason. Tens of seconds of real load, hence acceptance; the search
itself, on a fake clock: tests/engine/test_capacity.py."""
from __future__ import annotations

import json

from WebSocketLoadLibrary.engine.capacity.search import (MET, PRECISION, PROBE_ERROR, SERVER_LOST,
                                                         CapacityTargets, SearchSettings,
                                                         find_capacity)
from WebSocketLoadLibrary.engine.plan.load_plan import LoadPlan


CAPACITY = 400   # msg/s the mock server serves (max_message_rate): one queue, no drops


def test_a_real_search_finds_the_mock_servers_capacity(start_server, engine, connect):
    """The mock server serves at most 400 msg/s; beyond, its queue grows and so does
    latency. A 2% overload adds ~40 ms over a 2 s probe, so with p95 < 50 ms the knee is
    found near 400: asserted within -15% / +10% on a busy machine."""
    server = start_server(compression=False, engine="picows", max_message_rate=CAPACITY)
    pool = connect(server.uri, count=5)

    def run(rate, duration_s, name):
        return engine.run_step(pool, LoadPlan(rate=rate, duration_s=duration_s,
                                              reply_timeout_s=2.0, name=name),
                               server_pid=server.pid)

    settings = SearchSettings(CAPACITY * 0.3, CAPACITY * 10, probe_s=1.5, warm_up_s=0.5,
                              pause_s=0.5, time_budget_s=90)
    found = find_capacity(settings, CapacityTargets({95: 50.0}, min_delivery_ratio=0.99),
                          run, "mock capacity")
    assert found.stop_reason == PRECISION, found.message
    assert CAPACITY * 0.85 <= found.capacity_msg_s <= CAPACITY * 1.10, found.message
    assert found.first_missed_msg_s > CAPACITY * 0.85
    assert all(step.load_applied for step in found.steps)
    assert found.total_s < 60


def test_a_real_server_that_dies_mid_search_ends_it_with_the_reason(start_server, engine,
                                                                    connect):
    server = start_server(compression=False, engine="picows")
    pool = connect(server.uri, count=2)
    calls = []

    def run(rate, duration_s, name):
        calls.append(rate)
        if len(calls) == 3:   # the second probe's warm-up went fine: now the server dies
            server.stop()
        return engine.run_step(pool, LoadPlan(rate=rate, duration_s=duration_s,
                                              reply_timeout_s=1.0, name=name))

    found = find_capacity(SearchSettings(100, 10_000, probe_s=0.5, warm_up_s=0.2, pause_s=0),
                          CapacityTargets({95: 100.0}), run, "dies")
    assert found.failed and found.stop_reason in (SERVER_LOST, PROBE_ERROR), found.message
    assert found.outcomes[0] == MET and found.capacity_msg_s == 100
    assert "200 msg/s" in found.error
    assert found.message.startswith("the search stopped: ")
    assert json.loads(json.dumps(found.to_dict(), default=str))["capacity"]["error"]


def test_a_real_connections_search_finds_the_mock_servers_connection_limit(start_server,
                                                                           engine):
    """The mock server takes at most 30 connections: the 31st and beyond are closed with
    1013 right after the handshake, so a probe above 30 misses the targets. Loose
    latency targets (p95 < 500 ms) keep a busy machine's stalls from setting the knee."""
    from WebSocketLoadLibrary.engine.capacity.search import ConnectionsProbe
    from WebSocketLoadLibrary.engine.transport.connections import ConnectionOptions
    limit = 30
    server = start_server(compression=False, engine="picows", max_connections=limit)

    def step(pool, rate, duration_s, name):
        return engine.run_step(pool, LoadPlan(rate=rate, duration_s=duration_s,
                                              reply_timeout_s=2.0, name=name))

    probe = ConnectionsProbe(engine, ConnectionOptions(server.uri), 5.0, step,
                             connect_rate=200.0, settle_s=0.3)
    settings = SearchSettings(4, 200, probe_s=0.8, warm_up_s=0.2, pause_s=0.3,
                              precision=0.1, time_budget_s=90, unit="connections")
    try:
        found = find_capacity(settings, CapacityTargets({95: 500.0}, min_delivery_ratio=0.99),
                              probe, "mock connections")
    finally:
        probe.end_probe()
    assert not engine.pools, "every probe's connections are closed"
    assert found.stop_reason == PRECISION, found.message
    assert limit * 0.8 <= found.capacity <= limit, found.message
    assert found.first_missed_msg_s > limit * 0.8
    missed = found.probe(found.first_missed)
    if found.first_missed_msg_s > limit:
        assert "connections failed" in missed.reasons[0], missed.reasons
    assert "connections" in found.message

"""Client groups spread over worker processes (engine/spread.py): opened at a rate from one
moment on, held, stepped on as shares, fanned out to, closed -- one group and one merged
result to the user. Small counts here, with `processes` given; the library chooses them
itself when a count needs more than one process (tests/engine/runtime/test_host_limits.py)."""
from __future__ import annotations

import dataclasses

import pytest

from polling import wait_until
from WebSocketLoadLibrary.engine import (ArrivalPlan, ConnectionMemory, ConnectionOptions,
                                         EngineError, FanoutSpec, LoadPlan, LoadResult,
                                         MessageTemplate, OpeningMessages, ReconnectPolicy,
                                         SpreadPool)
from WebSocketLoadLibrary.engine.runtime.host_limits import HostLimits
from WebSocketLoadLibrary.engine import spread
from WebSocketLoadLibrary.mockserver import MockServerProcess

PUBLISH = '{"op":"publish","topic":"t","message_id":$message_id,"send_time":$send_time}'
SUBSCRIBE = OpeningMessages('{"op":"subscribe","topic":"t"}', "op == subscribed")


@pytest.fixture(scope="module")
def two_process_server():
    with MockServerProcess(engine="picows", processes=2) as server:
        yield server


def test_a_storm_over_worker_processes_is_one_group_and_one_result(engine, two_process_server):
    server = two_process_server
    pool, result = engine.open_at_rate(ConnectionOptions(server.uri), ArrivalPlan(300, 600),
                                       server_pids=server.pids, processes=3)
    try:
        assert isinstance(pool, SpreadPool) and len(pool.workers) == 3
        connect = result.sections["connect"]
        assert (connect.attempted, connect.opened, result.connections) == (300, 300, 300)
        assert connect.target_rate == 600 and result.load_applied
        memory = result.sections["memory"]
        assert isinstance(memory, ConnectionMemory) and memory.connections == 300
        assert memory.generator_processes == 3 and memory.server_processes == 2
        assert memory.generator_bytes_per_connection is not None
        assert memory.host["open_files_hard"] >= memory.host["open_files_soft"] > 0
        again = LoadResult.from_dict(result.to_dict())
        assert again.sections["memory"].summary() == memory.summary()
        assert len(pool.open_connections) == 300
        step = engine.run_step(pool, LoadPlan(rate=600, messages=900, name="paced"))
        assert (step.sent, step.received, step.connections) == (900, 900, 300)
        assert step.load_applied and step.parts == ["worker 1", "worker 2", "worker 3"]
        engine.set_lifecycle(pool, reconnect=ReconnectPolicy(3, 0.05, 0.5, 2.0, 0.1))
    finally:
        engine.disconnect(pool)
    assert not any(worker.process.is_alive() for worker in pool.workers)
    wait_until(lambda: server.stats()["connections_active"] == 0, message="closed")


def test_a_broadcast_reaches_every_subscriber_of_a_spread_group(engine, two_process_server):
    server = two_process_server
    publishers = engine.connect(ConnectionOptions(server.uri), count=1)
    audience = engine.connect(ConnectionOptions(server.uri, opening=SUBSCRIBE), count=120,
                              processes=2)
    try:
        result = engine.run_step(publishers, LoadPlan(
            rate=5, messages=5, reply_timeout_s=3.0, fanout=FanoutSpec(), name="broadcast"),
            MessageTemplate(PUBLISH), roles={"subscribers": audience})
        fanout = result.sections["fanout"]
        assert (fanout.publishes, fanout.deliveries, fanout.lost_deliveries) == (5, 600, 0)
        assert result.delivery_ratio == 1.0 and result.load_applied
        assert fanout.last_delivery.max_us() > 0
        with pytest.raises(EngineError, match="give the spread group as the subscribers"):
            engine.start_step(audience, LoadPlan(rate=5, messages=5, fanout=FanoutSpec()),
                              roles={"subscribers": publishers})
    finally:
        engine.disconnect(audience)
        engine.disconnect(publishers)


def test_toward_loopback_a_count_past_one_address_ports_takes_more_sources(engine, monkeypatch):
    here = HostLimits.read()
    narrow = dataclasses.replace(here, port_low=40000, port_high=40099)   # 100 ports
    monkeypatch.setattr(spread.HostLimits, "read", classmethod(lambda cls: narrow))
    options, processes, _ = engine._prepared(ConnectionOptions("ws://127.0.0.1:9"), 250, 100, 1)
    # one address for every tenth of its ports: connect() slows as they fill
    assert len(options.source_addresses) == 25 and processes == 1
    assert options.source_addresses[:2] == ["127.0.0.2", "127.0.0.3"]
    given = ConnectionOptions("ws://127.0.0.1:9", source_addresses=["127.0.0.9"])
    with pytest.raises(EngineError, match="need 3 source addresses"):
        engine._prepared(given, 250, 100, 1)

"""The fast paths measure as truly as the websockets ones: picows client transport, picows
mock server engine, worker processes and the precise pacing timer.

Behaviour only (counts, correlation, latency truth, error texts); speed belongs in bench/.
"""
from __future__ import annotations

import asyncio
import pickle
import time

import pytest

from WebSocketLoadLibrary.engine import (ConnectError, ConnectionOptions, LoadPlan, LoadResult,
                                         MessageTemplate, run_step_in_workers)
from WebSocketLoadLibrary.engine.runtime.precise_sleep import PreciseSleeper

LIMIT_CLOSE = "connection closed by server with code 1013 (try again later): connection limit reached"
SERVER_ENGINES = ("websockets", "picows")


@pytest.fixture(params=SERVER_ENGINES)
def any_server(request, start_server):
    return start_server(engine=request.param, compression=False, seed=1)


# -- choosing the transport ----------------------------------------------------------------
def test_auto_takes_picows_unless_a_websockets_only_feature_is_asked_for():
    assert ConnectionOptions("ws://127.0.0.1:1").resolved_transport == "picows"
    assert ConnectionOptions("ws://127.0.0.1:1", compression=True).resolved_transport == "websockets"
    assert ConnectionOptions("ws://127.0.0.1:1", subprotocols=["v1"]).resolved_transport == "websockets"
    assert ConnectionOptions("ws://127.0.0.1:1", transport="websockets").resolved_transport == "websockets"


def test_picows_with_compression_is_refused_with_the_way_out():
    with pytest.raises(ConnectError, match="transport picows cannot do compression: use "
                                           "transport=websockets"):
        ConnectionOptions("ws://127.0.0.1:1", transport="picows", compression=True)
    with pytest.raises(ConnectError, match="transport must be one of auto, websockets, picows"):
        ConnectionOptions("ws://127.0.0.1:1", transport="tcp")


def test_default_connections_use_picows(server, connect):
    pool = connect(server.uri, count=2)
    assert pool.transport == "picows"


# -- counts, correlation and latency truth on the picows transport --------------------------
def test_closed_loop_counts_match_the_server_on_both_server_engines(any_server, engine, connect):
    pool = connect(any_server.uri, count=3, transport="picows")
    result = engine.run_step(pool, LoadPlan(rate=None, messages=9000, window=16))
    stats = any_server.stats()
    assert result.sent == result.received == 9000
    assert stats["messages_received"] == stats["messages_sent"] == 9000
    assert result.lost == result.unmatched == result.invalid_replies == 0
    assert result.latency.count == result.service_time.count == 9000


def test_response_delay_of_50_ms_is_measured_as_50_ms_over_picows(start_server, engine, connect):
    server = start_server(engine="picows", response_delay=0.05)
    pool = connect(server.uri, count=2, transport="picows")
    result = engine.run_step(pool, LoadPlan(rate=200, messages=600), server_pid=server.pid)
    assert result.received == 600 and result.load_applied
    assert result.latency_ms(50) == pytest.approx(50.0, abs=3.0)
    assert result.service_time_ms(50) == pytest.approx(50.0, abs=3.0)


def test_a_half_second_stall_shows_in_the_intended_time_p99_over_picows(start_server, engine,
                                                                       connect):
    server = start_server(engine="picows")
    pool = connect(server.uri, count=4, transport="picows")
    running = engine.start_step(pool, LoadPlan(rate=1000, messages=3000), server_pid=server.pid)
    time.sleep(1.5)
    server.set_faults(stall=0.5)
    result = running.wait()
    assert result.received == 3000 and result.load_applied
    assert result.latency_ms(99) >= 400
    assert result.latency_ms(50) < 50


def test_dropped_and_garbled_replies_are_counted_as_the_picows_server_counts_them(
        start_server, engine, connect):
    server = start_server(engine="picows", drop_ratio=0.01, garble_ratio=0.02, seed=11)
    pool = connect(server.uri, count=5, transport="picows")
    result = engine.run_step(pool, LoadPlan(rate=3000, messages=6000, reply_timeout_s=1.0))
    stats = server.stats()
    assert stats["messages_received"] == result.sent == 6000
    assert result.invalid_replies == stats["messages_garbled"] > 0
    assert result.lost == stats["messages_dropped"] + stats["messages_garbled"]
    assert result.received == stats["messages_sent"] - stats["messages_garbled"]
    assert result.unmatched == 0


@pytest.mark.parametrize("rate, messages", [(1000, 3000), (5000, 10000)])
def test_paced_picows_holds_the_rate_within_one_percent(any_server, engine, connect, rate,
                                                         messages):
    pool = connect(any_server.uri, count=10, transport="picows")
    result = engine.run_step(pool, LoadPlan(rate=rate, messages=messages))
    assert result.sent == result.received == messages
    assert result.achieved_send_rate == pytest.approx(rate, rel=0.01)
    assert result.load_applied, result.not_applied_reasons


def test_server_disconnects_over_picows_are_reported_with_code(any_server, engine, connect):
    any_server.set_faults(disconnect_after=100)
    pool = connect(any_server.uri, count=2, transport="picows")
    result = engine.run_step(pool, LoadPlan(rate=1000, messages=1000, reply_timeout_s=1.0))
    assert 200 <= result.sent <= 210
    assert result.send_errors == 1000 - result.sent
    assert result.received == 200 and result.lost == result.sent - 200
    assert not result.load_applied
    assert any("code 1011" in error for error in result.errors)
    assert sum(result.connections_closed.values()) == 2


# -- connecting over picows ----------------------------------------------------------------
@pytest.mark.parametrize("engine_name", SERVER_ENGINES)
def test_picows_past_the_server_limit_fails_with_1013(start_server, connect, engine_name):
    server = start_server(engine=engine_name, max_connections=2, compression=False)
    with pytest.raises(ConnectError) as raised:
        connect(server.uri, count=4, transport="picows")
    assert str(raised.value) == f"2 of 4 connections failed right after the handshake: {LIMIT_CLOSE}"


@pytest.mark.parametrize("engine_name", SERVER_ENGINES)
def test_picows_bearer_token_missing_and_right(start_server, connect, engine_name):
    server = start_server(engine=engine_name, auth_token="s3cret", compression=False)
    with pytest.raises(ConnectError) as raised:
        connect(server.uri, transport="picows")
    assert str(raised.value) == (f"server at {server.uri} refused the handshake: HTTP 401 "
                                 "Unauthorized (the bearer token is missing)")
    assert connect(server.uri, transport="picows", token="s3cret").open_connections
    assert server.stats()["auth_failures"] == 1


# -- the picows mock server ------------------------------------------------------------------
def test_picows_server_ack_mode_and_counters(start_server, engine, connect):
    server = start_server(engine="picows", mode="ack")
    assert server.ready["engine"] == "picows"
    pool = connect(server.uri, count=2, transport="websockets")
    result = engine.run_step(pool, LoadPlan(rate=2000, messages=1000))
    stats = server.stats()
    assert result.received == 1000 and result.invalid_replies == 0
    assert stats["connections_active"] == 2 and stats["bytes_received"] > 1000 * 50
    engine.disconnect(pool)
    deadline = time.monotonic() + 5
    while server.stats()["connections_active"] and time.monotonic() < deadline:
        time.sleep(0.05)
    stats = server.stats()
    assert stats["connections_closed"] == 2 and stats["close_codes"] == {"1000": 2}
    assert stats["connection_errors"] == 0


def test_picows_server_refuses_subprotocols_at_start(start_server):
    from WebSocketLoadLibrary.mockserver.process import MockServerError
    with pytest.raises(MockServerError, match="does not negotiate subprotocols"):
        start_server(engine="picows", subprotocols=["v1"])


# -- worker processes ----------------------------------------------------------------------
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


# -- the precise pacing timer ----------------------------------------------------------------
def test_precise_sleeper_wakes_at_the_due_time_not_a_millisecond_later():
    async def lateness() -> list[float]:
        sleeper = PreciseSleeper(asyncio.get_running_loop())
        late = []
        try:
            for _ in range(50):
                due = time.perf_counter() + 0.0003
                await sleeper.until(due)
                late.append(time.perf_counter() - due)
        finally:
            sleeper.close()
        return late

    late = asyncio.run(lateness())
    assert min(late) >= 0                      # never early
    assert sorted(late)[len(late) // 2] < 0.0005   # typically well under the 1 ms tick


@pytest.mark.parametrize("kind", ["timerfd", "spin"])
def test_a_due_time_already_past_still_lets_the_loop_run_once(kind):
    # a pacer that is just keeping up finds every due time past: if it never yielded, the
    # replies would wait unread and the writes unsent for as long as it kept up
    async def yielded() -> bool:
        sleeper = PreciseSleeper(asyncio.get_running_loop())
        if kind == "spin":
            sleeper.close()
        ran = []
        asyncio.get_running_loop().call_soon(ran.append, True)
        try:
            await sleeper.until(time.perf_counter() - 1.0)
        finally:
            sleeper.close()
        return bool(ran)

    assert asyncio.run(yielded())

"""Measurement truth: real mock server process, real connections, figures checked.

These are the measuring rules of docs/architecture.md: latency from the intended send time, delivery
accounting that matches the server's own counters, pacing within 1%, and a result that
says so when the generator could not apply the load.

Every test runs over both client transports (`transport`): websockets against the mock
server's websockets engine, and the fast paths, picows against its picows engine. Tests
that say `any_server` run each transport against both server engines. Seconds of real load
each, about a minute and a half in all: an acceptance test, which `./run quick` leaves out.
"""
from __future__ import annotations

import time

import pytest

from WebSocketLoadLibrary.engine import EngineError, LoadPlan, MessageTemplate, StepTimeout

TRANSPORTS = ("websockets", "picows")


@pytest.fixture(params=TRANSPORTS)
def transport(request) -> str:
    """The client transport; the mock server engine of the same name serves it."""
    return request.param


@pytest.fixture
def server(start_server, transport):
    """A healthy echo server of the transport's engine, without compression, fixed seed."""
    return start_server(engine=transport, compression=False, seed=1)


@pytest.fixture(params=TRANSPORTS, ids=[f"{name} server" for name in TRANSPORTS])
def any_server(request, start_server):
    """A healthy echo server of either engine, for tests run with both against each
    transport."""
    return start_server(engine=request.param, compression=False, seed=1)


def test_response_delay_of_50_ms_is_measured_as_50_ms(server, engine, connect, transport):
    server.set_faults(response_delay=0.05)
    pool = connect(server.uri, count=2, transport=transport)
    result = engine.run_step(pool, LoadPlan(rate=200, messages=600), server_pid=server.pid)
    assert result.received == 600 and result.load_applied
    assert result.latency_ms(50) == pytest.approx(50.0, abs=3.0)
    assert result.service_time_ms(50) == pytest.approx(50.0, abs=3.0)


def test_a_half_second_stall_shows_in_the_intended_time_p99(server, engine, connect, transport):
    pool = connect(server.uri, count=4, transport=transport)
    running = engine.start_step(pool, LoadPlan(rate=1000, messages=3000), server_pid=server.pid)
    time.sleep(1.5)
    server.set_faults(stall=0.5)
    result = running.wait()
    assert result.received == 3000 and result.load_applied
    assert result.latency_ms(99) >= 400
    assert result.latency_ms(50) < 50           # the stall hit ~1/6 of the messages
    worst_second = max(point["latency_max_ms"] for point in result.timeline)
    assert worst_second >= 400


def test_dropped_messages_are_lost_exactly_as_the_server_counts_them(start_server, engine,
                                                                    connect, transport):
    server = start_server(engine=transport, drop_ratio=0.01, seed=11, compression=False)
    pool = connect(server.uri, count=5, transport=transport)
    result = engine.run_step(pool, LoadPlan(rate=3000, messages=6000, reply_timeout_s=1.0),
                             server_pid=server.pid)
    stats = server.stats()
    assert stats["messages_received"] == 6000
    assert result.sent == 6000
    assert result.lost == stats["messages_dropped"]
    assert result.received == stats["messages_sent"]
    assert result.delivery_ratio == pytest.approx(0.99, abs=0.005)
    assert result.unmatched == 0 and result.invalid_replies == 0


def test_dropped_and_garbled_replies_are_counted_as_the_server_counts_them(
        start_server, engine, connect, transport):
    server = start_server(engine=transport, drop_ratio=0.01, garble_ratio=0.02, seed=11)
    pool = connect(server.uri, count=5, transport=transport)
    result = engine.run_step(pool, LoadPlan(rate=3000, messages=6000, reply_timeout_s=1.0))
    stats = server.stats()
    assert stats["messages_received"] == result.sent == 6000
    assert result.invalid_replies == stats["messages_garbled"] > 0
    assert result.lost == stats["messages_dropped"] + stats["messages_garbled"]
    assert result.received == stats["messages_sent"] - stats["messages_garbled"]
    assert result.unmatched == 0


@pytest.mark.parametrize("rate, messages", [(1000, 3000), (5000, 10000)])
def test_the_pacer_sends_every_message_and_never_ahead_of_its_rate(any_server, engine, connect,
                                                                   transport, rate, messages):
    """How close to the rate it keeps (within 1% here, where the generator is not
    saturated) is a figure of the machine's speed and noise: bench/run.py's paced table
    measures it. What holds on any machine: every message goes, none before its time."""
    pool = connect(any_server.uri, count=10, transport=transport)
    result = engine.run_step(pool, LoadPlan(rate=rate, messages=messages),
                             server_pid=any_server.pid)
    assert result.sent == messages and result.received == messages
    assert result.achieved_send_rate <= rate * 1.0001     # never ahead of the schedule
    assert result.achieved_send_rate >= rate * 0.75       # a quarter-step hiccup at most
    assert result.load_applied, result.not_applied_reasons
    if transport == "picows":   # the fast path has been held to 1% on either server engine
        assert result.achieved_send_rate == pytest.approx(rate, rel=0.01)


def test_a_rate_the_generator_cannot_reach_is_flagged_as_not_applied(server, engine, connect,
                                                                      transport):
    pool = connect(server.uri, count=2, transport=transport)
    # a reply timeout no server speed can reach: every reply comes, however busy the box
    result = engine.run_step(pool, LoadPlan(rate=10_000_000, messages=100_000,
                                            reply_timeout_s=120), server_pid=server.pid)
    assert result.received == 100_000          # everything arrived, yet ...
    assert not result.load_applied             # ... the planned load was not applied
    assert result.achieved_send_rate < 1_000_000
    assert "achieved send rate" in result.not_applied_reasons[0]
    # 100,000 messages due within 10 ms: all but those of the first 10 ms go out late
    assert result.late_messages > result.sent // 2
    assert "went out more than 10 ms late" in result.not_applied_reasons[0]


def test_a_generator_that_stalls_for_a_sustained_share_of_a_step_is_flagged(server, engine,
                                                                          connect, transport):
    pool = connect(server.uri, count=4, transport=transport)
    running = engine.start_step(pool, LoadPlan(rate=1000, messages=3000), server_pid=server.pid)
    time.sleep(0.5)
    # the generator's event loop does nothing else for 1.5 s: half the step's messages are
    # due in that time (a slower machine only makes them later)
    engine.loop.loop.call_soon_threadsafe(time.sleep, 1.5)
    result = running.wait()
    assert result.received == 3000               # everything arrived, yet ...
    assert not result.load_applied               # ... not at the planned times
    assert result.late_messages >= 1000 and result.longest_late_s >= 1.0
    # (replies that queued unread during the stall may add a reason of their own)
    assert any("went out more than 10 ms late, the longest stretch behind" in reason
               for reason in result.not_applied_reasons), result.not_applied_reasons


def test_closed_loop_counts_match_the_server_on_both_server_engines(any_server, engine, connect,
                                                                   transport):
    pool = connect(any_server.uri, count=3, transport=transport)
    result = engine.run_step(pool, LoadPlan(rate=None, messages=9000, window=16))
    stats = any_server.stats()
    assert result.sent == result.received == 9000
    assert stats["messages_received"] == stats["messages_sent"] == 9000
    assert result.lost == result.unmatched == result.invalid_replies == 0
    assert result.latency.count == result.service_time.count == 9000


def test_closed_loop_at_max_rate_reports_service_time_as_latency(server, engine, connect,
                                                                 transport):
    pool = connect(server.uri, count=2, transport=transport)
    result = engine.run_step(pool, LoadPlan(rate=None, messages=5000, window=8))
    assert result.mode == "closed" and "service time" in result.latency_basis
    assert result.received == 5000 and result.delivery_ratio == 1.0
    assert result.latency_ms(99) == result.service_time_ms(99)
    assert result.achieved_receive_rate > 1000


def test_closed_loop_for_a_duration_stops_on_time(server, engine, connect, transport):
    pool = connect(server.uri, count=2, transport=transport)
    result = engine.run_step(pool, LoadPlan(rate=None, duration_s=1.0, window=4))
    assert 0.9 <= result.send_duration_s <= 1.2
    assert result.received == result.sent > 500


def test_a_paced_step_for_a_duration_sends_rate_times_duration(server, engine, connect,
                                                               transport):
    pool = connect(server.uri, count=3, transport=transport)
    result = engine.run_step(pool, LoadPlan(rate=500, duration_s=2.0))
    assert result.planned_messages == 1000 and result.received == 1000
    assert len(result.timeline) >= 2
    assert sum(point["sent"] for point in result.timeline) == 1000


def test_server_disconnects_are_reported_with_code_and_the_load_is_not_applied(any_server,
                                                                              engine, connect,
                                                                              transport):
    any_server.set_faults(disconnect_after=100)
    pool = connect(any_server.uri, count=2, transport=transport)
    result = engine.run_step(pool, LoadPlan(rate=1000, messages=1000, reply_timeout_s=1.0))
    # each connection took 100 messages, then closed; a message may still be on its way
    # out while the close frame travels in, and that one is sent but lost
    assert 200 <= result.sent <= 210
    assert result.send_errors == 1000 - result.sent
    assert result.received == 200 and result.lost == result.sent - 200
    assert not result.load_applied
    assert any("code 1011" in error for error in result.errors)
    assert "could not be sent" in " ".join(result.not_applied_reasons)
    assert result.delivery_ratio <= 0.2
    assert sum(result.connections_closed.values()) == 2


def test_garbled_replies_are_invalid_and_their_messages_lost(start_server, engine, connect,
                                                             transport):
    server = start_server(engine=transport, garble_ratio=0.1, seed=5, compression=False)
    pool = connect(server.uri, count=2, transport=transport)
    result = engine.run_step(pool, LoadPlan(rate=2000, messages=2000, reply_timeout_s=0.5))
    garbled = server.stats()["messages_garbled"]
    assert garbled > 100
    assert result.invalid_replies == garbled
    assert result.lost == garbled
    assert result.received == 2000 - garbled


def test_a_late_reply_of_one_step_never_matches_the_next(start_server, engine, connect,
                                                         transport):
    server = start_server(engine=transport, response_delay=0.4, compression=False)
    pool = connect(server.uri, transport=transport)
    first = engine.run_step(pool, LoadPlan(rate=100, messages=20, reply_timeout_s=0.1))
    assert first.lost == 20
    server.clear_faults()
    second = engine.run_step(pool, LoadPlan(rate=100, messages=20, reply_timeout_s=1.0))
    # the first step's replies arrive during the second one: counted, never matched
    assert second.received == 20 and second.unmatched == 20


def test_a_step_past_its_timeout_is_cancelled_and_says_how_far_it_got(server, engine, connect,
                                                                       transport):
    pool = connect(server.uri, transport=transport)
    started = time.monotonic()
    with pytest.raises(StepTimeout, match=r"within 0.5 s \(sent \d+, received \d+, lost \d+"):
        engine.run_step(pool, LoadPlan(rate=100, messages=1000), timeout_s=0.5)
    assert time.monotonic() - started < 7
    again = engine.run_step(pool, LoadPlan(rate=500, messages=100))
    assert again.received == 100


def test_a_step_without_open_connections_fails_clearly(start_server, engine, connect, transport):
    server = start_server(engine=transport, disconnect_after=1, compression=False)
    pool = connect(server.uri, transport=transport)
    engine.run_step(pool, LoadPlan(rate=100, messages=2, reply_timeout_s=0.2))
    with pytest.raises(EngineError, match="no open connections.*1011"):
        engine.run_step(pool, LoadPlan(rate=100, messages=2))


def test_binary_messages_and_custom_templates_work_end_to_end(start_server, engine, connect,
                                                               transport):
    server = start_server(engine=transport, mode="ack", compression=False)
    pool = connect(server.uri, count=2, transport=transport)
    template = MessageTemplate('{"kind":"order","message_id":$message_id,"pad":"$payload"}',
                               payload_size=200, binary=True)
    result = engine.run_step(pool, LoadPlan(rate=500, messages=500), template=template)
    assert result.received == 500
    assert server.stats()["bytes_received"] > 500 * 200


def test_resources_of_generator_and_server_are_sampled(server, engine, connect, transport):
    pool = connect(server.uri, count=2, transport=transport)
    result = engine.run_step(pool, LoadPlan(rate=1000, messages=1500), server_pid=server.pid)
    generator, mock = result.resources["generator"], result.resources["server"]
    assert generator["rss_peak_bytes"] >= generator["rss_baseline_bytes"] > 10 * 2**20
    assert mock["pid"] == server.pid and mock["rss_peak_bytes"] > 5 * 2**20
    assert len(generator["samples"]) >= 4
    assert mock["cpu_percent_mean"] > 0


def test_a_server_killed_mid_step_ends_the_step_with_what_was_lost(start_server, engine, connect,
                                                                    transport):
    server = start_server(engine=transport, compression=False)
    pool = connect(server.uri, count=3, transport=transport)
    running = engine.start_step(pool, LoadPlan(rate=1000, messages=3000, reply_timeout_s=1.0),
                                timeout_s=30)
    time.sleep(1.0)
    server.process.kill()
    started = time.monotonic()
    result = running.wait()
    assert time.monotonic() - started < 10
    assert 500 < result.received < 1500
    assert result.send_errors > 1000
    assert result.received + result.lost == result.sent
    assert not result.load_applied
    lost_connection = "connection lost without a close frame (1006 abnormal closure)"
    assert result.errors[lost_connection] == 3
    assert result.connections_closed == {lost_connection: 3}
    assert result.errors[f"not sent: {lost_connection}"] == result.send_errors
    assert result.not_applied_reasons[0] == (
        f"{result.send_errors} of 3000 messages could not be sent ({lost_connection})")


def test_measurement_works_with_permessage_deflate(start_server, engine, connect):
    """websockets only: picows does no compression."""
    server = start_server()  # offers compression
    pool = connect(server.uri, count=2, compression=True)
    result = engine.run_step(pool, LoadPlan(rate=1000, messages=1000), server_pid=server.pid)
    assert result.received == 1000 and result.load_applied
    assert pool.connections[0].ws.protocol.extensions


def test_a_server_that_stops_reading_pushes_back_and_the_pacer_shows_the_lag(server, engine,
                                                                             connect, transport):
    pool = connect(server.uri, transport=transport)
    template = MessageTemplate(payload_size=4000)
    running = engine.start_step(pool, LoadPlan(rate=5000, messages=10_000), template=template,
                                timeout_s=60)
    time.sleep(0.5)
    server.set_faults(read_stall=1.0)
    result = running.wait()
    assert result.received == 10_000
    assert result.max_lag_s > 0.3        # the pacer waited on TCP backpressure ...
    assert result.latency_ms(99) > 500   # ... and the messages it held back count as late
    assert not result.load_applied and not result.generator_saturated   # the server's doing
    assert "times for the server to read what was sent (TCP backpressure)" in \
        result.not_applied_reasons[0]
    assert server.stats()["faults"]["read_stall_remaining"] == 0

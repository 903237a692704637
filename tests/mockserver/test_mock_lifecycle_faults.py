"""The mock server's connection lifecycle and capacity faults: handshake_delay, refuse_for,
hang_handshakes, close_after, max_handshake_rate, max_message_rate and the restart action.

First as plain objects (core.py decides each handshake and connection, pipeline.py each
message), driven by calling them with a clock of our own; then as real server processes
on both engines with real clients, where every test also reads the server's counters.
"""
from __future__ import annotations

import time
from contextlib import ExitStack

import pytest
from websockets.exceptions import ConnectionClosed

from fake_clock import Clock
from WebSocketLoadLibrary.engine import ConnectionOptions, LoadPlan
from WebSocketLoadLibrary.engine.lifecycle.arrivals import ArrivalPlan
from WebSocketLoadLibrary.mockserver import (ControlError, FAULT_NAMES, FaultError, Faults,
                                             MockServerError)
from WebSocketLoadLibrary.mockserver.core import HANG, MockServerCore
from WebSocketLoadLibrary.mockserver.picows_server import PicowsMockServer
from WebSocketLoadLibrary.mockserver.pipeline import Exchange, PacedExchange, RepeatingExchange

from test_mockserver import open_client, round_trip, stats_when

ENGINES = ("websockets", "picows")
LIFECYCLE = ("handshake_delay", "refuse_for", "hang_handshakes", "close_after",
             "max_handshake_rate", "max_message_rate")


@pytest.fixture
def clock(clock, monkeypatch) -> Clock:
    """The pipeline's clock (conftest.py) is the faults' and the core's too."""
    monkeypatch.setattr("WebSocketLoadLibrary.mockserver.faults.time.monotonic", clock)
    monkeypatch.setattr("WebSocketLoadLibrary.mockserver.core.time.monotonic", clock)
    return clock


class RecordingCore(MockServerCore):
    """The core with its engine hooks recorded instead of carried out."""

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self.timers: list[tuple[float, object]] = []
        self.closes: list[tuple[Exchange, int, str]] = []

    def later(self, seconds, callback):
        self.timers.append((seconds, callback))

    def close_connection(self, exchange, code, reason):
        self.closes.append((exchange, code, reason))

    def fire_timers(self):
        timers, self.timers = self.timers, []
        for _, callback in timers:
            callback()


@pytest.fixture
def core(clock) -> RecordingCore:
    return RecordingCore()


# -- the faults as data ------------------------------------------------------------------
def test_the_lifecycle_faults_are_known_set_checked_described_and_cleared(clock):
    assert set(LIFECYCLE) <= set(FAULT_NAMES)
    faults = Faults()
    faults.update(handshake_delay=0.5, refuse_for=3, hang_handshakes=2, close_after=1.5,
                  max_handshake_rate=50, max_message_rate=200)
    described = faults.describe()
    assert (described["handshake_delay"], described["close_after"]) == (0.5, 1.5)
    assert (described["max_handshake_rate"], described["max_message_rate"]) == (50, 200)
    assert (described["refuse_for_remaining"], described["hang_handshakes_remaining"]) == (3, 2)
    clock.now += 2.5
    assert faults.describe()["refuse_for_remaining"] == pytest.approx(0.5)
    assert faults.describe()["hang_handshakes_remaining"] == 0
    with pytest.raises(FaultError, match="fault max_message_rate must be >= 0, got -1"):
        faults.update(max_message_rate=-1)
    faults.clear()
    assert {name: value for name, value in faults.describe().items() if value} == {}


def test_the_picows_engine_refuses_the_handshake_faults_it_cannot_carry_out_naming_websockets():
    server = PicowsMockServer()
    for name in ("handshake_delay", "hang_handshakes"):
        with pytest.raises(FaultError) as refused:
            server.faults.update(**{name: 1})
        assert str(refused.value) == (
            f"fault {name} needs the websockets engine (--engine websockets, "
            "engine=websockets): picows answers a handshake in the same call that reads it")
    server.faults.update(refuse_for=1, close_after=2, max_handshake_rate=3, max_message_rate=4,
                         handshake_delay=0)
    with pytest.raises(FaultError, match="hang_handshakes needs the websockets engine"):
        PicowsMockServer(faults=Faults(hang_until=time.monotonic() + 5))


# -- handshakes, decided by calling the core ----------------------------------------------
def test_handshake_delay_keeps_each_handshake_waiting_but_never_the_control_endpoint(core):
    assert core.handshake_wait("/") == 0
    core.faults.update(handshake_delay=0.75)
    assert [core.handshake_wait(path) for path in ("/", "/chat?x=1", "/_control?key=k")] == \
        [0.75, 0.75, 0]
    assert core.stats.handshakes_delayed == 2


def test_hang_handshakes_leaves_new_handshakes_unanswered_for_its_time_then_stops(core, clock):
    core.faults.update(hang_handshakes=2, handshake_delay=0.5)
    assert core.handshake_wait("/") is HANG and core.handshake_wait("/_control") == 0
    clock.now += 1.9
    assert core.handshake_wait("/") is HANG
    clock.now += 0.2
    assert core.handshake_wait("/") == 0.5      # over: back to the delay alone
    assert (core.stats.handshakes_hung, core.stats.handshakes_delayed) == (2, 1)


def test_refuse_for_answers_503_for_its_time_then_accepts_and_counts_both(core, clock):
    core.faults.update(refuse_for=1)
    refusal = core.check_request("/", "")
    assert refusal.status == 503 and "refuse_for" in refusal.body
    assert core.check_request("/_control?key=", "").status == 403   # control: its key only
    clock.now += 1.01
    assert core.check_request("/", "") is None
    assert (core.stats.handshakes_refused_503, core.stats.handshakes_accepted) == (1, 1)


def test_max_handshake_rate_is_a_bucket_of_one_seconds_worth_refilled_at_the_rate(core, clock):
    core.faults.update(max_handshake_rate=10)
    answers = [core.check_request("/", "") for _ in range(15)]
    assert answers[:10] == [None] * 10
    assert {refusal.status for refusal in answers[10:]} == {429}
    clock.now += 0.5                                  # 5 more tokens
    answers = [core.check_request("/", "") for _ in range(8)]
    assert answers.count(None) == 5
    clock.now += 60                                   # never more than one second's worth
    assert [core.check_request("/", "") for _ in range(12)].count(None) == 10
    stats = core.stats
    assert (stats.handshakes_accepted, stats.handshakes_refused_429) == (25, 10)


def test_refusals_come_in_order_503_then_429_then_401_each_counted_once(clock):
    core = RecordingCore(auth_token="right")
    core.faults.update(refuse_for=1, max_handshake_rate=1)
    assert core.check_request("/", "Bearer wrong").status == 503
    clock.now += 2
    assert core.check_request("/", "Bearer wrong").status == 401   # took the one token
    assert core.check_request("/", "Bearer right").status == 429
    clock.now += 1
    assert core.check_request("/", "Bearer right") is None
    stats = core.stats
    assert (stats.handshakes_refused_503, stats.handshakes_refused_429,
            stats.handshakes_refused_401, stats.auth_failures,
            stats.handshakes_accepted) == (1, 1, 1, 1, 1)


# -- connections: close_after and restart -------------------------------------------------
def test_close_after_closes_each_connection_its_time_after_the_handshake_with_1001(core):
    core.faults.update(close_after=1.5)
    first, second = core.open(), core.open()
    assert [seconds for seconds, _ in core.timers] == [1.5, 1.5]
    core.closed(second, 1000, False)                  # gone before its time: nothing to do
    core.fire_timers()
    assert core.closes == [(first, 1001, "mock server fault: close after 1.5 s")]
    assert core.stats.closes_by_close_after == 1
    core.faults.update(close_after=0)
    core.open()
    assert core.timers == []


def test_restart_closes_every_connection_at_once_with_1012_and_counts_it(core):
    exchanges = {core.open() for _ in range(3)}
    core.restart()
    assert {exchange for exchange, _, _ in core.closes} == exchanges
    assert {(code, reason) for _, code, reason in core.closes} == {(1012, "mock server restart")}
    assert (core.stats.restarts, core.stats.closes_by_restart) == (1, 3)
    assert core.check_request("/", "") is None        # new connections are welcome


def test_restart_after_a_while_with_down_time_refuses_new_connections_from_then(core, clock):
    core.open()
    answer, _ = core.control(b'{"op":"restart","after":0.5,"down_for":2}')
    assert answer == b'{"ok":true,"connections":1}'
    assert core.closes == [] and [seconds for seconds, _ in core.timers] == [0.5]
    assert core.check_request("/", "") is None        # not down before the restart
    clock.now += 0.5
    core.fire_timers()
    assert len(core.closes) == 1 and core.stats.restarts == 1
    assert core.check_request("/", "").status == 503
    clock.now += 2.01
    assert core.check_request("/", "") is None


@pytest.mark.parametrize("request_, error", [
    (b'{"op":"restart","after":-1}', "restart after must be seconds >= 0, got -1"),
    (b'{"op":"restart","down_for":"soon"}', "restart down_for must be seconds >= 0, got 'soon'"),
])
def test_a_restart_with_bad_times_is_refused_and_closes_nothing(core, request_, error):
    core.open()
    answer, _ = core.control(request_)
    assert answer == b'{"ok":false,"error":"%s"}' % error.encode()
    assert core.closes == [] and core.timers == [] and core.stats.restarts == 0


# -- max_message_rate: one queue for the server ------------------------------------------
def _due(exchange: Exchange) -> list[float]:
    return [round(item[0] - 1000.0, 6) for item in exchange.held]


def test_max_message_rate_gives_each_message_its_slot_across_all_connections(core, clock):
    core.faults.update(max_message_rate=100)
    first, second = core.open(), core.open()
    assert type(first) is PacedExchange
    assert first.receive(b"a") is None and first.outbox == [(None, b"a")]   # idle: at once
    first.outbox.clear()
    for exchange, message in ((second, b"b"), (first, b"c"), (second, b"d")):
        assert exchange.receive(message) is None
    assert (_due(first), _due(second)) == ([0.02], [0.01, 0.03])
    assert core.faults.describe()["message_backlog_s"] == pytest.approx(0.04)
    assert core.stats.messages_sent == 1              # the held count when they leave
    clock.now += 0.03
    assert [second.pop_due(clock.now), second.pop_due(clock.now)] == [(None, b"b"), (None, b"d")]
    assert core.stats.messages_sent == 3


def test_max_message_rate_below_its_rate_changes_nothing_a_client_sees(core, clock):
    core.faults.update(max_message_rate=100)
    exchange = core.open()
    for n in range(5):
        clock.now += 0.02
        assert exchange.receive(b"%d" % n) is None
        assert exchange.outbox == [(None, b"%d" % n)] and not exchange.held
        exchange.outbox.clear()


def test_max_message_rate_keeps_replies_in_order_behind_held_ones(core, clock):
    core.faults.update(response_delay=0.5)
    exchange = core.open()
    assert exchange.receive(b"slow") is None          # held by response_delay
    core.control(b'{"op":"set_faults","faults":{"response_delay":0,"max_message_rate":1000}}')
    assert type(exchange) is PacedExchange
    exchange.receive(b"fast")                         # its slot is now, but behind "slow"
    assert [item[2] for item in exchange.held] == [b"slow", b"fast"]
    clock.now += 0.1
    assert exchange.pop_due(clock.now) is None        # "slow" is not due: nothing passes it
    clock.now += 0.5
    assert [exchange.pop_due(clock.now)[1] for _ in range(2)] == [b"slow", b"fast"]


def test_max_message_rate_off_puts_the_one_reply_path_back_and_paces_repeated_replies(core,
                                                                                     clock):
    core.faults.update(max_message_rate=10)
    exchange = core.open()
    core.control(b'{"op":"clear_faults"}')
    assert type(exchange) is Exchange and exchange.receive(b"x") == b"x"
    core.control(b'{"op":"set_faults","faults":{"max_message_rate":10}}')
    core.control(b'{"op":"set_options","options":{"replies":2}}')
    assert type(exchange) is RepeatingExchange
    exchange.receive(b"y")
    exchange.receive(b"z")                            # one slot for both its replies
    assert exchange.outbox == [(None, b"y"), (None, b"y")] and _due(exchange) == [0.1, 0.1]
    core.control(b'{"op":"set_options","options":{"replies":1}}')
    assert type(exchange) is PacedExchange


# -- real servers, real clients ------------------------------------------------------------
def test_handshake_delay_answers_each_handshake_late_without_blocking_the_others(
        start_server, engine):
    server = start_server(handshake_delay=1.0)
    pool, result = engine.open_at_rate(ConnectionOptions(server.uri, open_timeout_s=10),
                                       ArrivalPlan(count=6, rate=60))
    connect = result.sections["connect"]
    assert connect.opened == 6 and connect.failures == {}
    assert connect.histograms["handshake"].percentile_us(0) >= 900_000
    # one after another they would take 6 s: they waited side by side
    assert connect.duration_s < 4, connect.duration_s
    stats = server.stats()
    assert (stats["handshakes_delayed"], stats["handshakes_accepted"]) == (6, 6)


@pytest.mark.parametrize("engine_name", ENGINES)
def test_refuse_for_answers_503_counted_by_both_sides_then_lets_clients_in(
        start_server, engine, engine_name):
    server = start_server(engine=engine_name, refuse_for=60)
    _, refused = engine.open_at_rate(ConnectionOptions(server.uri), ArrivalPlan(10, 200))
    assert refused.sections["connect"].failures == {"HTTP 503": 10}
    assert server.stats()["faults"]["refuse_for_remaining"] > 50
    server.set_faults(refuse_for=0)
    _, result = engine.open_at_rate(ConnectionOptions(server.uri), ArrivalPlan(4, 200))
    assert result.sections["connect"].opened == 4
    stats = server.stats()
    assert (stats["handshakes_refused_503"], stats["handshakes_accepted"]) == (10, 4)
    assert stats["handshake_failures"] == 0 and stats["connections_opened"] == 4


def test_hang_handshakes_leaves_clients_to_time_out_while_control_still_answers(
        start_server, engine):
    server = start_server(open_timeout_s=30)
    server.set_faults(hang_handshakes=60)
    _, result = engine.open_at_rate(ConnectionOptions(server.uri, open_timeout_s=1),
                                    ArrivalPlan(count=4, rate=100))
    assert result.sections["connect"].failures == {"timed out": 4}
    stats = server.stats()                           # the control endpoint is never hung
    assert (stats["handshakes_hung"], stats["connections_opened"]) == (4, 0)
    server.set_faults(hang_handshakes=0)
    with open_client(server.uri) as ws:
        assert round_trip(ws, "back")[0] == "back"
    started = time.monotonic()
    assert server.stop() == 0                        # hung handshakes do not hold the stop
    assert time.monotonic() - started < 5


def test_picows_refuses_the_handshake_faults_at_start_and_when_set(start_server):
    with pytest.raises(MockServerError, match="hang_handshakes needs the websockets engine"):
        start_server(engine="picows", hang_handshakes=5)
    server = start_server(engine="picows")
    with pytest.raises(ControlError, match="fault handshake_delay needs the websockets engine"):
        server.set_faults(handshake_delay=0.5)
    assert server.stats()["faults"]["handshake_delay"] == 0


@pytest.mark.parametrize("engine_name", ENGINES)
def test_restart_closes_every_client_with_1012_and_keeps_accepting(start_server, engine_name):
    server = start_server(engine=engine_name)
    with ExitStack() as stack:
        clients = [stack.enter_context(open_client(server.uri)) for _ in range(4)]
        assert [round_trip(ws, "before")[0] for ws in clients] == ["before"] * 4
        assert server.restart() == 4
        for ws in clients:
            with pytest.raises(ConnectionClosed) as closed:
                ws.recv(timeout=5)
            assert (closed.value.rcvd.code, closed.value.rcvd.reason) == (1012, "mock server restart")
    with open_client(server.uri) as ws:
        assert round_trip(ws, "after")[0] == "after"
    stats = stats_when(server, lambda s: s["connections_closed"] == 5)
    assert (stats["restarts"], stats["closes_by_restart"]) == (1, 4)
    assert stats["close_codes"].get("1012") == 4 and stats["connection_errors"] == 0


@pytest.mark.parametrize("engine_name", ENGINES)
def test_a_restart_after_a_while_with_down_time_refuses_clients_until_it_is_back(
        start_server, engine, engine_name):
    server = start_server(engine=engine_name)
    with open_client(server.uri) as ws:
        assert server.restart(after=0.3, down_for=60) == 1
        assert round_trip(ws, "still here")[0] == "still here"   # not yet
        with pytest.raises(ConnectionClosed):
            ws.recv(timeout=5)
    _, down = engine.open_at_rate(ConnectionOptions(server.uri), ArrivalPlan(3, 100))
    assert down.sections["connect"].failures == {"HTTP 503": 3}
    server.set_faults(refuse_for=0)
    with open_client(server.uri) as again:
        assert round_trip(again, "back")[0] == "back"
    assert server.stats()["restarts"] == 1


@pytest.mark.parametrize("engine_name", ENGINES)
def test_close_after_closes_each_connection_that_long_after_its_handshake(start_server,
                                                                         engine_name):
    server = start_server(engine=engine_name, close_after=0.6)
    with open_client(server.uri) as ws:
        opened = time.monotonic()
        assert round_trip(ws, "alive")[0] == "alive"
        with pytest.raises(ConnectionClosed) as closed:
            while True:
                ws.recv(timeout=5)
        lived = time.monotonic() - opened
    assert closed.value.rcvd.code == 1001
    assert 0.5 <= lived < 4, lived
    stats = stats_when(server, lambda s: s["connections_closed"] == 1)
    assert stats["closes_by_close_after"] == 1 and stats["connection_errors"] == 0


@pytest.mark.parametrize("engine_name", ENGINES)
def test_max_handshake_rate_answers_429_past_the_rate_counted_by_both_sides(
        start_server, engine, engine_name):
    server = start_server(engine=engine_name, max_handshake_rate=20)
    _, result = engine.open_at_rate(ConnectionOptions(server.uri), ArrivalPlan(60, 200))
    connect = result.sections["connect"]
    limited = connect.failures.get("HTTP 429", 0)
    assert set(connect.failures) == {"HTTP 429"} and connect.opened + limited == 60
    # 20 at once, then 20/s over the storm's ~0.3 s (up to 1.5 s on a busy machine)
    assert 20 <= connect.opened <= 50, connect.opened
    stats = server.stats()
    assert (stats["handshakes_accepted"], stats["handshakes_refused_429"]) == (
        connect.opened, limited)


@pytest.mark.parametrize("engine_name", ENGINES)
def test_max_message_rate_caps_the_served_rate_and_latency_grows_beyond_it(
        start_server, engine, engine_name):
    server = start_server(engine=engine_name, max_message_rate=200)
    pool = engine.connect(ConnectionOptions(server.uri), count=4)
    below = engine.run_step(pool, LoadPlan(rate=80, messages=80, reply_timeout_s=5))
    assert below.lost == 0 and below.latency_ms(95) < 100, below.latency_ms(95)
    above = engine.run_step(pool, LoadPlan(rate=500, messages=500, reply_timeout_s=10))
    assert above.lost == 0 and above.received == 500          # queued, never dropped
    # sent in ~1 s, served at 200/s: ~2.5 s, the last replies ~1.5 s late
    assert 140 <= above.achieved_receive_rate <= 260, above.achieved_receive_rate
    assert above.latency_ms(50) > 300 and above.latency_ms(99) > 900
    assert above.latency_ms(99) > 10 * below.latency_ms(95)
    stats = server.stats()
    assert stats["messages_sent"] == stats["messages_received"] == 580
    assert stats["faults"]["max_message_rate"] == 200

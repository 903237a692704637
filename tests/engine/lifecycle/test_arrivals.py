"""Connections opened at a rate: phases timed, failures sorted by kind, the pace kept honest."""
from __future__ import annotations

import socket

import pytest

from WebSocketLoadLibrary.engine import ConnectionOptions
from WebSocketLoadLibrary.engine.lifecycle.arrivals import ArrivalPlan
from WebSocketLoadLibrary.engine.errors import PlanError
from WebSocketLoadLibrary.engine.transport.opening import OpeningMessages
from WebSocketLoadLibrary.engine.results.result import LoadResult


@pytest.mark.parametrize("transport", ["websockets", "picows"])
def test_connections_open_at_the_rate_with_each_phase_timed(start_server, engine, transport):
    server = start_server(engine="picows")
    pool, result = engine.open_at_rate(ConnectionOptions(
        server.uri, transport=transport, opening=OpeningMessages(
            '{"op":"subscribe","topic":"t"}', "op == subscribed")),
        ArrivalPlan(count=60, rate=200, name="storm"))
    connect = result.sections["connect"]
    assert (connect.attempted, connect.opened, connect.failed) == (60, 60, 0)
    assert len(pool.open_connections) == 60 and result.mode == "connect"
    assert result.load_applied, result.not_applied_reasons
    phases = {"tcp", "handshake", "opening"} | ({"tls"} if transport == "picows" else set())
    assert {p for p, h in connect.histograms.items() if h.count} == phases | {"total"}
    # the storm took about 60/200 s: the arrivals were paced, not all at once
    assert 0.25 <= connect.duration_s < 5
    assert connect.latency_ms(50) > 0 and connect.achieved_rate == pytest.approx(200, rel=0.2)
    assert result.summary()["connect_opened"] == 60
    again = LoadResult.from_dict(result.to_dict())
    assert again.sections["connect"].histograms["handshake"].count == 60


def test_failures_are_counted_by_kind_and_never_raise(start_server, engine):
    server = start_server(max_connections=1000, auth_token="right")
    _, result = engine.open_at_rate(ConnectionOptions(server.uri, token="wrong"),
                                    ArrivalPlan(count=10, rate=500))
    connect = result.sections["connect"]
    assert connect.failures == {"HTTP 401": 10} and connect.opened == 0
    assert "401" in connect.describe_failures()
    with socket.socket() as unused:
        unused.bind(("127.0.0.1", 0))
        port = unused.getsockname()[1]
    _, refused = engine.open_at_rate(ConnectionOptions(f"ws://127.0.0.1:{port}"),
                                     ArrivalPlan(count=5, rate=500))
    assert refused.sections["connect"].failures == {"refused": 5}


def test_a_handshake_that_never_comes_times_out(engine):
    with socket.socket() as silent:   # accepts TCP (the backlog), never answers
        silent.bind(("127.0.0.1", 0))
        silent.listen(16)
        uri = f"ws://127.0.0.1:{silent.getsockname()[1]}"
        _, result = engine.open_at_rate(ConnectionOptions(uri, open_timeout_s=0.3),
                                        ArrivalPlan(count=3, rate=100))
    connect = result.sections["connect"]
    assert connect.failures == {"timed out": 3}
    assert connect.histograms["tcp"].count == 3      # TCP got through; the handshake did not


def test_bad_arrival_plans_are_clear_errors():
    with pytest.raises(PlanError, match="at least 1"):
        ArrivalPlan(count=0, rate=10)
    with pytest.raises(PlanError, match="positive"):
        ArrivalPlan(count=1, rate=0)

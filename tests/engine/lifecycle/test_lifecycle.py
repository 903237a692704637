"""Churn and reconnect: connections replaced while messages flow, every message accounted."""
from __future__ import annotations

import time

import pytest

from WebSocketLoadLibrary.engine import ConnectionOptions, LoadPlan
from WebSocketLoadLibrary.engine.lifecycle.churn import ChurnPolicy
from WebSocketLoadLibrary.engine.errors import PlanError
from WebSocketLoadLibrary.engine.lifecycle.reconnect import ReconnectPolicy

FAST = ReconnectPolicy(max_attempts=5, initial_delay_s=0.01, max_delay_s=0.1)


def _accounted(result, lifecycle):
    """Every message sent is delivered, lost or cut: none unaccounted."""
    assert result.sent == result.received + result.lost + lifecycle.cut_by_close


@pytest.mark.parametrize("transport", ["websockets", "picows"])
def test_connections_the_server_closes_are_reconnected_and_the_step_carries_on(
        start_server, engine, transport):
    server = start_server(disconnect_after=40)
    pool = engine.connect(ConnectionOptions(server.uri, transport=transport), count=4)
    engine.set_lifecycle(pool, reconnect=FAST)
    result = engine.run_step(pool, LoadPlan(rate=400, messages=800, reply_timeout_s=1.0))
    lifecycle = result.sections["lifecycle"]
    assert lifecycle.reconnects >= 10 and lifecycle.gave_up == 0
    assert result.connections_closed == {}    # recovered closes fail nothing
    assert len(pool.open_connections) == 4
    assert result.received >= 700             # what was cut off by the closes is lost
    _accounted(result, lifecycle)
    assert lifecycle.recover.count == lifecycle.reconnects
    assert lifecycle.recover.percentile_us(50) < 1_000_000


def test_a_connection_that_cannot_come_back_is_given_up_and_fails_the_step(start_server,
                                                                           engine):
    server = start_server()
    pool = engine.connect(ConnectionOptions(server.uri), count=2)
    engine.set_lifecycle(pool, reconnect=ReconnectPolicy(max_attempts=2, initial_delay_s=0.1,
                                                         max_delay_s=0.1))
    running = engine.start_step(pool, LoadPlan(rate=100, messages=150, reply_timeout_s=0.5))
    time.sleep(0.4)
    server.stop()             # the server goes away: every reconnect attempt is refused
    result = running.wait()
    lifecycle = result.sections["lifecycle"]
    assert lifecycle.gave_up == 2 and lifecycle.failed_attempts == 4
    assert lifecycle.gave_up_why == {"refused": 2}
    assert sum(result.connections_closed.values()) == 2
    assert all("gave up after 2 reconnect attempt(s)" in why for why in result.connections_closed)
    assert lifecycle.lost_while_down > 0
    _accounted(result, lifecycle)


@pytest.mark.parametrize("transport", ["websockets", "picows"])
def test_churn_replaces_connections_and_what_it_cuts_is_not_lost(start_server, engine,
                                                                 transport):
    server = start_server()
    pool = engine.connect(ConnectionOptions(server.uri, transport=transport), count=5)
    engine.set_lifecycle(pool, churn=ChurnPolicy(0.2, 0.4))
    result = engine.run_step(pool, LoadPlan(rate=500, messages=1000))
    engine.set_lifecycle(pool)   # churn stops
    lifecycle = result.sections["lifecycle"]
    assert lifecycle.closes_by_us >= 10
    assert lifecycle.replacements >= lifecycle.closes_by_us - 5
    assert result.lost == 0 and result.connections_closed == {}
    assert result.delivery_ratio == 1.0       # cut messages are not the server's to answer
    _accounted(result, lifecycle)
    stats = server.stats()
    assert stats["connections_opened"] >= 5 + lifecycle.replacements


def test_bad_policies_are_clear_errors():
    with pytest.raises(PlanError, match="at least 1"):
        ReconnectPolicy(max_attempts=0)
    with pytest.raises(PlanError, match="0 <= initial <= max"):
        ReconnectPolicy(initial_delay_s=2, max_delay_s=1)
    with pytest.raises(PlanError, match="positive"):
        ChurnPolicy(0)
    with pytest.raises(PlanError, match="below the shortest"):
        ChurnPolicy(2, 1)
    delays = [FAST.delay_s(n) for n in (1, 2, 3, 10)]
    assert 0.008 <= delays[0] <= 0.012 and delays[-1] <= 0.12


def test_a_closed_loop_carries_on_over_reconnected_connections(start_server, engine):
    server = start_server(disconnect_after=50)
    pool = engine.connect(ConnectionOptions(server.uri, transport="picows"), count=3)
    engine.set_lifecycle(pool, reconnect=FAST)
    result = engine.run_step(pool, LoadPlan(rate=None, messages=1500, window=4,
                                            reply_timeout_s=1.0))
    lifecycle = result.sections["lifecycle"]
    assert lifecycle.reconnects >= 10 and result.connections_closed == {}
    # every reconnected connection took up its share: the count was reached, not starved
    assert result.sent == 1500 and result.received >= 1300
    assert result.sent == result.received + result.lost + lifecycle.cut_by_close

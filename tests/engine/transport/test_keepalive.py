"""Keep-alive pings of the picows transport: one task for the whole pool (keepalive.py),
each connection pinged once an interval, one that never answers closed with 1001."""
from __future__ import annotations

import time

from polling import wait_until
from WebSocketLoadLibrary.engine.transport import keepalive


def test_every_connection_is_pinged_and_stays_open(server, connect):
    pool = connect(server.uri, count=20, ping_interval_s=0.3, ping_timeout_s=0.3)
    assert pool.keepalive is not None
    wait_until(lambda: pool.keepalive.pings >= 60, timeout_s=5, message="pings")
    assert len(pool.open_connections) == 20 and pool.keepalive.timeouts == 0
    # the pongs came back: no connection waits for one for long
    time.sleep(0.2)
    assert sum(1 for c in pool.connections if c.ws.pinged_at) < 20


def test_a_connection_whose_pong_never_comes_is_closed_going_away(server, connect,
                                                                  monkeypatch):
    pool = connect(server.uri, count=3, ping_interval_s=0.2, ping_timeout_s=0.2)
    deaf = pool.connections[0].ws
    # its pongs never reach it (nor anything else the server sends on its own)
    monkeypatch.setattr(deaf, "_control_frame", lambda transport, frame, kind: None)
    wait_until(lambda: pool.connections[0].closed, timeout_s=5, message="closed")
    assert pool.keepalive.timeouts >= 1
    assert not pool.connections[1].closed


def test_no_keepalive_task_without_pings(server, connect):
    pool = connect(server.uri, count=2, ping_interval_s=None)
    assert pool.keepalive is None and keepalive.TICK_S > 0

"""A pool tells every listener when one of its connections ends: a step and, later, a
reconnect policy both hear of the same close (no network: picows sockets on a fake transport)."""
from __future__ import annotations

from fake_transport import fake_picows_sockets


def test_every_listener_hears_of_a_close_until_it_stops_listening():
    pool, sockets = fake_picows_sockets(2)
    pool.connections = [ws.connection for ws in sockets]
    heard_by_step, heard_by_policy = [], []
    stop_step = pool.listen_for_closes(heard_by_step.append)
    pool.listen_for_closes(heard_by_policy.append)
    sockets[0].close_code, sockets[0].close_reason = 1011, "going down"
    sockets[0].on_ws_disconnected(sockets[0].transport)
    assert heard_by_step == heard_by_policy == [sockets[0].connection]
    assert sockets[0].connection.describe_close() == (
        "connection closed by server with code 1011 (internal error): going down")
    stop_step()
    sockets[1].on_ws_disconnected(sockets[1].transport)
    assert heard_by_step == [sockets[0].connection]
    assert heard_by_policy == [sockets[0].connection, sockets[1].connection]
    assert pool.open_connections == []


def test_a_connection_is_reported_closed_once():
    pool, (ws,) = fake_picows_sockets(1)
    heard = []
    pool.listen_for_closes(heard.append)
    ws.on_ws_disconnected(ws.transport)
    ws.on_ws_disconnected(ws.transport)
    assert heard == [ws.connection]

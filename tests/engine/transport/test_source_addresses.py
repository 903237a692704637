"""Connections from several local source addresses: each address gives its own ephemeral
ports toward one server address and port (engine/transport/pool_changes.py tcp_socket)."""
from __future__ import annotations

import socket

import pytest

from WebSocketLoadLibrary.engine import ArrivalPlan, ConnectError, ConnectionOptions


def _source_hosts(pool) -> list[str]:
    hosts = []
    for fd in pool.socket_fds(pool.connections):
        probe = socket.socket(fileno=socket.dup(fd))
        try:
            hosts.append(probe.getsockname()[0])
        finally:
            probe.close()
    return hosts


@pytest.mark.parametrize("transport", ["picows", "websockets"])
def test_connections_come_from_each_source_address_in_turn(server, connect, transport):
    pool = connect(server.uri, count=6, transport=transport,
                   source_addresses=["127.0.0.2", "127.0.0.3"])
    hosts = _source_hosts(pool)
    assert sorted(set(hosts)) == ["127.0.0.2", "127.0.0.3"]
    assert hosts.count("127.0.0.2") == hosts.count("127.0.0.3") == 3


def test_a_storm_opens_from_the_source_addresses_too(server, engine):
    options = ConnectionOptions(server.uri, source_addresses="127.0.0.4,127.0.0.5")
    pool, result = engine.open_at_rate(options, ArrivalPlan(20, 200))
    assert result.sections["connect"].opened == 20
    assert set(_source_hosts(pool)) == {"127.0.0.4", "127.0.0.5"}


def test_a_source_address_that_is_not_one_is_named():
    with pytest.raises(ConnectError, match="not a local IP address: 'host-a'"):
        ConnectionOptions("ws://127.0.0.1:1", source_addresses=["host-a"])
    assert ConnectionOptions("ws://127.0.0.1:1", source_addresses="").source_addresses is None

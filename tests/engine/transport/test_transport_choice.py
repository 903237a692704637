"""Which client transport a connection takes: picows unless a websockets-only feature is asked
for, and a clear refusal of picows with compression."""
from __future__ import annotations

import pytest

from WebSocketLoadLibrary.engine import ConnectError, ConnectionOptions


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

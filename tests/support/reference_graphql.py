"""The reference GraphQL over WebSocket server (npm graphql-ws 6 on ws 8, with graphql 16:
servers/graphql_server.js), started on loopback by the tests that prove interoperability;
skipped with the reason when node or the npm packages are not installed here (`.ci/run`
installs them)."""
from __future__ import annotations

import json

import pytest
from websockets.sync.client import connect

from reference_servers import ReferenceServer, start_node

SUBPROTOCOL = "graphql-transport-ws"


def stats(server: ReferenceServer, token: str = "") -> dict:
    """The server's counters (echoes, publishes, connects, subscribers, pongs, pings), asked
    over a connection of its own."""
    with connect(server.uri, subprotocols=[SUBPROTOCOL], open_timeout=5) as ws:
        init = {"type": "connection_init"}
        if token:
            init["payload"] = {"token": token}
        ws.send(json.dumps(init))
        ack = json.loads(ws.recv(timeout=5))
        assert ack["type"] == "connection_ack", ack
        ws.send(json.dumps({"id": "stats", "type": "subscribe", "payload": {
            "query": "{ stats { echoes publishes connects subscribers pongs pings } }"}}))
        while True:
            message = json.loads(ws.recv(timeout=5))
            if message.get("type") == "next" and message.get("id") == "stats":
                return message["payload"]["data"]["stats"]


@pytest.fixture
def graphql_server():
    """Start npm graphql-ws servers: `start(keep_alive_ms=..., ping_ms=..., token=...,
    garbage_every=..., port=...)` (graphql_server.js says what each does); each is stopped
    after the test."""
    started: list[ReferenceServer] = []

    def start(keep_alive_ms: int = 12000, ping_ms: int = 0, token: str = "",
              garbage_every: int = 0, port: int = 0) -> ReferenceServer:
        args = ["--keep-alive-ms", str(keep_alive_ms), "--ping-ms", str(ping_ms),
                "--garbage-every", str(garbage_every), "--port", str(port)]
        if token:
            args += ["--token", token]
        server = start_node("graphql_server.js", *args)
        started.append(server)
        return server

    yield start
    for server in started:
        server.stop()

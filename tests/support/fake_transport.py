"""A stand-in for a picows transport that keeps what is sent, and a pool of picows sockets
over it: for driving the engine's send and receive paths without a network."""
from __future__ import annotations


class FakeTransport:
    is_close_frame_sent = False

    def __init__(self):
        self.sent: list[bytes] = []

    def send(self, kind, data):
        self.sent.append(data)


def fake_picows_sockets(count: int):
    """A PicowsPool and `count` of its sockets, each on a FakeTransport with its pooled
    connection (slot = position)."""
    from WebSocketLoadLibrary.engine import ConnectionOptions
    from WebSocketLoadLibrary.engine.transport.picows_pool import PicowsPool
    from WebSocketLoadLibrary.engine.transport.picows_socket import PicowsSocket
    from WebSocketLoadLibrary.engine.transport.pool import PooledConnection

    pool = PicowsPool(ConnectionOptions("ws://127.0.0.1:9/"))
    sockets = []
    for slot in range(count):
        ws = PicowsSocket(pool)
        ws.transport = FakeTransport()
        ws.connection = PooledConnection(slot, ws)
        sockets.append(ws)
    return pool, sockets

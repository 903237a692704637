"""The generator's own resources, as a step watches them: bytes left unread on its sockets."""
from __future__ import annotations


def test_unread_bytes_are_what_arrived_on_the_sockets_and_was_not_read():
    import socket
    from WebSocketLoadLibrary.engine.runtime.resources import UnreadBytes
    pairs = [socket.socketpair() for _ in range(3)]
    try:
        for n, (_, far) in enumerate(pairs):
            far.sendall(b"x" * 1000 * (n + 1))
        probe = UnreadBytes([near.fileno() for near, _ in pairs] + [-1])
        assert probe.per_connection() == 2000
        pairs[0][0].recv(1000)
        assert probe.per_connection() == 5000 / 3
    finally:
        for near, far in pairs:
            near.close()
            far.close()
    assert probe.per_connection() is None  # closed sockets are skipped, not fatal

"""A raw-socket WebSocket client for feeding the mock server what no library would send."""
from __future__ import annotations

import base64
import os
import socket
import struct
import time
from urllib.parse import urlsplit

import numpy as np

TEXT, BINARY, CLOSE = 0x1, 0x2, 0x8


def address(uri: str) -> tuple[str, int]:
    split = urlsplit(uri)
    return split.hostname, split.port


def open_socket(uri: str, timeout_s: float = 5.0) -> socket.socket:
    sock = socket.create_connection(address(uri), timeout=timeout_s)
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    return sock


def upgrade_request(uri: str, path: str = "/") -> bytes:
    host, port = address(uri)
    key = base64.b64encode(os.urandom(16)).decode()
    return (f"GET {path} HTTP/1.1\r\nHost: {host}:{port}\r\nUpgrade: websocket\r\n"
            f"Connection: Upgrade\r\nSec-WebSocket-Key: {key}\r\n"
            f"Sec-WebSocket-Version: 13\r\n\r\n").encode()


def handshake(uri: str, timeout_s: float = 5.0) -> socket.socket:
    """An open WebSocket connection as a bare socket (the 101 response consumed)."""
    sock = open_socket(uri, timeout_s)
    sock.sendall(upgrade_request(uri))
    response = b""
    while b"\r\n\r\n" not in response:
        chunk = sock.recv(4096)
        if not chunk:
            raise ConnectionError(f"closed during the handshake: {response!r}")
        response += chunk
    assert response.startswith(b"HTTP/1.1 101"), response
    return sock


def frame(opcode: int, payload: bytes, fin: bool = True, mask: bool = True) -> bytes:
    head = bytes([(0x80 if fin else 0) | opcode])
    length = len(payload)
    bit = 0x80 if mask else 0
    if length < 126:
        head += bytes([bit | length])
    elif length < 1 << 16:
        head += bytes([bit | 126]) + struct.pack("!H", length)
    else:
        head += bytes([bit | 127]) + struct.pack("!Q", length)
    if not mask:
        return head + payload
    key = os.urandom(4)
    data = np.frombuffer(payload, dtype=np.uint8)
    masked = (data ^ np.resize(np.frombuffer(key, dtype=np.uint8), length)).tobytes()
    return head + key + masked


def read_frame(sock: socket.socket) -> tuple[int, bytes]:
    """One unmasked server frame: (opcode, payload)."""
    def exactly(n: int) -> bytes:
        data = b""
        while len(data) < n:
            chunk = sock.recv(n - len(data))
            if not chunk:
                raise ConnectionError("closed by the server")
            data += chunk
        return data
    first, second = exactly(2)
    length = second & 0x7F
    if length == 126:
        length = struct.unpack("!H", exactly(2))[0]
    elif length == 127:
        length = struct.unpack("!Q", exactly(8))[0]
    return first & 0x0F, exactly(length)


def close_code(payload: bytes) -> int | None:
    return struct.unpack("!H", payload[:2])[0] if len(payload) >= 2 else None


def closed_by_peer(sock: socket.socket, timeout_s: float) -> bool:
    """True once the server has closed the socket (EOF or reset) within `timeout_s`."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        sock.settimeout(max(0.01, deadline - time.monotonic()))
        try:
            if not sock.recv(65536):
                return True
        except socket.timeout:
            return False
        except ConnectionError:
            return True
    return False


def reset(sock: socket.socket) -> None:
    """Close with a TCP RST instead of a FIN."""
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    sock.close()

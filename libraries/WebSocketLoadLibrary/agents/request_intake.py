"""How the load agent receives requests: one thread reads every connection until its request
is whole, and only a whole request reaches the few threads that run keywords.

With a thread per connection, anyone who can reach the port could hold the agent: connect,
send nothing, and a thread waits. Here a connection costs only a file descriptor while its
request arrives, and it has `request_timeout_s` from being accepted to send all of it (the
TLS handshake included); after that it is dropped. At most `max_receiving` connections are
received at once, `max_receiving_bytes` between them: past that the connection that has
waited longest is dropped, so a flood of idle sockets ages out instead of crowding out a
controller, whose request arrives in one go moments after it connects.

The first byte tells the protocols apart (a TLS client starts with a handshake record, 0x16),
so a plain-HTTP client of a TLS agent gets an answer saying so, and a TLS client of a
plain-HTTP agent a prompt close instead of a wait for its timeout.
"""
from __future__ import annotations

import collections
import re
import selectors
import socket
import ssl
import threading
import time
from dataclasses import dataclass, field
from typing import Callable

MAX_HEADER_BYTES = 64 << 10
MAX_RECEIVING = 256
MAX_RECEIVING_BYTES = 64 << 20
TLS_HANDSHAKE_RECORD = b"\x16"
DROP_LOG_EVERY_S = 1.0     # a flood is summed up in one line a second, not a line a socket
_CONTENT_LENGTH = re.compile(rb"\r\ncontent-length:[ \t]*([0-9]{1,12})[ \t]*\r\n", re.I)


@dataclass
class WholeRequest:
    """A request received whole, for a request thread to answer on `sock` (blocking)."""
    sock: socket.socket
    address: tuple
    data: bytes
    plain_to_tls: bool = False   # plain HTTP sent to a TLS agent: answered with a hint only


@dataclass(eq=False)
class _Receiving:
    sock: socket.socket
    address: tuple
    deadline: float
    stage: str = "sniff"          # sniff -> (handshake ->) request
    plain_to_tls: bool = False
    data: bytearray = field(default_factory=bytearray)


class RequestIntake:
    """Accepted sockets go in by `add` (from the accept loop); whole requests come out
    through `deliver` (called on the intake's own thread)."""

    def __init__(self, deliver: Callable[[WholeRequest], None], request_timeout_s: float,
                 max_body_bytes: int, tls: ssl.SSLContext | None, log: Callable[[str], None],
                 max_receiving: int = MAX_RECEIVING,
                 max_receiving_bytes: int = MAX_RECEIVING_BYTES):
        self._deliver, self._timeout_s, self._max_body_bytes = deliver, request_timeout_s, \
            max_body_bytes
        self._tls, self._log = tls, log
        self._max_receiving, self._max_receiving_bytes = max_receiving, max_receiving_bytes
        self._accepted: collections.deque = collections.deque()
        # arrival order is deadline order: the oldest is first, to expire or to drop
        self._receiving: collections.OrderedDict[_Receiving, None] = collections.OrderedDict()
        self._receiving_bytes = 0
        self._dropped: dict[str, list] = {}
        self._dropped_logged_at = 0.0
        self._closed = False
        self._selector = selectors.DefaultSelector()
        self._wake_reader, self._wake_writer = socket.socketpair()
        self._wake_reader.setblocking(False)
        self._wake_writer.setblocking(False)
        self._selector.register(self._wake_reader, selectors.EVENT_READ, None)
        self._thread = threading.Thread(target=self._run, name="agent-request-intake",
                                        daemon=True)
        self._thread.start()

    def add(self, sock: socket.socket, address: tuple) -> None:
        self._accepted.append((sock, address, time.monotonic() + self._timeout_s))
        self._wake()

    def close(self) -> None:
        self._closed = True
        self._wake()
        self._thread.join(5)

    def _wake(self) -> None:
        try:
            self._wake_writer.send(b"\0")
        except (BlockingIOError, OSError):
            pass   # a wake-up is already pending, or we are closing

    # -- the intake thread ----------------------------------------------------------------
    def _run(self) -> None:
        try:
            while not self._closed:
                for key, _ in self._selector.select(self._wait_s()):
                    if key.data is None:
                        self._take_accepted()
                    else:
                        self._advance(key.data)
                self._expire()
                self._log_dropped()
        finally:
            for incoming in list(self._receiving):
                self._forget(incoming)
                incoming.sock.close()
            while self._accepted:
                self._accepted.popleft()[0].close()
            self._selector.close()
            self._wake_reader.close()
            self._wake_writer.close()

    def _wait_s(self) -> float:
        if not self._receiving:
            return DROP_LOG_EVERY_S
        oldest = next(iter(self._receiving))
        return min(DROP_LOG_EVERY_S, max(0.0, oldest.deadline - time.monotonic()))

    def _take_accepted(self) -> None:
        try:
            while self._wake_reader.recv(4096):
                pass
        except BlockingIOError:
            pass
        while self._accepted:
            sock, address, deadline = self._accepted.popleft()
            sock.setblocking(False)
            incoming = _Receiving(sock, address, deadline)
            self._receiving[incoming] = None
            self._selector.register(sock, selectors.EVENT_READ, incoming)
        self._shed_load()

    def _advance(self, incoming: _Receiving) -> None:
        if incoming not in self._receiving:
            return   # dropped earlier in this round of events (shed for a newer one)
        try:
            if incoming.stage == "sniff":
                self._sniff(incoming)
            if incoming.stage == "handshake":
                self._handshake(incoming)
            if incoming.stage == "request":
                self._read(incoming)
        except (ssl.SSLWantReadError, BlockingIOError):
            self._selector.modify(incoming.sock, selectors.EVENT_READ, incoming)
        except ssl.SSLWantWriteError:
            self._selector.modify(incoming.sock, selectors.EVENT_WRITE, incoming)
        except ssl.SSLError as error:
            self._drop(incoming, f"TLS handshake failed ({error.reason or error}; does the "
                                 f"controller trust this agent's certificate, ca_file?)"
                       if incoming.stage == "handshake" else f"TLS error ({error.reason or error})")
        except OSError as error:
            self._drop(incoming, f"connection failed ({error.strerror or error})")
        except Exception as error:  # a bug here must not stop the agent from serving the rest
            self._drop(incoming, f"internal error of the agent: {type(error).__name__}: {error}")

    def _sniff(self, incoming: _Receiving) -> None:
        first = incoming.sock.recv(1, socket.MSG_PEEK)
        if not first:
            self._drop(incoming, "closed without sending a request")
        elif first == TLS_HANDSHAKE_RECORD and self._tls is None:
            _drain(incoming.sock)   # so the close is a clean end, not a reset
            self._drop(incoming, "a TLS handshake to this plain-HTTP agent (the controller "
                                 "uses https://? start the agent with --tls-cert to serve it)")
        elif first == TLS_HANDSHAKE_RECORD:
            self._selector.unregister(incoming.sock)
            incoming.sock = self._tls.wrap_socket(incoming.sock, server_side=True,
                                                  do_handshake_on_connect=False)
            self._selector.register(incoming.sock, selectors.EVENT_READ, incoming)
            incoming.stage = "handshake"
        else:
            incoming.plain_to_tls = self._tls is not None
            incoming.stage = "request"

    def _handshake(self, incoming: _Receiving) -> None:
        incoming.sock.do_handshake()
        incoming.stage = "request"

    def _read(self, incoming: _Receiving) -> None:
        while True:   # until it would block: TLS may hold decrypted bytes no select reports
            chunk = incoming.sock.recv(1 << 16)
            if not chunk:
                self._drop(incoming, "closed before sending a whole request")
                return
            incoming.data += chunk
            self._receiving_bytes += len(chunk)
            state = self._whole(incoming.data)
            if state == "whole":
                self._forget(incoming)
                self._deliver(WholeRequest(incoming.sock, incoming.address,
                                           bytes(incoming.data), incoming.plain_to_tls))
                return
            if state == "too long":
                self._drop(incoming, f"request headers longer than {MAX_HEADER_BYTES} bytes")
                return
            if self._receiving_bytes > self._max_receiving_bytes:
                self._shed_load()
                if incoming not in self._receiving:
                    return

    def _whole(self, data: bytearray) -> str:
        end = data.find(b"\r\n\r\n")
        if end < 0:
            return "too long" if len(data) > MAX_HEADER_BYTES else "partial"
        length = _CONTENT_LENGTH.search(data, 0, end + 2)
        body_bytes = int(length.group(1)) if length else 0
        if body_bytes > self._max_body_bytes:
            body_bytes = 0   # the request handler refuses it on its header alone
        return "whole" if len(data) >= end + 4 + body_bytes else "partial"

    def _expire(self) -> None:
        now = time.monotonic()
        while self._receiving:
            oldest = next(iter(self._receiving))
            if oldest.deadline > now:
                return
            self._drop(oldest, f"sent no whole request within {self._timeout_s:g} s")

    def _shed_load(self) -> None:
        while self._receiving and (len(self._receiving) > self._max_receiving
                                   or self._receiving_bytes > self._max_receiving_bytes):
            self._drop(next(iter(self._receiving)),
                       f"more than {self._max_receiving} connections or "
                       f"{self._max_receiving_bytes >> 20} MiB of requests arriving at once; "
                       f"the longest waiting is dropped")

    def _forget(self, incoming: _Receiving) -> None:
        if incoming not in self._receiving:
            return
        del self._receiving[incoming]
        self._receiving_bytes -= len(incoming.data)
        self._selector.unregister(incoming.sock)

    def _drop(self, incoming: _Receiving, why: str) -> None:
        self._forget(incoming)
        incoming.sock.close()
        tally = self._dropped.setdefault(why, [0, set()])
        tally[0] += 1
        tally[1].add(str(incoming.address[0]))

    def _log_dropped(self) -> None:
        now = time.monotonic()
        if not self._dropped or now - self._dropped_logged_at < DROP_LOG_EVERY_S:
            return
        for why, (count, hosts) in self._dropped.items():
            shown = ", ".join(sorted(hosts)[:3]) + (" ..." if len(hosts) > 3 else "")
            self._log(f"[agent] dropped {count} connection(s) from {shown}: {why}")
        self._dropped.clear()
        self._dropped_logged_at = now


def _drain(sock: socket.socket) -> None:
    try:
        while sock.recv(1 << 16):
            pass
    except OSError:
        pass

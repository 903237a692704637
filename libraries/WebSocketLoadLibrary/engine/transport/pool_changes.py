"""What lets a pool's set of connections change while a step runs: one connection opened at
a time with its outcome and phase timings (`attempt`), a connection put in another's place
(`replace`, for the lifecycle policies: churn.py, reconnect.py), and the listeners that hear
of it. A mixin of ClientPool (pool.py), kept apart so that the pool stays about reading,
writing and closing.
"""
from __future__ import annotations

import asyncio
import itertools
import socket
import time
from urllib.parse import urlsplit

from .connect_outcome import ConnectOutcome, failure_category
from .connections import explain_connect_error
from .opening import Conversation
from .pooled_connection import PooledConnection


class ChangingPool:
    """Needs of the pool: `options`, `connections`, `policies`, `_replacement_listeners`,
    `_receiving`, `_open_phased`, `_say_opening`, `_text_sender`, `_adopt`, `_install`,
    `_close_sockets`."""

    def listen_for_replacements(self, listener):
        """Call `listener(old, new, why)` when a lifecycle policy puts `new` in the place of
        `old` (new None: it gave `old` up, `why` says why); returns the way to stop."""
        self._replacement_listeners.append(listener)
        return lambda: self._replacement_listeners.remove(listener)

    async def replace(self, old: PooledConnection) -> ConnectOutcome:
        """Open a connection in the place of `old` (its pool place, its step slot, its
        opening messages with its number): a running step's receivers take it over, and
        the replacement listeners are told. The outcome says how the attempt went."""
        outcome = await self.attempt(self.options.ssl_context(), old.number)
        new = outcome.connection
        if new is None:
            return outcome
        self.connections.remove(new)   # `attempt` appended it: it goes to old's place
        try:
            self.connections[self.connections.index(old)] = new
        except ValueError:             # the pool was closed meanwhile
            await self._close_sockets([new.ws], self.options.close_timeout_s)
            outcome.connection = None
            outcome.failure, outcome.detail = "pool closed", "the pool was closed"
            return outcome
        new.slot, new.number = old.slot, old.number
        if self._receiving is not None:
            connections, receivers = self._receiving
            if 0 <= old.slot < len(connections) and connections[old.slot] is old:
                connections[old.slot] = new
                self._install(new, receivers[old.slot])
        for listener in list(self._replacement_listeners):
            listener(old, new, "")
        return outcome

    def gave_up(self, old: PooledConnection, why: str) -> None:
        """A policy will not replace `old`: the listeners are told why."""
        for listener in list(self._replacement_listeners):
            listener(old, None, why)

    async def attempt(self, ssl_context, number: int, due: float = 0.0) -> ConnectOutcome:
        """Open one connection, its phases timed (connect_outcome.py); on success it joins
        the pool at once. A failure is an outcome, not an exception: a connection storm
        counts its failures by kind. Cancelled with the caller, leaving nothing open."""
        outcome = ConnectOutcome(number, due=due)
        clock, options = time.perf_counter, self.options
        try:
            # a timeout scope, not wait_for: no task of its own per attempt
            async with asyncio.timeout(options.open_timeout_s):
                sock = await self._open_phased(ssl_context, outcome.phases)
        except asyncio.CancelledError:
            raise
        except BaseException as error:  # noqa: BLE001 - sorted into the outcome
            outcome.failure, outcome.detail = failure_category(error), explain_connect_error(
                error, options)
            outcome.finished = clock()
            return outcome
        session = self._session(number)
        if session is not None and self.protocol.handshakes:
            began = clock()
            try:
                await self._say_protocol(sock, session, number)
            except asyncio.CancelledError:
                await self._close_sockets([sock], options.close_timeout_s)
                raise
            except BaseException as error:  # noqa: BLE001 - sorted into the outcome
                await self._close_sockets([sock], options.close_timeout_s)
                outcome.failure, outcome.detail = failure_category(error), str(error)
                outcome.finished = clock()
                return outcome
            outcome.phases["protocol"] = clock() - began
        if options.opening is not None:
            began = clock()
            try:
                await self._say_opening(sock, Conversation(options.opening, number,
                                                           self._text_sender(sock)))
            except asyncio.CancelledError:
                await self._close_sockets([sock], options.close_timeout_s)
                raise
            except BaseException as error:  # noqa: BLE001 - sorted into the outcome
                await self._close_sockets([sock], options.close_timeout_s)
                outcome.failure, outcome.detail = "opening messages", str(error)
                outcome.finished = clock()
                return outcome
            outcome.phases["opening"] = clock() - began
        outcome.connection = self._adopt([sock], [session])[0]
        self.start_heartbeats(session)
        outcome.finished = clock()
        return outcome

    async def close_one(self, connection: PooledConnection, timeout_s: float = 5.0) -> None:
        """Close one connection (a normal close) and wait until its close listeners have
        heard of it, at most `timeout_s`."""
        if not connection.closed:
            await self._close_sockets([connection.ws], min(timeout_s, self.options.close_timeout_s))
        deadline = time.perf_counter() + timeout_s
        while not connection.closed and time.perf_counter() < deadline:
            await asyncio.sleep(0.001)

    async def stop_policies(self) -> None:
        for policy in list(self.policies):
            await policy.stop()
        self.policies.clear()


_ADDRESSES: dict[str, tuple] = {}
_TURNS = itertools.count()   # which source address the next connection takes
# bind() leaves the port to connect(), which then needs it unique only per destination:
# without it every source address would give one run its ports once for all destinations
IP_BIND_ADDRESS_NO_PORT = getattr(socket, "IP_BIND_ADDRESS_NO_PORT", 24)


async def resolved(uri: str) -> tuple:
    """(family, kind, proto, address) of the URI's host and port: the first address the
    name resolves to, resolved once per URI (asyncio resolves in a thread, a hop that cost
    more than the rest of an attempt in a storm of thousands a second)."""
    where = _ADDRESSES.get(uri)
    if where is None:
        split = urlsplit(uri)
        port = split.port or (443 if split.scheme == "wss" else 80)
        family, kind, proto, _, address = (await asyncio.get_running_loop().getaddrinfo(
            split.hostname, port, type=socket.SOCK_STREAM))[0]
        where = _ADDRESSES[uri] = (family, kind, proto, address)
    return where


def next_source(sources: list[str]) -> str:
    """The source address the next connection takes: each in turn."""
    return sources[next(_TURNS) % len(sources)]


async def tcp_socket(uri: str, sources: list[str] | None = None) -> socket.socket:
    """A connected non-blocking TCP socket to the URI's host and port (the first address
    the name resolves to); with `sources`, from each of those local addresses in turn (each
    gives its own range of ephemeral ports toward one server address and port)."""
    loop = asyncio.get_running_loop()
    family, kind, proto, address = await resolved(uri)
    sock = socket.socket(family, kind, proto)
    sock.setblocking(False)
    try:
        if sources:
            sock.setsockopt(socket.IPPROTO_IP, IP_BIND_ADDRESS_NO_PORT, 1)
            sock.bind((next_source(sources), 0))
        await loop.sock_connect(sock, address)
    except BaseException:
        sock.close()
        raise
    return sock

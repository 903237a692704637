"""Opening messages: what each connection sends right after its handshake -- join a room,
subscribe to a topic, authenticate -- and the reply it waits for before it counts as open.

Each message is text with `$connection` (the connection's number in its pool, from 0) as
its one placeholder, sent in order; when a reply pattern is given (message_pattern.py) the
connection waits, within the timeout, for an arriving message that matches it before it
sends the next one. Messages that arrive meanwhile and do not match (a welcome, a
heartbeat) are passed over; the last few are kept for the error when the wait runs out, so
that a failure names the connection, the message and what arrived instead.

The pools (pool.py, picows_pool.py) carry this out per connection before the connection
joins the pool: a connection that opens is a connection that has said its opening
messages. A reconnect says them again.
"""
from __future__ import annotations

import asyncio
import string
from collections import deque
from dataclasses import dataclass, field

from ...errors import UsageError
from ..errors import ConnectError
from ..plan.message_pattern import MessagePattern, pattern_or_none

SEEN_KEPT = 3          # messages that arrived instead, kept for the error
SEEN_SHOWN_BYTES = 120


class OpeningError(ConnectError):
    """A connection's opening messages were not answered as expected."""


@dataclass
class OpeningMessages:
    """messages      text per message, `$connection` replaced by the connection's number
    reply_pattern    each message waits for a message matching this (None: no wait)
    timeout_s        how long each wait may take"""
    messages: list = field(default_factory=list)
    reply_pattern: MessagePattern | None = None
    timeout_s: float = 5.0

    def __post_init__(self):
        if isinstance(self.messages, str):
            self.messages = [self.messages]
        self.messages = [str(m) for m in self.messages]
        if not self.messages:
            raise UsageError("opening messages: give at least one message")
        self.reply_pattern = pattern_or_none(self.reply_pattern)
        if not self.timeout_s > 0:
            raise UsageError(f"opening messages: timeout must be positive, got {self.timeout_s}")
        self._templates = []
        for text in self.messages:
            template = string.Template(text)
            unknown = {m.group("named") or m.group("braced")
                       for m in template.pattern.finditer(text)
                       if (m.group("named") or m.group("braced"))} - {"connection"}
            if unknown:
                raise UsageError(f"opening message {text!r} has unknown placeholder(s) "
                                 f"{', '.join('$' + u for u in sorted(unknown))}; only "
                                 f"$connection is known")
            self._templates.append(template)

    def rendered(self, connection: int) -> list[bytes]:
        return [t.safe_substitute(connection=connection).encode() for t in self._templates]

    def describe(self) -> str:
        wait = (f", each waiting {self.timeout_s:g} s for a reply matching "
                f"{str(self.reply_pattern)!r}" if self.reply_pattern is not None else "")
        return f"{len(self.messages)} opening message(s){wait}"


async def next_arrival(arrived: asyncio.Queue, deadline: float):
    """The next message a transport put in `arrived` (None: the connection closed), or
    asyncio.TimeoutError once the loop's clock passes `deadline`."""
    left = deadline - asyncio.get_running_loop().time()
    if left <= 0:
        raise asyncio.TimeoutError
    return await asyncio.wait_for(arrived.get(), left)


class Conversation:
    """One connection's opening messages, over a transport's `send(bytes)` and a queue the
    transport fills with the messages that arrive."""

    def __init__(self, opening: OpeningMessages, connection: int, send):
        self.opening, self.connection, self.send = opening, connection, send
        self.arrived: asyncio.Queue = asyncio.Queue()
        self.seen: deque = deque(maxlen=SEEN_KEPT)

    async def run(self) -> None:
        opening, pattern = self.opening, self.opening.reply_pattern
        for number, message in enumerate(opening.rendered(self.connection), 1):
            await self.send(message)
            if pattern is None:
                continue
            deadline = asyncio.get_running_loop().time() + opening.timeout_s
            while True:
                try:
                    arrived = await next_arrival(self.arrived, deadline)
                except asyncio.TimeoutError:
                    raise OpeningError(self._failure(number, message)) from None
                if arrived is None:  # the transport says the connection closed
                    raise OpeningError(self._failure(number, message, closed=True))
                if pattern.matches(arrived):
                    break
                self.seen.append(arrived)

    def _failure(self, number: int, message: bytes, closed: bool = False) -> str:
        opening = self.opening
        instead = ("; arrived instead: " + ", ".join(
            repr(m[:SEEN_SHOWN_BYTES].decode(errors="replace")) for m in self.seen)
            if self.seen else "; nothing else arrived")
        why = "the connection closed" if closed else f"no reply within {opening.timeout_s:g} s"
        return (f"connection {self.connection}: opening message {number} of "
                f"{len(opening.messages)} {message[:SEEN_SHOWN_BYTES].decode(errors='replace')!r}"
                f" got no reply matching {str(opening.reply_pattern)!r}: {why}{instead}")

"""What the mock server does with each message of one connection, decided without I/O.

Both server engines (server.py on websockets, picows_server.py on picows) hand every message
to `Exchange.receive` and do what it says; they differ only in how they read, write, wait
and close -- the split of the websockets library's own sans-I/O protocol core. So the
faults behave alike on both engines, and tests/test_mock_pipeline.py checks them by calling.

`receive` returns the reply to send now -- nearly always, and then there is nothing else to
do, which keeps the engines' per-message path to this one Python call -- or None. After a
None the engine takes the outputs, in this order:

  pause_s  > 0: stop reading this long (the engine sets it back to 0), then hand the same
           message to `receive` again; it is processed then, whatever the stall
  outbox   (kind, reply) pairs to send now, in order, already counted (the engine empties it)
  held     replies waiting for their time: keep a timer for `next_due()`, send `pop_due()`
  close    (code, reason): close the connection, once the outbox is sent

`kind` is the engine's frame type (picows' opcode; websockets tells text from bytes by the
type of the message, and passes None), kept with each reply and handed back untouched.

A new fault that acts per message is a few lines in `receive` setting one of these outputs
(a rate limit, say, holds the reply until its slot); one acting per connection or per
handshake goes in core.py. An engine changes only for an output it does not yet carry out.
"""
from __future__ import annotations

from collections import deque
from time import monotonic

from .faults import garble

CLOSE_INTERNAL_ERROR = 1011


def wire_size(message) -> int:
    """Bytes on the wire of a frame's payload (websockets hands text frames over as str)."""
    if isinstance(message, str) and not message.isascii():
        return len(message.encode())
    return len(message)


class Exchange:
    """One connection's messages and replies: counters, faults and the replies held back.

    `stats` and `faults` are the server's, shared by all its connections; `ack` builds the
    reply to a message in ack mode (None: echo); `size` counts a message's bytes (`len` for
    bytes only, `wire_size` when text comes as str).
    """
    __slots__ = ("stats", "faults", "ack", "size", "received", "held", "pause_s",
                 "paused_for", "outbox", "close")

    def __init__(self, stats, faults, ack=None, size=len):
        self.stats, self.faults, self.ack, self.size = stats, faults, ack, size
        self.received = 0           # messages of this connection, for disconnect_after
        self.held: deque = deque()  # (due, kind, reply), in order of arrival
        self.pause_s = 0.0
        self.paused_for = 0.0       # the read stall this connection has paused for already
        self.outbox: list = []
        self.close: tuple[int, str] | None = None

    def receive(self, message, kind=None):
        """The reply to send now, or None: see the module's docstring for what then."""
        stats, faults = self.stats, self.faults
        until = faults.read_stall_until
        if until and until != self.paused_for:
            wait = until - monotonic()
            if wait > 0:
                self.paused_for, self.pause_s = until, wait
                return None
            faults.read_stall_until = 0.0  # over: spare the next messages the clock
        self.received += 1
        stats.messages_received += 1
        size = self.size
        stats.bytes_received += size(message)
        ack = self.ack
        reply = message if ack is None else ack(message)
        if faults.drop_ratio and faults.should_drop():
            stats.messages_dropped += 1
            reply = None
        else:
            if faults.garble_ratio and faults.should_garble():
                reply = garble(reply)
                stats.messages_garbled += 1
            stall = faults.stall_until
            # behind a held reply a reply waits too: replies leave in order
            if self.held or faults.response_delay > 0 or (stall and stall > monotonic()):
                self.held.append((monotonic() + faults.response_delay, kind, reply))
                reply = None
        if faults.disconnect_after and self.received >= faults.disconnect_after:
            stats.disconnects_injected += 1
            self.close = (CLOSE_INTERNAL_ERROR,
                          f"mock server fault: disconnect after {faults.disconnect_after} messages")
            if reply is not None:
                self.outbox.append((kind, reply))
                stats.messages_sent += 1
                stats.bytes_sent += size(reply)
            return None
        if reply is not None:
            stats.messages_sent += 1
            stats.bytes_sent += size(reply)
        return reply

    # -- replies held by response_delay or a stall --------------------------------------
    def next_due(self) -> float | None:
        """When the first held reply may leave (a stall holds it past its time), or None."""
        if not self.held:
            return None
        return max(self.held[0][0], self.faults.stall_until)  # re-read: a stall set later counts

    def pop_due(self, now: float) -> tuple | None:
        """The first held reply as (kind, reply) if it may leave at `now`, counted as sent."""
        held = self.held
        if not held or max(held[0][0], self.faults.stall_until) > now:
            return None
        _, kind, reply = held.popleft()
        self.stats.messages_sent += 1
        self.stats.bytes_sent += self.size(reply)
        return kind, reply

    def unsent(self, reply) -> None:
        """A reply counted as sent that the transport refused: the connection closed under it."""
        self.stats.messages_sent -= 1
        self.stats.bytes_sent -= self.size(reply)

    def abandon(self) -> int:
        """The connection ended: its held replies never leave. Returns how many there were."""
        count = len(self.held)
        self.held.clear()
        return count

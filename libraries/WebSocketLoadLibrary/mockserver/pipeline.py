"""What the mock server does with each message of one connection, decided without I/O.

Both server engines (server.py on websockets, picows_server.py on picows) hand every message
to `Exchange.receive` and do what it says; they differ only in how they read, write, wait
and close -- the split of the websockets library's own sans-I/O protocol core. So the
faults behave alike on both engines, and tests/mockserver/test_mock_pipeline.py checks them by calling.

`receive` returns the reply to send now -- nearly always, and then there is nothing else to
do, which keeps the engines' per-message path to this one Python call (after the push
protocol's prefix test, commands.py) -- or None. After a
None the engine takes the outputs, in this order:

  pause_s  > 0: stop reading this long (the engine sets it back to 0), then hand the same
           message to `receive` again; it is processed then, whatever the stall
  outbox   (kind, reply) pairs to send now, in order, already counted (the engine empties it)
  held     replies waiting for their time: keep a timer for `next_due()`, send `pop_due()`
  close    (code, reason): close the connection, once the outbox is sent

`kind` is the engine's frame type (picows' opcode; websockets tells a reply's type from the
message's and passes None, and for what the server makes passes `send`'s `text=` flag),
kept with each reply and handed back untouched.

A new fault that acts per message is a few lines in `receive` setting one of these outputs
(a rate limit, say, holds the reply until its slot); one acting per connection or per
handshake goes in core.py. An engine changes only for an output it does not yet carry out.

The push protocol (pushes.py) sends through the same outputs, so what the server sends on
its own leaves in order with the replies and under the same faults: a command's answer
(`answer`), a heartbeat or welcome (`push`) and a publish to this connection as a
subscriber (`deliver`) go to the outbox, or behind held items to `held`; the engine, told
which connections have something new, sends their outboxes and arms their timers. A stream
(streams.py) is the one output with a clock of its own: while `stream_wake(now)` says when,
the engine sends what `stream_due(now)` returns. `peer` is the engine's handle of the
connection (its listener or socket), kept here and handed back untouched.

`replies` > 1 (several replies per message) makes the connection a `RepeatingExchange`
(`repeat`), and the fault max_message_rate a `PacedExchange` (`pace`): `Exchange.receive`,
the one-reply path, pays nothing for either while it is off.

max_message_rate K is one queue for the whole server (its slots are kept by the shared
Faults): each message is served at its slot, 1/K s after the one before it, and its
reply is held until then (or later, under response_delay or a stall). A held reply
leaves in order behind those of its connection held before it, as any held item does,
so beyond K the replies wait longer and longer and none is dropped.
"""
from __future__ import annotations

from collections import deque
from time import monotonic

from .faults import garble

CLOSE_INTERNAL_ERROR = 1011
PUSH = "push"  # what a held item counts as when it leaves (None: a reply; else a topic's counts)
PROTOCOL = "protocol"  # a protocol's own message, counted where it is made


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
                 "paused_for", "outbox", "close", "replies", "stream", "peer", "session",
                 "echo", "after_reply", "frame", "frame_kind", "ping_due", "pong_due")

    def __init__(self, stats, faults, ack=None, size=len):
        self.stats, self.faults, self.ack, self.size = stats, faults, ack, size
        self.received = 0           # messages of this connection, for disconnect_after
        self.held: deque = deque()  # (due, kind, item, counted as), in order of arrival
        self.pause_s = 0.0
        self.paused_for = 0.0       # the read stall this connection has paused for already
        self.outbox: list = []
        self.close: tuple[int, str] | None = None
        self.replies = 1            # per message (see `repeat`)
        self.stream = None          # the Stream of streams.py, running or the last one
        self.peer = None            # the engine's
        # a protocol spoken over WebSocket (protocol_serving.py): its session, how what the
        # server sends on its own is framed, and in which frame type; its keep-alive times
        self.session = self.frame = self.frame_kind = self.echo = self.after_reply = None
        self.ping_due = self.pong_due = 0.0

    def receive(self, message, kind=None, framed=None):
        """The reply to send now, or None: see the module's docstring for what then.
        `framed`: the reply a protocol's session made already (protocol_serving.py)."""
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
        if framed is None:
            ack = self.ack
            reply = message if ack is None else ack(message)
        else:
            reply = framed
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
                self.held.append((monotonic() + faults.response_delay, kind, reply, None))
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

    def repeat(self, replies: int) -> None:
        """Answer each message `replies` times from now on (see RepeatingExchange)."""
        self.replies = replies
        self.pace()

    def pace(self) -> None:
        """Take the class for `replies` and the fault max_message_rate as they are now."""
        if self.replies != 1:
            self.__class__ = RepeatingExchange   # it paces too, when asked
        else:
            self.__class__ = PacedExchange if self.faults.max_message_rate else Exchange

    # -- what the server sends on its own (the push protocol) ---------------------------
    def answer(self, kind, reply) -> None:
        """A command's answer: a reply, under response_delay and a stall, never dropped."""
        if self.frame is not None:
            kind, reply = self.frame_kind, self.frame(reply)
        self._enqueue(kind, reply, None, self.faults.response_delay)

    def follow(self, kind, item) -> None:
        """A protocol's message that follows the reply just made (GraphQL's `complete`):
        behind it in order, held as long as it is, never dropped or counted as the load."""
        if self.held:
            self.held.append((self.held[-1][0], kind, item, PROTOCOL))
        else:
            self.outbox.append((kind, item))

    def push(self, kind, message) -> None:
        """A heartbeat or welcome: on the server's own time, so only a stall holds it."""
        if self.frame is not None:
            kind, message = self.frame_kind, self.frame(message)
        self._enqueue(kind, message, PUSH, 0.0)

    def deliver(self, kind, message, counts, delay_s: float = 0.0) -> None:
        """A publish to this subscriber (`counts`: its topic's): dropped by drop_ratio,
        delayed by response_delay plus `delay_s` (slow_subscriber_delay) and a stall."""
        faults = self.faults
        if faults.drop_ratio and faults.should_drop():
            self.stats.deliveries_dropped += 1
            counts.dropped += 1
            return
        if self.frame is not None:
            kind, message = self.frame_kind, self.frame(message)
        self._enqueue(kind, message, counts, faults.response_delay + delay_s)

    def _enqueue(self, kind, item, counted_as, delay_s: float) -> None:
        stall = self.faults.stall_until
        if self.held or delay_s > 0 or (stall and stall > monotonic()):
            self.held.append((monotonic() + delay_s, kind, item, counted_as))
        else:
            self.outbox.append((kind, item))
            self._count_sent(item, counted_as)

    def _count_sent(self, item, counted_as, sign: int = 1) -> None:
        stats = self.stats
        stats.bytes_sent += sign * self.size(item)
        if counted_as is None:
            stats.messages_sent += sign
        elif counted_as is PUSH:
            stats.pushes_sent += sign
        elif counted_as is PROTOCOL:
            pass                            # counted where the protocol made it
        else:
            stats.deliveries_sent += sign
            counted_as.delivered += sign

    def stream_wake(self, now: float) -> float | None:
        """When to ask `stream_due` next (monotonic), or None: no stream running."""
        stream = self.stream
        return None if stream is None else stream.next_wake(now)

    def stream_due(self, now: float, most: int | None = None) -> list:
        """The stream's messages due at `now` to send now (at most `most` seq numbers),
        counted; held ones go to `held`."""
        stream = self.stream
        if stream is None:
            return []
        batch = stream.due(now, most)
        if not batch:
            return batch
        faults, kind = self.faults, stream.kind
        if self.frame is not None:
            batch, kind = [self.frame(message) for message in batch], self.frame_kind
        stall, delay = faults.stall_until, faults.response_delay
        if self.held or delay > 0 or (stall and stall > now):
            self.held.extend([(now + delay, kind, message, PUSH) for message in batch])
            return []
        stats = self.stats
        stats.pushes_sent += len(batch)
        stats.bytes_sent += sum(map(len, batch))
        return batch

    # -- items held by response_delay or a stall ------------------------------------------
    def next_due(self) -> float | None:
        """When the first held item may leave (a stall holds it past its time), or None."""
        if not self.held:
            return None
        return max(self.held[0][0], self.faults.stall_until)  # re-read: a stall set later counts

    def pop_due(self, now: float) -> tuple | None:
        """The first held item as (kind, item) if it may leave at `now`, counted as sent."""
        held = self.held
        if not held or max(held[0][0], self.faults.stall_until) > now:
            return None
        _, kind, item, counted_as = held.popleft()
        self._count_sent(item, counted_as)
        return kind, item

    def unsent(self, reply, counted_as=None) -> None:
        """An item counted as sent that the transport refused: the connection closed under it."""
        self._count_sent(reply, counted_as, -1)

    def abandon(self) -> int:
        """The connection ended: its held items never leave. Returns how many there were."""
        count = len(self.held)
        self.held.clear()
        self.stream = None
        return count

    def _read_stalled(self) -> bool:
        """Exchange.receive's read_stall check, for the other receive paths."""
        faults = self.faults
        until = faults.read_stall_until
        if until and until != self.paused_for:
            wait = until - monotonic()
            if wait > 0:
                self.paused_for, self.pause_s = until, wait
                return True
            faults.read_stall_until = 0.0
        return False


class PacedExchange(Exchange):
    """A one-reply connection while max_message_rate is on: each reply waits for its
    slot in the server's queue (see the module's docstring). Always returns None, the
    reply in the outbox when its slot is now, else held."""
    __slots__ = ()

    def receive(self, message, kind=None):
        if self._read_stalled():
            return None
        stats, faults = self.stats, self.faults
        now = monotonic()
        wait = (faults.service_slot(now) - now) if faults.max_message_rate else 0.0
        self.received += 1
        stats.messages_received += 1
        stats.bytes_received += self.size(message)
        reply = message if self.ack is None else self.ack(message)
        if faults.drop_ratio and faults.should_drop():
            stats.messages_dropped += 1
        else:
            if faults.garble_ratio and faults.should_garble():
                reply = garble(reply)
                stats.messages_garbled += 1
            self._enqueue(kind, reply, None, max(wait, faults.response_delay))
        if faults.disconnect_after and self.received >= faults.disconnect_after:
            stats.disconnects_injected += 1
            self.close = (CLOSE_INTERNAL_ERROR,
                          f"mock server fault: disconnect after {faults.disconnect_after} messages")
        return None


class RepeatingExchange(Exchange):
    """A connection with the server option `replies` > 1: each message gets that many
    replies -- echo: copies of it; ack: `parts` acks, `"status":"partial"` then `"done"`.
    A drop takes them all; each may be garbled; they are held and leave in order like one.
    Always returns None, the replies in the outbox or held (the pipeline's outputs)."""
    __slots__ = ()

    def receive(self, message, kind=None):
        if self._read_stalled():
            return None
        stats, faults = self.stats, self.faults
        self.received += 1
        stats.messages_received += 1
        stats.bytes_received += self.size(message)
        parts = self.replies
        replies = [message] * parts if self.ack is None else self.ack(message, parts)
        delay = faults.response_delay
        if faults.max_message_rate:  # one slot of the server's queue for all its replies
            now = monotonic()
            delay = max(delay, faults.service_slot(now) - now)
        if faults.drop_ratio and faults.should_drop():
            stats.messages_dropped += 1
        else:
            for reply in replies:
                if faults.garble_ratio and faults.should_garble():
                    reply = garble(reply)
                    stats.messages_garbled += 1
                self._enqueue(kind, reply, None, delay)
        if faults.disconnect_after and self.received >= faults.disconnect_after:
            stats.disconnects_injected += 1
            self.close = (CLOSE_INTERNAL_ERROR,
                          f"mock server fault: disconnect after {faults.disconnect_after} messages")
        return None

"""The mock server speaking a protocol over WebSocket (Socket.IO, ...), without I/O: each
connection's `ServerSession` (engine/protocols/) says what a client message is, and this
carries it out on the server's own objects, so that today's faults, counters, topics and
streams apply to a protocol's traffic as they do to plain messages.

- what the server says first (an open packet) goes to the connection's outbox at once;
- the protocol's own messages (a connect ack, a pong, a SUBACK) are answered at once, and
  counted apart (`protocol_messages_*`): they are not the load;
- a request goes through the pipeline (pipeline.py) like any message: its reply, the
  protocol's framing of an echo or an ack, is dropped, delayed, garbled or held by the
  faults like any reply;
- a subscribe, publish or stream becomes the push protocol's command (commands.py), and
  what the server then sends on its own (deliveries, stream messages, answers) is framed
  as the protocol's delivery (`Exchange.frame`);
- keep-alives: a session with a ping interval is pinged that often, and a connection that
  has not answered within its ping timeout is closed (as the real servers do), counted in
  `keepalive_timeouts`.
"""
from __future__ import annotations

import math
import time

import orjson

from ..engine import PROTOCOLS, ServerSession, protocol_named
from .pipeline import Exchange

NOTHING_TO_FLUSH = ()
PING_TIMEOUT_CLOSE = (1000, "ping timeout")   # what Socket.IO's server does on a lost pong
IDLE_CHECK_S = 1.0                           # with no keep-alive due, look again this soon


class ProtocolServing:
    def __init__(self, core, name: str, options: dict | None = None):
        protocol = PROTOCOLS.get(protocol_named(name).name)
        unknown = set(options or {}) - set(protocol.server_options)
        if unknown:
            raise ValueError(f"the mock server's {protocol.name} has no option(s) "
                             f"{', '.join(sorted(unknown))} (its options: "
                             f"{', '.join(sorted(protocol.server_options)) or 'none'})")
        self.core, self.protocol = core, protocol
        self.options = {**protocol.server_options, **(options or {})}
        self.name = protocol.name

    def open(self, exchange, number: int) -> None:
        session = self.protocol.server_session(number, **self.options)
        core, stats = self.core, self.core.stats
        exchange.session = session
        # a request's reply is the hot path: look up once whether anything follows it
        kind = type(session)
        exchange.after_reply = (session.after_reply if kind.after_reply
                                is not ServerSession.after_reply else None)
        exchange.echo = (session.echo if kind.echo is not ServerSession.echo
                         and core.mode != "ack" else None)
        exchange.frame = session.frame
        exchange.frame_kind = core.text_kind if session.text else core.binary_kind
        ack_mode = core.mode == "ack"

        def reply(request, parts: int = 1):
            ack = orjson.dumps({"status": "ok", "server_time": time.time()}) if ack_mode else None
            framed = session.reply(request, ack)
            return framed if parts == 1 else [framed] * parts
        exchange.ack = reply
        for message in session.opening():
            exchange.outbox.append((exchange.frame_kind, message))
            stats.protocol_messages_sent += 1
        if session.ping_interval_s:
            now = time.monotonic()
            exchange.ping_due = now + session.ping_interval_s

    def receive(self, exchange, message, kind) -> tuple:
        """(the reply to send now or None, the connections with something to send): what
        the engine does with one client message of a protocol connection. The reply is
        bytes, or a tuple of frames to send in order (a reply and what follows it)."""
        if type(message) is str:
            message = message.encode()
        echo = exchange.echo
        if echo is not None and type(exchange) is Exchange:   # not paced nor repeating
            framed = echo(message)
            if framed is not None:
                reply = exchange.receive(message, exchange.frame_kind, framed)
                if exchange.after_reply is None:
                    return reply, (NOTHING_TO_FLUSH if reply is not None else (exchange,))
                return self.follow_reply(exchange, message, reply)
        what = exchange.session.receive(message)
        action = what[0]
        if action == "request":
            reply = exchange.receive(message, exchange.frame_kind)
            if exchange.after_reply is not None:
                return self.follow_reply(exchange, message, reply)
            return reply, (NOTHING_TO_FLUSH if reply is not None else (exchange,))
        stats = self.core.stats
        if action == "command":
            for answer in what[2]:
                exchange.outbox.append((exchange.frame_kind, answer))
                stats.protocol_messages_sent += 1
            return None, [exchange] + [c for c in self.core.command(
                exchange, what[1], exchange.frame_kind) if c is not exchange]
        stats.protocol_messages_received += 1
        if action == "answer":
            for answer in what[1]:
                exchange.outbox.append((exchange.frame_kind, answer))
                stats.protocol_messages_sent += 1
            return None, [exchange] if what[1] else []
        if action == "pong":
            exchange.pong_due = 0.0
            return None, []
        if action == "message":
            stats.messages_received += 1
            return None, []
        if action == "close":
            exchange.close = (what[1], what[2])
            return None, [exchange]
        stats.invalid_messages += 1            # "invalid"
        for answer in exchange.session.invalid_answer(what[1]):
            exchange.outbox.append((exchange.frame_kind, answer))
        return None, [exchange]

    def follow_reply(self, exchange, request, reply) -> tuple:
        """What follows a request's reply (GraphQL's `complete`), in order behind it,
        wherever the reply waits: sent with it when it goes now (the reply then a tuple of
        frames: no trip through the outbox), else held behind it."""
        after = exchange.after_reply(request)
        if reply is not None and not exchange.held and not exchange.outbox:
            self.core.stats.protocol_messages_sent += len(after)
            return ((reply, *after) if after else reply), NOTHING_TO_FLUSH
        for item in after:
            exchange.follow(exchange.frame_kind, item)
            self.core.stats.protocol_messages_sent += 1
        if after or reply is None:
            return reply, (exchange,)
        return reply, NOTHING_TO_FLUSH

    def keepalive_wake(self, now: float) -> float:
        """When the next ping is due or a pong overdue (monotonic)."""
        wakes = [e.pong_due or e.ping_due for e in self.core.exchanges if e.session is not None
                 and (e.pong_due or e.ping_due)]
        return min(wakes, default=now + IDLE_CHECK_S)

    def keepalive(self, now: float) -> list:
        """Ping who is due, close who did not answer in time: the connections to flush."""
        due, stats = [], self.core.stats
        for exchange in list(self.core.exchanges):
            session = exchange.session
            if session is None or not session.ping_interval_s:
                continue
            if exchange.pong_due and exchange.pong_due <= now:
                stats.keepalive_timeouts += 1
                exchange.pong_due, exchange.ping_due = 0.0, math.inf   # closing: once
                self.core.close_connection(exchange, *PING_TIMEOUT_CLOSE)
                continue
            if exchange.ping_due <= now and not exchange.pong_due:
                exchange.outbox.append((exchange.frame_kind, session.ping()))
                stats.protocol_messages_sent += 1
                exchange.ping_due = now + session.ping_interval_s
                exchange.pong_due = now + session.ping_timeout_s
                due.append(exchange)
        return due

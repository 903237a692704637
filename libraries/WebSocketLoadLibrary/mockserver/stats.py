"""The mock server's counters, as the control endpoint's `stats` reports them."""
from __future__ import annotations

import os
import time

COUNTERS = (
    "connections_opened", "connections_closed", "connections_refused", "auth_failures",
    "connection_errors", "messages_received", "messages_sent", "messages_dropped",
    "messages_garbled", "invalid_messages", "disconnects_injected", "replies_abandoned",
    "bytes_received", "bytes_sent", "handshake_failures", "handshake_timeouts",
    "control_errors",
    # the push protocol (pushes.py): pushes are heartbeats, welcomes and stream messages;
    # a stream message dropped by drop_ratio or skipped by sequence_gap_every is a gap
    "pushes_sent", "pushes_dropped", "sequence_gaps", "deliveries_sent",
    "deliveries_dropped", "invalid_commands",
    # the connection lifecycle (core.py): handshakes answered 101 (control ones left out);
    # refused per HTTP status: 401 (auth, also in auth_failures), 429 (max_handshake_rate),
    # 503 (refuse_for); delayed by handshake_delay; left unanswered by hang_handshakes;
    # restarts and the connections they closed; connections closed by close_after
    "handshakes_accepted", "handshakes_refused_401", "handshakes_refused_429",
    "handshakes_refused_503", "handshakes_delayed", "handshakes_hung", "restarts",
    "closes_by_restart", "closes_by_close_after",
    # a protocol over WebSocket (protocol_serving.py): its own messages (handshakes, pings,
    # pongs, SUBACKs), never counted as the load; connections closed for a missing pong
    "protocol_messages_received", "protocol_messages_sent", "keepalive_timeouts",
)


class TopicCounts:
    """One topic's figures: its subscribers now, and since the last reset the publishes to
    it, the deliveries sent and dropped, and the publishes nobody else was there to hear."""
    __slots__ = ("subscribers", "published", "delivered", "dropped", "unheard")

    def __init__(self):
        self.subscribers = 0
        self.reset()

    def reset(self) -> None:
        self.published = self.delivered = self.dropped = self.unheard = 0

    def as_dict(self) -> dict:
        return {name: getattr(self, name) for name in self.__slots__}


class ServerStats:
    __slots__ = COUNTERS + ("connections_active", "connections_peak", "started", "close_codes",
                            "topics")

    def __init__(self):
        self.topics: dict[str, TopicCounts] = {}
        self.reset()
        self.started = time.monotonic()

    def reset(self):
        for name in COUNTERS:
            setattr(self, name, 0)
        self.connections_active = getattr(self, "connections_active", 0)
        self.connections_peak = self.connections_active
        self.close_codes: dict[str, int] = {}
        # a topic's counts are shared with the deliveries held for it: zeroed in place
        for name, counts in list(self.topics.items()):
            counts.reset()
            if not counts.subscribers:
                del self.topics[name]

    def topic(self, name: str) -> TopicCounts:
        counts = self.topics.get(name)
        if counts is None:
            counts = self.topics[name] = TopicCounts()
        return counts

    def closed_with(self, code: int | None) -> None:
        key = str(code) if code is not None else "none"
        self.close_codes[key] = self.close_codes.get(key, 0) + 1

    def as_dict(self) -> dict:
        data = {name: getattr(self, name) for name in COUNTERS}
        data["close_codes"] = dict(self.close_codes)
        data["connections_active"] = self.connections_active
        data["connections_peak"] = self.connections_peak
        data["uptime_s"] = round(time.monotonic() - self.started, 3)
        data["pid"] = os.getpid()
        return data

    def topics_as_dict(self) -> dict:
        """Per topic its counts: beside the flat counters, as the faults are (control.py)."""
        return {name: counts.as_dict() for name, counts in self.topics.items()}

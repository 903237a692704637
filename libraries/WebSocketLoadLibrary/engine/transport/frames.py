"""The shape in which a step's receivers take replies: picows' own frames.

A step's receivers are per connection, `on_frame(transport, frame)`, so that the picows
transport can call them directly as each socket's frame listener: one Python call per
reply instead of two (the socket's own listener, then the step's receiver), measured here
as ~0.3 us, ~9% of the closed loop's CPU per message at 25 connections.

Whatever does not arrive as a complete picows data frame -- a websockets message, a
message reassembled from fragments, a reply a test makes up -- is handed over as a
`WholeMessage`, with the time it was read and `transport` None.
"""
from __future__ import annotations

import time

from picows import WSMsgType

TEXT, BINARY = WSMsgType.TEXT, WSMsgType.BINARY


class WholeMessage:
    """A message read whole at `at` (perf_counter seconds), in the shape of a picows frame."""
    __slots__ = ("payload", "at")
    msg_type = TEXT
    fin = True
    last_in_buffer = True

    def __init__(self, payload: bytes, at: float):
        self.payload, self.at = payload, at

    def get_payload_as_bytes(self) -> bytes:
        return self.payload


def by_connection(receivers: list):
    """`on_message(connection, message, now)` (what pools call) over per-slot receivers."""
    def on_message(connection, message, now: float):
        return receivers[connection.slot](None, WholeMessage(message, now))
    return on_message


def message_receiver(handle, fallback):
    """`on_frame(transport, frame)` that hands each complete data frame to
    `handle(message: bytes, now: float)` (its result returned), with the read's time as the
    hot loops take it (one clock read per socket read), and any other frame to `fallback`.
    One Python call more per message than writing this out: the hottest receivers (the
    correlator's, the closed loop's, the stream sink's) write it out; the others use this."""
    clock = time.perf_counter
    batch_now = 0.0

    def on_frame(transport, frame):
        nonlocal batch_now
        kind = frame.msg_type
        if (kind is not TEXT and kind is not BINARY) or not frame.fin:
            return fallback(transport, frame)
        if transport is None:
            now = frame.at
        else:
            now = batch_now or clock()
            batch_now = 0.0 if frame.last_in_buffer else now
        return handle(frame.get_payload_as_bytes(), now)
    return on_frame

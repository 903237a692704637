"""A stand-in for a picows transport that keeps what is sent: for driving the engine's
send paths over PicowsSocket objects without a network."""
from __future__ import annotations


class FakeTransport:
    is_close_frame_sent = False

    def __init__(self):
        self.sent: list[bytes] = []

    def send(self, kind, data):
        self.sent.append(data)

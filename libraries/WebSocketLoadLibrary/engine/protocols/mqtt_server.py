"""The mock server's side of MQTT over WebSocket, without I/O (the mock server carries it
out: mockserver/protocol_serving.py; base.py's ServerSession says what `receive` returns).
The packets are mqtt_packets.py's.
"""
from __future__ import annotations

import orjson

from . import mqtt_packets as packets
from .base import NOTHING, ServerSession
from .mqtt_packets import PINGRESP_PACKET, PUBLISH, MalformedPacket, read_length, split

PUBACK_HEADER = b"\x40\x02"
COMMAND = b'{"op":'         # the push protocol's, in a PUBLISH at either QoS (commands.py)
ANSWER, PUBLISH_COMMAND = b'{"op":"', b'{"op":"publish","topic":"'
HEADS_KEPT = 64             # PUBLISH headers kept, by payload length


class MqttServerSession(ServerSession):
    """The mock broker's side of one connection, without I/O, in the shape of base.py's
    `ServerSession` (the mock server carries it out): CONNECT -> CONNACK (4 / 0x86 when the
    server's username and password are set and differ), a QoS 1 PUBLISH is a request whose
    reply is its PUBACK, a QoS 0 PUBLISH the push protocol's publish to its topic; a PUBLISH
    whose payload is `{"op":...}` is any command of it at either QoS (at QoS 1 its PUBACK
    goes first: a client's opening publish), SUBSCRIBE -> SUBACK and a subscribe,
    PINGREQ -> PINGRESP, DISCONNECT a close; what the server sends on its own goes as a QoS 0
    PUBLISH."""

    ping_interval_s = ping_timeout_s = None     # MQTT's keep-alive is the client's to keep
    text = False

    def __init__(self, number: int, username: str | None = None, password: str | None = None):
        self.number, self.credentials = number, (username, password)
        self.version, self.topic, self.connected, self.fast = 4, b"wsload/mock", False, False
        # the request just read and its PUBACK: `reply` follows `receive` on the same bytes,
        # so the packet is read once (under a read stall the same object comes back later)
        self.request, self.puback = None, b""
        self.heads: dict[int, bytes] = {}   # payload length -> PUBLISH header to self.topic

    def opening(self) -> list[bytes]:
        return []

    def echo(self, message: bytes) -> bytes | None:
        """The echo mode's fast path: a 3.1.1 QoS 1 PUBLISH that is no command, its PUBACK
        made from its own packet id in one pass (what `receive` then `reply` give: 2.4 us
        an ack on the server before); None for anything else, which `receive` reads."""
        if self.fast:
            at = _request_id_at(message)
            if at > 0:
                return PUBACK_HEADER + message[at:at + 2]
        return None

    def receive(self, message: bytes) -> tuple:
        if self.fast:           # the load itself, read in place; anything else: below
            at = _request_id_at(message)
            if at > 0:
                self.request, self.puback = message, PUBACK_HEADER + message[at:at + 2]
                return ("request", message[at + 2:])
        try:
            kind, flags, body = split(message)
            if kind == packets.CONNECT:
                return self._connect(packets.parse_connect(body))
            if not self.connected:
                return ("close", 1002, f"{packets.NAMES.get(kind)} before CONNECT")
            if kind == PUBLISH:
                topic, qos, packet_id, payload = packets.parse_publish(flags, body,
                                                                       self.version)
                if payload[:6] == COMMAND:      # acknowledged first at QoS 1
                    return ("command", payload, [packets.puback(packet_id)] if qos else [])
                if qos:
                    self.request, self.puback = message, packets.puback(packet_id)
                    return ("request", payload)
                return ("command", orjson.dumps({"op": "publish", "topic": topic.decode(
                    errors="replace"), "payload": payload.decode(errors="replace")}), [])
            if kind == packets.SUBSCRIBE:
                packet_id, filters = packets.parse_subscribe(body, self.version)
                self.topic, self.heads = filters[0][0].encode(), {}
                return ("command", orjson.dumps({"op": "subscribe", "topic": filters[0][0]}),
                        [packets.suback(packet_id, [min(q, 1) for _, q in filters],
                                        self.version)])
            if kind == packets.PINGREQ:
                return ("answer", [PINGRESP_PACKET])
            if kind == packets.DISCONNECT:
                return ("close", 1000, "")
            return ("invalid", f"{packets.NAMES.get(kind, 'reserved')} is not served here")
        except MalformedPacket as bad:
            return ("invalid", str(bad))

    def _connect(self, connect: dict) -> tuple:
        self.version, self.heads = connect["version"], {}
        wanted = self.credentials
        if wanted != (None, None) and wanted != (connect["username"], None if (
                connect["password"] is None) else connect["password"].decode(errors="replace")):
            return ("answer", [packets.connack(4 if self.version < 5 else 0x86, False,
                                               self.version)])
        self.connected = True
        self.fast = self.version < 5            # requests read in place (receive)
        return ("answer", [packets.connack(0, False, self.version)])

    def reply(self, request: bytes, ack: bytes | None) -> bytes:
        """The PUBACK of the QoS 1 PUBLISH `request` (an ack body has nowhere to go)."""
        if request is self.request:
            return self.puback
        kind, flags, body = split(request)
        return packets.puback(packets.parse_publish(flags, body, self.version)[2])

    def frame(self, payload: bytes) -> bytes:
        """A delivery: the push protocol's publish as a PUBLISH to its topic, else the
        payload as a PUBLISH to the connection's subscription; a command's answer
        (subscribed, streaming) has no MQTT form: a PINGRESP, which clients pass over."""
        if payload.startswith(ANSWER):
            if payload[7:15] != b'publish"':
                return PINGRESP_PACKET
            if payload.startswith(PUBLISH_COMMAND) and b'"payload":"' in payload:
                command = orjson.loads(payload)
                return packets.publish(command["topic"], command["payload"].encode(), 0, 0,
                                       self.version)
        # a stream's messages are framed here one by one: the header before the payload is
        # the same for a payload of the same length, so it is made once (~1.6 -> ~0.4 us)
        head = self.heads.get(len(payload))
        if head is None:
            heads = self.heads
            if len(heads) >= HEADS_KEPT:
                heads.clear()
            head = heads[len(payload)] = self._head(len(payload))
        return head + payload

    def _head(self, length: int) -> bytes:
        after = packets.text(self.topic) + (b"\x00" if self.version >= 5 else b"")
        return bytes((PUBLISH << 4,)) + packets.length_bytes(len(after) + length) + after

    def ping(self) -> bytes:
        return NOTHING

    def invalid_answer(self, why: str) -> list[bytes]:
        return []               # a broker closes on a malformed packet; the mock counts it


def _request_id_at(message: bytes) -> int:
    """Where a 3.1.1 QoS 1 PUBLISH that is no command has its packet id, read in place
    (~0.3 us against ~2 us for split + parse_publish); -1 for anything else, or a packet
    that does not add up (the full reading's to judge)."""
    try:
        if message[0] & 0xF6 == 0x32:
            size = len(message)
            length, at = (message[1], 2) if message[1] < 128 else read_length(message, 1)
            if length == size - at:
                at += 2 + (message[at] << 8 | message[at + 1])     # the packet id's
                # {"o...: maybe a command (a short payload: IndexError, the full reading)
                if at + 2 <= size and message[at + 4] != 111:
                    return at
    except (IndexError, MalformedPacket):
        pass
    return -1

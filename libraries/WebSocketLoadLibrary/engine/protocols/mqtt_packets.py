"""MQTT 3.1.1 and 5 control packets, encoded and decoded without I/O: the few a load
generator and a mock broker need (mqtt.py speaks them).

    CONNECT -> CONNACK           the handshake (a return code; 5: a reason code)
    SUBSCRIBE -> SUBACK          one topic filter, its granted QoS or a refusal (0x80 and up)
    PUBLISH (QoS 1) -> PUBACK    by a 16-bit packet identifier, unique per connection among
                                 the PUBLISHes not yet acknowledged
    PUBLISH (QoS 0)              no answer
    PINGREQ -> PINGRESP          the client's keep-alive
    DISCONNECT

A packet is one byte of type and flags, its remaining length (1-4 bytes, 7 bits each), then
its body. Written here rather than taken from a client library: paho-mqtt encodes packets
inside its client (no packet API), and a request's PUBLISH must be a few bytes operations on
the hot path (mqtt.py builds it from cached headers). Over WebSocket each message is taken
as one whole packet (what mosquitto, EMQX and HiveMQ send); one whose length disagrees with
its header is malformed.
"""
from __future__ import annotations

from struct import pack, unpack_from

from ..errors import PlanError

(CONNECT, CONNACK, PUBLISH, PUBACK, PUBREC, PUBREL, PUBCOMP, SUBSCRIBE, SUBACK, UNSUBSCRIBE,
 UNSUBACK, PINGREQ, PINGRESP, DISCONNECT, AUTH) = range(1, 16)
NAMES = {1: "CONNECT", 2: "CONNACK", 3: "PUBLISH", 4: "PUBACK", 5: "PUBREC", 6: "PUBREL",
         7: "PUBCOMP", 8: "SUBSCRIBE", 9: "SUBACK", 10: "UNSUBSCRIBE", 11: "UNSUBACK",
         12: "PINGREQ", 13: "PINGRESP", 14: "DISCONNECT", 15: "AUTH"}
PINGREQ_PACKET, PINGRESP_PACKET, DISCONNECT_PACKET = b"\xc0\x00", b"\xd0\x00", b"\xe0\x00"
MAX_PACKET_ID = 65535
# a 3.1.1 CONNACK's return codes; 5's reason codes of 0x80 and up are failures
CONNACK_CODES = {1: "unacceptable protocol version", 2: "identifier rejected",
                 3: "server unavailable", 4: "bad user name or password", 5: "not authorized"}
REASON_CODES = {0x80: "unspecified error", 0x81: "malformed packet", 0x82: "protocol error",
                0x83: "implementation specific error", 0x84: "unsupported protocol version",
                0x85: "client identifier not valid", 0x86: "bad user name or password",
                0x87: "not authorized", 0x88: "server unavailable", 0x89: "server busy",
                0x8A: "banned", 0x8C: "bad authentication method",
                0x8F: "topic filter invalid", 0x90: "topic name invalid",
                0x91: "packet identifier in use", 0x97: "quota exceeded",
                0x99: "payload format invalid", 0x9E: "shared subscriptions not supported",
                0x9F: "connection rate exceeded", 0xA2: "wildcard subscriptions not supported"}


IN_FLIGHT_LIMIT = (
    "more than 65,535 QoS 1 PUBLISHes are waiting for their PUBACK on one MQTT connection: "
    "each needs a packet identifier (16 bits) that no unacknowledged PUBLISH of its "
    "connection holds. Spread the rate over more connections, lower it, or find out why the "
    "broker does not acknowledge")
PACKET_ID_BYTES = [i.to_bytes(2, "big") for i in range(65536)]


class PacketIds:
    """One connection's packet ids in flight: id -> the message id it was taken for, as
    its ascii digits (the correlator's key for it, so that a PUBACK's is read with no
    formatting). An id is taken by a PUBLISH and given back by its PUBACK, never sooner."""
    __slots__ = ("owners", "next")

    def __init__(self):
        self.owners: dict[int, bytes] = {}
        self.next = 1

    def take(self, message_id: int) -> int:
        """(mqtt.py's renderer does the same inline.)"""
        owners, packet_id = self.owners, self.next
        if packet_id in owners:
            packet_id = self.free_after(packet_id)
        owners[packet_id] = b"%d" % message_id
        self.next = packet_id + 1 if packet_id < MAX_PACKET_ID else 1
        return packet_id

    def free_after(self, packet_id: int) -> int:
        """The next free id from `packet_id` on (the taken one is a PUBLISH not yet acked),
        or PlanError when all 65,535 are taken."""
        owners = self.owners
        if len(owners) >= MAX_PACKET_ID:
            raise PlanError(IN_FLIGHT_LIMIT)
        while packet_id in owners:      # ends: fewer than 65,535 are taken
            packet_id = packet_id + 1 if packet_id < MAX_PACKET_ID else 1
        return packet_id


class MalformedPacket(ValueError):
    """Bytes that are not a whole MQTT packet of the kind expected."""


def code_name(code: int, version: int) -> str:
    """A CONNACK return code (3.1.1) or a reason code (5) in words."""
    names = CONNACK_CODES if version < 5 else REASON_CODES
    return f"{code} ({names.get(code, 'unknown code')})"


def disconnected(body: bytes) -> str:
    """A DISCONNECT from the broker (MQTT 5: with its reason code) in words."""
    return (f"the MQTT broker disconnected: reason code {code_name(body[0], 5)}" if body
            else "the MQTT broker disconnected")


def length_bytes(length: int) -> bytes:
    """The remaining length as MQTT writes it: 7 bits a byte, the high bit says more."""
    if length < 128:
        return bytes((length,))
    out = bytearray()
    while True:
        length, digit = divmod(length, 128)
        out.append(digit | (128 if length else 0))
        if not length:
            return bytes(out)


def read_length(data: bytes, at: int) -> tuple[int, int]:
    """(a variable byte integer at `at`, where it ends)."""
    value, shift = 0, 0
    for i in range(at, min(at + 4, len(data))):
        value |= (data[i] & 127) << shift
        if data[i] < 128:
            return value, i + 1
        shift += 7
    raise MalformedPacket("a bad variable length")


def split(packet: bytes) -> tuple[int, int, bytes]:
    """(kind, flags, body) of one whole packet, or MalformedPacket."""
    if len(packet) < 2:
        raise MalformedPacket(f"{len(packet)} bytes are no MQTT packet")
    length, start = read_length(packet, 1)
    if len(packet) - start != length:
        raise MalformedPacket(f"a {NAMES.get(packet[0] >> 4, 'reserved')} packet says "
                              f"{length} bytes follow its header, {len(packet) - start} do")
    return packet[0] >> 4, packet[0] & 15, packet[start:]


def text(value: str | bytes) -> bytes:
    """A UTF-8 string (or binary data) with its 2-byte length."""
    data = value.encode() if isinstance(value, str) else bytes(value)
    if len(data) > 65535:
        raise ValueError(f"an MQTT string is at most 65,535 bytes, got {len(data)}")
    return pack(">H", len(data)) + data


def read_text(body: bytes, at: int) -> tuple[bytes, int]:
    if at + 2 > len(body):
        raise MalformedPacket("a string runs past the packet")
    end = at + 2 + unpack_from(">H", body, at)[0]
    if end > len(body):
        raise MalformedPacket("a string runs past the packet")
    return body[at + 2:end], end


def packet(first: int, body: bytes) -> bytes:
    return bytes((first,)) + length_bytes(len(body)) + body


def skip_properties(body: bytes, at: int, version: int) -> int:
    """Where an MQTT 5 property list starting at `at` ends (3.1.1 has none)."""
    if version < 5:
        return at
    length, at = read_length(body, at)
    if at + length > len(body):
        raise MalformedPacket("properties run past the packet")
    return at + length


def connect(client_id: str, keep_alive: int, clean: bool = True, username: str | None = None,
            password: str | None = None, version: int = 4) -> bytes:
    flags = (2 if clean else 0) | (128 if username is not None else 0) | (
        64 if password is not None else 0)
    body = text("MQTT") + bytes((version, flags)) + pack(">H", keep_alive)
    if version >= 5:
        body += b"\x00"                 # no properties
    body += text(client_id)
    if username is not None:
        body += text(username)
    if password is not None:
        body += text(password)
    return packet(CONNECT << 4, body)


def parse_connect(body: bytes) -> dict:
    """The broker's reading of a CONNECT's body (the mock server's side)."""
    name, at = read_text(body, 0)
    if name not in (b"MQTT", b"MQIsdp") or at + 4 > len(body):
        raise MalformedPacket(f"a CONNECT for protocol {name!r}, not MQTT")
    version, flags = body[at], body[at + 1]
    keep_alive = unpack_from(">H", body, at + 2)[0]
    at = skip_properties(body, at + 4, version)
    client_id, at = read_text(body, at)
    if flags & 4:                       # a will: its properties, topic and message
        at = skip_properties(body, at, version)
        at = read_text(body, read_text(body, at)[1])[1]
    username = password = None
    if flags & 128:
        username, at = read_text(body, at)
    if flags & 64:
        password, at = read_text(body, at)
    return {"version": version, "client_id": client_id.decode(errors="replace"),
            "keep_alive": keep_alive, "clean": bool(flags & 2),
            "username": None if username is None else username.decode(errors="replace"),
            "password": password}


def connack(code: int = 0, session_present: bool = False, version: int = 4) -> bytes:
    return packet(CONNACK << 4, bytes((int(session_present), code))
                  + (b"\x00" if version >= 5 else b""))


def publish(topic: str | bytes, payload: bytes, qos: int = 0, packet_id: int = 0,
            version: int = 4) -> bytes:
    body = text(topic) + (pack(">H", packet_id) if qos else b"") + (
        b"\x00" if version >= 5 else b"") + payload
    return packet(PUBLISH << 4 | qos << 1, body)


def parse_publish(flags: int, body: bytes, version: int) -> tuple[bytes, int, int, bytes]:
    """(topic, qos, packet id (0 at QoS 0), payload) of a PUBLISH's body."""
    qos = (flags >> 1) & 3
    if qos == 3:
        raise MalformedPacket("a PUBLISH at QoS 3")
    topic, at = read_text(body, 0)
    packet_id = 0
    if qos:
        if at + 2 > len(body):
            raise MalformedPacket("a PUBLISH without its packet identifier")
        packet_id = unpack_from(">H", body, at)[0]
        at += 2
    return topic, qos, packet_id, body[skip_properties(body, at, version):]


def publish_payload(message: bytes, version: int) -> bytes | None:
    """The payload of a whole PUBLISH packet, else None: `parse_publish(*split(...))`'s last
    part, read in place (streams read every delivery's: ~0.4 us, against ~3 us)."""
    try:
        first = message[0]
        if first >> 4 != PUBLISH:
            return None
        length, at = (message[1], 2) if message[1] < 128 else read_length(message, 1)
        if length != len(message) - at or first & 6 == 6:
            return None
        at += 2 + (message[at] << 8 | message[at + 1]) + (2 if first & 6 else 0)
        if version >= 5:
            at = skip_properties(message, at, version)
    except (IndexError, MalformedPacket):
        return None
    return message[at:] if at <= len(message) else None


def qos0_payload(message: bytes) -> bytes | None:
    """MQTT 3.1.1: a QoS 0 PUBLISH's payload, else None (a QoS 1 or 2 one, another packet,
    a broken one). `publish_payload` in fewer steps for what a stream's deliveries are, a
    remaining length of one or two bytes (0.35 -> 0.20 us a delivery); longer ones go there."""
    try:
        first = message[0]
        if first & 0xF6 != 0x30:
            return None
        length = message[1]
        at = 2
        if length >= 128:
            high = message[2]
            if high >= 128:
                return publish_payload(message, 4)
            length, at = (length & 127) | high << 7, 3
        if length != len(message) - at:
            return None
        at += 2 + (message[at] << 8 | message[at + 1])
    except IndexError:
        return None
    return message[at:] if at <= len(message) else None


def puback(packet_id: int) -> bytes:
    return b"\x40\x02" + pack(">H", packet_id)


def subscribe(packet_id: int, topic_filter: str, qos: int, version: int = 4) -> bytes:
    return packet(SUBSCRIBE << 4 | 2, pack(">H", packet_id) + (
        b"\x00" if version >= 5 else b"") + text(topic_filter) + bytes((qos,)))


def parse_subscribe(body: bytes, version: int) -> tuple[int, list[tuple[str, int]]]:
    if len(body) < 2:
        raise MalformedPacket("a SUBSCRIBE without its packet identifier")
    packet_id = unpack_from(">H", body, 0)[0]
    at, filters = skip_properties(body, 2, version), []
    while at < len(body):
        topic_filter, at = read_text(body, at)
        if at >= len(body):
            raise MalformedPacket("a SUBSCRIBE filter without its options")
        filters.append((topic_filter.decode(errors="replace"), body[at] & 3))
        at += 1
    if not filters:
        raise MalformedPacket("a SUBSCRIBE without a topic filter")
    return packet_id, filters


def suback(packet_id: int, codes: list[int], version: int = 4) -> bytes:
    return packet(SUBACK << 4, pack(">H", packet_id) + (b"\x00" if version >= 5 else b"")
                  + bytes(codes))


def parse_suback(body: bytes, version: int) -> tuple[int, list[int]]:
    if len(body) < 3:
        raise MalformedPacket("a SUBACK without its return codes")
    at = skip_properties(body, 2, version)
    return unpack_from(">H", body, 0)[0], list(body[at:])


# the options' checks (mqtt.py)

class Secret:
    """A password: its repr, str() and format() never show it; `reveal()` does."""
    __slots__ = ("_value",)

    def __init__(self, value):
        self._value = str(value)

    def __repr__(self) -> str:
        return "<secret>"

    __str__ = __repr__

    def __format__(self, spec: str) -> str:
        return "<secret>"

    def reveal(self) -> str:
        return self._value


def whole_number(value, low: int, high: int) -> int | None:
    """`value` as a whole number from `low` to `high`, else None."""
    try:
        number = int(str(value).strip())
    except ValueError:
        return None
    return number if low <= number <= high else None

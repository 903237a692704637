"""MQTT 3.1.1 (and 5) over WebSocket: subprotocol `mqtt`, one binary packet per message
(mosquitto, EMQX, HiveMQ, AWS IoT; the packets are mqtt_packets.py's).

    client -> broker   CONNECT (client id, keep-alive, credentials)   -> CONNACK (0: accepted)
    client -> broker   SUBSCRIBE <subscribe> (when set)                -> SUBACK (0x80: refused)
    client -> broker   PUBLISH QoS 1 <topic> <opening_publish> (set)   -> PUBACK: connected
    client -> broker   PUBLISH QoS 1 <topic>, packet id p, payload     -> PUBACK p: the reply
    broker -> client   PUBLISH <topic>, payload                        a delivery
    client -> broker   PINGREQ every keep_alive / 2                    -> PINGRESP (own)

A request is the user's template as the payload of a QoS 1 PUBLISH; its reply is the PUBACK
carrying the same 16-bit packet id, unique per connection among the PUBLISHes not yet
acknowledged: ids live in the connection's session (`PacketIds`), reached through the step's
connections (`bind`) by slot. A PUBLISH takes the next free id for its message id, the PUBACK
gives it back and names that message id; an id is free only then (a message counted lost
still holds it: a late PUBACK is never read as another's), and a 65,536th unacknowledged
PUBLISH on one connection is an error saying so, never a reuse.

The `opening_publish` option is MQTT's opening message: a payload (`$connection` its
connection's number) each connection publishes to `topic` once subscribed, as the last step
of its handshake, which ends at its PUBACK -- so a command that starts a stream (the mock
server's `{"op":"stream",...}`, a device's "start") is in the broker's hands before the step,
and a reconnect says it again. The library's opening messages are text and go unframed;
MQTT's are binary packets, so this is where they are said.
"""
from __future__ import annotations

import os
import secrets
import time

from ..errors import PlanError
from ..plan.messages import MessageTemplate
from . import mqtt_packets as packets
from .mqtt_server import MqttServerSession
from .base import (NOTHING, Delivered, Protocol, ProtocolOptionError, ProtocolRefused,
                   ServerError, Session)
from .mqtt_packets import (CONNACK, DISCONNECT, IN_FLIGHT_LIMIT, PACKET_ID_BYTES, PINGREQ_PACKET,
                           PINGRESP_PACKET, PUBACK, PUBLISH, SUBACK, MalformedPacket, PacketIds,
                           Secret, split, whole_number)

HEARTBEAT_SHARE = 0.5           # a PINGREQ every half keep-alive (brokers allow 1.5 of it)
SUBSCRIBE_ID = 1                # the handshake's SUBSCRIBE
OPENING_ID = 2                  # and its opening publish (both acked before any request)
OPENING_ID_BYTES = OPENING_ID.to_bytes(2, "big")
VERSIONS = {"3.1.1": 4, "4": 4, "311": 4, "5": 5, "5.0": 5}
OWN_KINDS = {CONNACK, SUBACK, 5, 6, 7, 11, 13, 14, 15}   # the protocol's own, no answer


class MqttSession(Session):
    def __init__(self, protocol: "Mqtt", number: int):
        self.version, self.filter = protocol.version, protocol.subscribe
        self.filter_qos = protocol.qos
        self.connect_packet = protocol.connect_packet(number)
        self.number, self.client_id = number, str(protocol.settings["client_id"] or "$connection")
        self.heartbeat_s = protocol.keep_alive * HEARTBEAT_SHARE or None
        self.ids = PacketIds()
        self.connected = self.opening_sent = False
        self.topic, opening = protocol.topic, protocol.settings["opening_publish"] or None
        self.opening = None if opening is None else str(opening).replace(
            "$connection", str(number)).encode()

    def start(self) -> list[bytes]:
        if self.number and "$connection" not in self.client_id:
            raise ProtocolOptionError(f"MQTT client_id {self.client_id!r} is the same on "
                                      f"every connection, and a broker keeps one connection "
                                      f"per client id: put $connection in it")
        return [self.connect_packet]

    def handshake(self, message: bytes) -> tuple[list[bytes], bool]:
        try:
            kind, flags, body = split(message)
            if not self.connected and (kind != CONNACK or len(body) < 2):
                raise MalformedPacket("not a CONNACK")
        except MalformedPacket as bad:
            expected = "expected CONNACK" if not self.connected else f"{bad}"
            raise ProtocolRefused(f"{expected}, got {message[:40]!r}: is this an MQTT "
                                  f"broker?") from None
        if not self.connected:
            if body[1]:
                raise ProtocolRefused(f"the MQTT broker refused the connection: CONNACK "
                                      f"{'return' if self.version < 5 else 'reason'} code "
                                      f"{packets.code_name(body[1], self.version)}")
            self.connected = True
            if self.filter:
                return [packets.subscribe(SUBSCRIBE_ID, self.filter, self.filter_qos,
                                          self.version)], False
            return self._opening()
        if kind == DISCONNECT:
            raise ProtocolRefused(packets.disconnected(body) + f" ({self._waiting()})")
        if kind == SUBACK:
            packet_id, codes = packets.parse_suback(body, self.version)
            if packet_id == SUBSCRIBE_ID:
                if not codes or codes[0] >= 0x80:
                    raise ProtocolRefused(
                        f"the MQTT broker refused the subscription to {self.filter!r}: SUBACK "
                        f"{packets.code_name(codes[0] if codes else 0x80, 5)}")
                return self._opening()
        if kind == PUBACK and body[:2] == OPENING_ID_BYTES and self.opening_sent:
            if len(body) > 2 and body[2] >= 0x80:
                raise ProtocolRefused(f"the MQTT broker refused the opening publish to "
                                      f"{self.topic!r}: PUBACK {packets.code_name(body[2], 5)}")
            return [], True
        answer = self.control(message)   # a delivery or a ping before the SUBACK, PUBACK
        return ([answer] if answer else []), False

    def _opening(self) -> tuple[list[bytes], bool]:
        """Connected (and subscribed): the opening publish, if any, its PUBACK awaited."""
        if self.opening is None:
            return [], True
        self.opening_sent = True
        return [packets.publish(self.topic, self.opening, 1, OPENING_ID, self.version)], False

    def _waiting(self) -> str:
        return (f"waiting for the PUBACK of the opening publish to {self.topic!r}"
                if self.opening_sent else f"subscribing to {self.filter!r}")

    def control(self, message: bytes) -> bytes | None:
        first = message[0] if message else 0
        if first == 0x40 or first & 0xF6 == 0x30:
            return None                 # a PUBACK, a QoS 0 delivery: the application's
        if message == PINGRESP_PACKET:
            return NOTHING
        try:
            kind, flags, body = split(message)
            if kind == PUBLISH:         # a QoS 1 delivery: acknowledged, yet the application's
                packet_id = packets.parse_publish(flags, body, self.version)[2]
                return None if packet_id == 0 else Delivered(packets.puback(packet_id))
        except MalformedPacket:
            return None                 # the correlator counts it invalid
        if kind == DISCONNECT:          # MQTT 5: why the broker ends the connection
            return ServerError(packets.disconnected(body))
        return NOTHING if kind in OWN_KINDS else None

    def heartbeat(self) -> bytes:
        return PINGREQ_PACKET


class Mqtt(Protocol):
    """MQTT over WebSocket. Fan-out publishes go at QoS 0 (their deliveries need no PUBACK);
    requests at QoS 1, their PUBACK the reply."""

    name = "mqtt"
    title = "MQTT"
    options = {"client_id": None, "keep_alive": 30, "username": None, "password": None,
               "qos": 1, "topic": "wsload/requests", "subscribe": None, "clean_session": True,
               "version": "3.1.1", "opening_publish": None}
    subprotocols = ("mqtt",)
    text = False
    handshakes = True

    def __init__(self, **given):
        super().__init__(**given)
        settings = self.settings
        self.version = VERSIONS.get(str(settings["version"]).strip().lower().lstrip("v"))
        if self.version is None:
            raise ProtocolOptionError(f"MQTT version must be 3.1.1 or 5, got "
                                      f"{settings['version']!r}")
        if self.version < 5:     # no properties to skip: the short way, and no `self` to bind
            self.plain_delivery = packets.qos0_payload
        self.keep_alive = whole_number(settings["keep_alive"], 0, 65535)
        self.qos = whole_number(settings["qos"], 0, 1)
        for name, value, rule in (("keep_alive", self.keep_alive, "from 0 to 65535 (s)"),
                                  ("qos", self.qos, "0 or 1 (QoS 2 is not spoken)")):
            if value is None:
                raise ProtocolOptionError(f"MQTT {name} must be {rule}, got {settings[name]!r}")
        self.topic = str(settings["topic"])
        if not self.topic or "+" in self.topic or "#" in self.topic:
            raise ProtocolOptionError(f"MQTT topic must be a topic name without wildcards, "
                                      f"got {self.topic!r}")
        self.subscribe = settings["subscribe"] or None
        self.clean = str(settings["clean_session"]).strip().lower() not in ("false", "0", "no")
        if settings["password"] is not None:
            settings["password"] = Secret(settings["password"])
        self.nonce = secrets.token_hex(2)   # with the process id: no two clients alike
        for name in ("client_id", "topic", "subscribe", "username"):
            if settings[name] is not None and len(str(settings[name]).encode()) > 65535:
                raise ProtocolOptionError(f"MQTT {name} is longer than 65,535 bytes")

    def connect_packet(self, number: int) -> bytes:
        template = self.settings["client_id"]
        client_id = (f"wsl{os.getpid():x}x{self.nonce}n{number}" if template is None
                     else str(template).replace("$connection", str(number)))
        password = self.settings["password"]
        return packets.connect(client_id, self.keep_alive, self.clean,
                               self.settings["username"],
                               None if password is None else password.reveal(), self.version)

    def session(self, number: int) -> MqttSession:
        return MqttSession(self, number)

    def plain_delivery(self, message: bytes) -> bytes | None:
        """A QoS 0 PUBLISH wants no PUBACK: its payload (a QoS 1 one goes to `control`)."""
        if message and message[0] & 0xF6 == 0x30:
            return packets.publish_payload(message, self.version)
        return None

    def payload(self, message: bytes) -> bytes | None:
        """A delivery's application payload: a PUBLISH's body after its topic (and id)."""
        return packets.publish_payload(message, self.version)

    def request_template(self, template: MessageTemplate) -> "PublishTemplate":
        if self.qos != 1:
            raise ProtocolOptionError("a request->reply step over MQTT needs qos=1: its reply "
                                      "is the PUBACK, and a QoS 0 PUBLISH gets none")
        return PublishTemplate.framing(template, self.topic, 1, self.version)

    def publish_template(self, template: MessageTemplate) -> "PublishTemplate":
        return PublishTemplate.framing(template, self.topic, 0, self.version)

    @classmethod
    def server_session(cls, number: int, **options) -> "MqttServerSession":
        return MqttServerSession(number, **options)


class PublishTemplate(MessageTemplate):
    """The user's template as the payload of a PUBLISH to `topic`. At QoS 1 each PUBLISH
    takes a packet id from its connection's session, and the extractor reads a PUBACK's id
    back into the message id it was taken for (`extract(reply, slot)`)."""

    def __init__(self, template=None, payload_size=32, id_field="message_id",
                 push_pattern=None, topic="wsload/requests", qos=1, version=4):
        self.topic, self.qos, self.version = topic, qos, version
        self._bound: list = [None]          # the step's connections, in slot order
        self._own = PacketIds()             # ids while unbound (a rendering outside a step)
        super().__init__(template, payload_size, id_field, None, True, push_pattern)

    @classmethod
    def framing(cls, template: MessageTemplate, topic: str, qos: int, version: int):
        push = None if template.push is None else template.push.text
        return cls(template.text, template.payload_size, template.id_field, push, topic, qos,
                   version)

    def __reduce__(self):
        return (type(self), (self.text, self.payload_size, self.id_field,
                             None if self.push is None else self.push.text, self.topic,
                             self.qos, self.version))

    def bind(self, plan, connections: list) -> None:
        if self.qos and not plan.open_loop and (plan.window or 0) > packets.MAX_PACKET_ID:
            raise PlanError(f"a window of {plan.window:,} messages per connection is more "
                            f"than MQTT's 65,535 packet ids: " + IN_FLIGHT_LIMIT)
        self._bound[0] = connections

    def id_fast_path(self):
        return None                     # a PUBACK's id is binary: every reply is extracted

    def batch_renderer(self):
        begin, inner, head = super().batch_renderer()
        topic = packets.text(self.topic)
        after_id = b"\x00" if self.version >= 5 else b""      # no properties
        fixed = len(topic) + (2 if self.qos else 0)
        first, headers = bytes((PUBLISH << 4 | self.qos << 1,)), {}

        def header(length: int) -> bytes:     # by the length after the packet id
            made = headers[length] = first + packets.length_bytes(fixed + length) + topic
            return made

        if not self.qos:
            def render_qos0(message_id: int, connection: int, batch) -> bytes:
                payload = after_id + inner(message_id, connection, batch)
                return (headers.get(len(payload)) or header(len(payload))) + payload
            return begin, render_qos0, None
        bound, own, ids_bytes, join = self._bound, self._own, PACKET_ID_BYTES, b"".join
        # the template as literal + id + batch (`head`): the packet is one join of its
        # pieces, not a payload rendered and then framed by concatenations
        lead = after_id + (b"" if head is None else head)
        lead_length = len(lead)

        def render(message_id: int, connection: int, batch) -> bytes:
            if head is None:
                middle, batch = inner(message_id, connection, batch), b""
                owner = b"%d" % message_id
            else:
                owner = middle = str(message_id).encode()
            # the id's digits own the packet id: a PUBACK's key as it is (PacketIds)
            connections = bound[0]
            ids = own if connections is None else connections[connection].session.ids
            owners, packet_id = ids.owners, ids.next
            if packet_id in owners:
                packet_id = ids.free_after(packet_id)
            owners[packet_id] = owner
            ids.next = packet_id + 1 if packet_id < 65535 else 1
            length = lead_length + len(middle) + len(batch)
            return join(((headers.get(length) or header(length)), ids_bytes[packet_id], lead,
                         middle, batch))
        return begin, render, None

    def renderer(self):
        begin, render, _ = self.batch_renderer()
        now = time.time
        return lambda message_id, connection=0: render(message_id, connection, begin(now()))

    def id_extractor(self):
        """`extract(reply, slot=0) -> message id`: a PUBACK's packet id, given back by the
        slot's session (-1, matching nothing, for an id no PUBLISH holds); a delivery is no
        reply (KeyError: a push); anything else is invalid (ValueError)."""
        bound, own = self._bound, self._own

        def extract(reply: bytes, slot: int = 0) -> int:
            length = len(reply)
            if length >= 4 and reply[0] == 0x40 and reply[1] == length - 2:   # PUBACK
                connections = bound[0]
                ids = own if connections is None else connections[slot].session.ids
                owner = ids.owners.pop(reply[2] << 8 | reply[3], None)
                if length > 4 and reply[4] >= 0x80:     # MQTT 5: the broker refused it
                    raise ValueError(f"PUBACK reason {packets.code_name(reply[4], 5)}")
                return -1 if owner is None else int(owner)
            if length and reply[0] >> 4 == PUBLISH:
                split(reply)                # malformed: ValueError, invalid
                raise KeyError("a delivery, no reply")      # a push
            raise ValueError(f"not an MQTT PUBACK: {reply[:16]!r}")
        def reply_key(reply: bytes, slot: int) -> bytes | None:
            """A 3.1.1 PUBACK's message id as digits, in one look (None: anything else,
            which `extract` and the controller read as ever)."""
            if len(reply) == 4 and reply[0] == 0x40 and reply[1] == 2:
                connections = bound[0]
                ids = own if connections is None else connections[slot].session.ids
                return ids.owners.pop(reply[2] << 8 | reply[3], b"-1")
            return None
        extract.by_slot = True
        extract.reply_key = reply_key
        return extract

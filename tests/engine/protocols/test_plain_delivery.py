"""A listen-only step's fast path, `Protocol.plain_delivery`: for a delivery that asks
nothing of the protocol, the payload its session's `control` and the protocol's `payload`
would give; None for everything else (the protocol's own messages, a QoS 1 delivery that
wants its PUBACK, an ack), which then goes the full way."""
from __future__ import annotations

import pytest
from hypothesis import given, strategies as st

from WebSocketLoadLibrary.engine import protocol_named
from WebSocketLoadLibrary.engine.protocols import mqtt_packets as packets
from WebSocketLoadLibrary.engine.protocols.stomp_server import StompServerSession

STREAM = b'{"seq":7,"ts":1733130000.123456,"payload":"xxxx"}'

ARRIVING = {
    "stomp": [
        StompServerSession.message("0", "/topic/s", STREAM, "m-1"),
        StompServerSession.message("3", "/queue/a:b", b"", "m-2", "application/json"),
        b"MESSAGE\r\nsubscription:0\r\ndestination:/t\r\nmessage-id:1\r\n\r\n" + STREAM + b"\0",
        b"\nMESSAGE\nsubscription:0\ndestination:/t\nmessage-id:1\n\n" + STREAM + b"\0",
        b"MESSAGE\nsubscription:0\ndestination:/t\n\n" + STREAM,      # no NUL: malformed
        # the mock server's shape, its content-length short of the body (a NUL inside) or
        # past it: malformed, however much the frame looks like one
        b"MESSAGE\nsubscription:0\ndestination:/t\nmessage-id:1\ncontent-length:3\n\n"
        b"abc\0defgh\0",
        b"MESSAGE\nsubscription:0\ndestination:/t\nmessage-id:1\ncontent-length:9\n\nabc\0",
        b"MESSAGE\nsubscription:0\ndestination:/t\nmessage-id:1\ncontent-length:3\n\na\0b\0",
        b"RECEIPT\nreceipt-id:5\n\n\0", b"\n", b"\r\n",
        StompServerSession.error("Bad frame", "no"), b"CONNECTED\nversion:1.2\n\n\0",
    ],
    "socketio": [
        b'42["message",' + STREAM + b"]", b'42["tick",{"a":1},2]', b'42["empty"]',
        b'42/chat,["message",' + STREAM + b"]", b'4212["message",{}]', b'4312[{"a":1}]',
        b"2", b"3", b'0{"sid":"x"}', b'40{"sid":"x"}', b'44{"message":"no"}', b"41", b"6",
    ],
    "mqtt": [
        packets.publish("s", STREAM, 0), packets.publish("s", b"", 0),
        packets.publish("s", STREAM, 0) [:1] + b"\x7f" + packets.publish("s", STREAM, 0)[2:],
        bytes([0x31]) + packets.publish("s", STREAM, 0)[1:],            # retained
        packets.publish("s", STREAM, 1, 9), packets.puback(3), packets.PINGRESP_PACKET,
        packets.suback(1, [0]), b"", b"\x30",
    ],
}


def full_way(protocol, message: bytes):
    """What the step gets the long way: None when `control` takes it, else `payload`."""
    if protocol.session(0).control(message) is not None:
        return None
    return protocol.payload(message)


@pytest.mark.parametrize("name,message", [(n, m) for n, ms in ARRIVING.items() for m in ms])
def test_the_fast_path_answers_only_as_the_full_way_does(name, message):
    protocol = protocol_named(name)
    fast = protocol.plain_delivery(message)
    if fast is not None:
        assert fast == full_way(protocol, message), message


@pytest.mark.parametrize("name,message,payload", [
    ("stomp", StompServerSession.message("0", "/topic/s", STREAM, "m-1"), STREAM),
    ("socketio", b'42["message",' + STREAM + b"]", STREAM),
    ("mqtt", packets.publish("s", STREAM, 0), STREAM)])
def test_the_mock_servers_stream_messages_take_the_fast_path(name, message, payload):
    assert protocol_named(name).plain_delivery(message) == payload


def test_a_delivery_that_wants_an_answer_never_takes_it():
    assert protocol_named("mqtt").plain_delivery(packets.publish("s", STREAM, 1, 9)) is None
    assert protocol_named("socketio").plain_delivery(b"2") is None
    assert protocol_named("stomp").plain_delivery(b"\n") is None


@given(message=st.binary(max_size=80), name=st.sampled_from(sorted(ARRIVING)))
def test_any_bytes_get_the_full_ways_answer_or_none(message, name):
    protocol = protocol_named(name)
    fast = protocol.plain_delivery(message)
    assert fast is None or fast == full_way(protocol, message)


@pytest.mark.parametrize("size", [0, 100, 127 - 3, 127 - 2, 200, 16_383 - 3, 16_383, 40_000])
@pytest.mark.parametrize("version", ["3.1.1", "5"])
def test_an_mqtt_delivery_of_any_length_takes_the_fast_path_to_its_payload(size, version):
    """Remaining lengths of one, two and three bytes, either side of each boundary, on
    both versions (5's PUBLISH carries properties; 3.1.1's own short way reads none)."""
    protocol = protocol_named("mqtt", version=version)
    payload = bytes(range(256)) * (size // 256) + bytes(size % 256)
    message = packets.publish("s", payload, 0, version=protocol.version)
    assert protocol.plain_delivery(message) == payload == full_way(protocol, message)
    assert protocol.plain_delivery(message[:-1]) is None       # cut short: no delivery

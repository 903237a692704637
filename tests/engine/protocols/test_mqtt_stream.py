"""MQTT's opening publish (`opening_publish`): the handshake's last step, a QoS 1 PUBLISH of
a payload once connected and subscribed, ended by its PUBACK -- how an MQTT client asks the
mock server for a stream (`{"op":"stream",...}`) or a real service for anything. The codec
without a server, the mock server's side (a command at QoS 1, its PUBACK first; deliveries
framed from cached headers), a stream from the mock server measured end to end, and the
publish as mosquitto delivers it to another subscriber."""
from __future__ import annotations

import time

import pytest

from polling import wait_until
from reference_mqtt import mosquitto  # noqa: F401 - the fixture
from WebSocketLoadLibrary.engine import ConnectionOptions, LoadPlan, protocol_named
from WebSocketLoadLibrary.engine.lifecycle.reconnect import ReconnectPolicy
from WebSocketLoadLibrary.engine.plan.specs import StreamSpec
from WebSocketLoadLibrary.engine.protocols import mqtt_packets as packets
from WebSocketLoadLibrary.engine.protocols import mqtt_server
from WebSocketLoadLibrary.engine.protocols.base import Delivered, ProtocolRefused
from WebSocketLoadLibrary.engine.protocols.mqtt import OPENING_ID, MqttServerSession

STREAM = '{"op":"stream","rate":%d,"duration":%d}'


def mqtt(uri: str, **protocol) -> ConnectionOptions:
    return ConnectionOptions(uri, open_timeout_s=5.0, protocol=protocol_named("mqtt",
                                                                              **protocol))


# -- the codec, without a server ----------------------------------------------------------

def test_the_opening_publish_follows_the_subscription_and_its_puback_ends_the_handshake():
    protocol = protocol_named("mqtt", subscribe="s/stream", topic="s/commands",
                              opening_publish='{"start":$connection}')
    session = protocol.session(7)
    session.start()
    [subscribe], done = session.handshake(packets.connack(0))
    assert not done and packets.split(subscribe)[0] == packets.SUBSCRIBE
    [publish], done = session.handshake(packets.suback(1, [1]))
    kind, flags, body = packets.split(publish)
    assert not done and kind == packets.PUBLISH
    assert packets.parse_publish(flags, body, 4) == (b"s/commands", 1, OPENING_ID,
                                                     b'{"start":7}')
    delivery = packets.publish("s/stream", b'{"seq":1}', 1, 40)      # before the PUBACK
    answers, done = session.handshake(delivery)
    assert not done and answers == [packets.puback(40)] and type(answers[0]) is Delivered
    assert session.handshake(packets.PINGRESP_PACKET) == ([], False)
    assert session.handshake(packets.puback(OPENING_ID + 1)) == ([], False)   # not its own
    assert session.handshake(packets.puback(OPENING_ID)) == ([], True)
    assert session.ids.take(1) == 1             # requests' ids start afresh: nothing held


def test_without_a_subscription_the_opening_publish_follows_the_connack():
    session = protocol_named("mqtt", opening_publish="hello", version="5").session(0)
    session.start()
    [publish], done = session.handshake(packets.connack(0, version=5))
    assert not done and packets.parse_publish(*packets.split(publish)[1:], 5)[3] == b"hello"
    assert session.handshake(b"\x40\x03\x00\x02\x10") == ([], True)   # 5: "no subscribers"
    plain = protocol_named("mqtt", opening_publish="").session(0)    # empty: none
    assert plain.handshake(packets.connack(0)) == ([], True)


def test_a_refused_or_cut_opening_publish_is_named():
    protocol = protocol_named("mqtt", topic="cmd", opening_publish="go", version="5")
    refused = protocol.session(0)
    refused.handshake(packets.connack(0, version=5))
    with pytest.raises(ProtocolRefused, match="refused the opening publish to 'cmd': PUBACK "
                                              "135 \\(not authorized\\)"):
        refused.handshake(b"\x40\x03\x00\x02\x87")
    cut = protocol.session(0)
    cut.handshake(packets.connack(0, version=5))
    with pytest.raises(ProtocolRefused, match="reason code 151 \\(quota exceeded\\) \\("
                                              "waiting for the PUBACK of the opening publish"):
        cut.handshake(b"\xe0\x01\x97")


def test_the_mock_server_takes_a_command_at_qos1_and_acknowledges_it_first():
    server = MqttServerSession(0)
    server.receive(packets.connect("c", 5))
    command = packets.publish("any", b'{"op":"stream","rate":5,"count":5}', 1, OPENING_ID)
    assert server.receive(command) == ("command", b'{"op":"stream","rate":5,"count":5}',
                                       [packets.puback(OPENING_ID)])
    request = packets.publish("t", b'{"message_id":9}', 1, 300)
    assert server.receive(request) == ("request", b'{"message_id":9}')
    assert server.reply(request, None) == packets.puback(300)
    other = packets.publish("t", b'{"message_id":10}', 1, 301)         # a read-stall's retry
    assert server.reply(other, None) == packets.puback(301)
    for bad in (b"\x32\x04\x00\x09tt", b"\x32\x05\x00\x01t\x00", b"\x32\x7f\x00\x01t",
                b"\x32\xff\xff\xff\xff\x01", b"\x32"):
        assert server.receive(bad)[0] == "invalid", bad


@pytest.mark.parametrize("version", [4, 5])
def test_the_mock_servers_deliveries_are_framed_as_publish_writes_them(version):
    server = MqttServerSession(0)
    server.receive(packets.connect("c", 5, version=version))
    for topic in ("first/topic", "t"):          # a new subscription: new headers
        server.receive(packets.subscribe(1, topic, 0, version))
        for size in (0, 5, 120, 127, 128, 300, 20_000):
            payload = b'{"seq":1,"x":"' + b"y" * size + b'"}'
            assert server.frame(payload) == packets.publish(topic, payload, 0, 0, version)
    for size in range(3 * mqtt_server.HEADS_KEPT):
        server.frame(b"z" * size)
    assert len(server.heads) <= mqtt_server.HEADS_KEPT
    assert server.frame(b'{"op":"streaming"}') == packets.PINGRESP_PACKET
    assert server.frame(b'{"op":"publish","topic":"n","payload":"p"}') == packets.publish(
        "n", b"p", 0, 0, version)


# -- against the mock server --------------------------------------------------------------

@pytest.mark.parametrize("engine_name", ["picows", "websockets"])
def test_a_stream_asked_by_the_opening_publish_is_measured(engine, start_server, engine_name):
    server = start_server(protocol="mqtt", engine=engine_name, compression=False, seed=1)
    pool = engine.connect(mqtt(server.uri, subscribe="wsload/stream",
                               opening_publish=STREAM % (300, 10)), count=3)
    result = engine.run_step(pool, LoadPlan(duration_s=1.5, listen=StreamSpec(
        sequence_field="seq", timestamp_field="ts")))
    figures = result.sections["stream"]
    assert figures.messages >= 3 * 300 and figures.missing == 0 and figures.duplicates == 0
    assert figures.without_sequence == 0 and figures.without_timestamp == 0
    assert result.connections_closed == {} and result.invalid_replies == 0
    assert server.stats()["pushes_sent"] >= figures.messages


def test_a_reconnect_asks_for_its_stream_again(engine, start_server):
    server = start_server(protocol="mqtt", engine="picows", compression=False, seed=1)
    pool = engine.connect(mqtt(server.uri, subscribe="s", opening_publish=STREAM % (200, 60)),
                          count=2)
    engine.set_lifecycle(pool, reconnect=ReconnectPolicy(max_attempts=30, initial_delay_s=0.1,
                                                         max_delay_s=0.5))
    handshakes = pool.protocol_counts.handshakes
    server.restart(down_for=0.3)                # every connection and its stream go
    wait_until(lambda: pool.protocol_counts.handshakes >= handshakes + 2
               and len(pool.open_connections) == 2, 15.0, message="no reconnect")
    result = engine.run_step(pool, LoadPlan(duration_s=1.0, listen=StreamSpec(
        sequence_field="seq")))
    stream = result.sections["stream"]
    assert stream.messages >= 2 * 200 * 0.8 and stream.duplicates == 0


# -- against mosquitto ---------------------------------------------------------------------

def test_mosquitto_delivers_each_connections_opening_publish_before_it_counts_as_open(
        engine, mosquitto):
    broker = mosquitto()
    audience = engine.connect(mqtt(broker.uri, subscribe="load/hello"), count=1)
    listening = engine.start_step(audience, LoadPlan(duration_s=3.0, messages=5,
                                                     listen=StreamSpec(sequence_field="n")))
    time.sleep(0.3)
    engine.connect(mqtt(broker.uri, topic="load/hello", opening_publish='{"n":$connection}'),
                   count=5)
    result = listening.wait()
    stream = result.sections["stream"]
    assert stream.messages == 5 and stream.without_sequence == 0 and stream.duplicates == 0

"""MQTT 3.1.1 and 5 over WebSocket: the codec without a server (packets, packet ids, the
session, the template, secrets never shown, the mock server's side), and against mosquitto
started on loopback by the test (reference_mqtt.py): PUBACKs as replies, a subscription
stream with QoS 1 deliveries acknowledged, a fan-out to 100 subscribers, reconnects after
the broker restarts, the keep-alive kept under load, refused credentials named, malformed
packets counted invalid, and the 65,535 packet ids in flight a clear limit."""
from __future__ import annotations

import asyncio
import time
import timeit

import pytest

from reference_mqtt import mosquitto  # noqa: F401 - the fixture
from thread_server import ThreadServer
from WebSocketLoadLibrary.engine import (ConnectError, ConnectionOptions, LoadPlan,
                                         MessageTemplate, PlanError, protocol_named)
from WebSocketLoadLibrary.engine.lifecycle.reconnect import ReconnectPolicy
from WebSocketLoadLibrary.engine.plan.specs import FanoutSpec, StreamSpec
from WebSocketLoadLibrary.engine.protocols import mqtt_packets as packets
from WebSocketLoadLibrary.engine.protocols.base import (NOTHING, Delivered, ProtocolRefused,
                                                        ServerError)
from WebSocketLoadLibrary.engine.protocols.mqtt import Mqtt, MqttServerSession
from WebSocketLoadLibrary.engine.protocols.mqtt_packets import MalformedPacket, PacketIds


def mqtt(uri: str, transport: str = "auto", **protocol) -> ConnectionOptions:
    return ConnectionOptions(uri, open_timeout_s=5.0, transport=transport,
                             protocol=protocol_named("mqtt", **protocol))


class Connection:
    """A stand-in for a pooled connection: what a bound template reads (its session)."""
    def __init__(self, session):
        self.session = session


# -- the codec, without a server ----------------------------------------------------------

@pytest.mark.parametrize("length", [0, 1, 127, 128, 16383, 16384, 2097151, 2097152,
                                    268435455])
def test_the_remaining_length_round_trips_at_every_width(length):
    encoded = packets.length_bytes(length)
    assert len(encoded) == 1 + (length > 127) + (length > 16383) + (length > 2097151)
    assert packets.read_length(b"\x30" + encoded, 1) == (length, 1 + len(encoded))


@pytest.mark.parametrize("bad", [b"", b"\x40", b"\x40\x02\x00", b"\x40\x02\x00\x01\x00",
                                 b"\x30\xff\xff\xff\xff\x01", b"\x30\x80"])
def test_a_packet_whose_length_disagrees_with_its_header_is_malformed(bad):
    with pytest.raises(MalformedPacket):
        packets.split(bad)


@pytest.mark.parametrize("version", [4, 5])
def test_connect_publish_and_subscribe_are_read_back_as_written(version):
    connect = packets.connect("client-1", 30, False, "user", "pass", version)
    kind, _, body = packets.split(connect)
    assert kind == packets.CONNECT and packets.parse_connect(body) == {
        "version": version, "client_id": "client-1", "keep_alive": 30, "clean": False,
        "username": "user", "password": b"pass"}
    publish = packets.publish("a/b", b'{"x":1}', 1, 513, version)
    kind, flags, body = packets.split(publish)
    assert (kind, flags) == (packets.PUBLISH, 2)
    assert packets.parse_publish(flags, body, version) == (b"a/b", 1, 513, b'{"x":1}')
    _, _, body = packets.split(packets.subscribe(7, "a/#", 1, version))
    assert packets.parse_subscribe(body, version) == (7, [("a/#", 1)])
    _, _, body = packets.split(packets.suback(7, [0x80], version))
    assert packets.parse_suback(body, version) == (7, [0x80])
    assert packets.split(packets.puback(65535)) == (packets.PUBACK, 0, b"\xff\xff")


def test_a_request_is_a_qos1_publish_whose_puback_names_its_message():
    protocol = protocol_named("mqtt", topic="load/in")
    template = protocol.request_template(
        MessageTemplate('{"message_id":$message_id,"p":"$payload"}', payload_size=3))
    sessions = [protocol.session(0), protocol.session(1)]
    template.bind(LoadPlan(rate=10, messages=10), [Connection(s) for s in sessions])
    assert template.render(41, 0) == packets.publish("load/in", b'{"message_id":41,"p":"xxx"}',
                                                     1, 1)
    assert template.render(42, 1) == packets.publish("load/in", b'{"message_id":42,"p":"xxx"}',
                                                     1, 1)   # ids are per connection
    assert template.render(43, 0) == packets.publish("load/in", b'{"message_id":43,"p":"xxx"}',
                                                     1, 2)
    extract = template.id_extractor()
    assert extract.by_slot and template.id_fast_path() is None
    assert extract(packets.puback(2), 0) == 43 and extract(packets.puback(1), 1) == 42
    assert extract(packets.puback(1), 0) == 41
    assert extract(packets.puback(1), 0) == -1          # given back already: matches nothing
    assert sessions[0].ids.owners == {} and sessions[1].ids.owners == {}
    with pytest.raises(KeyError):                       # a delivery on a request connection
        extract(packets.publish("load/in", b'{"message_id":41}', 0), 0)
    for bad in (b"\x40\x03\x00\x01", b"\xff\xfe", b"{}", b"\x30\x09\x00"):
        with pytest.raises(ValueError):
            extract(bad, 0)


def test_a_v5_puback_refusing_the_publish_is_invalid_and_gives_its_id_back():
    protocol = protocol_named("mqtt", version="5")
    template = protocol.request_template(MessageTemplate())
    frame = template.render(9)
    assert packets.parse_publish(*packets.split(frame)[1:], 5)[1:3] == (1, 1)
    with pytest.raises(ValueError, match="0x87|135 \\(not authorized\\)"):
        template.extract_id(b"\x40\x03\x00\x01\x87")
    assert template.extract_id(b"\x40\x03\x00\x01\x10") == -1   # given back: no owner now


def test_packet_ids_are_given_back_only_by_their_puback_and_a_late_one_is_never_anothers():
    ids = PacketIds()
    assert [ids.take(m) for m in range(1000, 1000 + 65535)] == list(range(1, 65536))
    with pytest.raises(PlanError, match="more than 65,535 QoS 1 PUBLISHes are waiting"):
        ids.take(99)
    for packet_id in (3, 65535, 7):                     # acknowledged out of order
        ids.owners.pop(packet_id)
    # id 1 was taken by message 1000, counted lost long ago: still not free
    assert [ids.take(m) for m in (1, 2, 3)] == [3, 7, 65535]
    assert ids.owners[1] == b"1000" and ids.owners[3] == b"1"   # as digits: the key
    with pytest.raises(PlanError):
        ids.take(4)


def test_a_window_above_65535_per_connection_is_refused_at_plan_time():
    template = protocol_named("mqtt").request_template(MessageTemplate())
    with pytest.raises(PlanError, match="window of 70,000.*65,535 packet ids"):
        template.bind(LoadPlan(messages=100, window=70_000), [])
    template.bind(LoadPlan(messages=100, window=65_535), [])


def test_rendering_a_publish_takes_a_few_microseconds():
    protocol = protocol_named("mqtt")
    template = protocol.request_template(MessageTemplate())
    session = protocol.session(0)
    template.bind(LoadPlan(rate=10, messages=10), [Connection(session)])
    begin, render, _ = template.batch_renderer()
    batch, owners = begin(time.time()), session.ids.owners
    count = 20_000

    def publish_and_ack():
        for m in range(count):
            render(m, 0, batch)
        owners.clear()
    seconds = min(timeit.repeat(publish_and_ack, number=1, repeat=5)) / count
    plain_begin, plain, _ = MessageTemplate().batch_renderer()
    plain_batch = plain_begin(time.time())
    baseline = min(timeit.repeat(lambda: [plain(m, 0, plain_batch) for m in range(count)],
                                 number=1, repeat=5)) / count
    print(f"\nrendering a QoS 1 PUBLISH: {seconds * 1e6:.2f} us "
          f"(the plain JSON message: {baseline * 1e6:.2f} us)")
    assert seconds < 5e-6


def test_the_session_connects_subscribes_and_names_a_refusal():
    protocol = protocol_named("mqtt", client_id="c-$connection", subscribe="s/#", keep_alive=4)
    session = protocol.session(3)
    assert session.heartbeat_s == 2.0 and session.heartbeat() == packets.PINGREQ_PACKET
    [connect] = session.start()
    assert packets.parse_connect(packets.split(connect)[2])["client_id"] == "c-3"
    answers, done = session.handshake(packets.connack(0))
    assert not done and packets.split(answers[0])[0] == packets.SUBSCRIBE
    assert session.handshake(packets.suback(1, [1])) == ([], True)
    for code, words in ((5, "CONNACK return code 5 \\(not authorized\\)"),
                        (2, "code 2 \\(identifier rejected\\)"),
                        (4, "code 4 \\(bad user name or password\\)")):
        with pytest.raises(ProtocolRefused, match=words):
            protocol.session(0).handshake(packets.connack(code))
    refused = protocol.session(0)
    refused.handshake(packets.connack(0))
    with pytest.raises(ProtocolRefused, match="refused the subscription to 's/#': SUBACK 128"):
        refused.handshake(packets.suback(1, [0x80]))
    cut = protocol_named("mqtt", subscribe="a/#/b", version="5").session(0)
    cut.handshake(packets.connack(0, version=5))
    with pytest.raises(ProtocolRefused, match="disconnected: reason code 129 \\(malformed "
                                              "packet\\) \\(subscribing to 'a/#/b'\\)"):
        cut.handshake(b"\xe0\x01\x81")
    with pytest.raises(ProtocolRefused, match="expected CONNACK.*is this an MQTT broker"):
        protocol.session(0).handshake(b'{"message_id":1}')


def test_the_correlators_first_look_at_a_puback_names_the_same_message_as_extract():
    protocol = protocol_named("mqtt", topic="load/in")
    template = protocol.request_template(MessageTemplate('{"message_id":$message_id}'))
    sessions = [protocol.session(0), protocol.session(1)]
    template.bind(LoadPlan(rate=10, messages=10), [Connection(s) for s in sessions])
    for message_id in (41, 42, 43):
        template.render(message_id, 0)
    template.render(44, 1)
    reply_key = template.id_extractor().reply_key
    assert reply_key(packets.puback(2), 0) == b"42" and reply_key(packets.puback(1), 1) == b"44"
    assert reply_key(packets.puback(2), 0) == b"-1"     # given back already: matches nothing
    for other in (packets.PINGRESP_PACKET, packets.publish("load/in", b"{}", 0),
                  b"\x40\x03\x00\x01\x80", b"\x40\x02\x00", b""):
        assert reply_key(other, 0) is None             # left to extract and the controller
    assert sorted(sessions[0].ids.owners.values()) == [b"41", b"43"]


def test_control_answers_the_protocols_own_and_leaves_the_applications():
    session = protocol_named("mqtt").session(0)
    assert session.control(packets.PINGRESP_PACKET) is NOTHING
    assert session.control(packets.suback(2, [0])) is NOTHING
    assert session.control(packets.puback(5)) is None                   # a reply
    assert session.control(packets.publish("t", b"{}", 0)) is None      # a QoS 0 delivery
    acked = session.control(packets.publish("t", b"{}", 1, 300))        # a QoS 1 delivery
    assert type(acked) is Delivered and acked == packets.puback(300)
    said = session.control(b"\xe0\x01\x89")                         # MQTT 5's DISCONNECT
    assert type(said) is ServerError and said == NOTHING
    assert said.text == "the MQTT broker disconnected: reason code 137 (server busy)"
    for bad in (b"", b"\xd0\x01", b"\x32\x05\x00\x09tt", b"\x00\x00"):
        assert session.control(bad) is None                             # for the correlator


def test_a_delivery_payload_is_the_publishs_body_after_topic_and_id():
    for version in ("3.1.1", "5"):
        protocol = protocol_named("mqtt", version=version)
        v = 5 if version == "5" else 4
        assert protocol.payload(packets.publish("t/x", b'{"seq":1}', 1, 9, v)) == b'{"seq":1}'
        assert protocol.payload(packets.publish("t", b"", 0, 0, v)) == b""
        assert protocol.payload(packets.puback(1)) is None
        for bad in (b"\x30\x09\x00\x05ab", b"\x36\x02\x00\x00", b"\x30\x03\x00\x05a",
                    b"\x30", b""):
            assert protocol.payload(bad) is None
        big = packets.publish("t", b"y" * 300, 1, 9, v)                # a 2-byte length
        assert protocol.payload(big) == b"y" * 300


def test_the_password_is_never_shown_and_bad_options_are_named():
    protocol = protocol_named("mqtt", username="u", password="hunter2")
    password = protocol.settings["password"]
    shown = f"{protocol.describe()} {protocol!r} {protocol.settings} {password} {password!r}"
    assert "hunter2" not in shown and "u" in protocol.describe()
    assert b"hunter2" in protocol.session(0).start()[0]                 # the codec has it
    assert protocol.to_dict()["options"]["password"] == "hunter2"      # agents rebuild it
    for options, words in (({"qos": 2}, "qos must be 0 or 1"),
                           ({"keep_alive": "x"}, "keep_alive must be from 0 to 65535"),
                           ({"topic": "a/+"}, "without wildcards"),
                           ({"version": "3"}, "3.1.1 or 5"), ({"colour": 1}, "no option.*colour")):
        with pytest.raises(ValueError, match=words):
            protocol_named("mqtt", **options)
    with pytest.raises(ValueError, match="needs qos=1"):
        protocol_named("mqtt", qos=0).request_template(MessageTemplate())


def test_default_client_ids_differ_per_connection_and_per_process():
    first, second = protocol_named("mqtt"), protocol_named("mqtt")
    ids = {packets.parse_connect(packets.split(p.session(n).start()[0])[2])["client_id"]
           for p in (first, second) for n in (0, 1)}
    assert len(ids) == 4 and all(len(i) <= 23 and i.isalnum() for i in ids)
    fixed = protocol_named("mqtt", client_id="one")
    assert fixed.session(0).start()
    with pytest.raises(ValueError, match="client_id 'one' is the same on every connection"):
        fixed.session(1).start()
    # MQTT 3.1.1 promises ids of 1-23 letters and digits: up to 100,000 connections
    long_one = packets.parse_connect(packets.split(first.session(99_999).start()[0])[2])
    assert len(long_one["client_id"]) <= 23 and long_one["client_id"].isalnum()


def test_the_mock_servers_side_speaks_the_same_packets():
    server = Mqtt.server_session(0, username="u", password="p")
    assert server.text is False and server.opening() == []
    assert server.receive(packets.connect("c", 5, True, "u", "wrong")) == (
        "answer", [packets.connack(4)])
    assert server.receive(packets.connect("c", 5, True, "u", "p")) == (
        "answer", [packets.connack(0)])
    publish = packets.publish("t", b'{"message_id":3}', 1, 77)
    assert server.receive(publish) == ("request", b'{"message_id":3}')
    assert server.reply(publish, None) == packets.puback(77)
    action, command, answers = server.receive(packets.subscribe(4, "prices", 1))
    assert (action, command, answers) == ("command", b'{"op":"subscribe","topic":"prices"}',
                                          [packets.suback(4, [1])])
    action, command, _ = server.receive(packets.publish("prices", b"1.5", 0))
    assert action == "command" and server.frame(command) == packets.publish("prices", b"1.5")
    assert server.frame(b'{"seq":1}') == packets.publish("prices", b'{"seq":1}')
    assert server.receive(packets.PINGREQ_PACKET) == ("answer", [packets.PINGRESP_PACKET])
    assert server.receive(packets.DISCONNECT_PACKET)[0] == "close"
    assert server.receive(b"\x30\x10\x00")[0] == "invalid"
    assert MqttServerSession(1).receive(packets.PINGREQ_PACKET)[0] == "close"   # no CONNECT


# -- against mosquitto ---------------------------------------------------------------------

@pytest.mark.parametrize("version, transport", [("3.1.1", "picows"), ("3.1.1", "websockets"),
                                                ("5", "auto")])
def test_every_puback_is_a_reply(engine, mosquitto, version, transport):
    broker = mosquitto()
    pool = engine.connect(mqtt(broker.uri, version=version, transport=transport), count=10)
    result = engine.run_step(pool, LoadPlan(rate=3000, duration_s=3.0), server_pid=broker.pid)
    assert result.sent == 9000 and result.received == 9000 and result.lost == 0
    assert result.unmatched == 0 and result.invalid_replies == 0 and result.connections_closed == {}
    assert "pushes" not in result.sections
    # every id given back, but the one the verdict took to measure a message's size
    assert sum(len(c.session.ids.owners) for c in pool.open_connections) <= 1
    assert result.load_applied, result.not_applied_reasons
    closed = engine.run_step(pool, LoadPlan(duration_s=2.0, window=50),   # the closed loop
                             server_pid=broker.pid)
    assert closed.received == closed.sent > 10_000
    assert closed.lost == 0 and closed.unmatched == 0 and closed.invalid_replies == 0
    cpu = {side: closed.resources.get(side, {}).get("cpu_percent_mean")
           for side in ("generator", "server")}
    print(f"\nmosquitto, MQTT {version} over {transport}: open loop "
          f"{result.achieved_send_rate:,.0f} msg/s p50 {result.latency_ms(50):.2f} ms, p99 "
          f"{result.latency_ms(99):.2f} ms; closed loop {closed.achieved_send_rate:,.0f} msg/s, "
          f"CPU % of a core: {cpu}")


def test_a_subscription_stream_gets_every_publish_acknowledging_qos1_deliveries(engine,
                                                                               mosquitto):
    # at most 20 unacknowledged deliveries per client: without the listeners' PUBACKs the
    # broker would stop after 20 each
    broker = mosquitto(max_inflight=20)
    listeners = engine.connect(mqtt(broker.uri, subscribe="load/stream", qos=1), count=5)
    publisher = engine.connect(mqtt(broker.uri, topic="load/stream"), count=1)
    listening = engine.start_step(listeners, LoadPlan(
        listen=StreamSpec(sequence_field="seq", timestamp_field="sent"), messages=5 * 400,
        duration_s=10.0))
    time.sleep(0.3)
    sent = engine.run_step(publisher, LoadPlan(rate=400, messages=400),
                           MessageTemplate('{"seq":$message_id,"sent":$send_time}'))
    assert sent.received == 400 and sent.lost == 0                # every PUBLISH's PUBACK
    result = listening.wait()
    stream = result.sections["stream"]
    assert stream.messages == 5 * 400, stream
    assert stream.missing == 0 and stream.duplicates == 0 and stream.out_of_order == 0
    assert stream.without_sequence == 0 and stream.without_timestamp == 0
    assert 0 <= stream.staleness_ms(99) < 1000
    assert result.connections_closed == {}


def test_a_fanout_reaches_every_one_of_100_subscribers(engine, mosquitto):
    broker = mosquitto()
    audience = engine.connect(mqtt(broker.uri, subscribe="load/fanout"), count=100)
    publishers = engine.connect(mqtt(broker.uri, topic="load/fanout"), count=2)
    result = engine.run_step(publishers, LoadPlan(rate=100, messages=200, reply_timeout_s=5.0,
                                                  fanout=FanoutSpec()),
                             MessageTemplate(), roles={"subscribers": audience},
                             server_pid=broker.pid)
    assert result.sent == 200
    assert result.received == 200 * 100 and result.lost == 0 and result.unmatched == 0
    assert result.connections_closed == {} and "pushes" not in result.sections
    assert result.sections["fanout"].lost_deliveries == 0


def test_connections_come_back_and_resubscribe_after_the_broker_restarts(engine, mosquitto):
    broker = mosquitto()
    policy = ReconnectPolicy(max_attempts=30, initial_delay_s=0.2, max_delay_s=1.0)
    audience = engine.connect(mqtt(broker.uri, subscribe="load/again"), count=10)
    requests = engine.connect(mqtt(broker.uri, topic="load/again"), count=5)
    engine.set_lifecycle(audience, reconnect=policy)
    engine.set_lifecycle(requests, reconnect=policy)
    handshakes = audience.protocol_counts.handshakes
    running = engine.start_step(requests, LoadPlan(rate=200, duration_s=5.0,
                                                   reply_timeout_s=2.0))
    time.sleep(1.0)
    broker.restart()                    # every connection goes; the broker comes back
    result = running.wait()
    lifecycle = result.sections["lifecycle"]
    assert lifecycle.reconnects >= 5 and lifecycle.gave_up == 0
    assert result.connections_closed == {} and result.unmatched == 0
    assert result.received > 0 and result.sent == result.received + result.lost + \
        lifecycle.cut_by_close
    assert result.sections["protocol"].handshakes >= 5
    deadline = time.monotonic() + 30
    while (audience.protocol_counts.handshakes < handshakes + 10
           or len(audience.open_connections) < 10) and time.monotonic() < deadline:
        time.sleep(0.2)
    assert audience.protocol_counts.handshakes >= handshakes + 10
    # the audience subscribed again: every publish reaches all ten
    after = engine.run_step(requests, LoadPlan(rate=50, messages=50, reply_timeout_s=5.0,
                                               fanout=FanoutSpec()),
                            MessageTemplate(), roles={"subscribers": audience})
    assert after.received == 500 and after.lost == 0


def test_the_keep_alive_holds_idle_and_loaded_connections_for_three_intervals(engine,
                                                                             mosquitto):
    # keep-alive 2 s: mosquitto drops a client silent for 3 s (it looks every few seconds:
    # a silent one went after ~6 s here, see below); a PINGREQ goes every 1 s
    broker = mosquitto()
    idle = engine.connect(mqtt(broker.uri, keep_alive=2), count=10)
    loaded = engine.connect(mqtt(broker.uri, keep_alive=2), count=10)
    before = idle.protocol_counts.snapshot()
    result = engine.run_step(loaded, LoadPlan(rate=3000, duration_s=7.0))
    assert result.connections_closed == {}
    assert result.received == result.sent == 21000 and result.lost == 0
    figures = result.sections["protocol"]
    assert figures.heartbeats_sent >= 10 * 5 and figures.control_messages >= 10 * 5
    _, _, control, heartbeats = (b - a for a, b in zip(before, idle.protocol_counts.snapshot()))
    assert heartbeats >= 10 * 5 and control >= 10 * 5       # PINGRESPs, between steps
    assert len(idle.open_connections) == 10, idle.close_summary()
    assert engine.run_step(idle, LoadPlan(rate=100, messages=100)).received == 100


def test_without_pingreqs_mosquitto_drops_a_silent_connection(engine, mosquitto):
    """The test above would fail if PINGREQs were not sent: this is what happens then."""
    broker = mosquitto()
    pool = engine.connect(mqtt(broker.uri, keep_alive=2), count=2)
    task = pool.heartbeats.task                         # no PINGREQs from now
    task.get_loop().call_soon_threadsafe(task.cancel)
    deadline = time.monotonic() + 12
    while pool.open_connections and time.monotonic() < deadline:
        time.sleep(0.2)
    assert not pool.open_connections
    assert pool.close_summary() == {"connection lost without a close frame (1006 abnormal "
                                    "closure)": 2}


@pytest.mark.parametrize("version, code", [("3.1.1", "return code 5 \\(not authorized\\)"),
                                           ("5", "reason code 135 \\(not authorized\\)")])
def test_refused_credentials_are_named_by_the_connack_code(engine, mosquitto, version, code):
    broker = mosquitto(users={"loadtest": "right-one"})
    with pytest.raises(ConnectError, match="refused the connection: CONNACK " + code) as refused:
        engine.connect(mqtt(broker.uri, username="loadtest", password="wrong-one",
                            version=version), count=2)
    assert "wrong-one" not in str(refused.value)
    with pytest.raises(ConnectError, match="CONNACK"):
        engine.connect(mqtt(broker.uri, version=version), count=1)          # anonymous
    with pytest.raises(ConnectError, match="client_id 'same' is the same on every"):
        engine.connect(mqtt(broker.uri, username="loadtest", password="right-one",
                            client_id="same"), count=2)
    pool = engine.connect(mqtt(broker.uri, username="loadtest", password="right-one",
                               version=version), count=2)
    assert engine.run_step(pool, LoadPlan(rate=100, messages=50)).received == 50


def test_a_subscription_the_broker_will_not_take_is_named(engine, mosquitto):
    broker = mosquitto()
    with pytest.raises(ConnectError, match="disconnected: reason code 129 \\(malformed packet\\) "
                                           "\\(subscribing to 'a/#/b'\\)"):
        engine.connect(mqtt(broker.uri, subscribe="a/#/b", version="5"), count=1)
    # 3.1.1 has no reason to give: mosquitto closes after its CONNACK
    with pytest.raises(ConnectError, match="MQTT handshake did not complete \\(the connection "
                                           "closed\\); received: b' "):   # the CONNACK
        engine.connect(mqtt(broker.uri, subscribe="a/#/b"), count=1)


def test_a_plain_websocket_server_where_mqtt_was_asked_is_named(engine, server):
    with pytest.raises(ConnectError, match="MQTT handshake did not complete|is this an MQTT"):
        engine.connect(ConnectionOptions(server.uri, open_timeout_s=2.0,
                                         protocol=protocol_named("mqtt")), count=1)


class MockBroker(ThreadServer):
    """The mock server's side (MqttServerSession) over a websockets server: PUBACKs for
    every PUBLISH but every 10th, which gets a malformed packet in its place, in turn one of
    GARBLED; with `acking` False no PUBLISH is ever acknowledged."""

    GARBLED = (b"\x40\x03\x00\x01", b"\x40\x02\x00", b"\xff\xfe", b"", b"\x30\x7f\x00\x01t",
               b'{"message_id":1}', b"\x40\x82")

    def __init__(self, acking: bool = True):
        self.acking, self.publishes = acking, 0
        super().__init__()

    async def handle(self, ws) -> None:
        session = Mqtt.server_session(0)
        async for message in ws:
            what = session.receive(message)
            if what[0] == "answer":
                for answer in what[1]:
                    await ws.send(answer)
            elif what[0] == "request" and self.acking:
                self.publishes += 1
                garbled = self.publishes % 10 == 0
                await ws.send(self.GARBLED[self.publishes // 10 % len(self.GARBLED)] if garbled
                              else session.reply(message, None))
            await asyncio.sleep(0)


def test_malformed_packets_are_counted_invalid_and_nothing_crashes(engine):
    broker = MockBroker()
    try:
        pool = engine.connect(mqtt(broker.uri, keep_alive=1), count=2)
        result = engine.run_step(pool, LoadPlan(rate=500, messages=700, reply_timeout_s=1.0))
        assert result.sent == 700
        assert result.invalid_replies == 70 and result.lost == 70 and result.received == 630
        assert result.unmatched == 0 and result.connections_closed == {}
        assert engine.run_step(pool, LoadPlan(rate=500, messages=100)).received == 90
    finally:
        broker.close()


def test_more_than_65535_unacknowledged_publishes_on_one_connection_is_a_clear_error(engine):
    broker = MockBroker(acking=False)
    try:
        pool = engine.connect(mqtt(broker.uri), count=1)
        with pytest.raises(PlanError, match="more than 65,535 QoS 1 PUBLISHes are waiting "
                                            "for their PUBACK on one MQTT connection"):
            engine.run_step(pool, LoadPlan(rate=50_000, messages=70_000, reply_timeout_s=0.5))
        assert len(pool.open_connections[0].session.ids.owners) == 65535   # none reused
    finally:
        broker.close()

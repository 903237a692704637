"""STOMP 1.2 over WebSocket: the codec without a server (frames, parsing, heart-beat
negotiation, secrets never shown, the mock server's side), and against RabbitMQ's Web
STOMP, one node for the test run (reference_stomp.py): receipts as replies, a subscription
stream, a fan-out to 100 subscribers, reconnects after the broker restarts, heart-beats
kept under load, refused credentials and the server's ERROR frames named."""
from __future__ import annotations

import asyncio
import time

import orjson
import pytest

from reference_stomp import rabbitmq  # noqa: F401 - the fixture
from thread_server import ThreadServer
from WebSocketLoadLibrary.engine import (ConnectError, ConnectionOptions, LoadPlan,
                                         MessageTemplate, protocol_named)
from WebSocketLoadLibrary.engine.lifecycle.reconnect import ReconnectPolicy
from WebSocketLoadLibrary.engine.plan.specs import FanoutSpec, StreamSpec
from WebSocketLoadLibrary.engine.protocols.base import NOTHING, ProtocolRefused, ServerError
from WebSocketLoadLibrary.engine.protocols.stomp import Stomp, parse

GUEST = {"login": "guest", "passcode": "guest"}


def stomp(uri: str, **protocol) -> ConnectionOptions:
    for name, value in GUEST.items():
        protocol.setdefault(name, value)
    return ConnectionOptions(uri, open_timeout_s=10.0, protocol=protocol_named("stomp",
                                                                               **protocol))


# -- the codec, without a server ----------------------------------------------------------

def test_a_request_is_a_send_with_its_id_as_receipt_and_the_receipt_is_read_by_slicing():
    protocol = protocol_named("stomp", destination="/queue/a:b", content_type="text/plain")
    template = protocol.request_template(MessageTemplate())
    frame = template.render(7)
    assert frame.startswith(b"SEND\nreceipt:7\ndestination:/queue/a\\cb\n"
                            b"content-type:text/plain\n\n{\"send_time\":")
    assert frame.endswith(b"}\0")
    assert template.id_fast_path() == (b"RECEIPT\nreceipt-id:", 19, b"\n")
    assert template.batch_renderer()[2] == b"SEND\nreceipt:"   # the hot loops' short cut
    assert template.extract_id(b"RECEIPT\nreceipt-id:123\n\n\0\n") == 123
    # headers in another order, CRLF lines: the general path still finds the id
    assert template.extract_id(b"RECEIPT\r\nserver:x\r\nreceipt-id:9\r\n\r\n\0") == 9
    parsed = parse(frame)
    assert (parsed.command, parsed.headers["destination"]) == ("SEND", "/queue/a:b")


def test_a_publish_is_a_send_without_receipt_keeping_the_id_in_its_body():
    protocol = protocol_named("stomp", destination="/topic/price$x")
    frame = protocol.publish_template(MessageTemplate()).render(42)
    parsed = parse(frame)
    assert parsed.command == "SEND" and "receipt" not in parsed.headers
    assert parsed.headers["destination"] == "/topic/price$x"
    assert parsed.body.startswith(b'{"message_id":42,')


def test_connect_negotiates_heart_beats_and_subscribes_before_it_is_done():
    protocol = protocol_named("stomp", heart_beat="500,2000", subscribe="/topic/t", **GUEST)
    session = protocol.session(3)
    connect = parse(session.start()[0])
    assert connect.command == "CONNECT"
    assert connect.headers == {"accept-version": "1.0,1.1,1.2", "host": "/", "login": "guest",
                               "passcode": "guest", "heart-beat": "500,2000"}
    assert session.handshake(b"\n") == ([], False)              # a heart-beat meanwhile
    answers, done = session.handshake(b"CONNECTED\nversion:1.2\nheart-beat:1000,1000\n\n\0\n")
    assert not done and session.version == "1.2"
    assert session.heartbeat_s == 0.5          # max(500, 1000) ms, sent at half of it
    assert session.receive_ms == 2000          # max(2000, 1000)
    subscribe = parse(answers[0])
    assert subscribe.command == "SUBSCRIBE"
    assert subscribe.headers == {"id": "3", "destination": "/topic/t", "ack": "auto",
                                 "receipt": "subscribed-3"}
    assert session.handshake(b"MESSAGE\ndestination:/topic/t\n\nearly\0") == ([], False)
    assert session.handshake(b"RECEIPT\nreceipt-id:subscribed-3\n\n\0") == ([], True)
    assert session.heartbeat() == b"\n"


def test_no_heart_beats_when_either_side_says_zero():
    session = protocol_named("stomp", heart_beat="0,0").session(0)
    session.start()
    assert session.handshake(b"CONNECTED\nheart-beat:5000,5000\n\n\0") == ([], True)
    assert session.heartbeat_s is None and session.receive_ms == 0
    session = protocol_named("stomp", heart_beat="1000,1000").session(0)
    session.start()
    session.handshake(b"CONNECTED\nversion:1.0\n\n\0")     # a 1.0 server: no heart-beat
    assert session.heartbeat_s is None


def test_refusals_and_other_protocols_are_named_in_the_handshake():
    session = protocol_named("stomp", **GUEST).session(0)
    with pytest.raises(ProtocolRefused, match="refused the connection: Bad CONNECT: "
                                              "Access refused for user 'guest'"):
        session.handshake(b"ERROR\nmessage:Bad CONNECT\ncontent-type:text/plain\n"
                          b"content-length:31\n\nAccess refused for user 'guest'\0\n")
    with pytest.raises(ProtocolRefused, match="expected a STOMP frame.*is this a STOMP server"):
        protocol_named("stomp").session(0).handshake(b'{"message_id":1}')
    with pytest.raises(ProtocolRefused, match="expected CONNECTED or ERROR, got CONNECT"):
        protocol_named("stomp").session(0).handshake(b"CONNECT\nhost:/\n\n\0")   # an echo
    with pytest.raises(ProtocolRefused, match="bad heart-beat"):
        protocol_named("stomp").session(0).handshake(b"CONNECTED\nheart-beat:soon\n\n\0")
    subscriber = protocol_named("stomp", subscribe="/nope/x").session(0)
    subscriber.handshake(b"CONNECTED\nversion:1.2\n\n\0")
    with pytest.raises(ProtocolRefused, match="refused the subscription to '/nope/x': "
                                              "Unknown destination"):
        subscriber.handshake(b"ERROR\nmessage:Unknown destination\n\n'/nope/x' is bad\0")


def test_control_takes_heart_beats_and_errors_and_leaves_the_rest_to_the_correlator():
    session = protocol_named("stomp").session(0)
    assert session.control(b"\n") is NOTHING and session.control(b"\r\n\n") is NOTHING
    assert session.control(b"RECEIPT\nreceipt-id:1\n\n\0") is None
    assert session.control(b"MESSAGE\ndestination:/t\n\nx\0") is None
    assert session.control(b"\nMESSAGE\ndestination:/t\n\nx\0") is None
    said = session.control(b"ERROR\nmessage:Unknown destination\n\n'/x' is not valid\0\n")
    assert isinstance(said, ServerError) and not said
    assert said.text == "STOMP ERROR from the server: Unknown destination: '/x' is not valid"
    assert session.control(b"CONNECTED\n\n\0") is NOTHING
    for malformed in (b"ERROR no blank line", b"hello", b"\0", b'{"a":1}', b"receipt\n\n\0"):
        assert session.control(malformed) is None        # the correlator's invalid


def test_payload_is_a_message_frames_body():
    payload = Stomp.payload
    assert payload(b"MESSAGE\ndestination:/t\ncontent-length:7\n\n{\"a\":1}\0\n") == b'{"a":1}'
    assert payload(b"MESSAGE\ndestination:/t\n\n{\"a\":1}\0") == b'{"a":1}'
    assert payload(b"MESSAGE\ncontent-length:3\n\na\0b\0") == b"a\0b"   # a NUL in the body
    assert payload(b"\nMESSAGE\r\ndestination:/t\r\n\r\nbody\0") == b"body"
    assert payload(b"RECEIPT\nreceipt-id:1\n\n\0") is None
    assert payload(b"\n") is None
    assert payload(b"MESSAGE\ndestination:/t\n\nno end") is None
    assert payload(b"MESSAGE without headers") is None


def test_parse_reads_escapes_repeated_headers_and_content_length():
    frame = parse(b"MESSAGE\ndestination:/a\\cb\\\\c\\nd\ndestination:second\n"
                  b"content-length:4\n\nab\0c\0")
    assert frame.headers["destination"] == "/a:b\\c\nd"      # the first one wins
    assert frame.body == b"ab\0c"
    connected = parse(b"CONNECTED\nsession:a\\cb\n\n\0")     # not escaped in CONNECTED
    assert connected.headers["session"] == "a\\cb"
    assert parse(b"\n\n") is None
    for bad in (b"MESSAGE\n\nno NUL", b"message\n\n\0", b"SEND\nno-colon\n\n\0",
                b"SEND\ncontent-length:9\n\nshort\0"):
        with pytest.raises(ValueError):
            parse(bad)


def test_the_passcode_is_never_shown():
    protocol = protocol_named("stomp", login="ann", passcode="s3cr3t-pw")
    shown = [repr(protocol), str(protocol.describe()), repr(protocol.settings),
             f"{protocol.settings['passcode']}", repr(protocol.session(0))]
    assert not any("s3cr3t-pw" in text for text in shown), shown
    assert "login=ann" in protocol.describe()
    assert b"passcode:s3cr3t-pw" in protocol.connect_frame()    # said to the server alone
    session = protocol.session(0)
    with pytest.raises(ProtocolRefused) as refused:     # a server that echoes it back
        session.handshake(b"ERROR\nmessage:Bad CONNECT\n\nbad passcode s3cr3t-pw\0")
    assert "s3cr3t-pw" not in str(refused.value) and "<secret>" in str(refused.value)
    said = session.control(b"ERROR\nmessage:no\n\ns3cr3t-pw\0")
    assert "s3cr3t-pw" not in said.text


def test_options_are_checked_and_named():
    with pytest.raises(ValueError, match="heart-beat must be two numbers"):
        protocol_named("stomp", heart_beat="fast")
    with pytest.raises(ValueError, match="login cannot hold a NUL or a line break"):
        protocol_named("stomp", login="a\nb")
    with pytest.raises(ValueError, match="passcode cannot hold") as error:
        protocol_named("stomp", passcode="x\ny-secret")
    assert "y-secret" not in str(error.value)
    with pytest.raises(ValueError, match="destination must be given"):
        protocol_named("stomp", destination="")
    with pytest.raises(ValueError, match="no option.*queue.*its options: content_type, "
                                         "destination, heart_beat, host, login, passcode"):
        protocol_named("stomp", queue="/q")
    assert protocol_named("STOMP").subprotocols[0] == "v12.stomp"


def test_the_mock_servers_side_answers_a_client_session():
    server = Stomp.server_session(4, heart_beat="400,1000", login="guest", passcode="guest")
    client = protocol_named("stomp", heart_beat="300,300", subscribe="/topic/t",
                            **GUEST).session(0)
    kind, [connected] = server.receive(client.start()[0])
    assert kind == "answer" and parse(connected).headers["session"] == "mock4"
    assert server.ping_interval_s == 0.4        # max(400, 300): the server's beats
    assert server.ping_timeout_s == 2.0         # twice max(1000, 300) of silence
    [subscribe], done = client.handshake(connected)
    assert not done and client.heartbeat_s == 0.5                 # max(300, 1000) / 2
    kind, command, [receipt] = server.receive(subscribe)
    assert kind == "command" and orjson.loads(command) == {"op": "subscribe",
                                                           "topic": "/topic/t"}
    assert client.handshake(receipt) == ([], True)
    assert server.frame(b'{"op":"subscribed","topic":"/topic/t","subscribers":1}') == b"\n"
    # a request: its reply is the receipt, read by the client's template
    template = protocol_named("stomp").request_template(MessageTemplate())
    request = template.render(12)
    assert server.receive(request) == ("request", request)
    assert template.extract_id(server.reply(request, b'{"status":"ok"}')) == 12
    # a publish: delivered to the subscribers as a MESSAGE with its body
    publish = protocol_named("stomp", destination="/topic/t").publish_template(
        MessageTemplate()).render(5)
    kind, command, answers = server.receive(publish)
    assert kind == "command" and answers == []
    delivery = server.frame(command)
    assert parse(delivery).headers["subscription"] == "0"
    assert Stomp.payload(delivery).startswith(b'{"message_id":5,')
    # a push-protocol command in a SEND's body, the stream's messages on the subscription
    assert server.receive(b'SEND\ndestination:/q\n\n{"op":"stream","rate":10}\0')[:2] == (
        "command", b'{"op":"stream","rate":10}')
    assert Stomp.payload(server.frame(b'{"seq":1}')) == b'{"seq":1}'
    assert server.receive(b"\n") == ("pong",)
    assert server.ping() == b"\n"
    assert server.receive(b"DISCONNECT\nreceipt:77\n\n\0") == (
        "answer", [b"RECEIPT\nreceipt-id:77\n\n\0"])
    assert server.receive(b"DISCONNECT\n\n\0")[0] == "close"


def test_the_mock_servers_side_refuses_and_names_bad_frames():
    server = Stomp.server_session(0, login="guest", passcode="guest")
    kind, [error] = server.receive(b"CONNECT\nlogin:guest\npasscode:no\n\n\0")
    with pytest.raises(ProtocolRefused, match="Access refused for user 'guest'"):
        protocol_named("stomp").session(0).handshake(error)
    assert server.receive(b"SEND\ndestination:/q\n\nx\0") == (
        "invalid", "SEND before a successful CONNECT")
    server.receive(b"STOMP\naccept-version:1.2\nlogin:guest\npasscode:guest\n\n\0")
    assert server.connected and server.version == "1.2"
    assert server.ping_interval_s is None           # the client said no heart-beats
    for bad in (b"GARBAGE\n\n\0", b"SEND\n\nno destination\0", b"SEND\ndestination:/q",
                b"SUBSCRIBE\ndestination:/q\n\n\0", b"\0", b"\xff\xfe",
                b"SEND\ndestination:/q\n\na\0SEND\ndestination:/q\n\nb\0"):
        kind, why = server.receive(bad)
        assert kind == "invalid", (bad, why)
        [answer] = server.invalid_answer(why)
        assert parse(answer).command == "ERROR" and why in parse(answer).body.decode()
    [refusal] = Stomp.server_session(1).receive(b"CONNECT\naccept-version:2.0\n\n\0")[1]
    assert parse(refusal).headers["message"] == "Bad CONNECT"


def test_the_mock_server_speaks_stomp_to_the_client(engine, start_server):
    """The two sides of the codec through the mock server's process: receipts, a fan-out,
    and its heart-beats answered by the client's."""
    server = start_server(protocol="stomp", protocol_options={"heart_beat": "300,300"},
                          compression=False)
    pool = engine.connect(ConnectionOptions(server.uri, protocol=protocol_named(
        "stomp", heart_beat="300,300")), count=5)
    result = engine.run_step(pool, LoadPlan(rate=500, duration_s=2.0))
    assert result.sent == result.received == 1000 and result.lost == 0
    assert result.connections_closed == {} and result.invalid_replies == 0
    assert result.sections["protocol"].heartbeats_sent >= 5 * 4
    audience = engine.connect(ConnectionOptions(server.uri, protocol=protocol_named(
        "stomp", subscribe="/topic/websocketload")), count=20)   # the default destination
    fanout = engine.run_step(pool, LoadPlan(rate=100, messages=50, fanout=FanoutSpec()),
                             MessageTemplate(), roles={"subscribers": audience})
    assert fanout.received == 50 * 20 and fanout.lost == 0 and fanout.unmatched == 0


# -- against RabbitMQ's Web STOMP ---------------------------------------------------------

def test_every_receipt_is_a_reply(engine, rabbitmq):
    pool = engine.connect(stomp(rabbitmq.uri), count=10)
    assert pool.transport == "picows"     # the protocol's subprotocol offered as a header
    result = engine.run_step(pool, LoadPlan(rate=1000, duration_s=3.0),
                             server_pid=rabbitmq.pid)
    assert result.connections_closed == {}
    assert result.sent == 3000 and result.received == 3000 and result.lost == 0
    assert result.unmatched == 0 and result.invalid_replies == 0
    assert "pushes" not in result.sections and result.errors == {}
    figures = result.sections["protocol"]
    assert figures.protocol == "stomp"
    assert result.load_applied, result.not_applied_reasons
    session = pool.open_connections[0].session
    assert session.version == "1.2" and session.server.startswith("RabbitMQ/")


def test_a_subscription_stream_gets_every_publish_in_order(engine, rabbitmq):
    listeners = engine.connect(stomp(rabbitmq.uri, subscribe="/topic/stream"), count=5)
    publisher = engine.connect(stomp(rabbitmq.uri, destination="/topic/stream"), count=1)
    listening = engine.start_step(listeners, LoadPlan(
        listen=StreamSpec(sequence_field="seq", timestamp_field="sent"), messages=5 * 400,
        duration_s=10.0))
    time.sleep(0.3)
    sent = engine.run_step(publisher, LoadPlan(rate=200, messages=400),
                           MessageTemplate('{"seq":$message_id,"sent":$send_time}'))
    assert sent.received == 400 and sent.lost == 0              # every SEND's receipt
    result = listening.wait()
    stream = result.sections["stream"]
    assert stream.messages == 5 * 400, stream
    assert stream.missing == 0 and stream.duplicates == 0 and stream.out_of_order == 0
    assert stream.without_sequence == 0 and stream.without_timestamp == 0
    assert result.connections_closed == {}


def test_a_fanout_reaches_every_one_of_100_subscribers(engine, rabbitmq):
    audience = engine.connect(stomp(rabbitmq.uri, subscribe="/topic/fanout"), count=100)
    publishers = engine.connect(stomp(rabbitmq.uri, destination="/topic/fanout"), count=1)
    result = engine.run_step(publishers, LoadPlan(rate=50, messages=100, reply_timeout_s=5.0,
                                                  fanout=FanoutSpec()),
                             MessageTemplate(), roles={"subscribers": audience},
                             server_pid=rabbitmq.pid)
    assert result.sent == 100
    assert result.received == 100 * 100 and result.lost == 0 and result.unmatched == 0
    assert result.connections_closed == {}
    fanout = result.sections["fanout"]
    assert fanout.lost_deliveries == 0
    assert result.load_applied, result.not_applied_reasons


def test_connections_come_back_and_resubscribe_after_the_broker_restarts(engine, rabbitmq):
    policy = ReconnectPolicy(max_attempts=30, initial_delay_s=0.2, max_delay_s=1.0)
    audience = engine.connect(stomp(rabbitmq.uri, subscribe="/topic/again"), count=10)
    requests = engine.connect(stomp(rabbitmq.uri, destination="/topic/again"), count=5)
    engine.set_lifecycle(audience, reconnect=policy)
    engine.set_lifecycle(requests, reconnect=policy)
    handshakes = audience.protocol_counts.handshakes
    running = engine.start_step(requests, LoadPlan(rate=100, duration_s=6.0,
                                                   reply_timeout_s=2.0))
    time.sleep(1.0)
    rabbitmq.restart_app()              # every connection goes; the listener comes back
    result = running.wait()
    lifecycle = result.sections["lifecycle"]
    assert lifecycle.reconnects >= 5 and lifecycle.gave_up == 0
    assert result.connections_closed == {}
    assert result.received > 0 and result.sent == result.received + result.lost + \
        lifecycle.cut_by_close
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


def test_heart_beats_keep_idle_and_loaded_connections_open_under_load(engine, rabbitmq):
    # RabbitMQ rounds heart-beats up to whole seconds: 500 ms becomes 1 s both ways, and
    # it closes a connection silent for about three of them ("STOMP died")
    idle = engine.connect(stomp(rabbitmq.uri, heart_beat="500,500"), count=10)
    loaded = engine.connect(stomp(rabbitmq.uri, heart_beat="500,500"), count=10)
    session = idle.open_connections[0].session
    assert session.heartbeat_s == 0.5 and session.receive_ms == 1000
    before = idle.protocol_counts.snapshot()
    result = engine.run_step(loaded, LoadPlan(rate=2000, duration_s=5.0))
    assert result.connections_closed == {}
    assert result.received == result.sent == 10000 and result.lost == 0
    figures = result.sections["protocol"]
    assert figures.heartbeats_sent >= 10 * 8            # every 0.5 s on each connection
    # (the server beats only where it sends nothing else: on the idle connections)
    handshakes, answered, control, heartbeats = (
        b - a for a, b in zip(before, idle.protocol_counts.snapshot()))
    assert heartbeats >= 10 * 8 and control >= 10 * 3
    assert len(idle.open_connections) == 10, idle.close_summary()
    assert engine.run_step(idle, LoadPlan(rate=100, messages=100)).received == 100


def test_without_heart_beats_rabbitmq_drops_a_silent_connection(engine, rabbitmq):
    """The test above would fail if heart-beats were not sent: this is what happens then."""
    pool = engine.connect(stomp(rabbitmq.uri, heart_beat="500,500"), count=2)
    task = pool.heartbeats.task                         # no client heart-beats from now
    task.get_loop().call_soon_threadsafe(task.cancel)
    deadline = time.monotonic() + 10
    while pool.open_connections and time.monotonic() < deadline:
        time.sleep(0.2)
    assert not pool.open_connections
    assert any("STOMP died" in why for why in pool.close_summary()), pool.close_summary()


def test_refused_credentials_are_named_with_stomps_error(engine, rabbitmq):
    with pytest.raises(ConnectError, match="refused the connection: Bad CONNECT: Access "
                                           "refused for user 'guest'") as refused:
        engine.connect(stomp(rabbitmq.uri, passcode="not-the-passcode"), count=2)
    assert "not-the-passcode" not in str(refused.value)
    with pytest.raises(ConnectError, match="Virtual host '/nope' access denied"):
        engine.connect(stomp(rabbitmq.uri, host="/nope"), count=1)
    with pytest.raises(ConnectError, match="refused the subscription to '/nowhere/x'.*"
                                           "Unknown destination"):
        engine.connect(stomp(rabbitmq.uri, subscribe="/nowhere/x"), count=1)


def test_the_servers_error_frames_mid_step_are_the_steps_errors(engine, rabbitmq):
    pool = engine.connect(stomp(rabbitmq.uri, destination="/nowhere/x"), count=2)
    result = engine.run_step(pool, LoadPlan(rate=100, messages=50, reply_timeout_s=1.0))
    assert result.received == 0 and result.lost == 50 and result.invalid_replies == 0
    [(error, count)] = result.errors.items()
    assert error.startswith("STOMP ERROR from the server: Unknown destination: '/nowhere/x' "
                            "is not a valid destination") and count == 50
    assert result.sections["protocol"].control_messages >= 50
    assert len(pool.open_connections) == 2             # RabbitMQ keeps the connection


def test_plain_websocket_where_stomp_was_asked_is_named(engine, server):
    with pytest.raises(ConnectError, match="expected CONNECTED or ERROR, got CONNECT.*is "
                                           "this a STOMP server"):
        engine.connect(ConnectionOptions(server.uri, open_timeout_s=2.0,
                                         protocol=protocol_named("stomp")), count=1)


class GarblingStompServer(ThreadServer):
    """CONNECTED, then a RECEIPT for each SEND, but every 10th request gets a malformed
    frame in its place, in turn one of `GARBLED`."""

    GARBLED = (b"RECEIPT\nreceipt-id:x\n\n\0", b"not a frame", b"RECEIPT\nreceipt-id:",
               b"\0", b"ERROR without its blank line\0", b"\xff\xfe")

    def __init__(self):
        self.sends = 0
        super().__init__()

    async def handle(self, ws) -> None:
        session = Stomp.server_session(0)
        async for message in ws:
            data = message.encode() if isinstance(message, str) else message
            what = session.receive(data)
            if what[0] == "answer":
                for answer in what[1]:
                    await ws.send(answer.decode())
            elif what[0] == "request":
                self.sends += 1
                if self.sends % 10 == 0:
                    garbled = self.GARBLED[(self.sends // 10) % len(self.GARBLED)]
                    await ws.send(garbled)                  # binary: bytes as they are
                else:
                    await ws.send(session.reply(data, None).decode())
            await asyncio.sleep(0)


def test_a_malformed_frame_is_counted_invalid_and_nothing_crashes(engine):
    garbling = GarblingStompServer()
    try:
        pool = engine.connect(ConnectionOptions(garbling.uri, open_timeout_s=5.0,
                                                protocol=protocol_named("stomp")), count=2)
        result = engine.run_step(pool, LoadPlan(rate=400, messages=200, reply_timeout_s=1.0))
    finally:
        garbling.close()
    assert result.sent == 200
    assert result.received == 180 and result.lost == 20
    assert result.invalid_replies == 20 and result.unmatched == 0
    assert result.connections_closed == {}


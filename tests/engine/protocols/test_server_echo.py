"""A server session's `echo` (the mock server's fast path in echo mode) gives exactly what
the full path gives -- `receive` says "request" and `reply(message, None)` frames it -- or
None and leaves the message to the full path; never a different reply."""
from __future__ import annotations

from hypothesis import given, strategies as st

from WebSocketLoadLibrary.engine import PROTOCOLS, MessageTemplate, ServerSession, protocol_named
from WebSocketLoadLibrary.engine.protocols import mqtt_packets as packets


def agrees(session, message: bytes) -> bool:
    fast = session.echo(message)
    if fast is None:
        return True
    return session.receive(message)[0] == "request" and fast == session.reply(message, None)


def socketio_session():
    return PROTOCOLS["socketio"].server_session(1)


def test_socketio_requests_the_client_sends_take_the_fast_path():
    template = protocol_named("socketio", event="echo").request_template(MessageTemplate())
    session = socketio_session()
    for message_id in (0, 7, 123456, 2 ** 40):
        message = template.render(message_id)
        assert session.echo(message) is not None, message
        assert agrees(session, message)
        assert session.echo(message).startswith(b"43%d[" % message_id)


def test_socketio_what_is_no_plain_request_takes_the_full_path():
    session = socketio_session()
    for message in (b'42/chat,5["echo",{"a":1}]',        # a namespace
                    b'42["echo",{"a":1}]',                # no id: no ack wanted
                    b'425["echo",{"op":"subscribe","topic":"t"}]',   # a command
                    b'42x5["echo",{}]', b"42", b"3", b"40", b"41", b"", b"42123"):
        assert session.echo(message) is None, message


@given(ident=st.integers(0, 10 ** 15), event=st.text(max_size=8).filter(lambda t: '"' not in t),
       body=st.binary(max_size=40), namespace=st.sampled_from([b"", b"/chat,"]))
def test_socketio_echo_never_differs_from_receive_and_reply(ident, event, body, namespace):
    message = b"42" + namespace + str(ident).encode() + b'["' + event.encode() + b'",' + body + b"]"
    assert agrees(socketio_session(), message)


@given(message=st.binary(max_size=60))
def test_socketio_echo_of_any_bytes_is_none_or_the_full_paths_reply(message):
    assert agrees(socketio_session(), message)


def test_every_session_without_a_fast_path_answers_none():
    for protocol in PROTOCOLS.values():
        session = protocol.server_session(1, **protocol.server_options)
        if type(session).echo is ServerSession.echo:
            assert session.echo(b'{"id":1}') is None


def mqtt_session(version: int = 4):
    """A mock-server MQTT session its client has connected (3.1.1 unless `version`)."""
    session = PROTOCOLS["mqtt"].server_session(1)
    assert session.receive(packets.connect("c", 30, True, None, None, version))[0] == "answer"
    return session


def test_mqtt_requests_the_client_sends_take_the_fast_path_to_their_puback():
    protocol = protocol_named("mqtt")
    template = protocol.request_template(MessageTemplate())
    session = mqtt_session()
    for message_id in (0, 7, 123456, 2 ** 40):
        message = template.render(message_id)
        assert session.echo(message) is not None, message
        assert agrees(session, message)
    for payload in (b"x" * 100, b"y" * 20_000):      # remaining lengths of 2 and 3 bytes
        message = packets.publish("t", payload, 1, 300)
        assert session.echo(message) == packets.puback(300) and agrees(session, message)


def test_mqtt_what_is_no_plain_request_takes_the_full_path():
    session = mqtt_session()
    command = packets.publish("t", b'{"op":"subscribe","topic":"t"}', 1, 9)
    for message in (command, packets.publish("t", b"{}", 0), packets.PINGREQ_PACKET,
                    packets.publish("t", b"{}", 1, 9)[:-1], packets.puback(3), b"", b"\x32"):
        assert session.echo(message) is None, message
    assert mqtt_session(5).echo(packets.publish("t", b"{}", 1, 9, 5)) is None   # 5: properties
    unconnected = PROTOCOLS["mqtt"].server_session(1)
    assert unconnected.echo(packets.publish("t", b"{}", 1, 9)) is None      # before CONNECT


@given(message=st.binary(max_size=60), packet_id=st.integers(1, 65535),
       payload=st.binary(max_size=300))
def test_mqtt_echo_of_any_bytes_is_none_or_the_full_paths_reply(message, packet_id, payload):
    session = mqtt_session()
    assert agrees(session, message)
    assert agrees(session, bytes([0x32]) + message)
    assert agrees(session, packets.publish("load/in", payload, 1, packet_id))

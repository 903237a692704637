"""A server session's `echo` (the mock server's fast path in echo mode) gives exactly what
the full path gives -- `receive` says "request" and `reply(message, None)` frames it -- or
None and leaves the message to the full path; never a different reply."""
from __future__ import annotations

from hypothesis import given, strategies as st

from WebSocketLoadLibrary.engine import PROTOCOLS, MessageTemplate, ServerSession, protocol_named


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

"""The STOMP codec's fast paths pinned to the full reading: a request read without a parse
(the mock server's `echo`, and `receive` alike), a MESSAGE framed from a kept head
(`frame`), a head without a backslash read without unescaping (read_frame), a delivery's
body read by its shape (`Stomp.payload`). Each must say exactly what the long way says,
and anything it cannot take must take the long way."""
from __future__ import annotations

import re

import orjson
from hypothesis import given, settings
from hypothesis import strategies as st

from WebSocketLoadLibrary.engine import protocol_named
from WebSocketLoadLibrary.engine.plan.messages import MessageTemplate
from WebSocketLoadLibrary.engine.protocols.stomp import Stomp, parse
from WebSocketLoadLibrary.engine.protocols.stomp_frames import (HEARTBEAT, Frame, FrameError,
                                                                read_frame)
from WebSocketLoadLibrary.engine.protocols.stomp_server import StompServerSession

TEMPLATE = protocol_named("stomp").request_template(MessageTemplate())
REQUEST = TEMPLATE.render(1)
REST = REQUEST[REQUEST.index(b"\n", 13):REQUEST.index(b"\n\n") + 2]   # after the receipt id


def connected() -> StompServerSession:
    server = Stomp.server_session(1)
    assert server.receive(b"CONNECT\naccept-version:1.2\nheart-beat:0,0\n\n\0")[0] == "answer"
    return server


def full(message: bytes) -> tuple:
    """What a session that never took the fast path says, and the reply read from a copy
    (so that `reply` parses it too)."""
    server = connected()
    what = server.receive(message)
    if what[0] != "request":
        return what, None
    reply = server.reply(message, None)
    assert server.reply(bytes(bytearray(message)), None) == reply
    return what, reply


def quick(learned_from: bytes, message: bytes) -> tuple:
    """What a session that learned a request's head says, and whether it read it quick."""
    server = connected()
    assert server.receive(learned_from)[0] == "request"
    echo = server.echo(message)
    taken = echo is not None
    what = server.receive(message)
    reply = server.reply(message, None) if what[0] == "request" else None
    assert echo is None or echo == reply
    return what, reply, taken


def send(receipt: bytes, body: bytes, rest: bytes = REST) -> bytes:
    return b"SEND\nreceipt:" + receipt + rest + body + b"\0"


def test_the_engines_requests_are_read_quick_and_answered_as_the_full_parse_answers():
    for number in (0, 7, 12345, 10**15):
        message = TEMPLATE.render(number)
        what, reply, taken = quick(REQUEST, message)
        assert taken and (what, reply) == full(message)
        assert TEMPLATE.extract_id(reply) == number


def test_what_the_fast_path_cannot_take_goes_the_long_way_with_the_same_answer():
    cases = [
        send(b"a7", b"{}"), send(b"", b"{}"), send(b"7\\c", b"{}"), send(b"7:8", b"{}"),
        send("٣".encode(), b"{}"), send(b"7 ", b"{}"), send(b"7\r", b"{}"),
        send(b"7", b'{"op":"stream","rate":10,"duration":1}'),
        send(b"7", b"a\0b"), send(b"7", b"") + b"\n", send(b"7", b"") + b"\r\n",
        send(b"7", b"x") + b"SEND\n\n\0", send(b"7", b"x")[:-1],
        send(b"7", b"{}", b"\ndestination:/other\n\n"),
        send(b"7", b"{}", b"\ndestination:\n\n"),
        send(b"7", b"{}", b"\nreceipt:8" + REST),
        send(b"7", b"{}", b"\ncontent-length:2" + REST),
        send(b"7", b"{}", REST.replace(b"\n", b"\r\n")),
        send(b"7", b"{}", REST[:-1] + b"\r\n"),
        send(b"7", b"{}", REST[:-2] + b"\nno colon\n\n"),
        b"\n" + send(b"7", b"{}"), b"SEND\nreceipt:7", b"SEND\nreceipt:7\n",
        b"SEND\nreceipt:7" + REST, b"SUBSCRIBE\nreceipt:7" + REST + b"\0",
    ]
    for message in cases:
        what, reply, taken = quick(REQUEST, message)
        assert not taken, message
        assert (what, reply) == full(message), message


def test_a_head_the_fast_path_may_not_take_is_never_learned():
    for learned in (send(b"7", b"{}", b"\ncontent-length:2" + REST),
                    send(b"7", b"{}", REST.replace(b"\n", b"\r\n")),
                    send(b"a7", b"{}"), b"SEND\ndestination:/q\nreceipt:7\n\n{}\0"):
        server = connected()
        assert server.receive(learned)[0] == "request"
        assert server.echo(learned) is None, learned
    # an escaped destination is read once, in full: the requests alike are then quick
    escaped = send(b"7", b"{}", b"\ndestination:/q\\c1\n\n")
    what, reply, taken = quick(escaped, send(b"8", b"{}", b"\ndestination:/q\\c1\n\n"))
    assert taken and reply == b"RECEIPT\nreceipt-id:8\n\n\0"


_PIECES = st.sampled_from([b"7", b"12", b"a", b":", b"\\", b"\\c", b"\r", b"\n", b"\0",
                           b"\n\n", b"receipt:", b"destination:/q", b"content-length:1",
                           b'{"op":', b"SEND", b"x"])


@settings(max_examples=400, deadline=None)
@given(receipt=st.lists(_PIECES, max_size=3).map(b"".join),
       rest=st.one_of(st.just(REST), st.lists(_PIECES, max_size=6).map(b"".join)),
       body=st.lists(_PIECES, max_size=4).map(b"".join),
       tail=st.sampled_from([b"\0", b"", b"\0\n", b"\0x"]))
def test_fast_and_full_readings_of_a_request_agree(receipt, rest, body, tail):
    message = b"SEND\nreceipt:" + receipt + rest + body + tail
    what, reply, _ = quick(REQUEST, message)
    assert (what, reply) == full(message)


def reference_frame(server: StompServerSession, payload: bytes) -> bytes:
    """`frame` as it read before the heads were kept: every header escaped every time."""
    if payload.startswith(b'{"op":"publish","topic":'):
        published = orjson.loads(payload)
        destination = published["topic"]
        payload = published.get("body", "").encode()
    elif payload.startswith((b'{"op":"subscribed"', b'{"op":"unsubscribed"')):
        return HEARTBEAT
    else:
        destination = next(reversed(server.subscriptions), "/topic/mock")
    return server.message(server.subscriptions.get(destination, "0"), destination, payload,
                          f"{server.session_id}-{server.delivered + 1}")


def test_a_framed_message_is_what_the_headers_escaped_each_time_give():
    server = connected()
    publish = orjson.dumps({"op": "publish", "topic": "/t:1", "body": "héllo\0"})
    steps = [b'{"seq":1}', publish,
             b"SUBSCRIBE\nid:a\\cb\ndestination:/t\\c1\n\n\0", b'{"seq":2}', publish,
             b"SUBSCRIBE\nid:9\ndestination:/t\\n2\n\n\0", b'{"seq":3}', publish,
             b'{"op":"subscribed","topic":"/t:1"}', b'{"op":"pong"}',
             b"UNSUBSCRIBE\nid:9\n\n\0", b'{"seq":4}', b"",
             b"UNSUBSCRIBE\nid:a:b\n\n\0", b'{"seq":5}', publish]
    for step in steps:
        if step[:1].isupper():
            assert server.receive(step)[0] in ("command", "answer")
            continue
        expected = reference_frame(server, step)
        assert server.frame(step) == expected, step
        assert expected == HEARTBEAT or Stomp.payload(expected) is not None


def reference_read_frame(data: bytes, start: int) -> tuple[Frame, int]:
    """read_frame as it read before it spared the unescaping: every header unescaped."""
    head_end, skip = data.find(b"\n\n", start), 2
    crlf = data.find(b"\n\r\n", start)
    if crlf >= 0 and (head_end < 0 or crlf < head_end):
        head_end, skip = crlf, 3
    if head_end < 0:
        raise FrameError("head")
    lines = data[start:head_end].split(b"\n")
    command = lines[0].rstrip(b"\r")
    if not command.isalpha() or not command.isupper():
        raise FrameError("command")
    name = command.decode()
    raw = name in ("CONNECT", "CONNECTED")
    escapes = {b"\\\\": b"\\", b"\\r": b"\r", b"\\n": b"\n", b"\\c": b":"}

    def unescape(value: bytes) -> bytes:
        return re.sub(rb"\\.", lambda m: escapes.get(m.group(0), m.group(0)), value)
    headers: dict[str, str] = {}
    for line in lines[1:]:
        key, colon, value = line.rstrip(b"\r").partition(b":")
        if not colon:
            raise FrameError("colon")
        key_text = (key if raw else unescape(key)).decode(errors="replace")
        if key_text not in headers:
            headers[key_text] = (value if raw else unescape(value)).decode(errors="replace")
    body_start = head_end + skip
    length = headers.get("content-length", "")
    if length.isascii() and length.isdigit():
        end = body_start + int(length)
        if end >= len(data) or data[end] != 0:
            raise FrameError("length")
    else:
        end = data.find(b"\0", body_start)
        if end < 0:
            raise FrameError("NUL")
    return Frame(name, headers, data[body_start:end]), end + 1


def _reading(read, data: bytes):
    try:
        frame, end = read(data, 0)
    except FrameError:
        return "FrameError"
    return frame.command, frame.headers, frame.body, end


_FRAME_PIECES = st.sampled_from([b"SEND", b"MESSAGE", b"CONNECT", b"\n", b"\r\n", b":",
                                 b"\\", b"\\c", b"\\n", b"\\r", b"\\\\", b"\\t", b"a",
                                 b"content-length:", b"2", b"\0", b"\xff"])


@settings(max_examples=500, deadline=None)
@given(st.lists(_FRAME_PIECES, max_size=14).map(b"".join))
def test_read_frame_reads_as_the_full_unescaping_reads(data):
    assert _reading(read_frame, data) == _reading(reference_read_frame, data)


def test_read_frame_keeps_escapes_crlf_and_content_length():
    data = (b"MESSAGE\r\nk\\cx:v\\\\1\\n\r\nk\\cx:second\r\ncontent-length:3\r\n\r\n"
            b"a\0b\0")
    assert _reading(read_frame, data) == _reading(reference_read_frame, data) == (
        "MESSAGE", {"k:x": "v\\1\n", "content-length": "3"}, b"a\0b", len(data))
    odd = b"SEND\ncontent-length:\xc2\xb2\n\nab\0"     # no number: the body ends at the NUL
    assert _reading(read_frame, odd) == ("SEND", {"content-length": "²"}, b"ab", len(odd))


def reference_payload(message: bytes) -> bytes | None:
    """A delivery's body as the parser reads it."""
    try:
        frame = parse(message)
    except FrameError:
        return None
    return frame.body if frame is not None and frame.command == "MESSAGE" else None


RABBIT = (b"MESSAGE\nsubscription:0\ndestination:/topic/t\nmessage-id:T_0@@session-Hk3@@1\n"
          b"redelivered:false\ncontent-type:application/json\ncontent-length:5\n\n{\"a\"}\0")


def test_a_deliverys_body_is_the_parsers_for_every_shape():
    server = connected()
    server.receive(b"SUBSCRIBE\nid:a\\cb\\r\ndestination:/t\\n:x\n\n\0")
    mock = [server.frame(body) for body in (b'{"seq":1}', b"", b"a\0b", b"\r\n\0")]
    cases = mock + [
        RABBIT, RABBIT.replace(b"\n", b"\r\n"), b"\n\r\n" + RABBIT, RABBIT + b"\n",
        RABBIT.replace(b"content-length:5", b"content-length:4"),
        RABBIT.replace(b"content-length:5", b"content-length:9"),
        RABBIT.replace(b"content-length:5", b"content-length: 5"),
        RABBIT.replace(b"content-length:5", b"content-length:5\r"),
        RABBIT.replace(b"content-length:5", b"content-length:4\r\r"),
        RABBIT.replace(b"content-length:5", b"content-length:5\ncontent-length:2"),
        RABBIT.replace(b"content-length:5", b"content-length:x"),
        RABBIT.replace(b"content-length:5\n", b""),
        RABBIT.replace(b"redelivered:false", b"redelivered"),
        RABBIT.replace(b"redelivered:false", b"redelivered:\rfalse\r"),
        RABBIT.replace(b"redelivered:false", b"\rredelivered:false"),
        RABBIT.replace(b"MESSAGE", b"MESSAGES"), RABBIT.replace(b"MESSAGE", b"RECEIPT"),
        mock[0].replace(b"subscription:", b"subscription"), mock[0][:-1],
        mock[0].replace(b"message-id:", b"message-id:\r"), mock[2][:-2] + b"\0",
        mock[0] + b"\n", mock[0] + b"\0",
        mock[2].replace(b"content-length:3", b"content-length:1"),
        mock[2].replace(b"content-length:3", b"content-length:4"),
        mock[0].replace(b"content-length:9", b"content-length:09"),
        b"MESSAGE\n\nbody\0", b"MESSAGE\n\n", b"\n", b"", b"ERROR\nmessage:no\n\n\0",
    ]
    for message in cases:
        assert Stomp.payload(message) == reference_payload(message), message
    assert [Stomp.payload(m) for m in mock] == [b'{"seq":1}', b"", b"a\0b", b"\r\n\0"]


_DELIVERY_PIECES = st.sampled_from([
    b"MESSAGE\n", b"MESSAGE\r\n", b"\n", b"\r", b"\r\n", b":", b"\0", b"x", b"\\c",
    b"subscription:1\n", b"destination:/t\n", b"message-id:m-1\n", b"content-length:",
    b"2", b"content-length:2\n\n", b"\ncontent-length:0\n\n"])


@settings(max_examples=500, deadline=None)
@given(st.lists(_DELIVERY_PIECES, max_size=10).map(b"".join))
def test_payload_reads_as_the_parser_reads(message):
    assert Stomp.payload(message) == reference_payload(message)

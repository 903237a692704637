"""The engine's per-message short cuts give what the general paths give.

Rendering: `batch_renderer` (pre-split bytes, one `$send_time` per batch) against the
template's %-format renderer. Matching: replies booked under their ids' ascii digits and
sliced out of the reply, against the general JSON/regex extractor -- on ordinary and on odd
replies, which must take the general route and come out matched, unmatched, invalid or a push
exactly as the general extractor alone would have it.
"""
from __future__ import annotations

import time

import pytest

from step_books import Books
from WebSocketLoadLibrary.engine.plan.messages import MessageTemplate
from fake_transport import fake_picows_sockets

TEMPLATES = [
    dict(),                                                     # the default: id, send_time
    dict(payload_size=0),
    dict(template='{"message_id":$message_id,"p":"$payload"}'),  # no send_time
    dict(template='{"message_id":$message_id,"c":$connection,"t":$send_time}'),
    dict(template='{"t":$send_time,"message_id":$message_id}'),  # id not first
    dict(template='{"data":{"id":$message_id},"at":$send_time}', id_field="data.id"),
    dict(template="PING $message_id at $send_time $$ $payload", id_pattern=r"PONG (\d+)"),
    dict(template='{"message_id":"$message_id","pct":"100%"}', binary=True),
]


@pytest.mark.parametrize("options", TEMPLATES)
def test_batch_rendering_is_byte_identical_to_the_general_renderer(options, monkeypatch):
    template = MessageTemplate(**options)
    begin, render, head = template.batch_renderer()
    wall = 1_700_000_123.4567891
    monkeypatch.setattr(time, "time", lambda: wall)
    general = MessageTemplate(**options).renderer()  # built after the patch: reads it
    batch = begin(wall)
    for message_id, connection in [(0, 0), (7, 3), (123456789, 24), (10 ** 15, 1)]:
        assert render(message_id, connection, batch) == general(message_id, connection)
        if head is not None:
            assert head + str(message_id).encode() + batch == general(message_id, connection)


def test_the_id_short_cut_is_offered_only_when_replies_start_with_the_id():
    assert MessageTemplate().id_fast_path() == (b'{"message_id":', len(b'{"message_id":'), b",")
    assert MessageTemplate('{"t":$send_time,"message_id":$message_id}').id_fast_path() is None
    assert MessageTemplate("PING $message_id", id_pattern=r"PONG (\d+)").id_fast_path() is None


ODD_REPLIES = [
    b'{"message_id":1005,"x":1}',        # ordinary
    b'{"message_id": 1005,"x":1}',       # a space: JSON says 1005
    b'{"message_id":"1005","x":1}',      # quoted
    b'{"message_id":01005,"x":1}',       # leading zero: not JSON
    b'{"message_id":+1005,"x":1}',       # sign: not JSON
    b'{"message_id":1_005,"x":1}',       # underscore: not JSON
    b'{"message_id":1005}',              # no comma after the id
    b'{"message_id":10055',              # truncated, digits to the end
    b'{"message_id":1005.0,"x":1}',      # a float
    b'{"message_id":true,"x":1}',
    b'{"message_iX":1005,"x":1}',        # another field, same digits
    b'{"x":1,"message_id":1005}',        # reordered
    b'{"message_id":1006,"x":1}',        # not in flight
    b'{"message_id":,"x":1}',
    b'garbage',
    b'',
]


def _general_outcome(reply: bytes, in_flight: set[int]) -> str:
    extract = MessageTemplate().id_extractor()
    try:
        message_id = extract(reply)
    except (KeyError, TypeError, IndexError):
        return "push"  # JSON without the id: a heartbeat, a notification
    except ValueError:
        return "invalid"
    return "matched" if message_id in in_flight else "unmatched"


@pytest.mark.parametrize("reply", ODD_REPLIES)
@pytest.mark.parametrize("interval", [None, 0.001])
def test_digit_matching_gives_the_general_extractors_outcome_on_any_reply(reply, interval):
    template = MessageTemplate()
    book = Books(1, template.id_extractor(), id_base=1000, start=10.0, interval=interval,
                 id_fast_path=template.id_fast_path())
    book.sent_one(0, 1005, 10.1)
    book.reply(0, reply, 10.2)
    outcome = {(1, 0, 0, 0): "matched", (0, 1, 0, 0): "unmatched", (0, 0, 1, 0): "invalid",
               (0, 0, 0, 1): "push"}[(book.received, book.unmatched, book.invalid_replies,
                                     book.pushes)]
    assert outcome == _general_outcome(reply, {1005})
    if outcome == "matched":
        book.close_second()
        assert book.service_time.percentile_us(50) == pytest.approx(100_000, rel=0.001)
        if interval is not None:  # intended at 10.005: the id's digits gave the time
            assert book.latency.percentile_us(50) == pytest.approx(195_000, rel=0.001)


def test_the_fast_extractor_agrees_with_the_general_one_on_odd_replies():
    template = MessageTemplate()
    fast, general = template.id_extractor(), MessageTemplate()

    def outcome(extract, reply):
        try:
            return extract(reply)
        except (ValueError, KeyError, TypeError, IndexError) as error:
            return type(error)

    import orjson

    def by_json(reply):
        value = orjson.loads(reply)["message_id"]
        if isinstance(value, bool):
            raise ValueError("id is a boolean")
        return int(value)
    for reply in ODD_REPLIES:
        expected = outcome(by_json, reply)
        got = outcome(fast, reply)
        assert got == expected or (isinstance(expected, type) and isinstance(got, type)), reply
    assert general.extract_id(b'{"message_id":42,"x":1}') == 42


def test_closed_loop_latency_and_service_time_share_one_list_and_both_histograms_fill():
    book = Books(1, MessageTemplate().id_extractor(), id_base=0, start=0.0, interval=None,
                 id_fast_path=MessageTemplate().id_fast_path())
    for k in range(100):
        book.sent_one(0, k, 1.0)
        book.reply(0, b'{"message_id":%d,"x":1}' % k, 1.002)
    book.close_second()
    assert book.latency.count == book.service_time.count == 100
    assert book.latency.percentile_us(50) == book.service_time.percentile_us(50)


# -- the closed loop's own receiver (one closure: match, book, send the next) ------------
def _closed_loop(id_base: int, window: int, messages: int = 10_000):
    from WebSocketLoadLibrary.engine import LoadPlan
    from WebSocketLoadLibrary.engine.patterns.closed_loop import ClosedLoopDriver

    pool, (ws,) = fake_picows_sockets(1)
    connection = ws.connection
    template = MessageTemplate(payload_size=4)
    plan = LoadPlan(rate=None, messages=messages, window=window)
    book = Books(1, template.id_extractor(), id_base, 0.0,
                 ClosedLoopDriver.latency_interval(plan), template.id_fast_path())
    driver = ClosedLoopDriver(plan, template, id_base, book.recorder, book.correlator,
                              pool.writer())
    driver.prepare(pool, [connection])
    driver.begin(0.0)     # installs its receivers on the connection
    driver.fill_windows()
    return pool.on_message, book, connection, ws.transport


@pytest.mark.parametrize("reply", ODD_REPLIES)
def test_the_closed_loop_receiver_gives_the_general_extractors_outcome_on_any_reply(reply):
    receive, book, connection, _ = _closed_loop(id_base=1000, window=10)  # 1000-1009 in flight
    receive(connection, reply, 1.0)
    outcome = {(1, 0, 0, 0): "matched", (0, 1, 0, 0): "unmatched", (0, 0, 1, 0): "invalid",
               (0, 0, 0, 1): "push"}[(book.received, book.unmatched, book.invalid_replies,
                                     book.pushes)]
    assert outcome == _general_outcome(reply, set(range(1000, 1010)))


def test_the_closed_loop_matches_every_reply_while_ids_pass_a_power_of_ten():
    # ids 95-104 in flight at first: two and three digits, then four at 1000
    receive, book, connection, transport = _closed_loop(id_base=95, window=10, messages=1000)
    now = 1.0
    while transport.sent:
        echoed, transport.sent = transport.sent[::-1], []  # out of order, one read each
        now += 0.001
        for message in echoed:
            receive(connection, message, now)
    assert (book.received, book.unmatched, book.invalid_replies) == (1000, 0, 0)
    assert book.sent == 1000 and not book.outstanding[0]
    assert book.last_reply == now


@pytest.mark.parametrize("interval", [None, 0.001])
def test_the_step_receiver_matches_every_reply_while_ids_pass_a_power_of_ten(interval):
    template = MessageTemplate(payload_size=4)
    book = Books(1, template.id_extractor(), id_base=95, start=0.0, interval=interval,
                 id_fast_path=template.id_fast_path())
    render = template.renderer()
    now = 1.0
    for first in range(95, 1095, 10):  # ten in flight at a time: 95-104 first
        for message_id in range(first, first + 10):
            book.sent_one(0, message_id, now)
        now += 0.001
        for message_id in reversed(range(first, first + 10)):  # one read, out of order
            assert book.reply(0, render(message_id, 0), now)
    assert (book.received, book.unmatched, book.invalid_replies) == (1000, 0, 0)
    book.reply(0, render(5, 0), now + 1)  # matches nothing: not the time of the last reply
    assert book.unmatched == 1 and book.last_reply == now


# -- picows calls a step's receivers directly (frames.py) --------------------------------
class _Frame:
    """A picows frame as the sockets' listeners see it."""

    def __init__(self, payload: bytes, kind=None, fin: bool = True, last: bool = True):
        from WebSocketLoadLibrary.engine.transport.frames import TEXT
        self.msg_type = TEXT if kind is None else kind  # CONTINUATION is 0
        self.payload, self.fin, self.last_in_buffer = payload, fin, last

    def get_payload_as_bytes(self) -> bytes:
        return self.payload


@pytest.mark.parametrize("interval", [None, 0.001])
def test_during_a_step_picows_frames_go_straight_to_its_receivers_and_after_it_to_the_socket(
        interval):
    template = MessageTemplate(payload_size=4)
    render = template.renderer()
    pool, sockets = fake_picows_sockets(2)
    connections = [ws.connection for ws in sockets]
    book = Books(2, template.id_extractor(), 0, 0.0, interval, template.id_fast_path())
    pool.receive_with(connections, book.frame_receivers)
    assert all(ws.on_ws_frame is not ws.own_listener for ws in sockets)
    for k in range(6):
        book.sent_one(k % 2, k, 1.0)
    # one read of three frames on socket 0: they share the time of the first
    for k, last in ((0, False), (2, False), (4, True)):
        sockets[0].on_ws_frame(sockets[0].transport, _Frame(render(k, 0), last=last))
    assert book.service_s == [book.service_s[0]] * 3 and book.last_reply > 1.0
    # a reply in fragments takes the socket's own listener, which hands it back whole
    whole = render(1, 1)
    sockets[1].on_ws_frame(sockets[1].transport, _Frame(whole[:5], fin=False))
    from WebSocketLoadLibrary.engine.transport.picows_socket import CONTINUATION
    sockets[1].on_ws_frame(sockets[1].transport, _Frame(whole[5:], kind=CONTINUATION))
    assert (book.received, book.unmatched, book.invalid_replies) == (4, 0, 0)
    # an id booked on the other connection does not match here
    book.sent_one(0, 6, 1.0)
    sockets[1].on_ws_frame(sockets[1].transport, _Frame(render(6, 1)))
    assert (book.received, book.unmatched, book.invalid_replies) == (4, 1, 0)
    sockets[1].on_ws_frame(sockets[1].transport, _Frame(render(3, 1)))
    sockets[1].on_ws_frame(sockets[1].transport, _Frame(b"not json"))
    assert (book.received, book.unmatched, book.invalid_replies) == (5, 1, 1)
    assert book.outstanding == [{b"6": book.outstanding[0][b"6"]}, {b"5": book.outstanding[1][b"5"]}]
    pool.stop_receiving(connections)
    assert all(ws.on_ws_frame is ws.own_listener for ws in sockets)
    sockets[1].on_ws_frame(sockets[1].transport, _Frame(render(5, 1)))
    assert book.received == 5 and pool.stray_replies == 1


def test_the_closed_loop_receiver_takes_picows_frames_and_sends_in_their_place():
    receive, book, connection, transport = _closed_loop(id_base=0, window=4, messages=100)
    ws = connection.ws
    assert ws.on_ws_frame is not ws.own_listener
    while transport.sent:
        echoed, transport.sent = transport.sent, []
        for i, message in enumerate(echoed):  # each batch one read
            ws.on_ws_frame(transport, _Frame(message, last=i == len(echoed) - 1))
    assert (book.received, book.sent, book.unmatched) == (100, 100, 0)
    # a control frame still reaches the socket's own listener: the server's close
    from WebSocketLoadLibrary.engine.transport.picows_socket import CLOSE
    closing = []
    transport.send_close = lambda code: closing.append(code)
    transport.disconnect = lambda *args: closing.append("disconnected")
    close = _Frame(b"\x03\xe8bye", kind=CLOSE)
    close.get_close_code = lambda: 1000
    ws.on_ws_frame(transport, close)
    assert ws.close_code == 1000 and ws.close_reason == "bye" and closing == [1000, "disconnected"]

"""The mock server's decisions, called directly: no process, no socket.

`Exchange` (mockserver/pipeline.py) says what happens to each message of a connection;
`MockServerCore` (mockserver/core.py) who may connect, the counts at a close, the control
commands; picows_wire.py reads fragments and close frames for both picows listeners. Both
server engines only carry these out, so the faults are checked here once for both.
"""
from __future__ import annotations

import asyncio
import sys
import time

import orjson
import pytest

from WebSocketLoadLibrary.mockserver.core import LIMIT_REACHED, MockServerCore, Refusal
from WebSocketLoadLibrary.mockserver.faults import Faults
from WebSocketLoadLibrary.mockserver.pipeline import Exchange, wire_size
from WebSocketLoadLibrary.mockserver.stats import ServerStats
from WebSocketLoadLibrary.picows_wire import read_close, reassemble

MESSAGE = b'{"message_id":7,"p":"xx"}'


def exchange(size=len, ack=None, **faults) -> Exchange:
    settings = Faults(seed=3)
    for name, value in faults.items():
        setattr(settings, name, value)
    return Exchange(ServerStats(), settings, ack, size)


def counts(ex: Exchange, *names) -> tuple:
    return tuple(getattr(ex.stats, name) for name in names)


# -- the common path: a reply now, nothing else ---------------------------------------
def test_an_echo_is_the_message_itself_and_is_counted_both_ways(clock):
    ex = exchange()
    assert ex.receive(MESSAGE, "TEXT") is MESSAGE
    assert counts(ex, "messages_received", "messages_sent", "bytes_received", "bytes_sent") == (
        1, 1, len(MESSAGE), len(MESSAGE))
    assert (ex.pause_s, ex.outbox, list(ex.held), ex.close) == (0.0, [], [], None)


def test_text_as_str_is_counted_in_utf8_bytes():
    ex = exchange(size=wire_size)
    assert ex.receive("héllo") == "héllo"
    assert counts(ex, "bytes_received", "bytes_sent") == (6, 6)
    assert wire_size(b"h\xc3\xa9") == 3 and wire_size("abc") == 3


def test_the_common_path_is_one_python_call_per_message():
    ex = exchange()
    calls = []
    sys.setprofile(lambda frame, event, arg: calls.append(frame.f_code.co_name)
                   if event == "call" else None)
    try:
        for _ in range(10):
            ex.receive(MESSAGE, "TEXT")
    finally:
        sys.setprofile(None)
    assert calls == ["receive"] * 10


@pytest.mark.parametrize("message", [MESSAGE, MESSAGE.decode()])
def test_ack_answers_with_the_id_in_the_frame_type_of_the_request(message, monkeypatch):
    server = MockServerCore(mode="ack")
    monkeypatch.setattr(time, "time", lambda: 1700000000.25)
    ex = server.open()
    reply = ex.receive(message)
    expected = orjson.dumps({"message_id": 7, "status": "ok", "server_time": 1700000000.25})
    assert reply == (expected if isinstance(message, bytes) else expected.decode())
    assert server.stats.invalid_messages == 0


def test_ack_of_a_message_without_its_id_is_an_error_reply_counted_invalid():
    server = MockServerCore(mode="ack", id_field="id")
    reply = server.open().receive(b"not json")
    assert reply == b'{"error":"no id in message"}' and server.stats.invalid_messages == 1


# -- drop and garble ------------------------------------------------------------------
def test_a_dropped_message_gets_no_reply_and_nothing_else_to_do(clock):
    ex = exchange(drop_ratio=1.0)
    assert ex.receive(MESSAGE) is None
    assert counts(ex, "messages_received", "messages_dropped", "messages_sent") == (1, 1, 0)
    assert (ex.pause_s, ex.outbox, list(ex.held), ex.close) == (0.0, [], [], None)


def test_drops_and_garbles_follow_the_seed():
    def outcomes():
        ex = exchange(drop_ratio=0.3, garble_ratio=0.3)
        return [ex.receive(b"abc") for _ in range(200)]
    first = outcomes()
    assert first == outcomes()
    assert {None, b"abc", b"#garbled#cba"} == set(first)


@pytest.mark.parametrize("message, garbled", [(b"ab\x00", b"#garbled#\x00ba"),
                                              ("abc", "#garbled#cba")])
def test_a_garbled_reply_is_a_well_formed_frame_that_is_not_the_message(message, garbled):
    ex = exchange(garble_ratio=1.0)
    assert ex.receive(message) == garbled
    assert counts(ex, "messages_garbled", "messages_sent") == (1, 1)


# -- replies held by response_delay or a stall ----------------------------------------
def test_a_response_delay_holds_the_reply_until_it_is_due(clock):
    ex = exchange(response_delay=0.25)
    assert ex.receive(MESSAGE, "BINARY") is None
    assert ex.next_due() == 1000.25 and ex.outbox == [] and ex.close is None
    assert ex.pop_due(1000.2) is None and ex.stats.messages_sent == 0
    assert ex.pop_due(1000.25) == ("BINARY", MESSAGE)
    assert counts(ex, "messages_sent", "bytes_sent") == (1, len(MESSAGE))
    assert ex.next_due() is None and ex.pop_due(2000.0) is None


def test_replies_leave_in_order_even_after_the_delay_is_cleared(clock):
    ex = exchange(response_delay=0.1)
    ex.receive(b"1")
    ex.faults.response_delay = 0.0
    assert ex.receive(b"2") is None  # behind a held reply
    clock.now += 0.1
    assert [ex.pop_due(clock.now), ex.pop_due(clock.now), ex.pop_due(clock.now)] == [
        (None, b"1"), (None, b"2"), None]
    assert ex.receive(b"3") == b"3"  # nothing held any more: at once


def test_a_stall_holds_replies_and_one_set_later_holds_those_waiting_too(clock):
    ex = exchange(stall_until=1001.0)
    assert ex.receive(b"1") is None and ex.next_due() == 1001.0
    assert ex.pop_due(1000.9) is None
    assert ex.pop_due(1001.0) == (None, b"1")
    ex.faults.response_delay = 0.1
    ex.receive(b"2")
    ex.faults.stall_until = 1005.0  # set while the reply waits
    assert ex.next_due() == 1005.0 and ex.pop_due(1002.0) is None


def test_a_stall_that_is_over_delays_nothing(clock):
    ex = exchange(stall_until=999.0)
    assert ex.receive(b"1") == b"1"


# -- read_stall: pause, then the same message -----------------------------------------
def test_a_read_stall_pauses_before_the_message_which_comes_back_once(clock):
    ex = exchange(read_stall_until=1002.0)
    assert ex.receive(MESSAGE) is None
    assert ex.pause_s == 2.0 and ex.stats.messages_received == 0
    ex.pause_s = 0.0  # the engine has paused
    assert ex.receive(MESSAGE) is MESSAGE  # handed again: processed whatever the time
    assert counts(ex, "messages_received", "messages_sent") == (1, 1)
    clock.now = 1002.5
    ex.faults.read_stall_until = 1003.0  # a new stall pauses again
    assert ex.receive(MESSAGE) is None and ex.pause_s == 0.5


def test_an_expired_read_stall_is_cleared_by_the_next_message(clock):
    ex = exchange(read_stall_until=999.0)
    assert ex.receive(MESSAGE) is MESSAGE and ex.faults.read_stall_until == 0.0


# -- disconnect_after -----------------------------------------------------------------
def test_disconnect_after_n_sends_the_nth_reply_then_closes_with_1011(clock):
    ex = exchange(disconnect_after=2)
    assert ex.receive(b"1", "T") == b"1"
    assert ex.receive(b"2", "T") is None
    assert ex.outbox == [("T", b"2")] and ex.close == (
        1011, "mock server fault: disconnect after 2 messages")
    assert counts(ex, "messages_sent", "disconnects_injected") == (2, 1)


def test_disconnect_after_a_held_or_dropped_reply_has_nothing_to_send_first(clock):
    held = exchange(disconnect_after=1, response_delay=1.0)
    dropped = exchange(disconnect_after=1, drop_ratio=1.0)
    for ex in (held, dropped):
        assert ex.receive(b"1") is None and ex.outbox == [] and ex.close[0] == 1011
    assert len(held.held) == 1 and dropped.stats.messages_dropped == 1


def test_a_reply_the_transport_refused_is_uncounted_and_held_ones_are_abandoned(clock):
    ex = exchange()
    ex.receive(b"abc")
    ex.unsent(b"abc")
    assert counts(ex, "messages_sent", "bytes_sent") == (0, 0)
    ex.faults.response_delay = 1.0
    ex.receive(b"1"), ex.receive(b"2")
    assert ex.abandon() == 2 and not ex.held


# -- the server: handshakes, connections, control -------------------------------------
def test_handshakes_are_refused_for_a_wrong_control_key_or_bearer_token():
    server = MockServerCore(auth_token="s3cret", control_key="k")
    assert server.check_request("/_control?key=x", "") == Refusal(403, "wrong control key\n")
    assert server.check_request("/_control?key=k", "") is None  # the key, not the token
    assert server.check_request("/ws", "Bearer nope") == Refusal(
        401, "missing or wrong bearer token\n")
    assert server.check_request("/ws", "") is not None
    assert server.check_request("/ws?x=1", "Bearer s3cret") is None
    assert server.stats.auth_failures == 2
    assert server.is_control("/_control?key=k") and not server.is_control("/ws")
    assert MockServerCore().check_request("/_control", "") == Refusal(403, "wrong control key\n")


def test_connections_over_the_limit_are_refused_and_a_close_is_counted_once():
    server = MockServerCore(max_connections=2)
    first, second = server.open(), server.open()
    assert server.open() is None and LIMIT_REACHED == (1013, "connection limit reached")
    stats = server.stats
    assert (stats.connections_opened, stats.connections_active, stats.connections_refused,
            stats.connections_peak) == (2, 2, 1, 2)
    second.faults.response_delay = 1.0
    second.receive(b"x")
    server.closed(second, 1011, error=True)
    server.closed(first, 1000, error=False)
    assert (stats.connections_active, stats.connections_closed, stats.connection_errors,
            stats.replies_abandoned, stats.close_codes) == (0, 2, 1, 1, {"1011": 1, "1000": 1})
    assert server.open() is not None and stats.connections_peak == 2


def test_control_requests_answer_in_json_and_errors_are_counted():
    server = MockServerCore()
    answer, shutdown = server.control(b'{"op":"set_faults","faults":{"drop_ratio":0.5}}')
    assert orjson.loads(answer)["faults"]["drop_ratio"] == 0.5 and not shutdown
    for bad in (b"not json", b'{"op":"nope"}', b'{"op":"set_faults","faults":{"x":1}}', b"[]"):
        assert orjson.loads(server.control(bad)[0])["ok"] is False
    assert server.stats.control_errors == 4
    assert server.control('{"op":"shutdown"}') == (b'{"ok":true,"shutdown":true}', True)
    stats = orjson.loads(server.control(b'{"op":"stats"}')[0])
    assert stats["stats"]["control_errors"] == 4 and stats["faults"]["drop_ratio"] == 0.5


def test_ack_and_echo_exchanges_share_the_server_counters_and_faults():
    server = MockServerCore(mode="echo")
    a, b = server.open(), server.open()
    a.receive(b"1"), b.receive(b"22")
    server.faults.update(drop_ratio=1)
    assert b.receive(b"3") is None
    assert (server.stats.messages_received, server.stats.bytes_received,
            server.stats.messages_dropped) == (3, 4, 1)


# -- picows frames: fragments and close frames, for client and server alike -----------
class Frame:
    def __init__(self, payload: bytes, fin: bool = True, msg_type=None):
        self.payload, self.fin, self.msg_type = payload, fin, msg_type

    def get_payload_as_bytes(self) -> bytes:
        return self.payload


def test_fragments_are_put_back_together_at_the_last_frame():
    parts, message = reassemble(None, Frame(b"ab", fin=False))
    assert message is None
    parts, message = reassemble(parts, Frame(b"cd", fin=False))
    assert message is None
    assert reassemble(parts, Frame(b"ef")) == (None, b"abcdef")


@pytest.mark.parametrize("payload, expected", [(b"\x03\xe8bye", (1000, "bye")),
                                               (b"\x0f\xa0", (4000, "")),
                                               (b"", (1005, "")),
                                               (b"\x03\xf3\xff", (1011, "\ufffd"))])
def test_a_close_frame_gives_its_code_and_reason(payload, expected):
    assert read_close(Frame(payload)) == expected


# -- the picows engine carries the outputs out in order -------------------------------
class FakeTransport:
    def __init__(self):
        self.sent, self.is_disconnected = [], False

    def send(self, kind, data):
        self.sent.append((kind, data))

    def send_close(self, code, reason=b""):
        self.sent.append(("close", int(code), reason))

    def disconnect(self, *args):
        self.sent.append(("disconnected",))


def test_the_picows_listener_sends_the_outbox_then_closes_and_holds_in_a_timer():
    from picows import WSMsgType
    from WebSocketLoadLibrary.mockserver.picows_server import PicowsMockServer, _EchoListener

    async def run():
        server = PicowsMockServer(mode="echo")
        server.faults.update(disconnect_after=3)
        listener, transport = _EchoListener(server), FakeTransport()
        listener.on_ws_connected(transport)
        listener.on_ws_frame(transport, Frame(b"1", msg_type=WSMsgType.BINARY))
        listener.on_ws_frame(transport, Frame(b"2", fin=False, msg_type=WSMsgType.TEXT))
        listener.on_ws_frame(transport, Frame(b"2", msg_type=WSMsgType.CONTINUATION))
        server.faults.update(response_delay=0.01)
        listener.on_ws_frame(transport, Frame(b"3", msg_type=WSMsgType.TEXT))
        assert listener.timer is not None and listener.closing_on_purpose
        listener.on_ws_frame(transport, Frame(b"4", msg_type=WSMsgType.TEXT))  # not read
        listener.on_ws_disconnected(transport)
        return server.stats, transport.sent

    stats, sent = asyncio.run(run())
    assert sent == [(WSMsgType.BINARY, b"1"), (WSMsgType.TEXT, b"22"),
                    ("close", 1011, b"mock server fault: disconnect after 3 messages"),
                    ("disconnected",)]
    assert (stats.messages_received, stats.messages_sent, stats.replies_abandoned,
            stats.disconnects_injected, stats.close_codes, stats.connection_errors) == (
        3, 2, 1, 1, {"1011": 1}, 0)

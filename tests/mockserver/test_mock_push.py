"""The mock server's push protocol: publish/subscribe, stream mode, several replies per
message, heartbeats and welcomes, and the faults that act on them.

First the plain objects, called directly (mockserver/topics.py, streams.py, pushes.py,
commands.py and the Exchange's push outputs); then real server processes of both engines,
driven by `websockets` clients on loopback. Timing checks have wide margins: they say
"about this rate" or "this one later than that one", never fail on a busy machine.
"""
from __future__ import annotations

import time

import orjson
import pytest
from websockets.sync.client import connect as ws_connect

from fake_clock import Clock
from polling import wait_until
from WebSocketLoadLibrary.mockserver import ControlError, FAULT_NAMES, streams
from WebSocketLoadLibrary.mockserver.commands import COMMAND_PREFIX
from WebSocketLoadLibrary.mockserver.core import MockServerCore
from WebSocketLoadLibrary.mockserver.faults import Faults
from WebSocketLoadLibrary.mockserver.pipeline import Exchange, RepeatingExchange
from WebSocketLoadLibrary.mockserver.pushes import Heartbeats, OptionError, PushOptions
from WebSocketLoadLibrary.mockserver.stats import ServerStats
from WebSocketLoadLibrary.mockserver.streams import Stream, StreamError

from test_mockserver import stats_when

ENGINES = ("websockets", "picows")
TIMEOUT_S = 5.0


@pytest.fixture
def clock(clock, monkeypatch) -> Clock:
    """The pipeline's clock (conftest.py), and a wall clock that stands still for the
    streams' timestamps."""
    monkeypatch.setattr(streams.time, "time", lambda: 1733130000.123456)
    return clock


def command(**fields) -> bytes:
    return orjson.dumps(fields)


def sent(exchange: Exchange) -> list:
    """What the exchange has to send now, emptied as the engine would."""
    outbox, exchange.outbox = exchange.outbox, []
    return [item for _, item in outbox]


def answers(exchange: Exchange) -> list[dict]:
    return [orjson.loads(item) for item in sent(exchange)]


@pytest.fixture
def core() -> MockServerCore:
    return MockServerCore(mode="echo", faults=Faults(seed=2))


# == the plain objects ================================================================
def test_a_command_is_a_message_that_starts_with_the_op_key():
    assert command(op="subscribe", topic="t").startswith(COMMAND_PREFIX)
    assert not b'{ "op":"subscribe"}'.startswith(COMMAND_PREFIX)   # echoed, as before
    assert not b'{"topic":"t","op":"publish"}'.startswith(COMMAND_PREFIX)


def test_subscribers_hear_a_publish_in_its_very_bytes_and_the_publisher_does_not(core, clock):
    a, b, c = (core.open() for _ in range(3))
    for connection in (a, b, c):
        assert core.command(connection, command(op="subscribe", topic="t"), "TEXT") == [
            connection]
    assert [answers(x)[0]["subscribers"] for x in (a, b, c)] == [1, 2, 3]
    publish = b'{"op":"publish","topic":"t","price":1.5}'
    assert core.command(b, publish, "BINARY") == [a, c]
    assert a.outbox == [("BINARY", publish)] and c.outbox == [("BINARY", publish)]
    assert b.outbox == []  # no answer to the publisher
    counts = core.stats.topics["t"]
    assert (counts.subscribers, counts.published, counts.delivered, counts.unheard) == (3, 1, 2, 0)
    assert (core.stats.deliveries_sent, core.stats.messages_received) == (2, 4)


def test_unsubscribing_or_closing_leaves_a_topic(core, clock):
    a, b = core.open(), core.open()
    for topic in ("t", "u"):
        core.command(a, command(op="subscribe", topic=topic), "T")
    core.command(b, command(op="subscribe", topic="t"), "T")
    core.command(a, command(op="unsubscribe", topic="t"), "T")
    assert answers(a)[-1] == {"op": "unsubscribed", "topic": "t", "subscribers": 1}
    assert core.command(b, command(op="publish", topic="t"), "T") == []
    core.closed(a, 1000, False)
    assert core.stats.topics["u"].subscribers == 0 and core.topics.describe() == {"t": 1}


def test_a_publish_nobody_else_hears_is_counted_unheard(core, clock):
    a = core.open()
    core.command(a, command(op="publish", topic="empty"), "T")
    core.command(a, command(op="subscribe", topic="mine"), "T")
    core.command(a, command(op="publish", topic="mine"), "T")
    assert {name: (c.published, c.unheard) for name, c in core.stats.topics.items()} == {
        "empty": (1, 1), "mine": (1, 1)}


def test_reset_stats_zeroes_the_topic_counts_and_keeps_their_subscribers(core, clock):
    a, b = core.open(), core.open()
    core.command(a, command(op="subscribe", topic="t"), "T")
    core.command(b, command(op="publish", topic="t"), "T")
    core.command(b, command(op="publish", topic="gone"), "T")
    core.stats.reset()
    assert core.stats.topics_as_dict() == {"t": {"subscribers": 1, "published": 0,
                                                 "delivered": 0, "dropped": 0, "unheard": 0}}


def test_the_slow_subscriber_is_the_longest_subscribed_connection(core, clock):
    core.faults.update(slow_subscriber_delay=0.3)
    a, b, c = (core.open() for _ in range(3))
    core.command(a, command(op="subscribe", topic="x"), "T")
    core.command(b, command(op="subscribe", topic="t"), "T")
    core.command(a, command(op="subscribe", topic="t"), "T")
    sent(a), sent(b)
    core.command(c, command(op="publish", topic="t"), "T")
    assert sent(b) == [b'{"op":"publish","topic":"t"}'] and sent(a) == []
    assert a.next_due() == pytest.approx(1000.3)   # held, not dropped
    clock.now += 0.3
    assert a.pop_due(clock.now) == ("T", b'{"op":"publish","topic":"t"}')
    core.closed(a, 1000, False)                     # b is now the longest subscribed
    core.command(c, command(op="publish", topic="t"), "T")
    assert sent(b) == [] and b.next_due() == pytest.approx(1000.6)


def test_delivered_items_leave_in_order_behind_a_delayed_one(core, clock):
    core.faults.update(slow_subscriber_delay=0.5)
    a, b = core.open(), core.open()
    core.command(a, command(op="subscribe", topic="t"), "T")
    sent(a)
    core.command(b, command(op="publish", topic="t", n=1), "T")
    assert a.receive(b"echo me", "T") is None          # behind the held delivery
    clock.now += 0.5
    assert [a.pop_due(clock.now), a.pop_due(clock.now)] == [
        ("T", b'{"op":"publish","topic":"t","n":1}'), ("T", b"echo me")]
    assert (core.stats.deliveries_sent, core.stats.topics["t"].delivered) == (1, 1)


def test_drop_ratio_drops_deliveries_and_counts_them_per_topic(core, clock):
    core.faults.update(drop_ratio=1)
    a, b = core.open(), core.open()
    core.command(a, command(op="subscribe", topic="t"), "T")
    assert answers(a)[0]["op"] == "subscribed"       # answers are never dropped
    core.command(b, command(op="publish", topic="t"), "T")
    assert sent(a) == [] and not a.held
    assert (core.stats.deliveries_dropped, core.stats.topics["t"].dropped) == (1, 1)


@pytest.mark.parametrize("message, error", [
    (b'{"op":"dance"}', "unknown op 'dance'; known: publish, stop_stream, stream, subscribe, "
                        "unsubscribe"),
    (b'{"op":"subscribe"}', "subscribe: topic must be a non-empty string, got None"),
    (b'{"op":"publish","topic":""}', "publish: topic must be a non-empty string, got ''"),
    (b'{"op":"stream","rate":0,"count":5}', "stream: rate must be a number of messages/s above "
                                            "0, got 0"),
    (b'{"op":"stream","rate":100}', "stream: give count or duration (or both)"),
    (b'{"op":"stream","rate":"fast","count":1}', "stream: rate must be a number, got 'fast'"),
    (b'{"op":5}', "unknown op 5; known: publish, stop_stream, stream, subscribe, unsubscribe"),
])
def test_a_bad_command_gets_an_error_answer_and_is_counted(core, clock, message, error):
    a = core.open()
    assert core.command(a, message, "T") == [a]
    assert answers(a) == [{"op": "error", "error": error}]
    assert core.stats.invalid_commands == 1


def test_a_command_that_is_not_json_says_so(core, clock):
    a = core.open()
    core.command(a, b'{"op":subscribe}', "T")
    error = answers(a)[0]["error"]
    assert error.startswith('a message starting {"op": is a command, and this is not valid JSON')


# -- streams ---------------------------------------------------------------------------
def stream(rate=1000, faults=None, **fields) -> Stream:
    return Stream.from_command({"op": "stream", "rate": rate, **fields}, 1000.0,
                               faults or Faults(seed=1), ServerStats(), "TEXT")


def seqs(batch) -> list[int]:
    return [orjson.loads(message)["seq"] for message in batch]


def test_a_stream_sends_everything_due_on_an_absolute_schedule(clock):
    s = stream(rate=1000, count=50, size=4)
    first = s.due(1000.0)
    assert first == [b'{"seq":1,"ts":1733130000.123456,"payload":"xxxx"}']
    assert s.next_wake(1000.0) == pytest.approx(1000.001)
    assert seqs(s.due(1000.0105)) == list(range(2, 12))   # a late wake makes up at once
    assert s.due(1000.0105) == []
    assert seqs(s.due(2000.0)) == list(range(12, 51)) and not s.running
    assert s.next_wake(2000.0) is None and s.sent == 50


def test_at_high_rates_a_wake_sends_a_batch_not_one_message(clock):
    s = stream(rate=100_000, duration=1)
    s.due(1000.0)
    assert s.next_wake(1000.0) == pytest.approx(1000.0 + streams.MIN_WAKE_S)
    assert len(s.due(1000.001)) == 100


def test_a_duration_ends_the_stream_with_the_last_seq_due_within_it(clock):
    assert stream(rate=1000, duration=0.2).last == 200
    assert stream(rate=1000, duration=0.2, count=50).last == 50
    assert stream(rate=3, duration=1).last == 3


def test_sequence_gap_every_and_drop_ratio_leave_gaps_in_seq(clock):
    faults = Faults(seed=4)
    faults.update(sequence_gap_every=5)
    s = stream(count=20, faults=faults)
    assert seqs(s.due(2000.0)) == [n for n in range(1, 21) if n % 5]
    assert (s.stats.sequence_gaps, s.sent) == (4, 16)
    faults.update(sequence_gap_every=0, drop_ratio=0.5)
    s = stream(count=100, faults=faults)
    got = seqs(s.due(2000.0))
    assert 20 < len(got) < 80 and got == sorted(got)
    assert s.stats.pushes_dropped + len(got) == 100


def test_stream_messages_are_held_by_a_response_delay_and_counted_when_they_leave(core, clock):
    a = core.open()
    core.commands.handle(a, command(op="stream", rate=1000, count=3), "T", clock.now)
    assert answers(a) == [{"op": "streaming", "rate": 1000}]
    core.faults.update(response_delay=0.1)
    assert a.stream_due(clock.now) == [] and len(a.held) == 1
    clock.now += 0.1
    assert a.pop_due(clock.now)[1].startswith(b'{"seq":1,')
    assert core.stats.pushes_sent == 1


def test_stop_stream_answers_how_many_this_stream_sent(core, clock):
    a = core.open()
    core.commands.handle(a, command(op="stream", rate=1000, duration=10), "T", clock.now)
    sent(a)
    assert len(a.stream_due(clock.now + 0.0095)) == 10
    core.command(a, command(op="stop_stream"), "T")
    assert answers(a) == [{"op": "stream_stopped", "sent": 10}]
    assert a.stream_wake(clock.now) is None and a.stream_due(clock.now + 1) == []
    core.command(core.open(), command(op="stop_stream"), "T")   # none running: 0


def test_stream_arguments_are_checked():
    with pytest.raises(StreamError, match="count and duration must be above 0"):
        stream(count=0)
    with pytest.raises(StreamError, match="size must be 0..1048576 bytes, got -1"):
        stream(count=1, size=-1)
    with pytest.raises(StreamError, match="count must be a whole number"):
        stream(count=1.5)


# -- several replies per message ---------------------------------------------------------
def test_replies_three_in_ack_mode_gives_partial_partial_done(clock):
    core = MockServerCore(mode="ack", options=PushOptions(replies=3))
    a = core.open()
    assert type(a) is RepeatingExchange
    assert a.receive(b'{"message_id":7}', "T") is None
    acks = answers(a)
    assert [(x["message_id"], x["status"], x["part"], x["parts"]) for x in acks] == [
        (7, "partial", 1, 3), (7, "partial", 2, 3), (7, "done", 3, 3)]
    assert all("server_time" in x for x in acks)
    assert (core.stats.messages_received, core.stats.messages_sent) == (1, 3)


def test_replies_in_echo_mode_are_copies_and_set_options_changes_open_connections(core, clock):
    a = core.open()
    assert a.receive(b"hi") == b"hi"           # one reply: the plain Exchange, unchanged
    core.control(command(op="set_options", options={"replies": 2}))
    assert a.receive(b"hi") is None and sent(a) == [b"hi", b"hi"]
    core.faults.update(drop_ratio=1)
    assert a.receive(b"hi") is None and sent(a) == []   # a drop takes every copy
    core.control(command(op="set_options", options={"replies": 1}))
    assert type(a) is Exchange


def test_an_invalid_message_in_ack_mode_gets_one_error_however_many_replies(clock):
    core = MockServerCore(mode="ack", options=PushOptions(replies=3))
    a = core.open()
    a.receive(b"no id here")
    assert answers(a) == [{"error": "no message_id in message"}]


# -- heartbeats, welcome, options -------------------------------------------------------
def test_welcome_numbers_connections_and_heartbeats_reach_every_connection(clock):
    core = MockServerCore(options=PushOptions(welcome=True, heartbeat_interval=0.5))
    a, b = core.open(), core.open()
    assert [answers(x) for x in (a, b)] == [[{"type": "welcome", "connection": 1}],
                                            [{"type": "welcome", "connection": 2}]]
    wake = core.heartbeat_wake(10.0)
    assert wake == 10.5 and core.heartbeat(10.4) == []
    assert set(core.heartbeat(10.5)) == {a, b}
    assert answers(a)[0]["type"] == "heartbeat" and core.stats.pushes_sent == 4
    assert core.heartbeat_wake(10.5) == 11.0


def test_a_late_heartbeat_wake_sends_one_not_the_missed_ones():
    beats = Heartbeats(PushOptions(heartbeat_interval=1))
    beats.next_wake(0.0)
    assert beats.due(5.2) and not beats.due(5.3) and beats.next_wake(5.3) == 5.7


@pytest.mark.parametrize("options, error", [
    ({"replies": 0}, "option replies must be a whole number >= 1, got 0"),
    ({"heartbeat_interval": -1}, "option heartbeat_interval must be a number >= 0, got -1"),
    ({"welcome": "yes"}, "option welcome must be true or false, got 'yes'"),
    ({"tempo": 1}, "unknown option(s) ['tempo']; known: ['replies', 'heartbeat_interval', "
                   "'welcome']"),
])
def test_bad_options_are_refused_with_a_clear_message(options, error):
    with pytest.raises(OptionError) as refused:
        PushOptions().update(**options)
    assert str(refused.value) == error


def test_the_new_faults_are_known_and_cleared():
    assert {"slow_subscriber_delay", "sequence_gap_every"} <= set(FAULT_NAMES)
    faults = Faults()
    faults.update(slow_subscriber_delay=0.2, sequence_gap_every=7)
    assert (faults.slow_subscriber_delay, faults.sequence_gap_every) == (0.2, 7)
    faults.clear()
    assert (faults.slow_subscriber_delay, faults.sequence_gap_every) == (0.0, 0)


# == real servers, both engines ========================================================
def open_client(uri: str):
    return ws_connect(uri, proxy=None, open_timeout=TIMEOUT_S, close_timeout=2,
                      compression=None)


def ask(ws, **fields) -> dict:
    """Send a command, return the answer."""
    ws.send(orjson.dumps(fields).decode())
    return orjson.loads(ws.recv(timeout=TIMEOUT_S))


def next_is_echo(ws, probe: str = "probe") -> bool:
    """True when nothing else was waiting: the next message is the echo of `probe`."""
    ws.send(probe)
    return ws.recv(timeout=TIMEOUT_S) == probe


def receive_stream(ws, until_seq: int, timeout_s: float = TIMEOUT_S) -> list[tuple]:
    """(seq, ts, arrival) of stream messages up to `until_seq` or a quiet `timeout_s`."""
    got = []
    while not got or got[-1][0] < until_seq:
        try:
            message = orjson.loads(ws.recv(timeout=timeout_s))
        except TimeoutError:
            break
        got.append((message["seq"], message["ts"], time.monotonic()))
    return got


@pytest.fixture(scope="module", params=ENGINES)
def push_server(request):
    from WebSocketLoadLibrary.mockserver import MockServerProcess
    server = MockServerProcess(engine=request.param, compression=False, seed=5)
    server.start()
    yield server
    server.stop()


@pytest.fixture
def server(push_server):
    """The engine's shared server, with faults, options and counters as new."""
    push_server.clear_faults()
    push_server.set_options(replies=1, heartbeat_interval=0, welcome=False)
    push_server.control.reset_stats()
    return push_server


def test_publish_reaches_the_other_subscribers_in_its_bytes_and_frame_type(server):
    with open_client(server.uri) as a, open_client(server.uri) as b, \
            open_client(server.uri) as c:
        for n, ws in enumerate((a, b, c), 1):
            assert ask(ws, op="subscribe", topic="prices") == {
                "op": "subscribed", "topic": "prices", "subscribers": n}
        text = '{"op":"publish","topic":"prices","price":1.5,"note":"caf\u00e9"}'
        c.send(text)
        assert a.recv(timeout=TIMEOUT_S) == text and b.recv(timeout=TIMEOUT_S) == text
        binary = b'{"op":"publish","topic":"prices","raw":true}'
        a.send(binary)
        assert b.recv(timeout=TIMEOUT_S) == binary and c.recv(timeout=TIMEOUT_S) == binary
        assert next_is_echo(a) and next_is_echo(c)   # publishers got nothing
        assert ask(b, op="unsubscribe", topic="prices")["subscribers"] == 2
        c.send(text)
        assert a.recv(timeout=TIMEOUT_S) == text
        assert next_is_echo(b)                        # unsubscribed: nothing came
        stats = server.stats()
    assert stats["topics"]["prices"] == {"subscribers": 2, "published": 3, "delivered": 5,
                                         "dropped": 0, "unheard": 0}
    assert (stats["deliveries_sent"], stats["invalid_commands"]) == (5, 0)


def test_a_publish_to_a_topic_without_subscribers_is_counted_unheard(server):
    with open_client(server.uri) as a:
        a.send('{"op":"publish","topic":"void","x":1}')
        ask(a, op="subscribe", topic="self")
        a.send('{"op":"publish","topic":"self"}')
        assert next_is_echo(a)
        topics = server.stats()["topics"]
    assert (topics["void"]["unheard"], topics["self"]["unheard"]) == (1, 1)


def test_a_closed_subscriber_leaves_its_topics(server):
    with open_client(server.uri) as a:
        ask(a, op="subscribe", topic="t1")
        ask(a, op="subscribe", topic="t2")
    wait_until(lambda: not server.stats()["connections_active"], TIMEOUT_S)
    topics = server.stats()["topics"]
    assert topics["t1"]["subscribers"] == topics["t2"]["subscribers"] == 0


def test_a_stream_delivers_every_seq_in_order_at_about_its_rate(server):
    with open_client(server.uri) as ws:
        started = time.monotonic()
        assert ask(ws, op="stream", rate=1000, count=200, size=8) == {
            "op": "streaming", "rate": 1000}
        got = receive_stream(ws, 200)
        assert next_is_echo(ws)                 # the stream is over: nothing more
        stats = server.stats()
    assert [seq for seq, _, _ in got] == list(range(1, 201))
    stamps = [ts for _, ts, _ in got]
    assert stamps == sorted(stamps) and stamps[-1] > stamps[0]
    took = got[-1][2] - started
    assert 0.1 < took < 5.0, f"200 messages at 1000/s took {took:.3f} s"
    assert 0.1 < stamps[-1] - stamps[0] < 5.0
    assert stats["pushes_sent"] == 200


def test_a_stream_by_duration_ends_and_stop_stream_stops_one(server):
    with open_client(server.uri) as ws:
        ask(ws, op="stream", rate=200, duration=0.25)
        assert [seq for seq, _, _ in receive_stream(ws, 50)] == list(range(1, 51))
        ask(ws, op="stream", rate=100, duration=60, size=0)
        first = orjson.loads(ws.recv(timeout=TIMEOUT_S))
        assert first["seq"] == 1 and first["payload"] == ""
        ws.send('{"op":"stop_stream"}')
        while (message := orjson.loads(ws.recv(timeout=TIMEOUT_S))).get("op") is None:
            pass                                # messages sent before the stop got there
        assert message["op"] == "stream_stopped" and message["sent"] >= 1
        time.sleep(0.05)
        assert next_is_echo(ws)


def test_sequence_gap_every_skips_every_nth_seq(server):
    server.set_faults(sequence_gap_every=10)
    with open_client(server.uri) as ws:
        ask(ws, op="stream", rate=2000, count=50)
        got = [seq for seq, _, _ in receive_stream(ws, 49, timeout_s=1.0)]
        # seq 50, the last, is a gap too (while the connection is open: closing ends a stream)
        stats = stats_when(server, lambda stats: stats["sequence_gaps"] == 5)
        assert stats["sequence_gaps"] == 5
    assert got == [n for n in range(1, 50) if n % 10]


def test_drop_ratio_leaves_gaps_in_a_stream(server):
    server.set_faults(drop_ratio=0.3)
    with open_client(server.uri) as ws:
        ask(ws, op="stream", rate=2000, count=200)
        got = [seq for seq, _, _ in receive_stream(ws, 200, timeout_s=1.0)]
    stats = server.stats()
    assert got == sorted(set(got)) and 60 < len(got) < 200
    assert stats["pushes_dropped"] + len(got) == 200 == stats["pushes_dropped"] + stats[
        "pushes_sent"]


def test_slow_subscriber_delay_delays_one_subscriber_only(server):
    server.set_faults(slow_subscriber_delay=0.3)
    with open_client(server.uri) as slow, open_client(server.uri) as quick, \
            open_client(server.uri) as publisher:
        ask(slow, op="subscribe", topic="t")    # the first to subscribe: the slow one
        ask(quick, op="subscribe", topic="t")
        sent_at = time.monotonic()
        publisher.send('{"op":"publish","topic":"t","n":1}')
        quick.recv(timeout=TIMEOUT_S)
        quick_took = time.monotonic() - sent_at
        slow.recv(timeout=TIMEOUT_S)
        slow_took = time.monotonic() - sent_at
    assert slow_took >= 0.28, f"the slow subscriber's delivery came after {slow_took:.3f} s"
    assert slow_took - quick_took > 0.15, (quick_took, slow_took)


def test_replies_three_in_ack_and_echo_mode(server, start_server):
    ack = start_server(engine=server.ready["engine"], mode="ack", replies=3, compression=False)
    with open_client(ack.uri) as ws:
        ws.send('{"message_id":42,"p":"x"}')
        replies = [orjson.loads(ws.recv(timeout=TIMEOUT_S)) for _ in range(3)]
    assert [(r["message_id"], r["status"], r["part"], r["parts"]) for r in replies] == [
        (42, "partial", 1, 3), (42, "partial", 2, 3), (42, "done", 3, 3)]
    server.set_options(replies=3)
    with open_client(server.uri) as ws:
        ws.send("echo")
        assert [ws.recv(timeout=TIMEOUT_S) for _ in range(3)] == ["echo"] * 3
        server.set_options(replies=1)
        assert next_is_echo(ws)                 # one reply again, on the same connection
    assert ack.stats()["messages_sent"] == 3


def test_heartbeats_and_a_welcome_arrive(server, start_server):
    pushing = start_server(engine=server.ready["engine"], welcome=True, heartbeat=0.1,
                           compression=False)
    with open_client(pushing.uri) as ws:
        welcome = orjson.loads(ws.recv(timeout=TIMEOUT_S))
        beats = [orjson.loads(ws.recv(timeout=TIMEOUT_S)) for _ in range(3)]
    assert welcome == {"type": "welcome", "connection": 1}
    assert [beat["type"] for beat in beats] == ["heartbeat"] * 3
    assert beats[0]["ts"] < beats[1]["ts"] < beats[2]["ts"]
    assert pushing.stats()["pushes_sent"] >= 4
    server.set_options(heartbeat_interval=0.05)  # switched on while it runs
    with open_client(server.uri) as ws:
        assert orjson.loads(ws.recv(timeout=TIMEOUT_S))["type"] == "heartbeat"


def test_bad_commands_get_errors_and_the_connection_stays_usable(server):
    with open_client(server.uri) as ws:
        assert ask(ws, op="nope") == {"op": "error", "error": "unknown op 'nope'; known: "
                                      "publish, stop_stream, stream, subscribe, unsubscribe"}
        assert ask(ws, op="subscribe")["op"] == "error"
        assert ask(ws, op="stream", rate=-5, count=3)["error"].startswith("stream: rate")
        ws.send('{"op":not json')
        assert "not valid JSON" in orjson.loads(ws.recv(timeout=TIMEOUT_S))["error"]
        assert next_is_echo(ws, '{ "op":"subscribe"}')   # not a command: echoed
        assert ask(ws, op="subscribe", topic="ok")["op"] == "subscribed"
    assert server.stats()["invalid_commands"] == 4


def test_set_options_refuses_a_bad_value_and_start_options_reach_the_command_line(server):
    with pytest.raises(ControlError, match="option replies must be a whole number >= 1"):
        server.set_options(replies=0)
    assert server.stats()["options"] == {"replies": 1, "heartbeat_interval": 0.0,
                                         "welcome": False}

"""Listen-only steps: what a server pushes is counted, sequenced and aged, per connection."""
from __future__ import annotations

import asyncio
import time

import pytest

from step_books import Books
from thread_server import ThreadServer
from WebSocketLoadLibrary.engine import ConnectionOptions, LoadEngine, protocol_named
from WebSocketLoadLibrary.engine.protocols import mqtt_packets
from WebSocketLoadLibrary.engine.protocols.base import Protocol
from WebSocketLoadLibrary.engine.transport.frames import WholeMessage
from WebSocketLoadLibrary.engine.errors import PlanError
from WebSocketLoadLibrary.engine.plan.messages import MessageTemplate
from WebSocketLoadLibrary.engine.plan.load_plan import LoadPlan
from WebSocketLoadLibrary.engine.results.result import LoadResult
from WebSocketLoadLibrary.engine.patterns.listen_only.figures import StreamFigures
from WebSocketLoadLibrary.engine.plan.specs import StreamSpec
from WebSocketLoadLibrary.engine.patterns.listen_only.tracker import StreamTracker
from WebSocketLoadLibrary.errors import UsageError


def _tracker(connections=2, **spec):
    book = Books(connections, MessageTemplate().id_extractor())
    tracker = StreamTracker(StreamSpec(**spec), book.recorder, connections)
    receivers = tracker.frame_receivers([None] * connections)
    from WebSocketLoadLibrary.engine.transport.frames import WholeMessage

    def deliver(slot, message, at):
        receivers[slot](None, WholeMessage(message, at))
    return tracker, book.recorder, deliver


def test_sequence_numbers_give_missing_duplicate_and_out_of_order_per_connection():
    tracker, book, deliver = _tracker(sequence_field="seq")
    for n in (5, 6, 9, 7, 7, 10, 12):          # joins at 5; 7, 8 and 11 skipped; 7 late, then again
        deliver(0, b'{"seq":%d}' % n, 1.0)
    for n in (1, 2, 3):                          # the other connection has its own numbers
        deliver(1, b'{"seq": %d, "x": 1}' % n, 1.0)
    deliver(1, b'{"other":1}', 1.0)
    assert (tracker.missing, tracker.out_of_order, tracker.duplicates) == (2, 1, 1)
    assert tracker.without_sequence == 1
    assert tracker.messages == [7, 4] and book.received == 11


@pytest.mark.parametrize("unit, value", [("s", b"%.6f"), ("ms", b"%.3f"), ("iso", None)])
def test_staleness_is_arrival_minus_server_time_with_the_clock_offset(unit, value):
    tracker, book, deliver = _tracker(timestamp_field="ts", timestamp_unit=unit,
                                      clock_offset_s=0.5)
    sent = time.time() - 0.2    # the server's clock is 0.5 s ahead: the true age is 0.7 s
    if unit == "iso":
        from datetime import datetime, timezone
        stamp = b'"' + datetime.fromtimestamp(sent, timezone.utc).isoformat().encode() + b'"'
    else:
        stamp = value % (sent * (1000 if unit == "ms" else 1))
    for _ in range(3):
        deliver(0, b'{"ts":' + stamp + b'}', time.perf_counter())
    deliver(0, b'{"ts":"not a time"}' if unit != "iso" else b'{"ts":"x"}', time.perf_counter())
    deliver(0, b'{"ts":%.6f}' % (time.time() + 3600) if unit == "s" else b'{}', time.perf_counter())
    book.flush()
    figures = StreamFigures.of(tracker, 1.0)
    assert figures.staleness_ms(50) == pytest.approx(700, abs=30)
    assert figures.without_timestamp == (1 if unit == "s" else 2)
    assert figures.future_timestamps == (1 if unit == "s" else 0)


def test_stream_figures_merge_and_travel_in_saved_results():
    tracker, book, deliver = _tracker(sequence_field="seq", timestamp_field="ts")
    for n in (1, 2, 4):
        deliver(0, b'{"seq":%d,"ts":%.6f}' % (n, time.time()), time.perf_counter())
    deliver(1, b'{"seq":1,"ts":%.6f}' % time.time(), time.perf_counter())
    book.flush()
    figures = StreamFigures.of(tracker, 2.0)
    assert (figures.messages, figures.missing, figures.slowest_connection) == (4, 1, 1)
    result = LoadResult(name="s", mode="listen", sections={"stream": figures})
    again = LoadResult.from_dict(result.to_dict())
    merged = LoadResult.merge([again, LoadResult.from_dict(result.to_dict())])
    stream = merged.sections["stream"]
    assert (stream.messages, stream.missing, stream.connections) == (8, 2, 4)
    assert stream.staleness.count == 8
    summary = merged.summary()
    assert summary["stream_messages"] == 8 and summary["stream_missing"] == 2
    assert "staleness_p99_ms" in summary


def test_bad_stream_arguments_are_clear_errors():
    with pytest.raises(UsageError, match="timestamp unit must be one of"):
        StreamSpec(timestamp_unit="minutes")
    with pytest.raises(UsageError, match="sequence field must be a field name"):
        StreamSpec(sequence_field="a b")
    with pytest.raises(PlanError, match="no rate"):
        LoadPlan(rate=100, duration_s=1, listen=StreamSpec())


class StreamServer(ThreadServer):
    """Pushes `{"seq":n,"ts":...}` to every connection at `rate`, skipping `skip`."""

    def __init__(self, rate=500, skip=()):
        self.rate, self.skip = rate, set(skip)
        super().__init__()

    async def handle(self, ws):
        n, start = 0, time.perf_counter()
        while True:
            n += 1
            await asyncio.sleep(max(0.0, start + n / self.rate - time.perf_counter()))
            if n not in self.skip:
                await ws.send('{"seq":%d,"ts":%.6f,"payload":"xx"}' % (n, time.time()))


@pytest.mark.parametrize("transport", ["websockets", "picows"])
def test_a_listen_only_step_measures_the_stream_for_its_duration(transport):
    server, engine = StreamServer(rate=500, skip={20, 21}), LoadEngine()
    try:
        pool = engine.connect(ConnectionOptions(server.uri, transport=transport), count=2)
        result = engine.run_step(pool, LoadPlan(
            duration_s=1.0, name="listen", listen=StreamSpec("seq", "ts")))
        stream = result.sections["stream"]
        assert result.mode == "listen" and result.sent == 0 and result.load_applied
        # wide bounds: a busy machine slows the thread server, never the bookkeeping
        assert 100 <= stream.messages <= 1100 and stream.messages == result.received
        assert stream.missing == 2 * 2 and stream.duplicates == 0     # 20, 21 on each
        assert stream.staleness.percentile_us(50) < 500_000
        assert stream.gap.percentile_us(50) > 0
        assert result.summary()["stream_rate"] > 0
        count = engine.run_step(pool, LoadPlan(messages=50, listen=StreamSpec()))
        assert 50 <= count.received < 400 and count.duration_s < 5
    finally:
        engine.close()
        server.close()


def _stomp_message(seq: int) -> bytes:
    body = b'{"seq":%d}' % seq
    return (b"MESSAGE\nsubscription:0\ndestination:/topic/t\nmessage-id:%d\n"
            b"content-length:%d\n\n%s\0" % (seq, len(body), body))


MALFORMED_DELIVERIES = {
    "stomp": ([_stomp_message(n) for n in range(1, 10)], [b"\n"],     # a heart-beat
              [b"MESSAGE\nsubscription:0\ncontent-length:99\n\n{}\0",  # a wrong length
               b"MESSAGE\nsubscription:0\n\n{}",                        # no NUL
               b"not a frame at all"]),
    "mqtt": ([mqtt_packets.publish("t", b'{"seq":%d}' % n) for n in range(1, 10)],
             [b"\xd0\x00"],                                            # a PINGRESP
             [mqtt_packets.publish("t", b'{"seq":1}')[:-2],            # cut short
              b"\x30\x7f\x00", b"\x00garbage"]),
}


@pytest.mark.parametrize("name", sorted(MALFORMED_DELIVERIES))
def test_malformed_deliveries_on_a_protocols_stream_are_counted_as_other_messages(name):
    """Over a protocol, what is neither the protocol's own (answered by its session) nor
    a delivery -- a malformed MESSAGE or PUBLISH, garbage -- is counted and shown as
    another message, not dropped without a trace; deliveries are counted as ever."""
    protocol = protocol_named(name, subscribe="t")
    session = protocol.session(0)
    handled = []

    def control(slot, message):                 # the step's controller, for one connection
        answer = session.control(message)
        handled.extend([message] if answer is not None else [])
        return answer is not None
    tracker = StreamTracker(StreamSpec(sequence_field="seq"),
                            Books(1, MessageTemplate().id_extractor()).recorder, 1)
    plain = type(protocol).plain_delivery       # as the listen-only driver wires them
    tracker.speaks(control, protocol.payload,
                   None if plain is Protocol.plain_delivery else protocol.plain_delivery)
    receive = tracker.frame_receivers([None])[0]

    def deliver(slot, message, at):
        receive(None, WholeMessage(message, at))
    good, own, bad = MALFORMED_DELIVERIES[name]
    for n, message in enumerate(good):
        deliver(0, message, 1.0)
        for extra in own + ([bad[n // 3]] if n % 3 == 2 else []):
            deliver(0, extra, 1.0)
    figures = StreamFigures.of(tracker, 1.0)
    assert figures.messages == 9 and figures.missing == 0 and figures.without_sequence == 0
    assert figures.other == 3 and len(handled) == 9
    assert ("other messages: neither the protocol's own nor a delivery (malformed?)",
            "3") in figures.rows()
    assert StreamFigures.from_dict(figures.to_dict()).other == 3
    assert StreamFigures.merged([figures, figures]).other == 6

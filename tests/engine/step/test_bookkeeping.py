"""A step's books, driven without a network: latency from the intended time, replies matched
per connection and once, timeouts, the per-second timeline, and flushes that lose nothing."""
from __future__ import annotations

import pytest

from step_books import Books
from WebSocketLoadLibrary.engine import MessageTemplate


def _book(connections=2, interval=0.001):
    return Books(connections, MessageTemplate().extract_id, id_base=1000, start=10.0,
                 interval=interval)


def test_latency_is_measured_from_the_intended_time_and_service_time_from_the_send():
    book = _book()
    # message 1005 was due at 10.005 but went out late at 10.105; reply at 10.110
    book.sent_one(1, 1005, 10.105)
    book.reply(1, b'{"message_id":1005}', 10.110)
    book.close_second()
    assert book.received == 1
    assert book.latency.percentile_us(50) == pytest.approx(105_000, rel=0.001)
    assert book.service_time.percentile_us(50) == pytest.approx(5_000, rel=0.001)


def test_replies_are_matched_per_connection_and_counted_once():
    book = _book()
    book.sent_one(0, 1000, 10.0)
    book.reply(1, b'{"message_id":1000}', 10.01)   # wrong connection
    book.reply(0, b'{"message_id":1000}', 10.02)
    book.reply(0, b'{"message_id":1000}', 10.03)   # duplicate
    book.reply(0, b'not json', 10.04)
    assert (book.received, book.unmatched, book.invalid_replies) == (1, 2, 1)


def test_messages_past_the_timeout_are_lost_and_late_replies_do_not_match():
    book = _book()
    for k in range(5):
        book.sent_one(k % 2, 1000 + k, 10.0 + k)
    assert book.expire(now=12.5, timeout_s=1.0) == [1, 1]   # sent at 10.0 and 11.0
    assert book.lost == 2 and book.in_flight() == 3
    book.reply(0, b'{"message_id":1000}', 12.6)
    assert book.unmatched == 1
    assert book.abandon(0) == 2 and book.lost == 4


def test_timeline_has_one_point_per_second_with_counts_and_percentiles():
    book = _book(connections=1)
    for k in range(10):
        book.sent_one(0, 1000 + k, 10.0 + k * 0.001)
        book.reply(0, b'{"message_id":%d}' % (1000 + k), 10.002 + k * 0.001)
    first = book.close_second()
    book.sent_one(0, 1010, 11.0)
    second = book.close_second()
    assert (first["sent"], first["received"], first["second"]) == (10, 10, 0)
    assert first["latency_p50_ms"] == pytest.approx(2.0, abs=0.01)
    assert (second["sent"], second["received"], second["second"]) == (1, 0, 1)
    assert book.latency.count == 10


@pytest.mark.parametrize("interval", [0.001, None], ids=["open loop", "closed loop"])
def test_a_flush_stopped_between_lists_neither_loses_nor_repeats_a_value(interval):
    book = _book(connections=1, interval=interval)
    for k in range(30):
        book.sent_one(0, 1000 + k, 10.0 + k * 0.001)
        book.lagging(0.0001)
        if k < 20:
            book.reply(0, b'{"message_id":%d}' % (1000 + k), 10.002 + k * 0.001)
    flushing = book.flushing()
    next(flushing)
    flushing.close()  # as when the tick task is cancelled at its first yield
    for k in range(20, 30):
        book.reply(0, b'{"message_id":%d}' % (1000 + k), 10.002 + k * 0.001)
    book.close_second()
    assert book.latency.count == book.service_time.count == book.received == 30
    assert book.lag.count == 30


@pytest.mark.parametrize("interval", [0.001, None], ids=["open loop", "closed loop"])
def test_a_flush_yields_after_each_chunk_and_a_stop_midway_loses_nothing(interval):
    from WebSocketLoadLibrary.engine.results.histogram import CHUNK
    total = 2 * CHUNK + 100
    book = _book(connections=1, interval=interval)
    for k in range(total):
        book.sent_one(0, 1000 + k, 10.0)
        book.reply(0, b'{"message_id":%d}' % (1000 + k), 10.002)
    flushing = book.flushing()
    next(flushing)  # one chunk recorded and cut, the loop let through
    assert len(book.latency_s) == total - CHUNK
    flushing.close()
    lists = 1 if interval is None else 2  # closed loop: latency and service time share one
    assert sum(1 for _ in book.flushing()) == 3 * lists - 1  # the rest: chunk, chunk, chunk
    book.close_second()
    assert book.latency.count == book.service_time.count == book.received == total

"""The engine's plain parts, driven without a network: histogram, template, schedule,
bookkeeping, result serialisation and merging."""
from __future__ import annotations

import random

import pytest
from hdrh.histogram import HdrHistogram

from WebSocketLoadLibrary.engine import (LatencyHistogram, LoadPlan, LoadResult, MessageTemplate,
                                         OpenLoopSchedule, PlanError, TemplateError)
from step_books import Books


# -- histogram -------------------------------------------------------------------------
def test_batch_recording_fills_the_same_buckets_as_hdrhistogram_record_value():
    rng = random.Random(7)
    values = [rng.choice([rng.randint(1, 2000), rng.randint(1, 10**6), rng.randint(1, 3 * 10**9)])
              for _ in range(5000)] + [1, 2047, 2048, 2049, 2**20, 2**31]
    reference = HdrHistogram(1, 3_600_000_000, 3)
    for value in values:
        reference.record_value(value)
    ours = LatencyHistogram()
    ours.record_many(values)
    assert list(ours._counts) == list(reference.counts)
    assert (ours.count, ours.min_us(), ours.max_us()) == (
        reference.get_total_count(), reference.get_min_value(), reference.get_max_value())
    for percentile in (0, 1, 50, 90, 95, 99, 99.9, 100):
        assert ours.percentile_us(percentile) == reference.get_value_at_percentile(percentile)


def test_batches_longer_than_one_chunk_fill_the_same_buckets_and_leave_the_input_alone():
    import numpy as np
    from WebSocketLoadLibrary.engine.results.histogram import CHUNK
    rng = random.Random(11)
    values = [rng.randint(1, 3 * 10**9) for _ in range(2 * CHUNK + 123)]
    reference = HdrHistogram(1, 3_600_000_000, 3)
    for value in values:
        reference.record_value(value)
    given = np.array(values, dtype=np.int64)
    from_list, from_array, from_seconds = LatencyHistogram(), LatencyHistogram(), LatencyHistogram()
    assert from_list.record_many(values) == len(values)
    from_array.record_many(given)
    from_seconds.record_seconds([v / 1e6 + 1e-9 for v in values])
    for ours in (from_list, from_array, from_seconds):
        assert list(ours._counts) == list(reference.counts)
        assert (ours.count, ours.min_us(), ours.max_us()) == (
            reference.get_total_count(), reference.get_min_value(), reference.get_max_value())
    assert given.tolist() == values
    out_of_range = np.array([0, -5, 7], dtype=np.int64)
    LatencyHistogram().record_many(out_of_range)
    assert out_of_range.tolist() == [0, -5, 7]  # clamped in a copy, not in the caller's array


def test_values_out_of_range_are_clamped_not_dropped():
    histogram = LatencyHistogram()
    histogram.record_many([-5, 0, 10**13])
    assert histogram.count == 3
    assert histogram.min_us() == 1
    assert histogram.max_us() >= 3_600_000_000


def test_encoded_histograms_merge_into_true_percentiles():
    rng = random.Random(3)
    fast = [rng.randint(100, 1000) for _ in range(9000)]
    slow = [rng.randint(50_000, 90_000) for _ in range(1000)]
    a, b, whole = LatencyHistogram(), LatencyHistogram(), LatencyHistogram()
    a.record_many(fast)
    b.record_many(slow)
    whole.record_many(fast + slow)
    merged = LatencyHistogram.merged([LatencyHistogram.decode(a.encode()),
                                      LatencyHistogram.decode(b.encode())])
    assert merged.count == 10_000
    for percentile in (50, 95, 99):
        assert merged.percentile_us(percentile) == whole.percentile_us(percentile)
    # the p95 of the whole is in the slow part: an average of the parts' p95 would be wrong
    assert merged.percentile_us(95) > 50_000


# -- templates -------------------------------------------------------------------------
def test_default_template_renders_json_with_id_send_time_and_payload_of_given_size():
    template = MessageTemplate(payload_size=100)
    import orjson
    message = orjson.loads(template.renderer()(42, 0))
    assert message["message_id"] == 42
    assert len(message["payload"]) == 100
    assert message["send_time"] > 1.6e9


def test_id_is_found_in_echoed_and_reordered_and_nested_replies():
    template = MessageTemplate()
    assert template.extract_id(template.render(123)) == 123
    assert template.extract_id(b'{"status":"ok","message_id":77}') == 77
    assert template.extract_id('{"message_id": "88"}') == 88
    nested = MessageTemplate('{"data":{"id":$message_id},"p":"$payload"}', id_field="data.id")
    assert nested.extract_id(nested.render(5)) == 5


def test_non_json_protocols_use_an_id_pattern():
    template = MessageTemplate("PING $message_id $payload", id_pattern=r"PONG (\d+)",
                               payload_size=3)
    assert template.render(9) == b"PING 9 xxx"
    assert template.extract_id(b"PONG 9") == 9
    with pytest.raises(ValueError):
        template.extract_id(b"PING 9")


@pytest.mark.parametrize("reply", [b"#garbled#}9:di", b'{"other": 1}', b'{"message_id": true}', b""])
def test_replies_without_an_id_raise_value_error(reply):
    with pytest.raises((ValueError, KeyError)):
        MessageTemplate().extract_id(reply)


@pytest.mark.parametrize("text, message", [
    ('{"x": 1}', "no $message_id"),
    ('{"id": $message_id, "t": $sendtime}', "unknown placeholder $sendtime"),
])
def test_bad_templates_are_refused_with_a_clear_message(text, message):
    with pytest.raises(TemplateError, match=message.replace("$", r"\$")):
        MessageTemplate(text)


# -- schedule and plan -----------------------------------------------------------------
def test_schedule_makes_a_message_due_at_its_intended_time_and_not_before():
    schedule = OpenLoopSchedule(rate=1000, messages=10, start=100.0)
    assert schedule.due_count(99.999) == 0
    assert schedule.due_count(100.0) == 1
    assert schedule.due_count(100.0009) == 1
    assert schedule.due_count(100.001) == 2
    assert schedule.due_count(200.0) == 10
    for k in range(10):
        assert schedule.due_count(schedule.intended_time(k)) == k + 1


def test_schedule_at_odd_rates_never_releases_early():
    schedule = OpenLoopSchedule(rate=3, messages=1000, start=0.1)
    for k in range(1000):
        t = schedule.intended_time(k)
        assert schedule.due_count(t) == k + 1
        assert schedule.due_count(t - 1e-9) == k


@pytest.mark.parametrize("kwargs, message", [
    (dict(rate=0, messages=1), "rate must be a positive"),
    (dict(rate=100), "message count or a duration"),
    (dict(rate=100, messages=0), "at least 1"),
    (dict(rate=100, duration_s=-1), "duration must be positive"),
    (dict(rate=None, messages=10, window=0), "window"),
])
def test_plans_that_cannot_run_are_refused(kwargs, message):
    with pytest.raises(PlanError, match=message):
        LoadPlan(**kwargs)


# -- bookkeeping -----------------------------------------------------------------------
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


# -- generator honesty -------------------------------------------------------------------
def test_unread_bytes_are_what_arrived_on_the_sockets_and_was_not_read():
    import socket
    from WebSocketLoadLibrary.engine.runtime.resources import UnreadBytes
    pairs = [socket.socketpair() for _ in range(3)]
    try:
        for n, (_, far) in enumerate(pairs):
            far.sendall(b"x" * 1000 * (n + 1))
        probe = UnreadBytes([near.fileno() for near, _ in pairs] + [-1])
        assert probe.per_connection() == 2000
        pairs[0][0].recv(1000)
        assert probe.per_connection() == 5000 / 3
    finally:
        for near, far in pairs:
            near.close()
            far.close()
    assert probe.per_connection() is None  # closed sockets are skipped, not fatal


# -- result ----------------------------------------------------------------------------
def _result(name, latencies_us, sent, received, started_at=1000.0):
    result = LoadResult(name=name, target_rate=100.0, connections=1, planned_messages=sent,
                        sent=sent, received=received, lost=sent - received,
                        achieved_send_rate=100.0, achieved_receive_rate=99.0,
                        started_at=started_at)
    result.latency.record_many(latencies_us)
    result.timeline = [{"second": 0, "sent": sent, "received": received, "lost": sent - received,
                        "latency_histogram": result.latency.encode()}]
    return result


def test_result_round_trips_through_json_with_its_histograms():
    import orjson
    result = _result("a", [1000, 2000, 3000], sent=4, received=3)
    copy = LoadResult.from_dict(orjson.loads(orjson.dumps(result.to_dict())))
    assert copy.summary() == result.summary()
    assert copy.latency.percentile_us(99) == result.latency.percentile_us(99)
    assert copy.delivery_ratio == 0.75


def test_merged_results_sum_counters_and_merge_histograms():
    a = _result("a", [1000] * 90, sent=100, received=90)
    b = _result("b", [50_000] * 10, sent=10, received=10, started_at=1001.2)
    merged = LoadResult.merge([a, b])
    assert (merged.sent, merged.received, merged.lost, merged.connections) == (110, 100, 10, 2)
    assert merged.target_rate == 100.0   # b started after a: see test_merge_rates.py
    assert merged.latency.count == 100
    assert merged.reply_latency_ms(95) == pytest.approx(50.0, rel=0.01)
    # the one definition ranks the 10 lost above every reply: p95 is among them
    assert merged.latency_ms(95) == float("inf") and merged.summary()["latency_p95_ms"] is None
    assert merged.latency_ms(90) == pytest.approx(50.0, rel=0.01)
    assert [p["second"] for p in merged.timeline] == [0, 1]
    assert merged.parts == ["a", "b"]


def test_histogram_add_and_reset_match_the_reference_hdrhistogram():
    import random

    from hdrh.histogram import HdrHistogram

    from WebSocketLoadLibrary.engine.results.histogram import LatencyHistogram
    rng = random.Random(5)
    first = [rng.randint(1, 5_000) for _ in range(3000)]
    second = [rng.randint(1, 2_000_000) for _ in range(2000)]  # reaches further slots
    a, b = LatencyHistogram(), LatencyHistogram()
    a.record_many(first)
    b.record_many(second)
    a.add(b)
    reference = HdrHistogram(1, 3_600_000_000, 3)
    for value in first + second:
        reference.record_value(value)
    assert a.count == reference.get_total_count()
    assert (a.min_us(), a.max_us()) == (reference.get_min_value(), reference.get_max_value())
    for p in (1, 50, 90, 99, 99.9, 100):
        assert a.percentile_us(p) == reference.get_value_at_percentile(p)
    assert list(a._counts) == list(reference.counts)
    a.reset()
    assert a.count == 0 and not a._counts.any() and a.percentile_us(99) == 0
    a.record_many([7])
    assert a.percentile_us(50) == 7 and a.max_us() == 7


# -- keyword arguments -----------------------------------------------------------------
@pytest.mark.parametrize("text, seconds", [("0.5 ms", 0.0005), ("250 us", 0.00025),
                                           ("200 ms", 0.2), ("1.5 s", 1.5), ("00:01:30", 90.0),
                                           ("0.0004", 0.0004)])
def test_durations_keep_fractions_of_a_millisecond(text, seconds):
    from WebSocketLoadLibrary.utils.arguments import Duration
    # Robot's own conversion rounds to whole milliseconds: 0.5 ms would be checked as 1 ms
    assert Duration.from_text(text) == pytest.approx(seconds, rel=1e-9)

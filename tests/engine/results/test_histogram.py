"""The latency histogram: the same buckets and percentiles as the reference HdrHistogram,
batches of any length, clamped values, and merging of encoded histograms."""
from __future__ import annotations

import random

from hdrh.histogram import HdrHistogram

from WebSocketLoadLibrary.engine import LatencyHistogram


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
    # the mean from the counts at once, HdrHistogram's own (a walk in Python) to 1e-12
    assert abs(ours.mean_us() - reference.get_mean_value()) <= 1e-12 * reference.get_mean_value()
    assert LatencyHistogram().mean_us() == 0.0


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


def test_histogram_add_and_reset_match_the_reference_hdrhistogram():
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

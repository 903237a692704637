"""HdrHistogram of latencies in microseconds, recorded in batches.

The `hdrhistogram` package records one value at a time in pure Python (~0.85 us per
value). The hot path instead appends plain ints to a list, and `record_many` turns a
batch into counts-array indexes with numpy, using the same bucket arithmetic as
`HdrHistogram._counts_index_for`. Encoding, decoding and merging stay the package's own,
so histograms remain exchangeable with every other HdrHistogram implementation.
"""
from __future__ import annotations

import sys

import numpy as np
from hdrh.histogram import HdrHistogram

LOWEST_US = 1
HIGHEST_US = 3_600_000_000  # one hour: anything slower is clamped, not dropped
SIGNIFICANT_FIGURES = 3
# values per numpy pass: each temporary array then stays under glibc's 128 KB mmap threshold.
# Above it every temporary is a fresh mmap, page-faulted in and unmapped again: measured
# here, 16 ns per value in passes of 8,192 against 40-45 ns in one pass of 16k or more
# (227k values: ~10 ms at once, the pause that a once-a-second flush put into the pacer)
CHUNK = 8192


class LatencyHistogram:
    """A latency distribution in microseconds with exact HdrHistogram percentiles."""

    def __init__(self, hdr: HdrHistogram | None = None):
        self.hdr = hdr or HdrHistogram(LOWEST_US, HIGHEST_US, SIGNIFICANT_FIGURES)
        self._counts = np.ctypeslib.as_array(self.hdr.counts)
        h = self.hdr
        self._unit_magnitude = h.unit_magnitude
        self._sub_bucket_mask = h.sub_bucket_mask
        self._half_count_magnitude = h.sub_bucket_half_count_magnitude
        self._half_count = h.sub_bucket_half_count
        self._highest = h.get_highest_equivalent_value(h.get_value_from_index(h.counts_len - 1))

    # -- recording ---------------------------------------------------------------------
    def counts_indexes(self, values_us: np.ndarray) -> np.ndarray:
        """Vectorised `HdrHistogram._counts_index_for` for int64 values >= 0."""
        masked = values_us | self._sub_bucket_mask
        # frexp's exponent is the bit length for integers below 2**53
        bit_length = np.frexp(masked.astype(np.float64))[1].astype(np.int64)
        bucket = bit_length - self._unit_magnitude - (self._half_count_magnitude + 1)
        sub_bucket = values_us >> (bucket + self._unit_magnitude)
        return ((bucket + 1) << self._half_count_magnitude) + (sub_bucket - self._half_count)

    def record_many(self, values_us) -> int:
        """Record a batch of latencies (ints, microseconds). Returns how many were recorded."""
        total = len(values_us)
        for begin in range(0, total, CHUNK):
            self._record_chunk(np.asarray(values_us[begin:begin + CHUNK], dtype=np.int64))
        return total

    def record_seconds(self, values_s) -> int:
        """Record a batch of latencies given as float seconds."""
        total = len(values_s)
        for begin in range(0, total, CHUNK):
            chunk = np.asarray(values_s[begin:begin + CHUNK], dtype=np.float64)
            self._record_chunk((chunk * 1e6).astype(np.int64))
        return total

    def _record_chunk(self, values: np.ndarray) -> None:
        if values.base is not None or not values.flags.writeable:
            values = values.copy()  # clipped in place below: never the caller's array
        np.clip(values, LOWEST_US, self._highest, out=values)
        indexes = self.counts_indexes(values)
        # only up to the largest index: the counts array has ~23k slots, a second of
        # millisecond latencies touches the first few thousand
        counts = np.bincount(indexes)
        self._counts[:len(counts)] += counts.astype(np.uint64)
        h = self.hdr
        h.total_count += len(values)
        h.min_value = min(h.min_value, int(values.min()))
        h.max_value = max(h.max_value, int(values.max()))

    def add(self, other: "LatencyHistogram") -> None:
        if not other.count:
            return
        used = other._used()
        self._counts[:used] += other._counts[:used]
        h, o = self.hdr, other.hdr
        h.total_count += o.total_count
        h.min_value = min(h.min_value, o.min_value)
        h.max_value = max(h.max_value, o.max_value)

    def _used(self) -> int:
        """Length of the counts array up to the slot of the largest value recorded."""
        return self.hdr._counts_index_for(self.hdr.max_value) + 1 if self.count else 0

    def reset(self) -> None:
        self._counts[:self._used()] = 0
        self.hdr.total_count = 0
        self.hdr.min_value = sys.maxsize
        self.hdr.max_value = 0

    # -- reading -----------------------------------------------------------------------
    @property
    def count(self) -> int:
        return int(self.hdr.total_count)

    def percentiles_us(self, percentiles) -> dict[float, int]:
        """Values at the given percentiles (0-100), HdrHistogram semantics, via numpy."""
        result = {}
        total = self.count
        if not total:
            return {float(p): 0 for p in percentiles}
        cumulative = np.cumsum(self._counts[:self._used()])
        for p in percentiles:
            target = max(int(min(float(p), 100.0) * total / 100 + 0.5), 1)
            index = int(np.searchsorted(cumulative, target))
            value = self.hdr.get_value_from_index(index)
            result[float(p)] = int(self.hdr.get_highest_equivalent_value(value) if p else
                                   self.hdr.get_lowest_equivalent_value(value))
        return result

    def percentile_us(self, percentile: float) -> int:
        return self.percentiles_us([percentile])[float(percentile)]

    def mean_us(self) -> float:
        """HdrHistogram's mean (each value as the middle of its slot), from the counts
        array at once: the package's own walks every recorded value in Python (0.17 s for a
        step's latencies)."""
        if not self.count:
            return 0.0
        used = self._used()
        counts = self._counts[:used].astype(np.float64)
        return float(np.dot(counts, _index_medians_us(self.hdr)[:used]) / counts.sum())

    def max_us(self) -> int:
        return int(self.hdr.get_max_value()) if self.count else 0

    def min_us(self) -> int:
        return int(self.hdr.get_min_value()) if self.count else 0

    def cumulative_counts(self, bounds_us) -> tuple[list[int], int, float]:
        """How many values are at most each bound, the total count and the sum of values
        (microseconds), from one copy of the counts: safe to call from another thread while
        the histogram is being filled (the figures are then a moment's consistent view)."""
        counts = np.array(self._counts, dtype=np.uint64)  # one copy; the loop thread may write
        values = _index_values_us(self.hdr)
        cumulative = np.cumsum(counts)
        total = int(cumulative[-1]) if len(cumulative) else 0
        below = []
        for bound in bounds_us:
            position = int(np.searchsorted(values, bound, side="right"))  # values <= bound
            below.append(int(cumulative[position - 1]) if position else 0)
        return below, total, float(np.dot(counts.astype(np.float64), values))

    def percentile_spectrum(self, ticks_per_half_distance: int = 5) -> list[tuple[float, int]]:
        """(percentile, value_us) points of the HdrHistogram percentile distribution."""
        if not self.count:
            return []
        return [(float(item.percentile_level_iterated_to), int(item.value_iterated_to))
                for item in self.hdr.get_percentile_iterator(ticks_per_half_distance)]

    # -- exchange ----------------------------------------------------------------------
    def encode(self) -> str:
        """The standard compressed, base64 HdrHistogram form (V2), as text."""
        encoded = self.hdr.encode()
        return encoded.decode("ascii") if isinstance(encoded, bytes) else encoded

    @classmethod
    def decode(cls, encoded: str) -> "LatencyHistogram":
        histogram = cls()
        if encoded:
            histogram.hdr.decode_and_add(encoded)
        return histogram

    @classmethod
    def merged(cls, histograms) -> "LatencyHistogram":
        total = cls()
        for histogram in histograms:
            total.add(histogram)
        return total


_INDEX_VALUES: dict[tuple, np.ndarray] = {}


def _index_medians_us(hdr: HdrHistogram) -> np.ndarray:
    """The middle value of each slot, as HdrHistogram's mean counts it (its lowest
    equivalent value plus half the slot's width)."""
    key = ("median", hdr.lowest_trackable_value, hdr.highest_trackable_value,
           hdr.significant_figures)
    if key not in _INDEX_VALUES:
        lowest = np.array([hdr.get_value_from_index(i) for i in range(hdr.counts_len)],
                          dtype=np.int64)
        highest = _index_values_us(hdr).astype(np.int64)
        _INDEX_VALUES[key] = (lowest + ((highest - lowest + 1) >> 1)).astype(np.float64)
    return _INDEX_VALUES[key]


def _index_values_us(hdr: HdrHistogram) -> np.ndarray:
    """The value each slot of the counts array stands for (its highest equivalent value)."""
    key = (hdr.lowest_trackable_value, hdr.highest_trackable_value, hdr.significant_figures)
    if key not in _INDEX_VALUES:
        _INDEX_VALUES[key] = np.array(
            [hdr.get_highest_equivalent_value(hdr.get_value_from_index(i))
             for i in range(hdr.counts_len)], dtype=np.float64)
    return _INDEX_VALUES[key]

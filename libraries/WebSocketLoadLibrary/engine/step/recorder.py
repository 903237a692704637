"""What a step records: counters, latencies waiting for their histograms, the timeline.

The recorder knows nothing of ids or connections: a correlator (correlator.py) decides
what an arriving message is and tells the recorder by its counters and latency lists; a
driver (driver.py) counts what it sends. The hot paths append float seconds to the
pending lists (`latency_s`, `service_s`) and add to the counters; histograms are filled in
batches by `flush` (histogram.py), off the per-message path.
"""
from __future__ import annotations

from ..results.histogram import CHUNK, LatencyHistogram
from ..results.result import timeline_latency


class StepRecorder:
    """Counters and distributions of one load step.

    `scheduled`: latency is measured from each message's intended send time (open loop),
    into its own list; without a schedule latency *is* service time, and one list serves
    both histograms.
    """

    __slots__ = ("scheduled", "sent", "received", "lost", "unmatched", "invalid_replies",
                 "send_errors", "last_send", "last_reply", "latency_s", "service_s", "lag_s",
                 "latency", "service_time", "lag", "max_lag_s", "_second", "_second_marks",
                 "timeline", "errors", "pushes", "pushes_per_connection", "_pushes_mark",
                 "series")

    def __init__(self, scheduled: bool):
        self.scheduled = scheduled
        self.sent = self.received = self.lost = self.unmatched = 0
        self.invalid_replies = self.send_errors = 0
        self.last_send = self.last_reply = 0.0
        # latencies wait here as float seconds until `flush` records them in a batch
        self.service_s: list[float] = []
        self.latency_s: list[float] = [] if scheduled else self.service_s
        self.lag_s: list[float] = []
        self.latency = LatencyHistogram()
        self.service_time = LatencyHistogram()
        self.lag = LatencyHistogram()
        self.max_lag_s = 0.0
        self._second = LatencyHistogram()
        self._second_marks = (0, 0, 0)
        self.timeline: list[dict] = []
        self.errors: dict[str, int] = {}
        # messages that are no reply: a heartbeat, a welcome, a notification (correlator.py)
        self.pushes = 0
        self.pushes_per_connection: list[int] = []
        self._pushes_mark = 0
        # further distributions a driver records (a stream's staleness, its gaps), by name
        self.series: dict[str, tuple[list, LatencyHistogram]] = {}

    def add_series(self, name: str) -> list:
        """A distribution of its own, flushed with the others: returns the list its values
        (float seconds) are appended to; `series[name][1]` is its histogram."""
        pending: list[float] = []
        self.series[name] = (pending, LatencyHistogram())
        return pending

    def count_pushes_of(self, connections: int) -> None:
        """Keep a push counter for each of `connections` connections."""
        self.pushes_per_connection = [0] * connections

    def lagging(self, lag_s: float) -> None:
        """The pacer sent a batch `lag_s` after the first message of it was due."""
        self.lag_s.append(lag_s)
        if lag_s > self.max_lag_s:
            self.max_lag_s = lag_s

    def error(self, description: str, count: int = 1) -> None:
        self.errors[description] = self.errors.get(description, 0) + count

    def pending(self) -> int:
        """Latencies waiting for `flush` (the largest of the lists)."""
        return max(len(self.latency_s), len(self.service_s), len(self.lag_s),
                   *(len(pending) for pending, _ in self.series.values()))

    def flush(self) -> None:
        """Move the latencies gathered since the last flush into the histograms."""
        for _ in self.flushing():
            pass

    def flushing(self):
        """`flush` a chunk at a time: a generator that yields after each CHUNK of values
        (~0.4 ms of numpy here), so that a caller on the event loop lets due sends and
        replies through in between. At 230k msg/s a 100 ms tick found ~24k values a list,
        and recording a list at once (1.3 ms, two lists a tick) put a 5-7 ms spike into
        the pacer's lag every tick: the stall, then the replies it held back. Each chunk
        is recorded and cut from its list with no yield between, so stopping at a yield (a
        cancelled task) loses or repeats nothing; values that come in meanwhile wait for
        the next flush."""
        if self.latency_s is self.service_s:  # closed loop: one list, one histogram
            # (`close_second` adds the second's histogram to both distributions: one numpy
            # pass a value rather than two, ~40 ns a message)
            steps = ((self.service_s, self._second), (self.lag_s, self.lag))
        else:
            steps = ((self.latency_s, self._second), (self.service_s, self.service_time),
                     (self.lag_s, self.lag))
        steps += tuple(self.series.values())
        for pending, histogram in steps:
            left = len(pending)
            while left:
                count = min(left, CHUNK)
                histogram.record_seconds(pending[:count])
                del pending[:count]  # in place: the receiver closures hold these very lists
                left -= count
                yield

    def close_second(self, span_s: float = 1.0) -> dict:
        """End one second of the timeline (called once a second, and at the end with the
        length of the last, partial second)."""
        self.flush()
        sent, received, lost = self._second_marks
        point = {"second": len(self.timeline), "span_s": round(span_s, 6), "sent": self.sent - sent,
                 "received": self.received - received, "lost": self.lost - lost,
                 **timeline_latency(self._second)}
        if self.pushes:
            point["pushes"] = self.pushes - self._pushes_mark
            self._pushes_mark = self.pushes
        self.timeline.append(point)
        self._second_marks = (self.sent, self.received, self.lost)
        self.latency.add(self._second)
        if not self.scheduled:  # closed loop: service time is the latency
            self.service_time.add(self._second)
        self._second.reset()
        return point

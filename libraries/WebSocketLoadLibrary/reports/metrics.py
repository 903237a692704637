"""Live Prometheus metrics of the generator while steps run (prometheus-client).

Nothing is added to the per-message hot path: a custom Collector reads, on each scrape, the
running step's recorder counters (plain ints the event loop updates) and turns a copy of
its HdrHistogram counts into cumulative Prometheus buckets. Finished steps are folded into
running totals, so the counters only ever rise across steps. The step's histogram is filled
once a second (StepRecorder.close_second), so latency lags the counters by up to a second.
"""
from __future__ import annotations

import threading

from ..engine.histogram import LatencyHistogram

# seconds; the usual Prometheus latency buckets, finer at the low end for loopback runs
BUCKETS_S = (0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0,
             10.0)
PREFIX = "websocket_load"


class LiveCounters:
    """Totals of finished steps plus the running step's book; read by the collector.

    `step_started` / `step_finished` take the engine's LoadStep, whose `recorder` (StepRecorder)
    appears once the step runs on the event loop."""

    def __init__(self):
        self._lock = threading.Lock()
        self._finished = {"sent": 0, "received": 0, "lost": 0, "unmatched": 0}
        self._latency = LatencyHistogram()
        self._step = None
        self._steps = 0
        self._last: dict[str, int] = {}

    def step_started(self, step) -> None:
        with self._lock:
            self._step = step

    def step_finished(self, step) -> None:
        """Fold the step into the totals (its histogram is complete once it has ended)."""
        with self._lock:
            book = getattr(step, "recorder", None)
            if book is not None:
                for name in self._finished:
                    self._finished[name] += getattr(book, name)
                self._latency.add(book.latency)
                self._steps += 1
            self._step = None

    def snapshot(self, bounds_s=BUCKETS_S) -> dict:
        with self._lock:
            running = self._step is not None
            book = getattr(self._step, "recorder", None)
            counters = dict(self._finished)
            if book is not None:
                for name in counters:
                    counters[name] += getattr(book, name)
            below, count, sum_us = self._latency.cumulative_counts([b * 1e6 for b in bounds_s])
            if book is not None:
                more, more_count, more_sum = book.latency.cumulative_counts(
                    [b * 1e6 for b in bounds_s])
                below = [a + b for a, b in zip(below, more)]
                count, sum_us = count + more_count, sum_us + more_sum
            # a send taken back (not_sent) may lower a live count for a moment; counters
            # must never go down between scrapes
            for name, value in counters.items():
                counters[name] = self._last[name] = max(value, self._last.get(name, 0))
            return {**counters, "running": running, "steps_finished": self._steps,
                    "latency_buckets": list(zip(bounds_s, below)), "latency_count": count,
                    "latency_sum_s": sum_us / 1e6}


class LiveCollector:
    """A prometheus_client Collector over LiveCounters."""

    def __init__(self, counters: LiveCounters):
        self.counters = counters

    def describe(self):
        return []  # metrics are described by collect(); no registration-time scrape

    def collect(self):
        from prometheus_client.core import (CounterMetricFamily, GaugeMetricFamily,
                                            HistogramMetricFamily)
        live = self.counters.snapshot()
        for name, text in (("sent", "Messages sent by the load generator"),
                           ("received", "Replies received and matched to a message"),
                           ("lost", "Messages without a reply within the reply timeout"),
                           ("unmatched", "Replies that matched no message")):
            yield CounterMetricFamily(f"{PREFIX}_messages_{name}", text, value=live[name])
        yield GaugeMetricFamily(f"{PREFIX}_step_running", "1 while a load step runs",
                                value=1 if live["running"] else 0)
        yield GaugeMetricFamily(f"{PREFIX}_steps_finished", "Load steps finished so far",
                                value=live["steps_finished"])
        buckets = [(_le(bound), below) for bound, below in live["latency_buckets"]]
        buckets.append(("+Inf", live["latency_count"]))
        yield HistogramMetricFamily(
            f"{PREFIX}_latency_seconds", "Reply latency from the intended send time "
            "(service time at rate max), from the step's HdrHistogram; updated once a second",
            buckets=buckets, sum_value=live["latency_sum_s"])


class MetricsEndpoint:
    """An HTTP endpoint serving the live metrics, on its own registry and thread."""

    def __init__(self, counters: LiveCounters, port: int = 9464, host: str = "127.0.0.1"):
        from prometheus_client import CollectorRegistry, start_http_server
        self.registry = CollectorRegistry(auto_describe=False)
        self.registry.register(LiveCollector(counters))
        self.server, self.thread = start_http_server(port, addr=host, registry=self.registry)
        self.host = host
        self.port = self.server.server_port

    @property
    def url(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"http://{host}:{self.port}/metrics"

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()
        self.thread.join(timeout=5)


def _le(bound: float) -> str:
    return repr(float(bound))

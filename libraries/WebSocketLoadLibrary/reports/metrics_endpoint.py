"""Serving the live metrics (metrics.py counts them): the prometheus-client Collector that
reads LiveCounters on each scrape, and the HTTP endpoint `Start Metrics Endpoint` starts."""
from __future__ import annotations

from . import metrics
from .metrics import PREFIX, LiveCounters


def step_families(steps: dict):
    """The running step's state so far and the last step's, labelled `step`: from the first
    second of the first step there is something to show."""
    from prometheus_client.core import GaugeMetricFamily
    applied = GaugeMetricFamily(
        f"{PREFIX}_step_load_applied", "1 if the step's planned load is applied: the running "
        "step's so far (no message unsent, no more late than the verdict allows; step="
        "\"running\"), the last finished step's verdict (step=\"last\")", labels=["step"])
    late = GaugeMetricFamily(
        f"{PREFIX}_step_late_share", "Share of the step's messages sent later than its late "
        "bound: the running step's so far (step=\"running\"), the last step's (step=\"last\")",
        labels=["step"])
    for which, state in steps.items():
        applied.add_metric([which], state["load_applied"])
        late.add_metric([which], state["late_share"])
    yield applied
    yield late
    if "last" in steps:   # the name before the running step had one: kept for dashboards
        yield GaugeMetricFamily(f"{PREFIX}_last_step_load_applied", "1 if the last step's "
                                "planned load was applied, 0 if not (its result says why)",
                                value=steps["last"]["load_applied"])


class LiveCollector:
    """A prometheus_client Collector over LiveCounters (and the library state, if given)."""

    def __init__(self, counters: LiveCounters, state=None):
        self.counters, self.state = counters, state

    def describe(self):
        return []  # metrics are described by collect(); no registration-time scrape

    def collect(self):
        from prometheus_client.core import (CounterMetricFamily, GaugeMetricFamily,
                                            HistogramMetricFamily)
        live = self.counters.snapshot(self.state)
        values, agents = live["figures"], live["agents"]
        for figure in metrics.FIGURES:   # read at each scrape: a figure added is served
            family = CounterMetricFamily(f"{PREFIX}_{figure.name}", figure.help,
                                         labels=["agent"])
            for agent in agents:
                if (figure.name, agent) in values:
                    family.add_metric([agent], values[(figure.name, agent)])
            yield family
        latency = HistogramMetricFamily(
            f"{PREFIX}_latency_seconds", "Reply latency from the intended send time "
            "(service time at rate max), from each step's HdrHistogram; updated once a second",
            labels=["agent"])
        bounds = live["bounds_s"]
        for agent in agents:
            counts = [values.get(("latency", agent, i), 0.0) for i in range(len(bounds) + 2)]
            buckets = [(_le(b), c) for b, c in zip(bounds, counts)]
            buckets.append(("+Inf", counts[len(bounds)]))
            latency.add_metric([agent], buckets, sum_value=counts[len(bounds) + 1])
        yield latency
        cpu = CounterMetricFamily(f"{PREFIX}_generator_cpu_seconds_total",
                                  "CPU time (user + system) of the load generator process",
                                  labels=["agent"])
        rss = GaugeMetricFamily(f"{PREFIX}_generator_resident_memory_bytes",
                                "Resident memory of the load generator process", labels=["agent"])
        for agent, (cpu_s, rss_bytes) in sorted(live["processes"].items()):
            cpu.add_metric([agent], cpu_s)
            rss.add_metric([agent], rss_bytes)
        yield cpu
        yield rss
        connections = GaugeMetricFamily(f"{PREFIX}_open_connections",
                                        "Open connections to the server under test, per client "
                                        "pool of this process and per load agent",
                                        labels=["agent", "pool"])
        for agent, pool, count in live["open_connections"]:
            connections.add_metric([agent, pool], count)
        yield connections
        yield GaugeMetricFamily(f"{PREFIX}_steps_running", "Load steps running now (a step "
                                "on load agents counts once)", value=live["running"])
        yield CounterMetricFamily(f"{PREFIX}_steps_finished", "Load steps finished (a step on "
                                  "load agents counts once)", value=live["steps_finished"])
        yield from step_families(live["steps"])
        yield from memory_families(self.state)


def memory_families(state):
    """Memory per connection as the last storm measured it (its result's `memory` section:
    RSS per connection of the generator's and the mock server's processes, the generator's
    heap per connection), labelled `side`; nothing before one has."""
    from prometheus_client.core import GaugeMetricFamily
    for result in reversed(list(getattr(state, "results", ()) or ())):
        memory = getattr(result, "sections", {}).get("memory")
        if memory is None:
            continue
        family = GaugeMetricFamily(
            f"{PREFIX}_memory_per_connection_bytes", "Memory per connection opened, as the "
            "last Open Connections At Rate measured it: RSS growth over the open of every "
            "generator process (side=\"generator\") or mock server process (side=\"server\"), "
            "or the generator's heap growth (side=\"heap\"), over the connections opened",
            labels=["side"])
        for side in ("generator", "heap", "server"):
            value = memory.per_connection(side)
            if value is not None:
                family.add_metric([side], value)
        yield family
        return


class MetricsEndpoint:
    """An HTTP endpoint serving the live metrics, on its own registry and thread, with
    prometheus-client's standard process_* figures of this process besides."""

    def __init__(self, counters: LiveCounters, port: int = 9464, host: str = "127.0.0.1",
                 state=None):
        from prometheus_client import CollectorRegistry, ProcessCollector, start_http_server
        self.registry = CollectorRegistry(auto_describe=False)
        self.registry.register(LiveCollector(counters, state))
        ProcessCollector(registry=self.registry)
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

"""Live Prometheus metrics of the load generators while steps run (prometheus-client).

Nothing is added to the per-message hot path: a custom Collector reads, on each scrape, the
running step's own counters (plain ints the event loop updates) and a copy of its
HdrHistogram's counts turned into cumulative Prometheus buckets. Finished steps are folded
into running totals, so counters only ever rise across steps. The step's histogram is filled
once a second (StepRecorder.close_second), so latency lags the counters by up to a second.

Every generator series carries an `agent` label: `local` for this process, the agent's name
for a share of a step that runs on load agents (figures the controller polls from each agent,
see agents/controller.py). There is no separate total series, so `sum(...)` over the label is
the whole load and never counts anything twice.

A figure read from the step (or from finished results) is one entry of FIGURES; see Figure.
The collector prometheus-client calls on each scrape, and the HTTP endpoint, are in
metrics_endpoint.py.
"""
from __future__ import annotations

import threading
from dataclasses import dataclass

from ..engine import LatencyHistogram
from .live_state import LOCAL, open_connections, step_state

__all__ = ["BUCKETS_S", "FIGURES", "LOCAL", "PREFIX", "Figure", "LiveCounters", "latency_counts",
           "step_snapshot"]   # serving them: metrics_endpoint.py

# seconds; the usual Prometheus latency buckets, finer at the low end for loopback runs
BUCKETS_S = (0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0,
             10.0)
PREFIX = "websocket_load"


@dataclass(frozen=True)
class Figure:
    """One counter per generator, exposed as `websocket_load_<name>{agent=...}`.

    `step`: a dotted path read on the running LoadStep (``recorder.sent``,
    ``driver.lateness.late_messages``), live and once more when the step ends, here and on
    every load agent (the agents send these values with their progress). `result`: a dotted
    path in a finished step's result (LoadResult attributes, or the keys of an agent's result
    dict), for figures that exist only once a step is over; used only when `step` is None.
    A path that does not resolve (a closed loop has no lateness) counts 0.
    """
    name: str          # without the prefix; counters end in _total
    help: str
    step: str | None = None
    result: str | None = None


FIGURES: tuple[Figure, ...] = (
    Figure("messages_sent_total", "Messages sent by the load generator", step="recorder.sent"),
    Figure("messages_received_total", "Messages received: replies matched to a message, "
           "fan-out deliveries and listen-only stream messages together (each kind of step "
           "counts what it receives; divided by messages sent it is no delivery ratio)",
           step="recorder.received"),
    Figure("messages_lost_total", "Replies (a fan-out's deliveries) that did not arrive "
           "within their timeout", step="recorder.lost"),
    Figure("messages_unmatched_total", "Replies that matched no message",
           step="recorder.unmatched"),
    Figure("send_errors_total", "Messages the generator could not send",
           step="recorder.send_errors"),
    Figure("late_messages_total", "Messages sent later than the step's late bound after "
           "their due time (open loop: the generator fell behind its schedule)",
           step="driver.lateness.late_messages"),
    Figure("pushes_received_total", "Messages the server pushed that were not replies "
           "(heartbeats, notifications)", step="recorder.pushes"),
    Figure("invalid_replies_total", "Messages that could not be parsed",
           step="recorder.invalid_replies"),
    Figure("stream_missing_total", "Listen-only streams: messages the sequence numbers say "
           "were skipped", step="driver.tracker.missing"),
    Figure("fanout_deliveries_lost_total", "Fan-out: deliveries that did not reach a "
           "subscriber within the delivery timeout", step="correlator.lost_deliveries"),
)


def read_path(source, path: str | None):
    """`a.b.c` on objects (attributes) or dicts (keys); None where it does not resolve."""
    if path is None:
        return None
    for part in path.split("."):
        source = source.get(part) if isinstance(source, dict) else getattr(source, part, None)
        if source is None:
            return None
    return source


def _number(value) -> float:
    return float(value) if isinstance(value, (int, float)) and not isinstance(value, bool) \
        else 0.0


def latency_counts(histogram: LatencyHistogram, bounds_s=BUCKETS_S) -> list[float]:
    """Cumulative counts at `bounds_s`, then the count and the sum in seconds."""
    below, count, sum_us = histogram.cumulative_counts([b * 1e6 for b in bounds_s])
    return [*below, count, sum_us / 1e6]


def process_usage() -> tuple[float, int]:
    """CPU seconds (user + system) and RSS bytes of this process."""
    import psutil
    process = psutil.Process()
    times = process.cpu_times()
    return times.user + times.system, process.memory_info().rss


def step_snapshot(step, open_connections: int | None = None) -> dict:
    """What a load agent sends of its running (or finished) share: the FIGURES read on its
    step, its latency buckets, its process's CPU and RSS, its open connections. Small and
    bounded: one number per figure and bucket."""
    book = getattr(step, "recorder", None)
    cpu_s, rss = process_usage()
    return {"figures": {f.name: _number(read_path(step, f.step)) for f in FIGURES if f.step},
            "latency": latency_counts(book.latency) if book is not None else None,
            "cpu_seconds": cpu_s, "rss_bytes": rss, "open_connections": open_connections}


class _Totals:
    """Finished figures of one generator: FIGURES by name, latency buckets, count, sum."""

    def __init__(self):
        self.figures: dict[str, float] = {}
        self.latency = [0.0] * (len(BUCKETS_S) + 2)

    def add(self, figures: dict, latency: list | None) -> None:
        for name, value in figures.items():
            self.figures[name] = self.figures.get(name, 0.0) + _number(value)
        if latency and len(latency) == len(self.latency):
            self.latency = [a + b for a, b in zip(self.latency, latency)]


class LiveCounters:
    """Totals of finished steps plus the running steps' books; read by the collector.

    `step_started` / `step_finished` take the engine's LoadStep, whose `recorder` (StepRecorder)
    appears once the step runs on the event loop. Steps on load agents are read from the
    library state on scrape (`snapshot(state)`): the running DistributedStep's polled figures,
    and the merged results of finished ones as they are remembered."""

    def __init__(self):
        self._lock = threading.Lock()
        self._local = LatencyHistogram()
        self._finished: dict[str, _Totals] = {LOCAL: _Totals()}
        self._step = None
        self._steps = 0
        self._results_seen = 0
        self._agent_steps = 0
        self._processes: dict[str, tuple[float, int]] = {}   # last CPU s and RSS of agents
        self._last: dict[tuple, float] = {}                 # what counters showed last

    def step_started(self, step) -> None:
        with self._lock:
            self._step = step

    def step_finished(self, step) -> None:
        """Fold the step into the totals (its histogram is complete once it has ended)."""
        with self._lock:
            if getattr(step, "recorder", None) is not None:
                self._finished[LOCAL].add(_step_figures(step), None)
                self._local.add(step.recorder.latency)
                self._steps += 1
            self._step = None

    def snapshot(self, state=None, bounds_s=BUCKETS_S) -> dict:
        """Every figure by generator. `state` (the library's): agents' steps and results."""
        # results before the agent step: a step's result is remembered only after the
        # library dropped it as running, so it is never counted twice
        results = list(getattr(state, "results", ()) or ())
        agent_step = getattr(state, "agent_step", None)
        agent_live = {}
        if agent_step is not None and hasattr(agent_step, "live"):
            agent_live = agent_step.live()
        with self._lock:
            self._fold(results)
            figures = {name: dict(totals.figures) for name, totals in self._finished.items()}
            latency = {name: list(totals.latency) for name, totals in self._finished.items()
                       if name != LOCAL}
            latency[LOCAL] = latency_counts(self._local, bounds_s)
            book = getattr(self._step, "recorder", None)
            if book is not None:
                _add(figures.setdefault(LOCAL, {}), _step_figures(self._step))
                latency[LOCAL] = _sum(latency[LOCAL], latency_counts(book.latency, bounds_s))
            for name, live in agent_live.items():
                _add(figures.setdefault(name, {}), live.get("figures") or {})
                if live.get("latency"):
                    latency[name] = _sum(latency.get(name), live["latency"])
                self._processes[name] = (live.get("cpu_seconds", 0.0), live.get("rss_bytes", 0))
            counters = {(f.name, agent): figures.get(agent, {}).get(f.name, 0.0)
                        for f in FIGURES for agent in figures}
            counters.update({("latency", agent, i): value for agent, values in latency.items()
                             for i, value in enumerate(values)})
            counters = self._never_lower(counters)
            processes = dict(self._processes)
            processes[LOCAL] = process_usage()
            agent_running = agent_step is not None and not agent_step.finished
            running = (self._step is not None) + agent_running
            running_steps = [(_step_figures(self._step), _rate_of(self._step))] \
                if book is not None else []
            if agent_running:
                running_steps += [(live.get("figures") or {}, None)
                                  for live in agent_live.values()]
                running_steps.append(({}, _rate_of(agent_step)))
            return {"figures": counters, "agents": sorted({k[1] for k in counters}),
                    "bounds_s": bounds_s, "running": running,
                    "steps_finished": self._steps + self._agent_steps,
                    "processes": processes, "open_connections": open_connections(state),
                    "steps": step_state(running_steps, state)}

    def _fold(self, results: list) -> None:
        """Results remembered since the last scrape: agents' shares, result-only figures."""
        if len(results) < self._results_seen:   # the list was replaced: count no step twice
            self._results_seen = len(results)
        for result in results[self._results_seen:]:
            for name, live, part in _parts(result):
                totals = self._finished.setdefault(name, _Totals())
                if live is not None and name != LOCAL:
                    totals.add(live.get("figures") or {}, live.get("latency"))
                    self._processes[name] = (live.get("cpu_seconds", 0.0),
                                             live.get("rss_bytes", 0))
                totals.add({f.name: read_path(part, f.result) for f in FIGURES
                            if f.step is None and f.result}, None)
            if getattr(result, "agents", None):
                self._agent_steps += 1
        self._results_seen = len(results)

    def _never_lower(self, counters: dict) -> dict:
        """A send taken back (not_sent), an agent lost mid-step or the moment between a
        step's end and its result being remembered may lower a live figure for a while:
        counters must never go down between scrapes, nor a series disappear."""
        for key, value in counters.items():
            self._last[key] = max(value, self._last.get(key, 0.0))
        return dict(self._last)


def _rate_of(step) -> float | None:
    """The running step's planned rate (msg/s over all its connections), if paced."""
    return getattr(getattr(step, "plan", None), "rate", None)


def _step_figures(step) -> dict:
    return {f.name: _number(read_path(step, f.step)) for f in FIGURES if f.step}


def _add(into: dict, figures: dict) -> None:
    for name, value in figures.items():
        into[name] = into.get(name, 0.0) + _number(value)


def _sum(a: list | None, b: list) -> list:
    return list(b) if not a or len(a) != len(b) else [x + y for x, y in zip(a, b)]


def _parts(result):
    """(agent label, agent's live figures or None, the part's result) of a finished result:
    each agent's share of a step run on agents, else each local step (a scaling series' too)."""
    agents = getattr(result, "agents", None)
    if agents:
        for entry in agents:
            yield entry.get("name", "?"), entry.get("live"), entry.get("result") or {}
        return
    for step in getattr(result, "steps", None) or [result]:
        yield LOCAL, None, step

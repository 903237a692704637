"""Charts of results as inline SVG for log.html and the merged report page (matplotlib).

SVG rather than PNG: text stays text (searchable, crisp at any zoom) and Robot compresses
long log messages, which shrinks SVG to a fraction and PNG not at all. Figures are built
with matplotlib's object API (no pyplot, no global figure state) and closed when drawn.
Each chart keeps the data it drew (`Chart.series`), so a test can compare it with the
result it came from.
"""
from __future__ import annotations

import io
import math
from dataclasses import dataclass, field
from html import escape

from ..engine.result import LoadResult
from ..engine.scaling import ScalingResult

SENT, RECEIVED, LOST, TARGET = "#1f77b4", "#2ca02c", "#d62728", "#7f7f7f"
P50, P95, P99 = "#1f77b4", "#ff7f0e", "#d62728"
CURVES = ("#1f77b4", "#d62728", "#2ca02c", "#9467bd", "#ff7f0e", "#8c564b", "#e377c2",
          "#17becf", "#bcbd22", "#7f7f7f")
_RC = {"svg.fonttype": "none", "font.size": 9, "axes.titlesize": 10, "axes.labelsize": 9,
       "legend.fontsize": 8, "axes.grid": True, "grid.alpha": 0.3, "axes.spines.top": False,
       "axes.spines.right": False, "font.family": "DejaVu Sans"}
WIDTH_IN, HEIGHT_IN = 7.0, 3.4
# the percentile axis of a latency distribution: x = 1 / (1 - p); ticks read as percentiles
PERCENTILE_TICKS = ((1, "0%"), (2, "50%"), (10, "90%"), (100, "99%"), (1_000, "99.9%"),
                    (10_000, "99.99%"), (100_000, "99.999%"), (1_000_000, "99.9999%"))


@dataclass
class Chart:
    """One drawn chart: its title, the SVG, and the points it drew per legend label."""
    title: str
    svg: str
    series: dict = field(default_factory=dict)   # label -> [(x, y), ...]

    def html(self) -> str:
        return (f'<figure class="wsload-chart" style="margin:0" title="{escape(self.title)}">'
                f'{self.svg}</figure>')


def charts_html(charts) -> str:
    """Charts side by side, wrapping on narrow windows."""
    return ('<div class="wsload-charts" style="display:flex;flex-wrap:wrap;gap:12px;'
            'align-items:flex-start;margin:6px 0">' + "".join(c.html() for c in charts)
            + "</div>")


# -- one step --------------------------------------------------------------------------
def step_timeline_chart(result: LoadResult, title: str | None = None,
                        throughput: float | None = None, show_target: bool = True) -> Chart:
    """Sent/received per second above, latency p50/p99 per second below, over the run.

    `throughput` overrides the result's achieved rate in the subtitle (a merged run's steps
    did not all run at once, so their rates do not add up)."""
    title = title or result.name or "load step"
    points = _with_gaps(result.timeline)
    x = [p["second"] + p["span_s"] / 2 if p else math.nan for p in points]

    def rate(key):
        return _per_second(points, key)

    def latency(key):
        return [p[key] if p and p["received"] else math.nan for p in points]

    series = {"sent (msg/s)": rate("sent"), "received (msg/s)": rate("received"),
              "lost (msg/s)": rate("lost"), "p50 (ms)": latency("latency_p50_ms"),
              "p99 (ms)": latency("latency_p99_ms")}
    p50, p99 = result.latency_ms(50), result.latency_ms(99)
    throughput = result.achieved_receive_rate if throughput is None else throughput
    subtitle = (f"{result.sent:,} sent, {result.received:,} received, {result.lost:,} lost; "
                f"{throughput:,.0f} msg/s; p50 {p50:,.2f} ms, p99 {p99:,.2f} ms")
    with _figure(height_in=4.2, one_axes=False) as (figure, _):
        top, bottom = figure.subplots(2, 1, sharex=True, height_ratios=(1, 1))
        figure.suptitle(f"{title}\n{subtitle}", fontsize=10, x=0.02, ha="left")
        top.plot(x, series["sent (msg/s)"], color=SENT, marker="o", markersize=3, label="sent")
        top.plot(x, series["received (msg/s)"], color=RECEIVED, marker="o", markersize=3,
                 linestyle="--", label="received")
        if result.lost:
            top.bar(x, series["lost (msg/s)"], width=0.6, color=LOST, alpha=0.6, label="lost")
        if result.target_rate and show_target:
            top.axhline(result.target_rate, color=TARGET, linestyle=":", linewidth=1,
                        label=f"target {result.target_rate:,.0f}")
        top.set_ylabel("messages / s")
        top.set_ylim(0, _top(series["sent (msg/s)"] + series["received (msg/s)"]
                             + [result.target_rate or 0]) * 1.15)
        top.legend(loc="lower right", ncols=4)
        bottom.plot(x, series["p50 (ms)"], color=P50, marker="o", markersize=3, label="p50")
        bottom.plot(x, series["p99 (ms)"], color=P99, marker="o", markersize=3, label="p99")
        bottom.set_ylabel("latency (ms)")
        bottom.set_xlabel("time since the step started (s)")
        bottom.set_ylim(0, _top(series["p99 (ms)"] + series["p50 (ms)"]) * 1.45)
        bottom.legend(loc="upper right", ncols=2)  # the headroom above keeps it off the lines
        svg = _svg(figure)
    return Chart(title, svg, {label: _pairs(x, ys) for label, ys in series.items()})


def latency_distribution_chart(histograms: dict, title: str = "Latency by percentile") -> Chart:
    """The HdrHistogram percentile spectrum of each histogram (label -> LatencyHistogram),
    on the usual 1/(1-p) axis so that the tail gets the room it deserves."""
    series = {}
    with _figure() as (figure, axes):
        axes.set_title(title, loc="left")
        largest_x = 10.0
        for (label, histogram), colour in zip(histograms.items(), _cycle(CURVES)):
            points = [(p, value_us / 1000) for p, value_us in histogram.percentile_spectrum()
                      if p < 100.0]
            if not points:
                continue
            xs = [1 / (1 - p / 100) for p, _ in points]
            largest_x = max(largest_x, xs[-1])
            marks = histogram.percentiles_us((50, 95, 99))
            p50, p95, p99 = (marks[q] / 1000 for q in (50.0, 95.0, 99.0))
            axes.plot(xs, [ms for _, ms in points], color=colour, linewidth=1.5,
                      label=f"{label}: p50 {p50:,.2f} / p95 {p95:,.2f} / p99 {p99:,.2f} ms "
                            f"({histogram.count:,} messages)")
            axes.plot([2, 20, 100], [p50, p95, p99], linestyle="none", marker="o",
                      markersize=4, color=colour)
            series[label] = points
        axes.set_xscale("log")
        ticks = [(x, text) for x, text in PERCENTILE_TICKS if x <= largest_x * 1.5]
        axes.set_xticks([x for x, _ in ticks], [text for _, text in ticks])
        axes.minorticks_off()
        axes.set_xlim(1, max(100, ticks[-1][0]))
        axes.set_xlabel("percentile (log scale of 1 / (1 - p))")
        axes.set_ylabel("latency (ms)")
        axes.set_ylim(bottom=0)
        if series:
            axes.legend(loc="upper left")
        else:
            axes.text(0.5, 0.5, "no replies", transform=axes.transAxes, ha="center")
        svg = _svg(figure)
    return Chart(title, svg, series)


# -- scaling ---------------------------------------------------------------------------
def rate_scaling_chart(scaling: ScalingResult) -> Chart:
    """Achieved rate against target rate (with the ideal line), and p95 per step."""
    paced = [step for step in scaling.steps if step.target_rate]
    targets = [step.target_rate for step in paced]
    achieved = [step.achieved_receive_rate for step in paced]
    p95 = [step.latency_ms(95) for step in paced]
    title = f"{scaling.name}: achieved rate and p95 by target rate"
    with _figure() as (figure, axes):
        axes.set_title(f"{title}\nefficiency {scaling.efficiency:.3f} (worst step), peak "
                       f"{scaling.peak_throughput:,.0f} msg/s", loc="left")
        if targets:
            top = max(targets + achieved)
            axes.plot([0, top], [0, top], color=TARGET, linestyle=":", label="ideal (= target)")
        axes.plot(targets, achieved, color=RECEIVED, marker="o", label="achieved (replies/s)")
        axes.set_xlabel("target rate (msg/s)")
        axes.set_ylabel("achieved rate (msg/s)")
        axes.set_xlim(left=0)
        axes.set_ylim(bottom=0)
        _annotated_right_axis(axes, targets, p95, "p95 latency", "p95 latency (ms)",
                              "{:,.2f} ms", top=max(p95 + [0.001]) * 1.3)
        svg = _svg(figure)
    return Chart(title, svg, {"achieved (msg/s)": list(zip(targets, achieved)),
                              "p95 (ms)": list(zip(targets, p95))})


def _annotated_right_axis(axes, xs, ys, label: str, axis_label: str, value_format: str,
                          top: float) -> None:
    """A second y axis on the right for one dashed series, each point labelled."""
    right = axes.twinx()
    right.plot(xs, ys, color=P95, marker="s", linestyle="--", label=label)
    for x, y in zip(xs, ys):
        right.annotate(value_format.format(y), (x, y), textcoords="offset points",
                       xytext=(0, 6), ha="center", fontsize=7, color=P95)
    right.set_ylabel(axis_label, color=P95)
    right.set_ylim(bottom=0, top=top)
    right.grid(False)
    right.spines["right"].set_visible(True)
    _joint_legend(axes, right)


def connection_scaling_chart(scaling: ScalingResult) -> Chart:
    """Throughput against connections with the linear ideal, and each step's efficiency."""
    counts = [step.connections for step in scaling.steps]
    achieved = [step.achieved_receive_rate for step in scaling.steps]
    ideal = [scaling.ideal_throughput(step) for step in scaling.steps]
    efficiency = [e * 100 for e in scaling.efficiencies]
    title = f"{scaling.name}: throughput by connections"
    with _figure() as (figure, axes):
        axes.set_title(f"{title}\nefficiency {scaling.efficiency:.3f} (worst step), peak "
                       f"{scaling.peak_throughput:,.0f} msg/s", loc="left")
        axes.plot(counts, ideal, color=TARGET, linestyle=":", marker=".", label="ideal (linear)")
        axes.plot(counts, achieved, color=RECEIVED, marker="o", label="achieved (replies/s)")
        axes.set_xlabel("connections")
        axes.xaxis.get_major_locator().set_params(integer=True)
        axes.set_ylabel("throughput (msg/s)")
        axes.set_xlim(left=0)
        axes.set_ylim(bottom=0)
        _annotated_right_axis(axes, counts, efficiency, "efficiency", "efficiency (% of ideal)",
                              "{:.0f}%", top=max(efficiency + [100]) * 1.15)
        svg = _svg(figure)
    return Chart(title, svg, {"achieved (msg/s)": list(zip(counts, achieved)),
                              "ideal (msg/s)": list(zip(counts, ideal)),
                              "efficiency (%)": list(zip(counts, efficiency))})


def result_charts(result) -> list[Chart]:
    """The charts of a load keyword's result: a step, or a rate or connection scaling."""
    if isinstance(result, ScalingResult):
        first = (rate_scaling_chart(result) if result.kind == "rate"
                 else connection_scaling_chart(result))
        return [first, latency_distribution_chart(
            {step.name.removeprefix(f"{result.name}: "): step.latency for step in result.steps},
            f"{result.name}: latency by percentile, per step")]
    name = result.name or "step"
    if result.agents:
        parts = result.agent_results()
        return [step_timeline_chart(result, f"{name} (all {len(parts)} agents)"),
                agents_timeline_chart(result, parts),
                latency_distribution_chart(
                    {"all agents": result.latency, **{p.name: p.latency for p in parts}},
                    f"{name}: latency by percentile, merged and per agent")]
    return [step_timeline_chart(result),
            latency_distribution_chart({name: result.latency}, f"{name}: latency by percentile")]


def agents_timeline_chart(result: LoadResult, parts: list[LoadResult]) -> Chart:
    """Replies per second of each load agent, on the controller's clock (each agent's start
    moved by its measured clock offset), against each agent's share of the target."""
    title = f"{result.name or 'step'}: received per second, per agent"
    series = {}
    with _figure() as (figure, axes):
        axes.set_title(title, loc="left")
        tops = [0.0]
        for part, colour in zip(parts, _cycle(CURVES)):
            shift = part.started_at - result.started_at
            points = _with_gaps(part.timeline)
            xs = [shift + p["second"] + p["span_s"] / 2 if p else math.nan for p in points]
            ys = _per_second(points, "received")
            axes.plot(xs, ys, color=colour, marker="o", markersize=3,
                      label=f"{part.name}: {part.received:,} received")
            if part.target_rate:
                axes.axhline(part.target_rate, color=colour, linestyle=":", linewidth=1)
            tops.extend(ys + [part.target_rate or 0])
            series[part.name] = _pairs(xs, ys)
        axes.set_xlabel("time since the first agent started (s, controller clock)")
        axes.set_ylabel("replies / s")
        axes.set_ylim(0, _top(tops) * 1.3)
        axes.legend(loc="lower right", ncols=2)
        svg = _svg(figure)
    return Chart(title, svg, series)


# -- plumbing --------------------------------------------------------------------------
class _figure:
    """A matplotlib Figure with our style, closed on exit (Figure API: no pyplot state)."""

    def __init__(self, height_in: float = HEIGHT_IN, one_axes: bool = True):
        self.size, self.one_axes = (WIDTH_IN, height_in), one_axes

    def __enter__(self):
        import matplotlib
        from matplotlib.figure import Figure
        self.context = matplotlib.rc_context(_RC)
        self.context.__enter__()
        self.figure = Figure(figsize=self.size, layout="constrained")
        return self.figure, (self.figure.subplots() if self.one_axes else None)

    def __exit__(self, *exc):
        self.figure.clear()
        self.context.__exit__(*exc)
        return False


def _svg(figure) -> str:
    buffer = io.StringIO()
    figure.savefig(buffer, format="svg", metadata={"Date": None})
    text = buffer.getvalue()
    return text[text.index("<svg"):]  # no XML declaration or DOCTYPE inside HTML


def _with_gaps(timeline: list[dict]) -> list[dict | None]:
    """Timeline points in order, with None for seconds nobody measured (merged runs)."""
    points, last = [], None
    for point in sorted(timeline, key=lambda p: p["second"]):
        if last is not None and point["second"] > last + 1:
            points.append(None)
        points.append(point)
        last = point["second"]
    return points


def _per_second(points: list[dict | None], key: str) -> list[float]:
    """`key` per second of each timeline point; NaN for gaps and for a sliver of a last
    second (a few ms give a rate from a handful of messages: noise)."""
    measured = sum(1 for p in points if p is not None)
    return [p[key] / p["span_s"] if p is not None and (p["span_s"] >= 0.5 or measured == 1)
            else math.nan for p in points]


def _top(values) -> float:
    finite = [v for v in values if v is not None and not math.isnan(v)]
    return max(finite, default=0.0) or 1.0


def _pairs(xs, ys) -> list[tuple[float, float]]:
    return [(x, y) for x, y in zip(xs, ys) if not (math.isnan(x) or math.isnan(y))]


def _cycle(colours):
    while True:
        yield from colours


def _joint_legend(left, right) -> None:
    """One legend for both y axes, under the plot where it covers no line."""
    handles, labels = left.get_legend_handles_labels()
    more_handles, more_labels = right.get_legend_handles_labels()
    left.figure.legend(handles + more_handles, labels + more_labels, loc="outside lower center",
                       ncols=len(labels + more_labels))

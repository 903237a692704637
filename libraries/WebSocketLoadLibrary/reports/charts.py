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

from ..engine import LoadResult
from ..engine import pattern_of
from ..engine import ScalingResult

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
PUSHES = "#9467bd"
SUBTITLE_CHARACTERS = 86    # wider runs off the figure's right edge


def step_timeline_chart(result: LoadResult, title: str | None = None,
                        throughput: float | None = None, show_target: bool = True) -> Chart:
    """Sent/received per second above, latency p50/p99 per second below, over the run.

    In the words of the step's mode: a listen-only step draws its stream's messages per
    second and no latency (it has none per second: staleness is in its own chart), a
    fan-out step publishes and deliveries. Pushes per second are drawn when any arrived.
    `throughput` overrides the result's achieved rate in the subtitle (a merged run's steps
    did not all run at once, so their rates do not add up)."""
    title = title or result.name or "load step"
    pattern = pattern_of(result.mode)
    words = pattern.words
    listen = not words.sent
    points = _with_gaps(result.timeline)
    x = [p["second"] + p["span_s"] / 2 if p else math.nan for p in points]

    def rate(key):
        return _per_second(points, key)

    def latency(key):
        return [p[key] if p and p["received"] else math.nan for p in points]

    rates = {}   # legend label -> (series label, per second, style)
    if words.sent:
        rates[f"{words.sent}/s"] = (f"{words.sent} (msg/s)", rate("sent"),
                                    dict(color=SENT, marker="o", markersize=3))
    rates[f"{words.received}/s"] = (f"{words.received} (msg/s)", rate("received"),
                                    dict(color=RECEIVED, marker="o", markersize=3,
                                         linestyle="-" if listen else "--"))
    series = {key: ys for key, ys, _ in rates.values()}
    pushes = rate("pushes") if any("pushes" in p for p in result.timeline) else None
    if pushes is not None:
        series["pushes (msg/s)"] = pushes
    lost = rate("lost")
    if not listen:
        series[f"{words.lost} (msg/s)"] = lost
        series["p50 (ms)"] = latency("latency_p50_ms")
        series["p99 (ms)"] = latency("latency_p99_ms")
    throughput = result.achieved_receive_rate if throughput is None else throughput
    subtitle = _wrapped(_timeline_subtitle(result, throughput))
    with _figure(height_in=HEIGHT_IN if listen else 4.2, one_axes=False) as (figure, _):
        if listen:
            top, bottom = figure.subplots(), None
        else:
            top, bottom = figure.subplots(2, 1, sharex=True, height_ratios=(1, 1))
        figure.suptitle(f"{title}\n{subtitle}", fontsize=10, x=0.02, ha="left")
        for label, (_, ys, style) in rates.items():
            top.plot(x, ys, label=label, **style)
        if result.lost:
            top.bar(x, lost, width=0.6, color=LOST, alpha=0.6, label=f"{words.lost}/s")
        if result.target_rate and show_target:
            top.axhline(result.target_rate, color=TARGET, linestyle=":", linewidth=1,
                        label=f"target {result.target_rate:,.0f}")
        top.set_ylabel("messages / s")
        top.set_ylim(0, _top([y for _, ys, _ in rates.values() for y in ys]
                             + [result.target_rate or 0]) * 1.15)
        if pushes is None:
            top.legend(loc="lower right", ncols=4)
        else:  # a scale of their own: a heartbeat a second next to 10k replies a second
            right = top.twinx()
            right.plot(x, pushes, color=PUSHES, marker=".", markersize=3, linestyle=":",
                       label="pushes/s")
            right.set_ylabel("pushes / s", color=PUSHES)
            right.set_ylim(0, _top(pushes) * 1.3)
            right.grid(False)
            right.spines["right"].set_visible(True)
            handles, labels = top.get_legend_handles_labels()
            more_handles, more_labels = right.get_legend_handles_labels()
            right.legend(handles + more_handles, labels + more_labels, loc="lower right",
                         ncols=5)  # on the axes drawn last: above both
        if bottom is None:
            top.set_xlabel("time since the step started (s)")
        else:
            bottom.plot(x, series["p50 (ms)"], color=P50, marker="o", markersize=3,
                        label="p50")
            bottom.plot(x, series["p99 (ms)"], color=P99, marker="o", markersize=3,
                        label="p99")
            bottom.set_ylabel(f"{words.latency} (ms)")
            bottom.set_xlabel("time since the step started (s)")
            bottom.set_ylim(0, _top(series["p99 (ms)"] + series["p50 (ms)"]) * 1.45)
            bottom.legend(loc="upper right", ncols=2)  # the headroom keeps it off the lines
        svg = _svg(figure)
    return Chart(title, svg, {label: _pairs(x, ys) for label, ys in series.items()})


def _timeline_subtitle(result: LoadResult, throughput: float) -> str:
    text = pattern_of(result.mode).subtitle(result, throughput)
    pushes = result.sections.get("pushes")
    if pushes is not None:
        text += f"; {pushes.total:,} pushes"
    return text


def _wrapped(subtitle: str) -> str:
    """Lines of at most SUBTITLE_CHARACTERS, broken only between "; "-separated parts."""
    lines = []
    for part in subtitle.split("; "):
        if lines and len(lines[-1]) + 2 + len(part) <= SUBTITLE_CHARACTERS:
            lines[-1] += "; " + part
        else:
            lines.append(part)
    return "\n".join(lines)


def latency_distribution_chart(histograms: dict, title: str = "Latency by percentile",
                               value_label: str = "latency (ms)", counted: str = "messages",
                               empty: str = "no replies") -> Chart:
    """The HdrHistogram percentile spectrum of each histogram (label -> LatencyHistogram),
    on the usual 1/(1-p) axis so that the tail gets the room it deserves. Any distribution
    in microseconds fits (a stream's staleness, its gaps): `value_label` names the y axis,
    `counted` what a histogram counts (a word, or label -> word), `empty` the empty chart."""
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
            word = counted.get(label, "messages") if isinstance(counted, dict) else counted
            axes.plot(xs, [ms for _, ms in points], color=colour, linewidth=1.5,
                      label=f"{label}: p50 {p50:,.2f} / p95 {p95:,.2f} / p99 {p99:,.2f} ms "
                            f"({histogram.count:,} {word})")
            axes.plot([2, 20, 100], [p50, p95, p99], linestyle="none", marker="o",
                      markersize=4, color=colour)
            series[label] = points
        axes.set_xscale("log")
        ticks = [(x, text) for x, text in PERCENTILE_TICKS if x <= largest_x * 1.5]
        axes.set_xticks([x for x, _ in ticks], [text for _, text in ticks])
        axes.minorticks_off()
        axes.set_xlim(1, max(100, ticks[-1][0]))
        axes.set_xlabel("percentile (log scale of 1 / (1 - p))")
        axes.set_ylabel(value_label)
        axes.set_ylim(bottom=0)
        if series:
            axes.legend(loc="upper left")
        else:
            axes.text(0.5, 0.5, empty, transform=axes.transAxes, ha="center")
        svg = _svg(figure)
    return Chart(title, svg, series)


# -- sections: the charts of each further kind of traffic --------------------------------
def stream_charts(result: LoadResult, stream) -> list[Chart]:
    """A listen-only stream: staleness (with a timestamp field) and the gaps between
    messages, by percentile."""
    name = result.name or "step"
    curves, counted = {}, {}
    if stream.timestamp_field:
        label = f"staleness ({stream.timestamp_field})"
        curves[label], counted[label] = stream.staleness, "messages"
    if stream.gap.count:
        curves["gap between messages"], counted["gap between messages"] = stream.gap, "gaps"
    if not curves:
        return []
    what = "staleness" if stream.timestamp_field else "gap between messages"
    return [latency_distribution_chart(
        curves, f"{name}: {what} by percentile",
        value_label="staleness / gap (ms)" if len(curves) > 1 else f"{what} (ms)",
        counted=counted, empty="no timestamps")]


SUBSCRIBER_BARS = 40       # up to this many subscribers: a bar each, in connection order
SUBSCRIBER_BINS = 40       # more: how many subscribers fell in each of this many bins


def fanout_charts(result: LoadResult, fanout) -> list[Chart]:
    """A fan-out: delivery latency and publish to last subscriber by percentile, and the
    subscribers' delivery ratio and mean latency."""
    name = result.name or "step"
    return [latency_distribution_chart(
                {"delivery": result.latency, "publish to last subscriber": fanout.last_delivery},
                f"{name}: delivery latency by percentile",
                counted={"delivery": "deliveries", "publish to last subscriber": "publishes"},
                empty="no deliveries"),
            subscribers_chart(fanout, f"{name}: delivery ratio and mean latency per subscriber")]


def subscribers_chart(fanout, title: str) -> Chart:
    """Delivery ratio above, mean delivery latency below, per subscriber.

    A few subscribers: a bar each, in connection order, the worst and the slowest in red.
    More: how many subscribers got each delivery ratio and each mean latency, in
    SUBSCRIBER_BINS bins on a log scale of counts, so that one bad subscriber among 10,000
    still shows as a bar (a curve of all of them sorted puts it in a corner no one sees);
    the SVG keeps its size and the cost is one numpy pass, at 50 subscribers or 100,000.
    The worst and the slowest are named in the subtitle and their bins are red."""
    ratios = fanout.subscriber_ratios()
    means = fanout.subscriber_latency_mean_ms
    worst, worst_ratio = fanout.worst_subscriber
    slowest, slowest_ms = fanout.slowest_subscriber
    silent = sum(mean is None for mean in means)
    subtitle = (f"{len(ratios):,} subscribers; worst {worst} got {worst_ratio:.4f} of "
                f"{fanout.publishes:,} publishes; slowest {slowest} {slowest_ms:,.2f} ms mean"
                + (f"; {silent:,} got none" if silent else ""))
    with _figure(height_in=4.2, one_axes=False) as (figure, _):
        top, bottom = figure.subplots(2, 1, height_ratios=(1, 1))
        figure.suptitle(f"{title}\n{subtitle}", fontsize=10, x=0.02, ha="left")
        if len(ratios) <= SUBSCRIBER_BARS:
            ratio_points = list(enumerate(ratios))
            latency_points = [(i, mean) for i, mean in enumerate(means) if mean is not None]
            _bars(top, ratio_points, RECEIVED, worst if worst_ratio < 1 else None)
            _bars(bottom, latency_points, P50, slowest)
            top.set_ylim(0, max(ratios + [1.0]) * 1.05)
            bottom.set_ylim(0, _top([m for _, m in latency_points]) * 1.15)
            for axes in (top, bottom):
                axes.set_xlabel("subscriber (connection order)")
                axes.xaxis.get_major_locator().set_params(integer=True)
            top.set_ylabel("delivery ratio")
            bottom.set_ylabel("mean latency (ms)")
            series = {"delivery ratio": ratio_points, "mean latency (ms)": latency_points}
        else:
            by_ratio = _binned(top, ratios, RECEIVED, worst_ratio if worst_ratio < 1 else None)
            by_latency = _binned(bottom, [m for m in means if m is not None], P50,
                                 slowest_ms if slowest >= 0 else None)
            top.set_xlabel("delivery ratio")
            bottom.set_xlabel("mean delivery latency (ms)")
            for axes in (top, bottom):
                axes.set_ylabel("subscribers")
            series = {"subscribers by delivery ratio": by_ratio,
                      "subscribers by mean latency (ms)": by_latency}
        svg = _svg(figure)
    return Chart(title, svg, series)


def _bars(axes, points: list[tuple[int, float]], colour: str, marked: int | None) -> None:
    axes.bar([i for i, _ in points], [v for _, v in points], width=0.7,
             color=[LOST if i == marked else colour for i, _ in points])


def _binned(axes, values: list[float], colour: str, marked: float | None) -> list:
    """How many values fall in each of SUBSCRIBER_BINS bins, drawn as bars on a log scale of
    counts; the bin holding `marked` in red. Returns (bin start, count) of non-empty bins."""
    import numpy as np
    if not values:
        axes.text(0.5, 0.5, "no deliveries", transform=axes.transAxes, ha="center")
        return []
    low, high = min(values), max(values)
    if high - low < 1e-9:  # every subscriber alike: one bin around the value
        low, high = low - max(abs(low) * 0.01, 1e-3), high + max(abs(high) * 0.01, 1e-3)
    counts, edges = np.histogram(values, bins=SUBSCRIBER_BINS, range=(low, high))
    starts, widths = edges[:-1], np.diff(edges)
    marked_bin = (min(int(np.searchsorted(edges, marked, side="right")) - 1, len(counts) - 1)
                  if marked is not None else -1)
    axes.bar(starts, counts, width=widths * 0.9, align="edge",
             color=[LOST if k == marked_bin else colour for k in range(len(counts))])
    axes.set_yscale("log")
    axes.set_ylim(0.7, max(counts) * 2)
    axes.minorticks_off()
    return [(float(start), int(count)) for start, count in zip(starts, counts) if count]


@dataclass(frozen=True)
class SectionCharts:
    """How a section kind is charted: `draw(result, section)` gives its charts;
    `distribution`: they include the step's latency distribution (the plain one of replies
    would be empty or the same again)."""
    draw: object
    distribution: bool = False


# by section kind (engine/sections.py), in the order their charts follow the timeline;
# pushes have no chart of their own: the timeline draws them per second
SECTION_CHARTS = {"stream": SectionCharts(stream_charts, distribution=True),
                  "fanout": SectionCharts(fanout_charts, distribution=True)}


def section_charts(result: LoadResult) -> tuple[list[Chart], bool]:
    """The charts of the result's sections, and whether they drew its latency distribution."""
    drawn, distribution = [], False
    for kind, how in SECTION_CHARTS.items():
        part = result.sections.get(kind)
        if part is not None:
            drawn.extend(how.draw(result, part))
            distribution = distribution or how.distribution
    return drawn, distribution


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


def capacity_chart(search: ScalingResult) -> Chart:
    """A capacity search: achieved rate (with the ideal line) and p95/p99 by target rate,
    the latency targets as horizontal lines, the knee (the capacity found, and the first
    rate that missed) as vertical ones, a probe the generator could not apply crossed out.

    Drawn from the probes' capacity sections alone, so a search rebuilt from a merged file
    (a plain ScalingResult of its probes) charts the same as the keyword's result."""
    probes = sorted((step for step in search.steps if "capacity" in step.sections),
                    key=lambda step: step.sections["capacity"].rate)
    rates = [step.sections["capacity"].rate for step in probes]
    achieved = [step.achieved_receive_rate for step in probes]
    found = probes[0].sections["capacity"].found if probes else {}
    targets = probes[0].sections["capacity"].targets if probes else {}
    bounds = {float(p): ms for p, ms in (targets.get("latency_ms") or {}).items()}
    shown = sorted({95.0, 99.0} | set(bounds))[:4]
    latency = {p: [step.latency_ms(p) for step in probes] for p in shown}
    finite = [v for values in latency.values() for v in values if math.isfinite(v)]
    top = max(finite + list(bounds.values()) + [0.001]) * 1.3
    capacity, missed = found.get("capacity_msg_s"), found.get("first_missed_msg_s")
    limit = found.get("generator_limit_msg_s")
    unit = found.get("unit") or "msg/s"   # or connections (Find Maximum Connections)
    per = "/s" if unit == "msg/s" else f" {unit}"
    title = (f"{search.name}: achieved rate and latency by "
             f"{'target rate' if unit == 'msg/s' else unit}")
    subtitle = (f"capacity {'above ' if found.get('lower_bound') else ''}{capacity:,.0f} {unit}"
                if capacity is not None else "no rate met the targets")
    subtitle += f" ({found.get('stop_reason', '?')}, {len(probes)} probes"
    subtitle += f", {found['total_s']:.1f} s)" if "total_s" in found else ")"
    with _figure() as (figure, axes):
        axes.set_title(f"{title}\n{subtitle}", loc="left")
        if rates and unit == "msg/s":
            edge = max(rates + achieved)
            axes.plot([0, edge], [0, edge], color=TARGET, linestyle=":", label="ideal (= target)")
        axes.plot(rates, achieved, color=RECEIVED, marker="o", linestyle="-",
                  label="achieved (replies/s)")
        if capacity is not None:
            axes.axvline(capacity, color=RECEIVED, linestyle="--", linewidth=1,
                         label=f"knee: met at {capacity:,.0f}{per}")
        if missed is not None:
            axes.axvline(missed, color=LOST, linestyle="--", linewidth=1,
                         label=f"missed at {missed:,.0f}{per}")
        if limit is not None:
            limited = [(r, a) for r, a in zip(rates, achieved) if r == limit]
            axes.plot([r for r, _ in limited], [a for _, a in limited], color=LOST, marker="x",
                      markersize=10, linestyle="none", label=f"generator limit ({limit:,.0f}/s)")
        axes.set_xlabel("target rate (msg/s)" if unit == "msg/s" else unit)
        axes.set_ylabel("achieved rate (msg/s)")
        axes.set_xlim(left=0)
        axes.set_ylim(bottom=0)
        right = axes.twinx()
        colours = {95.0: P95, 99.0: P99}
        spare = _cycle(("#9467bd", "#8c564b"))
        series = {"achieved (msg/s)": list(zip(rates, achieved))}
        for percentile in shown:
            colour = colours.get(percentile) or next(spare)
            ys = [min(v, top * 0.97) for v in latency[percentile]]  # beyond the timeout: top
            right.plot(rates, ys, color=colour, marker="s", linestyle="--",
                       label=f"p{percentile:g} latency")
            series[f"p{percentile:g} (ms)"] = list(zip(rates, latency[percentile]))
            if percentile in bounds:
                right.axhline(bounds[percentile], color=colour, linestyle=":", linewidth=1,
                              label=f"p{percentile:g} target {bounds[percentile]:g} ms")
        right.set_ylabel("latency (ms)")
        right.set_ylim(bottom=0, top=top)
        right.grid(False)
        right.spines["right"].set_visible(True)
        handles, labels = axes.get_legend_handles_labels()
        more_handles, more_labels = right.get_legend_handles_labels()
        figure.legend(handles + more_handles, labels + more_labels,
                      loc="outside lower center", ncols=3)   # up to 9 entries: rows of 3
        svg = _svg(figure)
    return Chart(title, svg, series)


def result_charts(result) -> list[Chart]:
    """The charts of a load keyword's result: a step, or a rate or connection scaling, or a
    capacity search. A step's sections add theirs (SECTION_CHARTS), a stream's or a
    fan-out's in place of the distribution of reply latency."""
    if isinstance(result, ScalingResult):
        first = (rate_scaling_chart(result) if result.kind == "rate"
                 else capacity_chart(result) if result.kind == "capacity"
                 else connection_scaling_chart(result))
        return [first, latency_distribution_chart(
            {step.name.removeprefix(f"{result.name}: "): step.latency for step in result.steps},
            f"{result.name}: latency by percentile, per step")]
    name = result.name or "step"
    own, distribution = section_charts(result)
    if result.agents:
        parts = result.agent_results()
        drawn = [step_timeline_chart(result, f"{name} (all {len(parts)} agents)"),
                 agents_timeline_chart(result, parts)]
        if not distribution:
            drawn.append(latency_distribution_chart(
                {"all agents": result.latency, **{p.name: p.latency for p in parts}},
                f"{name}: latency by percentile, merged and per agent"))
        return drawn + own
    drawn = [step_timeline_chart(result)]
    if not distribution:
        drawn.append(latency_distribution_chart({name: result.latency},
                                                f"{name}: latency by percentile"))
    return drawn + own


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
    second (a few ms give a rate from a handful of messages: noise). A second without the
    key counts 0 (pushes appear in the timeline from the first one on)."""
    measured = sum(1 for p in points if p is not None)
    return [p.get(key, 0) / p["span_s"] if p is not None and (p["span_s"] >= 0.5 or measured == 1)
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

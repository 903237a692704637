"""The charts of a step's result sections (engine: results/sections.py), by section kind.

A section's charts are a function `draw(result, section) -> [Chart]` decorated with
`@section_chart(kind)`: it registers itself when defined, and `section_charts` draws every
section a result has, in the order they were registered (the order their charts follow the
timeline). Pushes have no chart of their own: the timeline draws them per second."""
from __future__ import annotations

from dataclasses import dataclass

from ...engine import LoadResult
from .figure import LOST, P50, RECEIVED, Chart, styled_figure, svg_of, top_of
from .step import latency_distribution_chart


@dataclass(frozen=True)
class SectionCharts:
    """How a section kind is charted: `draw(result, section)` gives its charts;
    `distribution`: they include the step's latency distribution (the plain one of replies
    would be empty or the same again)."""
    draw: object
    distribution: bool = False


SECTION_CHARTS: dict[str, SectionCharts] = {}   # by section kind, in registration order


def section_chart(kind: str, distribution: bool = False):
    """Registers the decorated `draw(result, section)` as the charts of section `kind`;
    `distribution`: see SectionCharts. A kind has one drawing."""
    def register(draw):
        if kind in SECTION_CHARTS:
            raise ValueError(f"section kind {kind!r} is charted already, by "
                             f"{SECTION_CHARTS[kind].draw.__qualname__}")
        SECTION_CHARTS[kind] = SectionCharts(draw, distribution)
        return draw
    return register


def section_charts(result: LoadResult) -> tuple[list[Chart], bool]:
    """The charts of the result's sections, and whether they drew its latency distribution."""
    drawn, distribution = [], False
    for kind, how in SECTION_CHARTS.items():
        part = result.sections.get(kind)
        if part is not None:
            drawn.extend(how.draw(result, part))
            distribution = distribution or how.distribution
    return drawn, distribution


@section_chart("stream", distribution=True)
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


@section_chart("fanout", distribution=True)
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
    with styled_figure(height_in=4.2, one_axes=False) as (figure, _):
        top, bottom = figure.subplots(2, 1, height_ratios=(1, 1))
        figure.suptitle(f"{title}\n{subtitle}", fontsize=10, x=0.02, ha="left")
        if len(ratios) <= SUBSCRIBER_BARS:
            ratio_points = list(enumerate(ratios))
            latency_points = [(i, mean) for i, mean in enumerate(means) if mean is not None]
            _bars(top, ratio_points, RECEIVED, worst if worst_ratio < 1 else None)
            _bars(bottom, latency_points, P50, slowest)
            top.set_ylim(0, max(ratios + [1.0]) * 1.05)
            bottom.set_ylim(0, top_of([m for _, m in latency_points]) * 1.15)
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
        svg = svg_of(figure)
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

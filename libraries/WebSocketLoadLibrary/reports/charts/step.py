"""The charts of one step: its timeline (sent, received and latency per second), its latency
distribution by percentile (any HdrHistogram: staleness and gaps too), and on load agents
each agent's replies per second."""
from __future__ import annotations

import math

from ...engine import LoadResult
from ...engine import pattern_of
from .figure import (CURVES, HEIGHT_IN, LOST, P50, P99, RECEIVED, SENT, TARGET, Chart,
                     finite_points, per_second, repeating, styled_figure, svg_of, top_of,
                     with_gaps)

PUSHES = "#9467bd"
SUBTITLE_CHARACTERS = 86    # wider runs off the figure's right edge
LEGEND_INSIDE = 1           # more curves than this: their legend goes under the plot
LEGEND_ROW_IN = 0.16        # the height of one legend row (inches)
OWN_SCALE = 4               # sent this many times fewer than received: a scale of its own
# the percentile axis of a latency distribution: x = 1 / (1 - p); ticks read as percentiles
PERCENTILE_TICKS = ((1, "0%"), (2, "50%"), (10, "90%"), (100, "99%"), (1_000, "99.9%"),
                    (10_000, "99.99%"), (100_000, "99.999%"), (1_000_000, "99.9999%"))


def step_timeline_chart(result: LoadResult, title: str | None = None,
                        throughput: float | None = None, show_target: bool = True,
                        subtitle: str | None = None, x_label: str | None = None) -> Chart:
    """Sent/received per second above, latency p50/p99 per second below, over the run.

    In the words of the step's mode: a listen-only step draws its stream's messages per
    second and no latency (it has none per second: staleness is in its own chart), a
    fan-out step publishes and deliveries. What is sent gets a scale of its own on the right
    when far fewer go out than arrive (a fan-out's publishes beside their deliveries), as
    do pushes per second when any arrived. `throughput` overrides the result's achieved
    rate in the subtitle (a merged run's steps did not all run at once, so their rates do
    not add up); `subtitle` and `x_label` replace the subtitle and the time axis's words."""
    title = title or result.name or "load step"
    pattern = pattern_of(result.mode)
    words = pattern.words
    listen = not words.sent
    points = with_gaps(result.timeline)
    x = [p["second"] + p["span_s"] / 2 if p else math.nan for p in points]
    x_label = x_label or "time since the step started (s)"

    def rate(key):
        return per_second(points, key)

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
    subtitle = _wrapped(subtitle or _timeline_subtitle(result, throughput))
    # a scale of their own on the right: a publish a second beside 10k deliveries a
    # second, a heartbeat a second beside 10k replies
    apart = []   # (legend label, per second, style, axis words)
    if words.sent and top_of(rates[f"{words.received}/s"][1]) > OWN_SCALE * top_of(
            rates[f"{words.sent}/s"][1]):
        _, ys, style = rates.pop(f"{words.sent}/s")
        apart.append((f"{words.sent}/s", ys, {**style, "linestyle": "-"}, f"{words.sent} / s"))
    if pushes is not None:
        apart.append(("pushes/s", pushes, dict(color=PUSHES, marker=".", markersize=3,
                                               linestyle=":"), "pushes / s"))
    with styled_figure(height_in=HEIGHT_IN if listen else 4.2, one_axes=False) as (figure, _):
        if listen:
            top, bottom = figure.subplots(), None
        else:
            top, bottom = figure.subplots(2, 1, sharex=True, height_ratios=(1, 1))
        figure.suptitle(f"{title}\n{subtitle}", fontsize=10, x=0.02, ha="left")
        for label, (_, ys, style) in rates.items():
            top.plot(x, ys, label=label, **style)
        if result.lost:
            top.bar(x, lost, width=0.6, color=LOST, alpha=0.6, label=f"{words.lost}/s")
        if result.target_rate and show_target and not apart:
            top.axhline(result.target_rate, color=TARGET, linestyle=":", linewidth=1,
                        label=f"target {result.target_rate:,.0f}")
        top.set_ylabel("messages / s" if len(rates) > 1 else f"{words.received} / s")
        top.set_ylim(0, top_of([y for _, ys, _ in rates.values() for y in ys]
                             + [0 if apart else result.target_rate or 0]) * 1.15)
        drawn_on = [top]
        for number, (label, ys, style, axis_words) in enumerate(apart):
            right = top.twinx()
            if number:   # a third scale: its spine beside the second one
                right.spines["right"].set_position(("axes", 1.0 + 0.12 * number))
            right.plot(x, ys, label=label, **style)
            if label != "pushes/s" and result.target_rate and show_target:
                right.axhline(result.target_rate, color=TARGET, linestyle=":", linewidth=1,
                              label=f"target {result.target_rate:,.0f}")
            right.set_ylabel(axis_words, color=style["color"])
            right.set_ylim(0, top_of(ys + [result.target_rate or 0]
                                     if label != "pushes/s" else ys) * 1.3)
            right.grid(False)
            right.spines["right"].set_visible(True)
            drawn_on.append(right)
        handles, labels = [], []
        for axes in drawn_on:
            more_handles, more_labels = axes.get_legend_handles_labels()
            handles, labels = handles + more_handles, labels + more_labels
        # above the plot, on the axes drawn last: it covers no point, however they lie
        drawn_on[-1].legend(handles, labels, loc="lower right", bbox_to_anchor=(1.0, 1.0),
                            ncols=5, frameon=False, borderaxespad=0.2)
        if bottom is None:
            top.set_xlabel(x_label)
        else:
            bottom.plot(x, series["p50 (ms)"], color=P50, marker="o", markersize=3,
                        label="p50")
            bottom.plot(x, series["p99 (ms)"], color=P99, marker="o", markersize=3,
                        label="p99")
            bottom.set_ylabel(f"{words.latency} (ms)")
            bottom.set_xlabel(x_label)
            bottom.set_ylim(0, top_of(series["p99 (ms)"] + series["p50 (ms)"]) * 1.45)
            bottom.legend(loc="upper right", ncols=2)  # the headroom keeps it off the lines
        svg = svg_of(figure)
    return Chart(title, svg, {label: finite_points(x, ys) for label, ys in series.items()})


def _timeline_subtitle(result: LoadResult, throughput: float) -> str:
    text = pattern_of(result.mode).subtitle(result, throughput)
    pushes = result.sections.get("pushes")
    if pushes is not None:
        text += f"; {pushes.total:,} pushes"
    return text


def _wrapped(subtitle: str) -> str:
    """Lines of at most SUBTITLE_CHARACTERS, broken between "; "-separated parts, and a
    part longer than a line between its ", "-separated figures."""
    lines = []
    for part in subtitle.split("; "):
        pieces = part.split(", ") if len(part) > SUBTITLE_CHARACTERS else [part]
        for number, piece in enumerate(pieces):
            joint = "; " if number == 0 else ", "
            if lines and len(lines[-1]) + len(joint) + len(piece) <= SUBTITLE_CHARACTERS:
                lines[-1] += joint + piece
            else:
                lines.append(piece)
    return "\n".join(lines)


def latency_distribution_chart(histograms: dict, title: str = "Latency by percentile",
                               value_label: str = "latency (ms)", counted: str = "messages",
                               empty: str = "no replies") -> Chart:
    """The HdrHistogram percentile spectrum of each histogram (label -> LatencyHistogram),
    on the usual 1/(1-p) axis so that the tail gets the room it deserves. Any distribution
    in microseconds fits (a stream's staleness, its gaps): `value_label` names the y axis,
    `counted` what a histogram counts (a word, or label -> word), `empty` the empty chart."""
    series = {}
    below = len(histograms) > LEGEND_INSIDE   # a legend of many curves would cover them
    height = HEIGHT_IN + (LEGEND_ROW_IN * len(histograms) + 0.2 if below else 0.0)
    with styled_figure(height_in=height) as (figure, axes):
        axes.set_title(title, loc="left")
        largest_x = 10.0
        for (label, histogram), colour in zip(histograms.items(), repeating(CURVES)):
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
        if series and below:
            figure.legend(loc="outside lower center", ncols=1)
        elif series:
            axes.legend(loc="upper left")
        else:
            axes.text(0.5, 0.5, empty, transform=axes.transAxes, ha="center")
        svg = svg_of(figure)
    return Chart(title, svg, series)


def agents_timeline_chart(result: LoadResult, parts: list[LoadResult]) -> Chart:
    """Replies per second of each load agent, on the controller's clock (each agent's start
    moved by its measured clock offset), against each agent's share of the target."""
    title = f"{result.name or 'step'}: received per second, per agent"
    series = {}
    with styled_figure() as (figure, axes):
        axes.set_title(title, loc="left")
        tops = [0.0]
        for part, colour in zip(parts, repeating(CURVES)):
            shift = part.started_at - result.started_at
            points = with_gaps(part.timeline)
            xs = [shift + p["second"] + p["span_s"] / 2 if p else math.nan for p in points]
            ys = per_second(points, "received")
            axes.plot(xs, ys, color=colour, marker="o", markersize=3,
                      label=f"{part.name}: {part.received:,} received")
            if part.target_rate:
                axes.axhline(part.target_rate, color=colour, linestyle=":", linewidth=1)
            tops.extend(ys + [part.target_rate or 0])
            series[part.name] = finite_points(xs, ys)
        axes.set_xlabel("time since the first agent started (s, controller clock)")
        axes.set_ylabel("replies / s")
        axes.set_ylim(0, top_of(tops) * 1.3)
        axes.legend(loc="lower right", ncols=2)
        svg = svg_of(figure)
    return Chart(title, svg, series)

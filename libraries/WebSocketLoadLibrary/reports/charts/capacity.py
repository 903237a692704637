"""The chart of a capacity search (`Find Maximum Rate`, `Find Maximum Connections`,
`Find Maximum Subscribers`): achieved rate and latency by probe, the targets and the knee."""
from __future__ import annotations

import math

from ...engine import ScalingResult
from .figure import (LOST, P95, P99, RECEIVED, TARGET, Chart, repeating, styled_figure,
                     svg_of)


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
    with styled_figure() as (figure, axes):
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
        spare = repeating(("#9467bd", "#8c564b"))
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
        svg = svg_of(figure)
    return Chart(title, svg, series)

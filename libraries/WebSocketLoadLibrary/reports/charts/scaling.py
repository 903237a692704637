"""The charts of a scaling series: achieved rate by target rate (`Run Rate Scaling`), and
throughput and efficiency by connections (`Run Connection Scaling`)."""
from __future__ import annotations

from ...engine import ScalingResult
from .figure import P95, RECEIVED, TARGET, Chart, joint_legend, styled_figure, svg_of


def rate_scaling_chart(scaling: ScalingResult) -> Chart:
    """Achieved rate against target rate (with the ideal line), and p95 per step."""
    paced = [step for step in scaling.steps if step.target_rate]
    targets = [step.target_rate for step in paced]
    achieved = [step.achieved_receive_rate for step in paced]
    p95 = [step.latency_ms(95) for step in paced]
    title = f"{scaling.name}: achieved rate and p95 by target rate"
    with styled_figure() as (figure, axes):
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
        svg = svg_of(figure)
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
    joint_legend(axes, right)


def connection_scaling_chart(scaling: ScalingResult) -> Chart:
    """Throughput against connections with the linear ideal, and each step's efficiency."""
    counts = [step.connections for step in scaling.steps]
    achieved = [step.achieved_receive_rate for step in scaling.steps]
    ideal = [scaling.ideal_throughput(step) for step in scaling.steps]
    efficiency = [e * 100 for e in scaling.efficiencies]
    title = f"{scaling.name}: throughput by connections"
    with styled_figure() as (figure, axes):
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
        svg = svg_of(figure)
    return Chart(title, svg, {"achieved (msg/s)": list(zip(counts, achieved)),
                              "ideal (msg/s)": list(zip(counts, ideal)),
                              "efficiency (%)": list(zip(counts, efficiency))})

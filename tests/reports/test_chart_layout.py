"""Charts a reviewer can read: no legend over the lines it names, and no series flattened on
the axis beside a far larger one. Read from the SVG's geometry (matplotlib names its groups:
`patch_N` is an axes' background or a legend's frame, `legend_N` a legend)."""
from __future__ import annotations

import re

import pytest

from test_section_reports import fanout_result, histogram, svg_texts, timeline
from WebSocketLoadLibrary.engine import LoadResult, ScalingResult
from WebSocketLoadLibrary.engine.capacity.result import CapacityProbe
from WebSocketLoadLibrary.reports import charts

NUMBER = re.compile(r"-?\d+(?:\.\d+)?")


def box(svg: str, start: int) -> tuple[float, float, float, float]:
    """(left, top, right, bottom) of the first path after `start` in the SVG text."""
    path = re.search(r'<path d="([^"]*)"', svg[start:])
    values = [float(v) for v in NUMBER.findall(path.group(1))]
    xs, ys = values[0::2], values[1::2]
    return min(xs), min(ys), max(xs), max(ys)


def axes_boxes(svg: str) -> list[tuple]:
    """The plotting area of each axes: the background patch that opens its group."""
    return [box(svg, match.end()) for match in re.finditer(r'<g id="axes_\d+">', svg)]


def legend_boxes(svg: str) -> list[tuple]:
    return [box(svg, match.end()) for match in re.finditer(r'<g id="legend_\d+">', svg)]


def overlap(a: tuple, b: tuple) -> bool:
    return a[0] < b[2] and b[0] < a[2] and a[1] < b[3] and b[1] < a[3]


def capacity_search(probes: int = 8) -> ScalingResult:
    search = ScalingResult("capacity", "capacity")
    found = {"capacity_msg_s": 975.0, "unit": "msg/s", "first_missed_msg_s": 1012.0,
             "stop_reason": "precision reached", "total_s": 35.9}
    for number in range(probes):
        rate = 300.0 + 100 * number
        step = LoadResult(name=f"{rate:,.0f}/s", target_rate=rate, sent=int(rate * 2),
                          received=int(rate * 2), achieved_receive_rate=rate,
                          duration_s=2.0, timeline=timeline(2, int(rate), int(rate)))
        step.latency = histogram(1000 * (number + 1) ** 2, int(rate * 2), seed=number)
        step.sections["capacity"] = CapacityProbe("capacity", rate, "met", [],
                                                  {"latency_ms": {"95": 50}}, found)
        search.steps.append(step)
    return search


@pytest.mark.parametrize("curves", [2, 5, 12])
def test_the_legend_of_several_percentile_curves_sits_under_the_plot(curves):
    drawn = charts.latency_distribution_chart(
        {f"probe {n}: a label as long as a step's": histogram(500 * (n + 1), 400, seed=n)
         for n in range(curves)}, "several curves")
    (plot,), (legend,) = axes_boxes(drawn.svg), legend_boxes(drawn.svg)
    assert not overlap(plot, legend) and legend[1] > plot[3], (plot, legend)
    assert f"probe {curves - 1}: a label as long as a step's" in svg_texts(drawn.svg)


def test_one_curve_keeps_its_legend_inside_the_plot():
    drawn = charts.latency_distribution_chart({"burst": histogram(800, 1000)}, "one")
    (plot,), (legend,) = axes_boxes(drawn.svg), legend_boxes(drawn.svg)
    assert overlap(plot, legend)   # upper left, where a latency curve starts low


def test_no_legend_of_a_capacity_search_covers_its_lines():
    """The capacity chart and the percentiles of its probes, one curve a probe."""
    capacity, per_probe = charts.result_charts(capacity_search())
    for drawn in (capacity, per_probe):
        plots, legends = axes_boxes(drawn.svg), legend_boxes(drawn.svg)
        assert legends and plots
        assert not [(p, l) for p in plots for l in legends if overlap(p, l)], drawn.title
    assert "p95 target 50 ms" in svg_texts(capacity.svg)
    assert "1,000/s" in svg_texts(per_probe.svg)


def test_a_fan_outs_publishes_have_a_scale_of_their_own_beside_its_deliveries():
    """100 publishes a second to 10,000 subscribers: a million deliveries a second. On one
    axis the publishes would lie on zero."""
    timeline_chart = charts.result_charts(fanout_result())[0]
    texts = svg_texts(timeline_chart.svg)
    assert "publishes / s" in texts and "deliveries / s" in texts
    assert "publishes/s" in texts and "deliveries/s" in texts   # one legend names both
    assert len(axes_boxes(timeline_chart.svg)) == 3   # deliveries, publishes, latency
    assert [y for _, y in timeline_chart.series["publishes (msg/s)"]] == [100.0]
    # one legend names every rate, above the plot: it covers no point however they lie
    top, publishes, latency = axes_boxes(timeline_chart.svg)
    above = [l for l in legend_boxes(timeline_chart.svg) if l[3] <= top[1] + 1]
    assert len(above) == 1 and not overlap(above[0], top), (top, legend_boxes(timeline_chart.svg))


def test_requests_and_replies_share_one_scale():
    """Replies as many as messages: one axis, sent and received comparable at a glance."""
    result = LoadResult(name="burst", target_rate=100.0, sent=300, received=300,
                        duration_s=3.0, achieved_receive_rate=100.0,
                        timeline=timeline(3, 100, 100))
    result.latency = histogram(1000, 300)
    drawn = charts.step_timeline_chart(result)
    assert len(axes_boxes(drawn.svg)) == 2
    rates, _ = axes_boxes(drawn.svg)
    assert any(l[3] <= rates[1] + 1 for l in legend_boxes(drawn.svg))   # above the rates
    assert "messages / s" in svg_texts(drawn.svg) and "target 100" in svg_texts(drawn.svg)

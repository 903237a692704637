"""Charts of results as inline SVG for log.html and the merged report page (matplotlib),
one module per subject: a step (`step`: its timeline, latency distribution, agents), its
result sections (`sections`: streams, fan-outs; a new section kind's charts register there
with `@section_chart(kind)`, or in a module of their own imported here: `memory`, a
storm's memory per connection), scaling series (`scaling`) and capacity searches
(`capacity`); `figure` has what they share. `result_charts` picks the charts of any result.

Each chart keeps the data it drew (`Chart.series`), so a test can compare it with the
result it came from.
"""
from __future__ import annotations

from ...engine import ScalingResult
from .capacity import capacity_chart
from .figure import Chart, charts_html
from .memory import memory_charts, memory_per_connection_chart
from .scaling import connection_scaling_chart, rate_scaling_chart
from .sections import (SECTION_CHARTS, fanout_charts, section_chart, section_charts,
                       stream_charts, subscribers_chart)
from .step import agents_timeline_chart, latency_distribution_chart, step_timeline_chart

__all__ = ["Chart", "SECTION_CHARTS", "agents_timeline_chart", "capacity_chart", "charts_html",
           "connection_scaling_chart", "fanout_charts", "latency_distribution_chart",
           "memory_charts", "memory_per_connection_chart", "rate_scaling_chart",
           "result_charts", "section_chart", "section_charts", "step_timeline_chart",
           "stream_charts", "subscribers_chart"]


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

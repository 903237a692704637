"""The chart of a storm's memory per connection (`Open Connections At Rate`'s `memory`
section): each side's KB per connection and its whole growth, read back from the SVG's text
and from its bars' geometry. Results are built by hand, as the engine gives them."""
from __future__ import annotations

import re

import pytest

from test_chart_layout import NUMBER, axes_boxes
from test_section_reports import svg_texts
from WebSocketLoadLibrary.engine import ConnectionMemory, LoadResult
from WebSocketLoadLibrary.reports import charts
from WebSocketLoadLibrary.reports.charts.figure import P95, SENT
from WebSocketLoadLibrary.reports.charts.memory import GROWTH, HEAP, PER_CONNECTION

GENERATOR, SERVER = SENT, P95


def storm(memory: ConnectionMemory, name: str = "100,000 connections at 1,000/s") -> LoadResult:
    return LoadResult(name=name, mode="connect", connections=memory.connections,
                      sections={"memory": memory})


def measured(connections: int = 100_000, server_processes: int = 6, **figures
             ) -> ConnectionMemory:
    """As 100,000 connections cost here: 9.3 KB RSS and 5.1 KB heap a connection in the
    generator, 9.7 KB in the mock server."""
    values = {"generator_rss_growth_bytes": 930_000_000,
              "generator_heap_growth_bytes": 510_000_000,
              "server_rss_growth_bytes": 970_000_000 if server_processes else None, **figures}
    return ConnectionMemory(connections=connections, generator_processes=6,
                            server_processes=server_processes, **values)


def memory_chart(result: LoadResult):
    drawn = [c for c in charts.result_charts(result) if c.title.endswith("memory per connection")]
    assert len(drawn) == 1, [c.title for c in charts.result_charts(result)]
    return drawn[0]


def bars(svg: str, colour: str) -> list[tuple[float, float, float, float]]:
    """(left, top, right, bottom) of each bar filled with `colour`, left to right."""
    found = []
    for match in re.finditer(r'<path d="([^"]*)"[^>]*style="fill: ' + colour + '"', svg):
        values = [float(v) for v in NUMBER.findall(match.group(1))]
        xs, ys = values[0::2], values[1::2]
        found.append((min(xs), min(ys), max(xs), max(ys)))
    return sorted(found)


def width(box: tuple) -> float:
    return box[2] - box[0]


def test_a_storm_charts_each_sides_memory_per_connection_and_its_whole_growth():
    memory = measured()
    chart = memory_chart(storm(memory))
    texts = svg_texts(chart.svg)
    assert "100,000 connections at 1,000/s: memory per connection" in texts
    assert "100,000 connections held; generator in 6 process(es), mock server in 6 " \
           "process(es)" in texts
    assert "9.30 KB" in texts and "5.10 KB" in texts and "9.70 KB" in texts
    assert "930.0 MB" in texts and "970.0 MB" in texts
    assert PER_CONNECTION in texts and GROWTH in texts
    assert chart.series[PER_CONNECTION] == [
        ("generator RSS", memory.per_connection("generator") / 1000),
        ("generator heap", memory.per_connection("heap") / 1000),
        ("mock server RSS", memory.per_connection("server") / 1000)]
    assert chart.series[GROWTH] == [("generator RSS", 930.0), ("generator heap", 510.0),
                                    ("mock server RSS", 970.0)]


def test_the_bars_are_as_long_as_their_figures_from_one_zero():
    chart = memory_chart(storm(measured(server_rss_growth_bytes=465_000_000)))
    (generator, generator_growth) = bars(chart.svg, GENERATOR)
    (heap, _), (server, _) = bars(chart.svg, HEAP), bars(chart.svg, SERVER)
    # the server's 4.65 KB a connection is half the generator's 9.3, the heap 51/93 of it
    assert width(server) / width(generator) == pytest.approx(0.5, rel=0.01)
    assert width(heap) / width(generator) == pytest.approx(510 / 930, rel=0.01)
    assert generator[0] == pytest.approx(heap[0]) == pytest.approx(server[0])
    # one row per figure, the generator's on top, as the summary table reads
    assert generator[1] < heap[1] < server[1]
    # each side's whole growth is drawn in the right-hand axes, beside its figure
    per_connection, whole = axes_boxes(chart.svg)
    assert per_connection[2] <= generator_growth[0] and generator_growth[2] <= whole[2] + 0.5
    assert generator[2] <= per_connection[2]


def test_a_server_not_ours_keeps_its_row_saying_it_was_not_measured():
    chart = memory_chart(storm(measured(server_processes=0)))
    texts = svg_texts(chart.svg)
    assert "not measured (not our mock server)" in texts
    assert "server not ours: not measured" in texts
    assert bars(chart.svg, SERVER) == []
    assert [label for label, _ in chart.series[PER_CONNECTION]] == ["generator RSS",
                                                                    "generator heap"]


def test_a_heap_not_measured_draws_no_bar_rather_than_a_zero():
    chart = memory_chart(storm(measured(generator_heap_growth_bytes=None)))
    assert bars(chart.svg, HEAP) == [] and len(bars(chart.svg, GENERATOR)) == 2
    assert "not measured" in svg_texts(chart.svg)
    assert "generator heap" not in dict(chart.series[PER_CONNECTION])


def test_memory_given_back_over_the_open_draws_leftwards_and_costs_nothing_a_connection():
    chart = memory_chart(storm(measured(connections=300, server_processes=2,
                                        server_rss_growth_bytes=-300_000)))
    assert dict(chart.series[PER_CONNECTION])["mock server RSS"] == 0.0
    assert dict(chart.series[GROWTH])["mock server RSS"] == pytest.approx(-0.3)
    per_connection_bar, growth_bar = bars(chart.svg, SERVER)
    generator_growth = bars(chart.svg, GENERATOR)[1]
    assert growth_bar[2] == pytest.approx(generator_growth[0], abs=0.01)  # ends at zero
    assert "-0.3 MB" in svg_texts(chart.svg)


def test_no_memory_chart_when_no_connection_opened():
    result = storm(ConnectionMemory(connections=0, generator_rss_growth_bytes=4096,
                                    generator_heap_growth_bytes=0, server_processes=1,
                                    server_rss_growth_bytes=0))
    assert not [c for c in charts.result_charts(result) if "memory" in c.title]


def test_a_step_without_a_memory_section_has_no_memory_chart():
    result = storm(measured())
    result.sections = {}
    assert not [c for c in charts.result_charts(result) if "memory" in c.title]


def test_the_memory_chart_survives_saving_and_loading():
    result = storm(measured())
    again = memory_chart(LoadResult.from_dict(result.to_dict()))
    assert again.series == memory_chart(result).series


def test_storms_merged_across_agents_chart_their_connections_together():
    parts = [storm(measured(connections=50_000, server_processes=0,
                            generator_rss_growth_bytes=465_000_000,
                            generator_heap_growth_bytes=255_000_000), name=f"agent {n}")
             for n in (1, 2)]
    merged = LoadResult.merge(parts)
    chart = memory_chart(merged)
    texts = svg_texts(chart.svg)
    assert "100,000 connections held; generator in 12 process(es)" in texts
    assert dict(chart.series[PER_CONNECTION])["generator RSS"] == pytest.approx(9.3)
    assert dict(chart.series[GROWTH])["generator RSS"] == pytest.approx(930.0)


def test_the_memory_chart_goes_into_the_log_with_the_steps_other_charts():
    html = charts.charts_html(charts.result_charts(storm(measured())))
    assert html.count('<figure class="wsload-chart"') == 3   # timeline, connect latency, memory
    assert 'title="100,000 connections at 1,000/s: memory per connection"' in html

"""The chart of a connection storm's memory section (engine: results/connection_memory.py):
what one more connection costs the generator and the mock server, and what all the
connections opened cost each side, from the RSS and heap measured just before the first
connection and just after the last.

The section holds those two moments only, no samples in between, so the chart draws the
figures as bars and no curve of memory against connections: a line between two points
would show a growth nobody measured. The bound of `Memory Per Connection Should Be
Below` is not drawn either: the chart is drawn when the storm reports, before any check."""
from __future__ import annotations

from ...engine import ConnectionMemory, LoadResult
from .figure import P95, SENT, Chart, styled_figure, svg_of
from .sections import section_chart

KB, MB = 1000, 1000 ** 2       # decimal, as the section's figures and the keywords' sizes
HEAP = "#aec7e8"               # the generator's lighter blue: a part of what its RSS holds

# (row label, ConnectionMemory.per_connection side, the growth field it divides, colour)
ROWS = (("generator RSS", "generator", "generator_rss_growth_bytes", SENT),
        ("generator heap", "heap", "generator_heap_growth_bytes", HEAP),
        ("mock server RSS", "server", "server_rss_growth_bytes", P95))
PER_CONNECTION = "KB per connection"
GROWTH = "growth over the open (MB)"


@section_chart("memory")
def memory_charts(result: LoadResult, memory: ConnectionMemory) -> list[Chart]:
    """A storm's memory per connection; nothing when no side was measured (no connection
    opened): an empty chart would only repeat the table's "not measured"."""
    if all(memory.per_connection(side) is None for _, side, _, _ in ROWS):
        return []
    return [memory_per_connection_chart(memory, f"{result.name or 'step'}: memory per "
                                                f"connection")]


def memory_per_connection_chart(memory: ConnectionMemory, title: str) -> Chart:
    """A row per figure (generator RSS, generator heap, mock server RSS): on the left KB per
    connection, on the right the whole growth over the open. A figure not measured keeps
    its row, saying so and why, so that a missing bar cannot pass for a zero."""
    subtitle = (f"{memory.connections:,} connections held; generator in "
                f"{memory.generator_processes} process(es), "
                + (f"mock server in {memory.server_processes} process(es)"
                   if memory.server_processes else "server not ours: not measured"))
    per_connection, growth = [], []
    with styled_figure(height_in=2.6, one_axes=False) as (figure, _):
        left, right = figure.subplots(1, 2, sharey=True)
        figure.suptitle(f"{title}\n{subtitle}", fontsize=10, x=0.02, ha="left")
        for row, (label, side, field, colour) in enumerate(ROWS):
            value = memory.per_connection(side)
            grown = getattr(memory, field)
            if value is None or grown is None:
                why = ("not measured (not our mock server)"
                       if side == "server" and not memory.server_processes else "not measured")
                left.text(0.02, row, why, transform=left.get_yaxis_transform(),
                          va="center", fontsize=8, color="#555555")
                continue
            per_connection.append((label, value / KB))
            growth.append((label, grown / MB))
            _bar(left, row, value / KB, colour, f"{value / KB:,.2f} KB")
            _bar(right, row, grown / MB, colour, f"{grown / MB:,.1f} MB")
        left.set_yticks(range(len(ROWS)), [label for label, _, _, _ in ROWS])
        left.set_ylim(len(ROWS) - 0.5, -0.5)     # generator on top, as the table reads
        left.set_xlabel(PER_CONNECTION)
        right.set_xlabel(GROWTH)
        for axes, points in ((left, per_connection), (right, growth)):
            _room_for_labels(axes, [value for _, value in points])
            axes.grid(axis="y", visible=False)
        svg = svg_of(figure)
    return Chart(title, svg, {PER_CONNECTION: per_connection, GROWTH: growth})


def _bar(axes, row: int, value: float, colour: str, text: str) -> None:
    axes.barh(row, value, height=0.6, color=colour)
    axes.annotate(text, (value, row), textcoords="offset points",
                  xytext=(4 if value >= 0 else -4, 0), ha="left" if value >= 0 else "right",
                  va="center", fontsize=8)


def _room_for_labels(axes, values: list[float]) -> None:
    """Zero in view, and a third more beyond the longest bar for its label. RSS can shrink
    over an open (pages handed back): a negative growth draws leftwards, as measured."""
    low, high = min(values + [0.0]), max(values + [0.0])
    span = (high - low) or 1.0
    axes.set_xlim(low - (span / 3 if low < 0 else 0), high + span / 3)

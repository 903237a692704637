"""What every chart shares: the Chart a drawing gives (its title, SVG and the data it drew),
the page strip of charts, the colours and style, and the matplotlib figure drawn to SVG.

SVG rather than PNG: text stays text (searchable, crisp at any zoom) and Robot compresses
long log messages, which shrinks SVG to a fraction and PNG not at all. Figures are built
with matplotlib's object API (no pyplot, no global figure state) and closed when drawn;
matplotlib is imported only when a figure is drawn."""
from __future__ import annotations

import io
import math
from dataclasses import dataclass, field
from html import escape

SENT, RECEIVED, LOST, TARGET = "#1f77b4", "#2ca02c", "#d62728", "#7f7f7f"
P50, P95, P99 = "#1f77b4", "#ff7f0e", "#d62728"
CURVES = ("#1f77b4", "#d62728", "#2ca02c", "#9467bd", "#ff7f0e", "#8c564b", "#e377c2",
          "#17becf", "#bcbd22", "#7f7f7f")
STYLE = {"svg.fonttype": "none", "font.size": 9, "axes.titlesize": 10, "axes.labelsize": 9,
         "legend.fontsize": 8, "axes.grid": True, "grid.alpha": 0.3, "axes.spines.top": False,
         "axes.spines.right": False, "font.family": "DejaVu Sans"}
WIDTH_IN, HEIGHT_IN = 7.0, 3.4


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


# -- plumbing --------------------------------------------------------------------------
class styled_figure:
    """A matplotlib Figure with our style, closed on exit (Figure API: no pyplot state)."""

    def __init__(self, height_in: float = HEIGHT_IN, one_axes: bool = True):
        self.size, self.one_axes = (WIDTH_IN, height_in), one_axes

    def __enter__(self):
        import matplotlib
        from matplotlib.figure import Figure
        self.context = matplotlib.rc_context(STYLE)
        self.context.__enter__()
        self.figure = Figure(figsize=self.size, layout="constrained")
        return self.figure, (self.figure.subplots() if self.one_axes else None)

    def __exit__(self, *exc):
        self.figure.clear()
        self.context.__exit__(*exc)
        return False


def svg_of(figure) -> str:
    buffer = io.StringIO()
    figure.savefig(buffer, format="svg", metadata={"Date": None})
    text = buffer.getvalue()
    return text[text.index("<svg"):]  # no XML declaration or DOCTYPE inside HTML


def with_gaps(timeline: list[dict]) -> list[dict | None]:
    """Timeline points in order, with None for seconds nobody measured (merged runs)."""
    points, last = [], None
    for point in sorted(timeline, key=lambda p: p["second"]):
        if last is not None and point["second"] > last + 1:
            points.append(None)
        points.append(point)
        last = point["second"]
    return points


def per_second(points: list[dict | None], key: str) -> list[float]:
    """`key` per second of each timeline point; NaN for gaps and for a sliver of a last
    second (a few ms give a rate from a handful of messages: noise). A second without the
    key counts 0 (pushes appear in the timeline from the first one on)."""
    measured = sum(1 for p in points if p is not None)
    return [p.get(key, 0) / p["span_s"] if p is not None and (p["span_s"] >= 0.5 or measured == 1)
            else math.nan for p in points]


def top_of(values) -> float:
    finite = [v for v in values if v is not None and not math.isnan(v)]
    return max(finite, default=0.0) or 1.0


def finite_points(xs, ys) -> list[tuple[float, float]]:
    return [(x, y) for x, y in zip(xs, ys) if not (math.isnan(x) or math.isnan(y))]


def repeating(colours):
    while True:
        yield from colours


def joint_legend(left, right) -> None:
    """One legend for both y axes, under the plot where it covers no line."""
    handles, labels = left.get_legend_handles_labels()
    more_handles, more_labels = right.get_legend_handles_labels()
    left.figure.legend(handles + more_handles, labels + more_labels, loc="outside lower center",
                       ncols=len(labels + more_labels))

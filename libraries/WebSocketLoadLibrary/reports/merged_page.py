"""The merged run as a page a reviewer reads at a glance (`merged-load-results.html`).

First what a lead asks: the all-steps line and one headline per suite, each kind of step in
its own words; then the charts; then the details: a table per kind of step (a row per suite
and one for all its steps) with that kind's columns, the capacity searches, and every step,
folded away. It fits a 1,280 px window: tables have the columns of one kind only, names wrap
instead of widening them, a table still too wide scrolls sideways inside its own box, and
the charts scale to two a row.
"""
from __future__ import annotations

from html import escape

from .html import TOTAL, html_table, page, scrolling
from .kinds import CAPACITY, kind_named
from .searches import SEARCH_COLUMNS, all_steps_words, search_cells

TITLE = "Load test results, merged"
WIDTH_PX = 1280    # the window the page must fit without scrolling sideways
STYLE = (f"body{{max-width:{WIDTH_PX - 32}px}}"
         "h2{font-size:17px;margin:22px 0 6px}h3{font-size:15px;margin:16px 0 4px}"
         ".wsload-charts{display:flex;flex-wrap:wrap;gap:12px}"
         # two a row, the last of an odd number as wide as the others, one a row when
         # the window is narrow
         ".wsload-charts>figure{flex:0 1 calc(50% - 6px);min-width:min(480px,100%);"
         "max-width:100%;margin:0}"
         ".wsload-charts svg{width:100%;height:auto;display:block}"
         "p.wsload-note{color:#555;font-size:13px;max-width:110ch}"
         "details>summary{cursor:pointer;font-weight:bold;margin:8px 0}")
HEADLINE_COLUMNS = ("suite", "steps", "applied", "figures, each kind of step apart")
NAME_WIDTH = 40      # characters a name column wraps at
HEADLINE_WIDTH = 100


def merged_page(run) -> str:
    """The whole page: summary and charts first, details after."""
    return page(TITLE, summary_html(run) + charts_block(run) + details_html(run), STYLE)


def summary_html(run) -> str:
    """The all-steps line and a headline per suite (also what the keyword logs first)."""
    total = run.total_row
    rows, styles = [], []
    for row in run.suite_rows:
        rows.append((row["name"] or "(no suite)", f"{row['steps']:,}",
                     _applied(row), row["headlines"]))
        styles.append("" if row["load_applied"] else "background:#fff3f3")
    return (f'<p class="wsload-all"><b>{escape(all_steps_words(total, len(run.sources)))}'
            f'</b>.</p><p class="wsload-note">Steps of different kinds are never added up '
            f'into one ratio or percentile: request/reply steps, listen-only streams, '
            f'fan-outs, connection storms and capacity searches each have their own figures '
            f'(below). Only steps, messages sent and received and busy time add up over '
            f'all of them. Percentiles come from the merged histograms.</p>'
            f'<h2>Per suite</h2>{scrolling(_headline_table(rows, styles))}')


def _headline_table(rows, styles) -> str:
    """Suite names and headlines wrap; steps and the verdict stay on one line."""
    body = []
    for (suite, steps, applied, lines), style in zip(rows, styles):
        body.append(
            f'<tr style="{style}"><td style="{_wrap(NAME_WIDTH)}">{escape(suite)}</td>'
            f'<td style="{_cell()}">{steps}</td><td style="{_cell()}">{escape(applied)}</td>'
            f'<td style="{_wrap(HEADLINE_WIDTH)}">'
            + "<br>".join(_bold_kind(line) for line in lines) + "</td></tr>")
    head = "".join(f'<th style="{_head()}">{escape(c)}</th>' for c in HEADLINE_COLUMNS)
    return (f'<table class="wsload-headlines" style="border-collapse:collapse;font-size:13px;'
            f'margin:6px 0"><tr>{head}</tr>{"".join(body)}</table>')


def _bold_kind(line: str) -> str:
    """`<b>paced requests, 5 steps</b>: figures`: the words before the first colon."""
    kind, colon, figures = line.partition(": ")
    return f"<b>{escape(kind)}</b>{colon}{escape(figures)}" if colon else escape(line)


def _wrap(width: int) -> str:
    return (f"border:1px solid #ccc;padding:3px 8px;text-align:left;vertical-align:top;"
            f"white-space:normal;overflow-wrap:anywhere;max-width:{width}ch")


def _cell() -> str:
    return ("border:1px solid #ccc;padding:3px 8px;text-align:right;vertical-align:top;"
            "white-space:nowrap")


def _head() -> str:
    return "border:1px solid #ccc;padding:3px 8px;background:#eee;text-align:left"


def _applied(row: dict) -> str:
    if row["load_applied"]:
        return "yes"
    return f"NO ({row['steps_not_applied']} of {row['steps']})"


def charts_block(run) -> str:
    try:
        from .charts import charts_html
        drawn = merged_charts(run)
    except ImportError as error:   # matplotlib missing: the figures are in the tables
        return f"<h2>Charts</h2><p>Charts could not be drawn: {escape(str(error))}</p>"
    return "<h2>Charts</h2>" + charts_html(drawn) if drawn else ""


def merged_charts(run) -> list:
    """Per kind of step: its steps by wall-clock second, and its distribution by
    percentile, all steps and per suite; then each scaling series and capacity search."""
    from . import charts
    from .kinds import headline_of
    drawn = []
    for key, group in run.groups.items():
        if key == CAPACITY:
            continue
        kind = kind_named(key)
        merged = group.merged()
        if merged.timeline:   # connection storms have none: their figures are per attempt
            drawn.append(charts.step_timeline_chart(
                merged, f"{group.title}: every step, by wall-clock second",
                subtitle=headline_of(key, group.total), show_target=False,
                x_label="time since the first of these steps started (s)"))
        curves = {f"all {group.title}": kind.histogram([r.result for r in group.records])}
        suites = list(dict.fromkeys(r.suite for r in group.records))
        if len(suites) > 1:
            curves.update((suite or "(no suite)", kind.histogram(
                [r.result for r in group.records if r.suite == suite])) for suite in suites)
        curves = {label: h for label, h in curves.items() if h.count}
        if curves:
            drawn.append(charts.latency_distribution_chart(
                curves, f"{group.title}: {kind.measures.removesuffix(' (ms)')} by percentile"
                + (", all and per suite" if len(curves) > 1 else ""),
                value_label=kind.measures, counted=kind.counts))
    for series in run.scaling_series():
        drawn.extend(charts.result_charts(series)[:1])
    return drawn


def details_html(run) -> str:
    """A table per kind (per suite, and all its steps), the capacity searches, and every
    step folded away."""
    parts = ["<h2>Details, by kind of step</h2>"]
    for key, group in run.groups.items():
        columns = group.columns
        if key != CAPACITY:
            rows = group.suites + [group.total]
            note = kind_named(key).note
            parts.append(f"<h3>{escape(group.title)}</h3>" + (
                f'<p class="wsload-note">{escape(note)}</p>' if note else "") + scrolling(html_table(
                ("suite", *(c.label for c in columns)),
                [(row["name"] or "(no suite)", *(c.text(row) for c in columns))
                 for row in rows],
                row_styles=[""] * len(group.suites) + [TOTAL], wrap=NAME_WIDTH)))
        else:
            parts.append(f"<h3>{escape(group.title)}</h3>" + scrolling(html_table(
                SEARCH_COLUMNS, [search_cells(s) for s in run.searches], text_columns=3,
                wrap=NAME_WIDTH // 2)))
        parts.append(_steps_table(key, group))
    return "".join(parts)


def _steps_table(key: str, group) -> str:
    """Every step of a kind: its name, and where it ran, wrapping; a capacity probe with its
    search, rate and outcome and its own pattern's figures."""
    if key == CAPACITY:
        from .kinds import REQUEST_COLUMNS
        figures = tuple(c for c in REQUEST_COLUMNS
                        if c.label not in ("steps", "unmatched", "max ms"))
        rows = [((row["name"], f"{row['suite']} / {row['test']} / {row['search']}"),
                 f"{row['probe']:,.0f} {row['unit']}", row["outcome"],
                 *(c.text(row) for c in figures)) for row in group.steps]
        labels = ("probe (suite / test / search)", "at", "outcome",
                  *(c.label for c in figures))
        text_columns = 1
    else:
        figures = tuple(c for c in group.columns if c.label != "steps")
        rows = [((row["name"], f"{row['suite']} / {row['test']}"),
                 *(c.text(row) for c in figures)) for row in group.steps]
        labels = ("step (suite / test)", *(c.label for c in figures))
        text_columns = 1
    table = html_table(labels, rows, text_columns=text_columns, wrap=NAME_WIDTH)
    return (f"<details><summary>Every step of {escape(group.title)} ({len(rows):,})"
            f"</summary>{scrolling(table)}</details>")

"""The merged page fits a 1,280 px window and reads top down: the all-steps line and a
headline per suite, then the charts, then the details, each kind of step in its own table.

Checked twice: by the page's own structure (every table in a box of its own that scrolls
sideways, the columns of one kind only, names that wrap: an estimate of each table's width
from its texts), and in a real browser where Debian's chromium is installed (headless: the
page's width as laid out, and a screenshot kept under pytest's temporary folder)."""
from __future__ import annotations

import json
import re
import shutil
import subprocess
from html.parser import HTMLParser

import pytest

from test_merge_by_kind import fanning_out, listening, probe, record, requests, storm
from WebSocketLoadLibrary.reports.merge import merge_records
from WebSocketLoadLibrary.reports.merged_page import HEADLINE_WIDTH, NAME_WIDTH, WIDTH_PX

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
MONOSPACE_PX = 7.3     # one character of the tables' 12 px monospace
TEXT_PX = 7.0          # one character of the 13 px sans-serif of the headlines (on average)
CELL_PX = 17           # padding and border of a cell
PAGE_PX = WIDTH_PX - 2 * 16 - 20    # the body's margins, and room for a scroll bar
LONG_SUITE = "Suites.04 Connection Scalability Under A Name Longer Than Any Suite Has"
LONG_TEST = "Maximum Concurrent Connections Stay Open Under Load For A Long Time Indeed"


def a_run():
    """Every kind of step, two suites with long names, names that need wrapping."""
    steps = [record(requests("burst 20,000 at 10M/s with a name that goes on", 20_000, 107),
                    LONG_SUITE, LONG_TEST),
             record(requests("as fast as replies come", 528_079, mode="closed", start=5),
                    "Suites.09 Stress", "Unpaced"),
             record(listening("listen 3 s", 6_016, missing=3, start=9), LONG_SUITE, "Stream"),
             record(fanning_out("fan-out at 50/s to subscribers", 150, 20, start=14),
                    "Suites.14 Fan Out", "Every Subscriber Gets Every Publish"),
             record(storm("300 connections at 300/s", 300, failed=146, start=18,
                          applied=False), "Suites.15 Connection Storm", LONG_TEST)]
    steps += [record(probe("capacity", rate, start=30 + n), "Suites.17 Capacity",
                     "The Search Finds The Mock Server's Known Capacity")
              for n, rate in enumerate((300.0, 600.0, 975.0, 1012.0))]
    return merge_records(steps)


@pytest.fixture(scope="module")
def page() -> str:
    return a_run().html_page()


class Tables(HTMLParser):
    """Each table's cells' texts (rows of cells), whether it sits in a scrolling box, and
    the order of the page's headings."""

    def __init__(self):
        super().__init__()
        self.tables, self.headings, self.scrolling = [], [], []
        self._boxes, self._cell, self._heading = [], None, None

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        if tag == "div":
            self._boxes.append("overflow-x:auto" in (attrs.get("style") or ""))
        elif tag == "table":
            self.tables.append({"rows": [], "wraps": [], "scrolls": any(self._boxes),
                                "class": attrs.get("class", "")})
        elif tag == "tr" and self.tables:
            self.tables[-1]["rows"].append([])
            self.tables[-1]["wraps"].append([])
        elif tag in ("td", "th") and self.tables:
            self._cell = []
            style = attrs.get("style") or ""
            self.tables[-1]["wraps"][-1].append("white-space:normal" in style)
        elif tag == "br" and self._cell is not None:
            self._cell.append("\n")
        elif tag in ("h1", "h2", "h3"):
            self._heading = []

    def handle_endtag(self, tag):
        if tag == "div" and self._boxes:
            self._boxes.pop()
        elif tag in ("td", "th") and self._cell is not None:
            self.tables[-1]["rows"][-1].append("".join(self._cell))
            self._cell = None
        elif tag in ("h1", "h2", "h3") and self._heading is not None:
            self.headings.append("".join(self._heading))
            self._heading = None

    def handle_data(self, data):
        if self._cell is not None:
            self._cell.append(data)
        if self._heading is not None:
            self._heading.append(data)


def parsed(page: str) -> Tables:
    tables = Tables()
    tables.feed(page)
    return tables


def estimated_width_px(table: dict) -> float:
    """The width a table needs: per column its longest line, a wrapping column at most its
    `max-width` in characters."""
    rows = [row for row in table["rows"] if row]
    columns = max(len(row) for row in rows)
    wraps = table["wraps"][1] if len(table["wraps"]) > 1 else [False] * columns
    char_px = TEXT_PX if "headlines" in table["class"] else MONOSPACE_PX
    width = 0.0
    for index in range(columns):
        longest = max(len(line) for row in rows if index < len(row)
                      for line in row[index].split("\n"))
        cap = (HEADLINE_WIDTH if index == columns - 1 and "headlines" in table["class"]
               else NAME_WIDTH)
        if index < len(wraps) and wraps[index]:
            longest = min(longest, cap)
        width += longest * char_px + CELL_PX
    return width


def test_the_page_opens_with_the_headlines_then_charts_then_the_details(page):
    tables = parsed(page)
    headings = tables.headings
    assert headings[:3] == ["Load test results, merged", "Per suite", "Charts"], headings
    assert headings[3] == "Details, by kind of step"
    assert headings[4:] == ["paced requests", "closed loop (as fast as replies come)",
                            "listen only (a stream the server pushes)",
                            "publish/subscribe fan-out", "connections opened at a rate",
                            "capacity searches"]
    assert page.index("All 9 steps from") < page.index("<h2>Per suite")
    assert page.index('class="wsload-charts"') < page.index("Details, by kind of step")
    headlines = tables.tables[0]
    assert headlines["class"] == "wsload-headlines"
    cells = {row[0]: row[3] for row in headlines["rows"][1:]}
    assert cells[LONG_SUITE].split("\n")[0].startswith("paced requests, 1 step: 20,000 sent")
    assert cells["Suites.17 Capacity"].startswith("capacity search, 4 probes")


def test_every_table_scrolls_in_its_own_box_and_has_one_kinds_columns(page):
    tables = parsed(page).tables
    assert len(tables) >= 1 + 6 + 6     # headlines, a table per kind, every step per kind
    assert all(table["scrolls"] for table in tables)
    assert max(len(table["rows"][0]) for table in tables) <= 14


def test_the_headlines_and_the_tables_of_each_kind_fit_1280_px(page):
    """What a reviewer reads first fits without scrolling sideways; the tables of every
    step, folded away, may scroll inside their box but not by much."""
    tables = parsed(page).tables
    summary = [t for t in tables if t["class"] == "wsload-headlines" or
               any(row and row[0].startswith("all ") for row in t["rows"])]
    assert len(summary) == 1 + 5   # capacity searches have no "all" row
    too_wide = {t["rows"][1][0]: round(estimated_width_px(t)) for t in summary
                if estimated_width_px(t) > PAGE_PX}
    assert not too_wide, (PAGE_PX, too_wide)
    widest = max(estimated_width_px(t) for t in tables)
    assert widest < PAGE_PX * 1.25, widest


def test_charts_scale_to_two_a_row(page):
    assert ".wsload-charts svg{width:100%;height:auto" in page
    assert "flex:0 1 calc(50% - 6px)" in page and f"max-width:{WIDTH_PX - 32}px" in page
    assert page.count("<svg") >= 5


MEASURE = """<script>
window.addEventListener("load", () => {
  const boxes = [...document.querySelectorAll(".wsload-scroll")].map(b => b.getBoundingClientRect().right);
  const figures = [...document.querySelectorAll(".wsload-charts figure")].map(f => {
    const r = f.getBoundingClientRect(); return [r.left, r.top, r.right]; });
  const pre = document.createElement("pre"); pre.id = "measured";
  pre.textContent = JSON.stringify({scrollWidth: document.documentElement.scrollWidth,
    innerWidth: window.innerWidth, boxes: boxes, figures: figures,
    charts: document.querySelector("h2 ~ .wsload-charts").getBoundingClientRect().top,
    details: [...document.querySelectorAll("h2")].find(h => h.textContent.startsWith("Details")).getBoundingClientRect().top});
  document.body.appendChild(pre);
});
</script>"""


def chromium(*arguments: str, timeout: int = 120) -> subprocess.CompletedProcess:
    return subprocess.run([CHROMIUM, "--headless", "--no-sandbox", "--disable-gpu",
                           "--disable-background-networking", "--disable-component-update",
                           "--disable-sync", "--no-first-run", "--hide-scrollbars",
                           f"--window-size={WIDTH_PX},900", *arguments],
                          capture_output=True, text=True, timeout=timeout)


@pytest.mark.skipif(CHROMIUM is None, reason="no chromium on PATH: the page's layout is "
                    "checked in a browser where Debian's chromium is installed "
                    "(apt-get install chromium); the structural checks above still run")
def test_in_a_browser_1280_px_wide_nothing_runs_off_the_right_edge(page, tmp_path):
    measured_page = tmp_path / "merged-load-results.html"
    measured_page.write_text(page.replace("</body>", MEASURE + "</body>"))
    dumped = chromium("--virtual-time-budget=10000", "--dump-dom", measured_page.as_uri())
    found = re.search(r'<pre id="measured">(.*?)</pre>', dumped.stdout, re.S)
    assert found, dumped.stderr[-2000:]
    measured = json.loads(found.group(1).replace("&quot;", '"'))
    assert measured["innerWidth"] == WIDTH_PX
    assert measured["scrollWidth"] <= WIDTH_PX, measured     # no sideways scroll of the page
    assert max(measured["boxes"]) <= WIDTH_PX, measured      # a table scrolls inside its box
    rows = {}
    for left, top, right in measured["figures"]:
        assert right <= WIDTH_PX, measured
        rows.setdefault(round(top), []).append(left)
    assert max(len(lefts) for lefts in rows.values()) == 2   # two charts a row
    widths = {round(right - left) for left, _, right in measured["figures"]}
    assert max(widths) - min(widths) <= 2, widths   # an odd last one no wider
    assert measured["charts"] < measured["details"]
    shot = tmp_path / "merged-load-results.png"
    chromium(f"--screenshot={shot}", (tmp_path / "merged-load-results.html").as_uri())
    assert shot.stat().st_size > 10_000

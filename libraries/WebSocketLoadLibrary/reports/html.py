"""Small HTML and text tables, styled inline so that they read the same in log.html and in a
standalone page."""
from __future__ import annotations

from html import escape

TABLE = "border-collapse:collapse;font-family:monospace;font-size:12px;margin:6px 0"
CELL = "border:1px solid #ccc;padding:2px 8px;text-align:right;white-space:nowrap"
HEAD = "border:1px solid #ccc;padding:2px 8px;background:#eee;text-align:left;white-space:nowrap"
FIRST = "border:1px solid #ccc;padding:2px 8px;text-align:left;white-space:nowrap"
# a text column that may wrap (names, headlines): a page stays within its width
WRAPPING = ("border:1px solid #ccc;padding:2px 8px;text-align:left;white-space:normal;"
            "overflow-wrap:anywhere;min-width:12ch;max-width:{}ch;vertical-align:top")
BAD = "background:#fdd"
GOOD = "background:#dfd"
TOTAL = "font-weight:bold;background:#f6f6f6"


def _cell(value) -> str:
    """A cell's text, escaped; a list or tuple is one line each."""
    if isinstance(value, (list, tuple)):
        return "<br>".join(escape(str(line)) for line in value)
    return escape(str(value))


def html_table(columns, rows, caption: str = "", row_styles=None, text_columns: int = 1,
               wrap: int | None = None) -> str:
    """`rows` are sequences of cell texts; the first `text_columns` are left-aligned (names),
    the others right-aligned (figures). `wrap`: the text columns wrap at that many
    characters instead of widening the table."""
    first = FIRST if wrap is None else WRAPPING.format(wrap)
    head = "".join(f'<th style="{HEAD}">{escape(str(c))}</th>' for c in columns)
    body = []
    for index, row in enumerate(rows):
        extra = (row_styles[index] if row_styles else "") or ""
        cells = "".join(f'<td style="{first if i < text_columns else CELL};{extra}">'
                        f'{_cell(c)}</td>' for i, c in enumerate(row))
        body.append(f"<tr>{cells}</tr>")
    title = (f'<caption style="text-align:left;font-weight:bold;padding:2px 0">'
             f'{escape(caption)}</caption>' if caption else "")
    return f'<table style="{TABLE}">{title}<tr>{head}</tr>{"".join(body)}</table>'


def scrolling(table: str) -> str:
    """A table that scrolls sideways inside its own box when it is wider than the page."""
    return f'<div class="wsload-scroll" style="overflow-x:auto;max-width:100%">{table}</div>'


def text_table(columns, rows) -> str:
    """The same table for a terminal: columns padded, numbers right-aligned."""
    rows = [[str(c) for c in row] for row in rows]
    widths = [max(len(str(c)) for c in column) for column in zip(columns, *rows)]

    def line(cells):
        return "  ".join(c.ljust(w) if i == 0 else c.rjust(w)
                         for i, (c, w) in enumerate(zip(cells, widths))).rstrip()
    return "\n".join([line([str(c) for c in columns]), line(["-" * w for w in widths]),
                      *(line(row) for row in rows)])


def page(title: str, body: str, style: str = "") -> str:
    head_style = f"<style>{style}</style>" if style else ""
    return ("<!DOCTYPE html><html><head><meta charset=\"utf-8\">"
            "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">"
            f"<title>{escape(title)}</title>{head_style}</head>"
            "<body style=\"font-family:sans-serif;margin:16px;color:#222\">"
            f"<h1 style=\"font-size:20px\">{escape(title)}</h1>{body}</body></html>")

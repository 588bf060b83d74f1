"""HTML building blocks of the report: escaped text, formatted numbers, tables, charts, the page.

Everything the page needs is in the file: the style sheet below and the charts' SVG. No script,
no font, no image is referenced, so it opens the same offline, in a mail client's preview or
from a USB stick, and makes no request.
"""

from __future__ import annotations

import datetime as dt
import html
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from dealersync.report.charts import STATUS_COLORS


def esc(value: Any) -> str:
    return html.escape("" if value is None else str(value), quote=True)


def num(value: Any) -> str:
    """An integer with thousands separators; an empty cell for no value."""
    return "" if value is None else f"{int(value):,}"


def pct(value: float | None) -> str:
    return "" if value is None else f"{value:.1%}"


def when(value: dt.datetime | dt.date | None) -> str:
    if value is None:
        return ""
    if isinstance(value, dt.datetime):
        return value.strftime("%Y-%m-%d %H:%M")
    return value.isoformat()


def badge(status: str) -> str:
    known = status if status in STATUS_COLORS else "other"
    return f'<span class="status status-{known}">{esc(status)}</span>'


@dataclass(frozen=True)
class Column:
    """One column of a data table: its heading, how a row gives its cell (HTML), whether it
    holds numbers (right-aligned) or long text (wrapped)."""

    title: str
    cell: Callable[[Mapping[str, Any]], str]
    numeric: bool = False
    wrap: bool = False  # long text (notes, explanations); other cells stay on one line


def text_col(title: str, key: str) -> Column:
    return Column(title, lambda r: esc(r.get(key)))


def num_col(title: str, key: str) -> Column:
    return Column(title, lambda r: num(r.get(key)), numeric=True)


def table(columns: Sequence[Column], rows: Iterable[Mapping[str, Any]], *, name: str, caption: str = "") -> str:
    """A data table; each row carries its ``label`` (the one its chart mark carries) in
    ``data-label``."""
    head = "".join(f'<th scope="col"{_num(c)}>{esc(c.title)}</th>' for c in columns)
    body = "".join(
        f'<tr data-label="{esc(r.get("label", ""))}">' + "".join(f"<td{_num(c)}>{c.cell(r)}</td>" for c in columns) + "</tr>"
        for r in rows
    )
    cap = f"<caption>{esc(caption)}</caption>" if caption else ""
    return f'<table class="data" data-table="{esc(name)}">{cap}<thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>'


def _num(c: Column) -> str:
    classes = " ".join(name for name, on in (("num", c.numeric), ("wrap", c.wrap)) if on)
    return f' class="{classes}"' if classes else ""


def figure(name: str, svg: str, table_html: str, caption: str) -> str:
    """A chart and its data table side by side (the table is the chart's accessible form)."""
    return (
        f'<figure class="chart" data-chart="{esc(name)}"><div class="chart-svg">{svg}</div>'
        f'<div class="chart-table">{table_html}</div><figcaption>{esc(caption)}</figcaption></figure>'
    )


def cards(items: Sequence[tuple[str, str, str]]) -> str:
    """Headline numbers: (label, value HTML, tone) each; tone is '', 'good', 'bad' or 'warn'."""
    return '<div class="cards">' + "".join(
        f'<div class="card {tone}"><div class="card-value">{value}</div><div class="card-label">{esc(label)}</div></div>'
        for label, value, tone in items
    ) + "</div>"


def page(title: str, subtitle: str, nav: Sequence[tuple[str, str]], body: str) -> str:
    links = "".join(f'<a href="#{esc(anchor)}">{esc(text)}</a>' for anchor, text in nav)
    return f"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="generator" content="dealersync report">
<title>{esc(title)}</title>
<style>{STYLE}</style></head>
<body><header class="top"><div class="wrap"><h1>{esc(title)}</h1><p class="sub">{subtitle}</p>
<nav>{links}</nav></div></header>
<main class="wrap">{body}</main>
<footer class="wrap">Made by <code>dealersync report</code>. Counts only: no customer's name, email, phone or address
is in this file. Error texts are shown with anything shaped like an email or a phone number, and any word of a
customer's name or address, taken out.</footer>
</body></html>
"""


STYLE = """
:root{--ink:#1d2733;--muted:#5b6673;--line:#e3e7ec;--bg:#f6f8fa;--accent:#1f5fa8;
--ok:#2e7d32;--failed:#c62828;--held:#ef6c00;--planned:#757575}
*{box-sizing:border-box}
body{margin:0;font:14px/1.45 system-ui,-apple-system,"Segoe UI",Roboto,"DejaVu Sans",sans-serif;color:var(--ink);background:var(--bg)}
.wrap{max-width:1180px;margin:0 auto;padding:0 24px}
header.top{background:#14324f;color:#fff;padding:18px 0 0}
header.top h1{margin:0;font-size:24px;font-weight:650}
header.top .sub{margin:4px 0 12px;color:#c9d6e3}
nav{display:flex;flex-wrap:wrap;gap:4px 18px;padding:8px 0 12px}
nav a{color:#fff;text-decoration:none;font-weight:550;opacity:.9}
nav a:hover{text-decoration:underline}
section{background:#fff;border:1px solid var(--line);border-radius:8px;margin:20px 0;padding:4px 22px 18px}
section.audience{border-left:5px solid var(--accent)}
h2{font-size:20px;margin:16px 0 6px}
h3{font-size:15px;margin:18px 0 6px;color:#26384b}
p.lead{color:var(--muted);margin:2px 0 10px}
.cards{display:grid;grid-template-columns:repeat(auto-fit,minmax(140px,1fr));gap:12px;margin:12px 0}
.card{border:1px solid var(--line);border-radius:8px;padding:12px 14px;background:#fbfcfd}
.card-value{font-size:22px;font-weight:650;white-space:nowrap}
.card-label{color:var(--muted);font-size:12.5px}
.card.good .card-value{color:var(--ok)}.card.bad .card-value{color:var(--failed)}.card.warn .card-value{color:var(--held)}
ul.attention{margin:6px 0 4px;padding:0;list-style:none}
ul.attention li{padding:6px 10px;margin:4px 0;border-radius:6px;background:#fff4e5;border-left:4px solid var(--held)}
ul.attention li.bad{background:#fdecea;border-left-color:var(--failed)}
ul.attention li.good{background:#edf7ee;border-left-color:var(--ok)}
figure.chart{display:flex;flex-wrap:wrap;gap:18px;align-items:flex-start;margin:10px 0 16px}
figure.chart .chart-svg{flex:0 0 auto;max-width:100%;overflow-x:auto}
figure.chart .chart-table{flex:1 1 320px;max-height:360px;overflow:auto;border:1px solid var(--line);border-radius:6px}
figure.chart figcaption{flex-basis:100%;color:var(--muted);font-size:12.5px;margin-top:-6px}
table.data{border-collapse:collapse;width:100%;font-size:12.5px}
table.data caption{text-align:left;font-weight:600;padding:4px 0}
table.data th{position:sticky;top:0;background:#eef2f6;text-align:left;font-weight:600;padding:5px 6px;border-bottom:1px solid var(--line)}
table.data td{padding:4px 6px;border-bottom:1px solid #f0f2f5;vertical-align:top;white-space:nowrap}
table.data td.wrap{white-space:normal;min-width:160px}
table.data tr:nth-child(even) td{background:#fafbfc}
.num{text-align:right;font-variant-numeric:tabular-nums;white-space:nowrap}
.scroll{max-height:480px;overflow:auto;border:1px solid var(--line);border-radius:6px}
.status{display:inline-block;padding:1px 8px;border-radius:10px;font-size:12px;font-weight:600;color:#fff;background:#5c6bc0}
.status-ok{background:var(--ok)}.status-failed{background:var(--failed)}.status-held{background:var(--held)}.status-planned{background:var(--planned)}
dl.def{display:grid;grid-template-columns:max-content 1fr;gap:3px 14px;margin:8px 0}
dl.def dt{color:var(--muted)}dl.def dd{margin:0}
code{font-family:ui-monospace,"DejaVu Sans Mono",monospace;font-size:12px;background:#f1f3f5;padding:1px 4px;border-radius:4px}
.muted{color:var(--muted)}
.note{color:var(--muted);font-style:italic}
footer{color:var(--muted);font-size:12px;padding:8px 24px 30px}
@media print{header.top{background:#fff;color:#000}nav{display:none}section{break-inside:avoid}}
"""

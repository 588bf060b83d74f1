"""Charts: Vega-Lite specs rendered to SVG when the report is built.

`vl-convert <https://github.com/jonmmease/vl-convert>`_ (a Rust program with the Vega and
Vega-Lite JavaScript embedded, shipped as a Python wheel; what Altair uses to save charts)
renders a spec to SVG with no browser and no network, so the page carries finished drawings: no script,
nothing to fetch when it is opened. Vega's SVG gives each data mark (in a ``.role-mark`` group;
axes and legends are symbols too) ``role="graphics-symbol"`` and an ``aria-label``; every chart here sets that label from the ``label`` field of its rows,
which the table beside it carries too (``data-label``), so marks and rows can be matched.
Decorations (lines joining points, numbers written on cells) are ``aria: false``: only one
mark per row is announced.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import vl_convert

SCHEMA = "https://vega.github.io/schema/vega-lite/v5.json"  # an identifier; never fetched
FONT = "'DejaVu Sans', Verdana, sans-serif"  # wide fonts: labels measured with them fit in narrower ones
#: Status colours, shared with the page's badges.
STATUS_COLORS = {"ok": "#2e7d32", "failed": "#c62828", "held": "#ef6c00", "planned": "#757575"}
PALETTE = ["#1f5fa8", "#e07b00", "#2a9d8f", "#8e44ad", "#c0392b", "#7f8c8d"]
CONFIG: dict[str, Any] = {
    "font": FONT,
    "axis": {"labelFontSize": 11, "titleFontSize": 11, "titleColor": "#444", "labelColor": "#444", "gridColor": "#eee"},
    "legend": {"labelFontSize": 11, "titleFontSize": 11, "orient": "bottom"},
    "view": {"stroke": None},
    "range": {"category": PALETTE},
}


def render(spec: Mapping[str, Any]) -> str:
    """The spec drawn as an SVG element (no XML prolog), ready to be inlined in HTML."""
    full = {"$schema": SCHEMA, "config": CONFIG, "background": "transparent", **spec}
    return vl_convert.vegalite_to_svg(full)


def _data(rows: Sequence[Mapping[str, Any]]) -> dict[str, Any]:
    return {"values": [dict(r) for r in rows]}


def status_scale(statuses: Sequence[str]) -> dict[str, Any]:
    domain = sorted(set(statuses), key=lambda s: (s not in STATUS_COLORS, s))
    return {"domain": domain, "range": [STATUS_COLORS.get(s, "#5c6bc0") for s in domain]}


def size_over_time(rows: Sequence[Mapping[str, Any]], *, title: str) -> str:
    """Members per destination at each delivery: a point per row, joined per destination; a
    delivery that did not go through (failed, held) is drawn on top, larger, in its status colour."""
    x = {"field": "started", "type": "temporal", "title": None, "axis": {"format": "%b %d", "labelAngle": -30}}
    y = {"field": "members", "type": "quantitative", "title": "members", "axis": {"format": ",d"}}
    color = {"field": "destination", "type": "nominal", "title": "destination"}
    problems = sorted({str(r["status"]) for r in rows} - {"ok"})
    return render({
        "title": {"text": title, "anchor": "start", "fontSize": 13},
        "width": 400, "height": 200, "data": _data(rows),
        "layer": [
            {"mark": {"type": "line", "aria": False, "strokeWidth": 2},
             "encoding": {"x": x, "y": y, "color": color, "detail": {"field": "destination"}}},
            {"transform": [{"filter": "datum.status === 'ok'"}],
             "mark": {"type": "point", "filled": True, "size": 60},
             "encoding": {"x": x, "y": y, "color": color, "description": {"field": "label"}}},
            {"transform": [{"filter": "datum.status !== 'ok'"}],
             "mark": {"type": "point", "filled": True, "size": 140, "shape": "cross"},
             "encoding": {"x": x, "y": y, "description": {"field": "label"},
                          "fill": {"field": "status", "type": "nominal", "title": "not delivered",
                                   "scale": status_scale(problems or ["failed"])}}},
        ],
    })


def bars(
    rows: Sequence[Mapping[str, Any]], *, category: str, value: str, title: str,
    color: str | None = None, value_title: str = "", percent: bool = False, status_colors: bool = False,
) -> str:
    """A horizontal bar per row, in the rows' order."""
    order = [r[category] for r in rows]
    encoding: dict[str, Any] = {
        "y": {"field": category, "type": "nominal", "sort": order, "title": None, "axis": {"labelLimit": 260}},
        "x": {"field": value, "type": "quantitative", "title": value_title or value,
              "axis": {"format": ".0%" if percent else ",d"}, **({"scale": {"domain": [0, 1]}} if percent else {})},
        "description": {"field": "label"},
    }
    if color:
        encoding["yOffset"] = {"field": color}
        encoding["color"] = {"field": color, "type": "nominal", "title": color}
        if status_colors:
            encoding["color"]["scale"] = status_scale([str(r[color]) for r in rows])
    return render({
        "title": {"text": title, "anchor": "start", "fontSize": 13},
        "width": 340, "data": _data(rows), "mark": {"type": "bar", "cornerRadiusEnd": 2}, "encoding": encoding,
        "height": {"step": 12 if color else 18},
    })


def stacked_by_status(rows: Sequence[Mapping[str, Any]], *, title: str) -> str:
    """Deliveries per day, one bar segment per (day, status) row, coloured by status."""
    return render({
        "title": {"text": title, "anchor": "start", "fontSize": 13},
        "width": 460, "height": 160, "data": _data(rows),
        "mark": {"type": "bar"},
        "encoding": {
            "x": {"field": "day", "type": "ordinal", "title": None, "axis": {"labelAngle": -30}},
            "y": {"field": "deliveries", "type": "quantitative", "title": "deliveries", "axis": {"format": ",d"}},
            "color": {"field": "status", "type": "nominal", "scale": status_scale([str(r["status"]) for r in rows])},
            "description": {"field": "label"},
        },
    })


def overlap_matrix(rows: Sequence[Mapping[str, Any]], audiences: Sequence[str], *, title: str) -> str:
    """A cell per recorded pair (one triangle: each pair once, the diagonal an audience's size),
    shaded by the share of the smaller audience it holds, the count written in it."""
    x = {"field": "audience_b", "type": "nominal", "sort": list(audiences), "title": None, "axis": {"labelAngle": -30, "orient": "top"}}
    y = {"field": "audience_a", "type": "nominal", "sort": list(audiences), "title": None}
    side = max(40, min(70, 420 // max(1, len(audiences))))
    return render({
        "title": {"text": title, "anchor": "start", "fontSize": 13},
        "width": {"step": side}, "height": {"step": side}, "data": _data(rows),
        "layer": [
            {"mark": {"type": "rect", "stroke": "white"},
             "encoding": {
                 "x": x, "y": y, "description": {"field": "label"},
                 "color": {"field": "share", "type": "quantitative", "title": "share of the smaller",
                           "scale": {"domain": [0, 1], "scheme": "blues"}, "legend": {"format": ".0%"}},
             }},
            {"mark": {"type": "text", "aria": False, "fontSize": 11},
             "encoding": {
                 "x": x, "y": y, "text": {"field": "customers", "type": "quantitative", "format": ",d"},
                 "color": {"condition": {"test": "datum.share > 0.5", "value": "white"}, "value": "#222"},
             }},
        ],
    })

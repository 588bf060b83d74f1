"""The report's sections, from :class:`~dealersync.report.data.ReportData` to HTML.

Each chart is drawn from exactly the rows of the table beside it (one mark per row, both
carrying the row's ``label``): what the chart shows is what the table says.
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from dealersync.config import Config
from dealersync.delivery.readback import platform_view
from dealersync.report import charts
from dealersync.report.data import AUDIENCE_DROPS, DROPS, KINDS, Delivery, ReportData, history_order
from dealersync.report.render import (
    Column,
    badge,
    cards,
    esc,
    figure,
    num,
    num_col,
    page,
    pct,
    table,
    text_col,
    when,
)

DROP_LABELS = dict(DROPS)


def render_report(data: ReportData, config: Config) -> str:
    """The whole page."""
    nav = [("overview", "Overview")]
    nav += [(anchor(a), a) for a in data.audiences]
    nav += [("overlaps", "Overlaps"), ("data-quality", "Data quality"), ("history", "Run history")]
    period = f"runs since {data.since.isoformat()}" if data.since else "all runs"
    latest_as_of = max((r["as_of"] for r in data.runs), default=None)
    subtitle = (
        f"{esc(Path(config.path).name if config.path else 'connectors.toml')} · {esc(period)}"
        + (f" · data as of {esc(when(latest_as_of))}" if latest_as_of else "")
        + f" · made {esc(when(data.generated_at))} UTC"
    )
    body = overview(data) + "".join(audience_section(data, config, a) for a in data.audiences)
    body += overlaps_section(data) + data_quality_section(data) + history_section(data)
    return page("Audience report", subtitle, nav, body)


def anchor(audience: str) -> str:
    return "audience-" + "".join(ch if ch.isalnum() or ch in "-_" else "-" for ch in audience)


def sent(r: Mapping[str, Any] | Delivery) -> str:
    """What a delivery sent: rows written, or members added and removed."""
    if r["written"]:
        text = f"{num(r['written'])} rows"
        if r["added"] or r["removed"]:
            text += f" (+{num(r['added'])} / −{num(r['removed'])})"
        return text
    if r["status"] in ("ok", "failed", "held") and (r["added"] or r["removed"] or r["rejected"]):
        return f"+{num(r['added'])} / −{num(r['removed'])}" + (f", {num(r['rejected'])} rejected" if r["rejected"] else "")
    return ""


def read_back(r: Delivery) -> str:
    """What the platform says it holds (size, match rate, status, pending), then its counts."""
    counts = r["platform_counts"] or {}
    parts = [esc(platform_view(r.values))] if platform_view(r.values) else []
    parts += [f"{esc(k)} {num(v)}" for k, v in counts.items()]
    return ", ".join(parts)


def problems(r: Delivery) -> str:
    """The (scrubbed) error and warnings of a delivery, as HTML."""
    parts = [f"<strong>{esc(r['error'])}</strong>"] if r["error"] else []
    parts += [esc(w) for w in r["warnings"] or []]
    return "<br>".join(parts)


def delivery_label(r: Delivery) -> str:
    return f"{r['audience']} · {r['destination']} · {when(r['started_at'])} · {r.status}"


# ------------------------------------------------------------------------------ overview
def overview(data: ReportData) -> str:
    order = {a: i for i, a in enumerate(data.audiences)}
    latest = sorted(data.latest(), key=lambda r: order.get(r["audience"], len(order)))
    statuses = Counter(r.status for r in data.runs)
    failed_now = [r for r in latest if r.status != "ok"]
    last_run = data.runs[0] if data.runs else None
    loaded = sum(int(r.get("rows_loaded") or 0) for r in data.loads)
    quarantined = sum(int(r.get("rows_quarantined") or 0) for r in data.loads)
    items = [
        ("audiences", num(len(data.audiences)), ""),
        ("customers in the warehouse", num(data.customers), ""),
        (f"last sync, {last_run['started_at']:%H:%M}" if last_run else "last sync",
         esc(f"{last_run['started_at']:%b %d}") if last_run else "never", ""),
        ("deliveries now failing or held", num(len(failed_now)), "bad" if failed_now else "good"),
        ("deliveries in the period", num(len(data.runs)), ""),
        ("failed in the period", num(statuses.get("failed", 0)), "bad" if statuses.get("failed") else "good"),
        (f"rows quarantined, of {num(loaded + quarantined)} read", num(quarantined), "warn" if quarantined else "good"),
    ]
    if statuses.get("held"):
        items.insert(6, ("held in the period", num(statuses["held"]), "warn"))
    reach_rows = [
        {"label": delivery_label(r), "audience": r["audience"], "destination": r["destination"],
         "members": r["members"] or 0, "status": r.status, "started": when(r["started_at"])}
        for r in latest
    ]
    reach = ""
    if reach_rows:
        reach = figure(
            "reach",
            charts.bars(reach_rows, category="audience", value="members", color="destination",
                        title="People in each audience, per destination (latest delivery)", value_title="members"),
            table([text_col("audience", "audience"), text_col("destination", "destination"),
                   num_col("members", "members"), Column("status", lambda r: badge(r["status"])),
                   text_col("delivered", "started")], reach_rows, name="reach"),
            "Members: people as the platform sees them (customers sharing an email or phone count once).",
        )
    return (
        '<section id="overview"><h2>Overview</h2>'
        + cards(items) + attention(data, latest) + reach + "</section>"
    )


def attention(data: ReportData, latest: Sequence[Delivery]) -> str:
    """What needs a look: deliveries failing now, their warnings, files with rejected rows."""
    items: list[tuple[str, str]] = []
    for r in latest:
        what = f"<strong>{esc(r['audience'])}</strong> to <strong>{esc(r['destination'])}</strong>"
        if r.status != "ok":
            items.append(("bad" if r.status == "failed" else "", f"{what}: {badge(r.status)} {esc(r['error'] or '')}"))
        for w in r["warnings"] or []:
            items.append(("", f"{what}: {esc(w)}"))
    items += [("", esc(note)) for note in data.notes]
    for f in data.loads:
        if f.get("rows_quarantined"):
            items.append(("", f"{esc(f['file'])} ({esc(f['table'])}): {num(f['rows_quarantined'])} rows quarantined"
                              " (see Data quality)"))
    if not data.runs:
        items.append(("", "No sync recorded yet: run <code>dealersync sync</code>."))
    if not items:
        items.append(("good", "Every audience was delivered in its latest run; no rows quarantined."))
    return "<h3>Needs attention</h3><ul class=\"attention\">" + "".join(
        f'<li class="{tone}">{text}</li>' for tone, text in items
    ) + "</ul>"


# ------------------------------------------------------------------------------ audiences
def audience_section(data: ReportData, config: Config, name: str) -> str:
    aud = config.settings.audiences.get(name)
    runs = data.runs_of(name)
    latest = data.latest(name)
    head = f'<section class="audience" id="{esc(anchor(name))}"><h2>{esc(name)}</h2>'
    if aud is None:
        head += '<p class="lead">No longer in the configuration; its history is below.</p>'
    else:
        head += (f'<p class="lead">{esc(aud.description)}</p>' if aud.description else "") + definition(config, name)
    if not runs:
        return head + '<p class="note">Not synced in this period.</p></section>'
    first = latest[0]
    funnel = (
        f'<p>Latest run {esc(when(first["started_at"]))}: segment <strong>{num(first["segment_size"])}</strong> customers'
        f' → after policy <strong>{num(max(r["customers"] or 0 for r in latest))}</strong>'
        f' → members per destination: ' + ", ".join(f'{esc(r["destination"])} <strong>{num(r["members"])}</strong>' for r in latest)
        + "</p>"
    )
    return head + funnel + destinations_table(latest) + drops_figure(name, latest) + size_figure(name, runs) + "</section>"


def definition(config: Config, name: str) -> str:
    """The audience as configured; rule values as the dealer wrote them."""
    aud = config.settings.audiences[name]
    seg = config.settings.segments.get(aud.segment)
    rows = [("segment", f"<code>{esc(aud.segment)}</code>" + (f" — {esc(seg.description)}" if seg and seg.description else ""))]
    if seg is not None:
        spec = seg.model_dump(mode="json", exclude_defaults=True, by_alias=True, exclude={"description"})
        rows.append(("defined by", f"<code>{esc(json.dumps(spec, separators=(', ', ': ')))}</code>"))
    if aud.exclude:
        rows.append(("excluding", ", ".join(f"<code>{esc(s)}</code>" for s in aud.exclude)))
    rows.append(("destinations", ", ".join(esc(d) for d in aud.destinations) + f" (mode {esc(aud.mode)})"))
    if aud.holdout:
        rows.append(("holdout", pct(aud.holdout)))
    if aud.priority_group:
        rows.append(("priority", f"rank {aud.priority} in group {esc(aud.priority_group)}"))
    return '<dl class="def">' + "".join(f"<dt>{esc(k)}</dt><dd>{v}</dd>" for k, v in rows) + "</dl>"


def destinations_table(latest: Sequence[Delivery]) -> str:
    cols = [
        Column("destination", lambda r: f"{esc(r['destination'])} <span class='muted'>{esc(r['connector'])}</span>"),
        Column("status", lambda r: badge(r.status)),
        Column("members", lambda r: num(r["members"]), numeric=True),
        Column("customers", lambda r: num(r["customers"]), numeric=True),
        Column("sent", lambda r: esc(sent(r))),
        Column("platform reports", read_back),
        Column("delivered", lambda r: esc(when(r["started_at"]))),
        Column("notes", problems, wrap=True),
    ]
    return "<h3>Members per destination (latest delivery)</h3>" + f'<div class="scroll">{table(cols, latest, name="destinations")}</div>'


def drop_rows(latest: Sequence[Delivery]) -> list[dict[str, Any]]:
    """Who policy removed in the latest run, and why: audience-wide drops once, per-destination
    drops per destination."""
    rows = []
    first = latest[0]
    for key in AUDIENCE_DROPS:
        rows.append({"label": f"{key} · all destinations", "why": DROP_LABELS[key], "destination": "all",
                     "reason": key.replace("_", " "), "customers": int(first[key] or 0)})
    for r in latest:
        for key in ("no_consent", "unmatchable"):
            rows.append({"label": f"{key} · {r['destination']}", "why": DROP_LABELS[key], "destination": r["destination"],
                         "reason": f"{key.replace('_', ' ')} · {r['destination']}", "customers": int(r[key] or 0)})
    return rows


def drops_figure(name: str, latest: Sequence[Delivery]) -> str:
    rows = drop_rows(latest)
    return "<h3>Who policy removed, and why</h3>" + figure(
        f"drops-{name}",
        charts.bars(rows, category="reason", value="customers", title=f"{name}: customers removed (latest run)",
                    value_title="customers"),
        table([text_col("reason", "reason"), Column("why", lambda r: esc(r["why"]), wrap=True), num_col("customers", "customers")],
              rows, name=f"drops-{name}"),
        "Excluded, suppressed, outranked and held out apply to the whole audience; consent and matchability per destination.",
    )


def size_rows(runs: Sequence[Delivery]) -> list[dict[str, Any]]:
    return [
        {"label": delivery_label(r), "started": r["started_at"].isoformat(timespec="seconds"), "when": when(r["started_at"]),
         "destination": r["destination"], "segment": r["segment_size"], "customers": r["customers"],
         "members": r["members"] or 0, "status": r.status}
        for r in runs
    ]


def size_figure(name: str, runs: Sequence[Delivery]) -> str:
    rows = size_rows(runs)
    return "<h3>Size over time</h3>" + figure(
        f"size-{name}",
        charts.size_over_time(rows, title=f"{name}: members at each delivery"),
        table([text_col("delivered", "when"), text_col("destination", "destination"), num_col("segment", "segment"),
               num_col("after policy", "customers"), num_col("members", "members"),
               Column("status", lambda r: badge(r["status"]))], rows, name=f"size-{name}"),
        "One point per delivery in the period; a red cross marks a failed one, an orange one a held one.",
    )


# ------------------------------------------------------------------------------ overlaps
def overlap_rows(data: ReportData) -> list[dict[str, Any]]:
    """Each recorded pair once, the later audience (in the report's order) as the row and the
    earlier as the column: the cells fill the lower triangle of the matrix."""
    size = {r["audience_a"]: r["customers"] for r in data.overlaps if r["audience_a"] == r["audience_b"]}
    order = {a: i for i, a in enumerate(data.audiences)}
    rows = []
    for r in data.overlaps:
        col, row = sorted((r["audience_a"], r["audience_b"]), key=lambda a: order.get(a, len(order)))
        smaller = min(size.get(row, 0), size.get(col, 0))
        rows.append({
            "label": f"{row} × {col}", "audience_a": row, "audience_b": col,
            "customers": r["customers"], "share": (r["customers"] / smaller) if smaller else 0.0,
            "measured": when(r["recorded_at"]),
        })
    return sorted(rows, key=lambda r: (order.get(r["audience_a"], len(order)), order.get(r["audience_b"], len(order))))


def overlaps_section(data: ReportData) -> str:
    head = ('<section id="overlaps"><h2>Overlaps between audiences</h2><p class="lead">Customers in both audiences'
            " after policy, as of the latest sync that selected both. The diagonal is each audience's size.</p>")
    rows = overlap_rows(data)
    if not rows:
        return head + '<p class="note">No overlaps recorded yet: they are recorded by each sync.</p></section>'
    order = [a for a in data.audiences if any(r["audience_a"] == a or r["audience_b"] == a for r in rows)]
    return head + figure(
        "overlaps",
        charts.overlap_matrix(rows, order, title="Customers in both audiences"),
        table([text_col("audience", "audience_a"), text_col("and audience", "audience_b"), num_col("in both", "customers"),
               Column("share", lambda r: pct(r["share"]), numeric=True), text_col("measured", "measured")],
              rows, name="overlaps"),
        "Shade: the share of the smaller audience that is also in the other one.",
    ) + "</section>"


# ------------------------------------------------------------------------------ data quality
def data_quality_section(data: ReportData) -> str:
    out = ['<section id="data-quality"><h2>Data quality</h2>']
    out.append("<h3>Extract files (latest load of each)</h3>")
    if data.loads:
        cols = [text_col("source", "source"), text_col("table", "table"), Column("file", lambda r: esc(Path(str(r["file"])).name)),
                num_col("rows loaded", "rows_loaded"), num_col("rows quarantined", "rows_quarantined"),
                Column("quarantined", lambda r: pct(_share(r)), numeric=True),
                Column("loaded", lambda r: esc(when(r["loaded_at"])) + (" <span class='muted'>(unchanged, skipped)</span>" if r["unchanged"] else ""))]
        cols += [text_col(c.replace("_", " "), c) for c in data.extra_load_columns]
        out.append(f'<div class="scroll">{table(cols, data.loads, name="loads")}</div>')
    else:
        out.append('<p class="note">Nothing loaded yet.</p>')
    out.append("<h3>Quarantined rows by file and reason</h3>")
    if data.quarantine:
        rows = [dict(q, label=f"{q['table']} · {q['file']} · {q['column']} · {q['reason']}",
                     what=f"{Path(str(q['file'])).name} · {q['column']}: {q['reason']}") for q in data.quarantine]
        out.append(figure(
            "quarantine",
            charts.bars(rows, category="what", value="rows", title="Rows quarantined", value_title="rows"),
            table([text_col("table", "table"), Column("file", lambda r: esc(Path(str(r["file"])).name)),
                   text_col("column", "column"), text_col("reason", "reason"), num_col("rows", "rows")], rows, name="quarantine"),
            "A quarantined row was not loaded; the rest of its file was. Fix the extract and the next sync loads it."
            " Except an entry whose reason says \"until fixed\" (an unknown suppression scope): that row was loaded,"
            " applied to every channel, so no one who asked not to be contacted is reached meanwhile.",
        ))
    else:
        out.append('<p class="note">No row quarantined in the current loads.</p>')
    out.append(service_part(data))
    out.append(coverage_part(data))
    return "".join(out) + "</section>"


def money(value: float) -> str:
    return f"${value:,.0f}"


def service_part(data: ReportData) -> str:
    """Service revenue on repair-order lines no category rule decided: category segments miss it."""
    svc = data.service
    if svc is None:
        return ""
    out = ["<h3>Service lines without a category</h3>"]
    if not svc.total:
        return out[0] + '<p class="note">No performed service revenue loaded.</p>'
    share = svc.uncategorized / svc.total
    out.append(f'<p class="lead">{money(svc.uncategorized)} of {money(svc.total)} performed service revenue'
               f" ({pct(share)}) is on lines no category rule decided: segments by service category miss those"
               " customers. <code>dealersync opcodes</code> lists them; docs/data-model.md says how to categorize them.</p>")
    if svc.top:
        out.append('<div class="scroll">' + table(
            [text_col("op code", "op_code"), Column("description", lambda r: esc(r["description"]), wrap=True),
             num_col("uncategorized lines", "lines"), Column("uncategorized revenue", lambda r: money(r["revenue"]), numeric=True)],
            svc.top, name="uncategorized") + "</div>")
    return "".join(out)


def _share(r: Mapping[str, Any]) -> float | None:
    total = int(r.get("rows_loaded") or 0) + int(r.get("rows_quarantined") or 0)
    return (int(r.get("rows_quarantined") or 0) / total) if total else None


def coverage_rows(data: ReportData) -> list[dict[str, Any]]:
    rows = []
    for c in data.coverage:
        for kind, _ in KINDS:
            n = c.valid.get(kind)
            if n is None or not c.customers:
                continue
            rows.append({"label": f"{c.destination} · {kind}", "destination": c.destination, "connector": c.connector,
                         "identifier": kind, "customers": n, "share": n / c.customers})
    return rows


def coverage_part(data: ReportData) -> str:
    out = ["<h3>Identifier coverage per destination</h3>",
           '<p class="lead">Share of all customers with a valid email, phone and address as each destination'
           " sends them (address: every address field it sends is valid), as of its latest sync.</p>"]
    rows = coverage_rows(data)
    if rows:
        out.append(figure(
            "coverage",
            charts.bars(rows, category="destination", value="share", color="identifier", percent=True,
                        title="Customers with a valid identifier", value_title="share of customers"),
            table([text_col("destination", "destination"), text_col("connector", "connector"), text_col("identifier", "identifier"),
                   num_col("customers", "customers"), Column("share", lambda r: pct(r["share"]), numeric=True)], rows, name="coverage"),
            "Normalized the way the destination sends them (e.g. a phone must be a possible number).",
        ))
    notes = [f"{esc(c.destination)}: {esc(c.note)}" for c in data.coverage if c.note]
    if notes:
        out.append('<p class="note">' + "<br>".join(notes) + "</p>")
    if not rows and not notes:
        out.append('<p class="note">No destination selected.</p>')
    return "".join(out)


# ------------------------------------------------------------------------------ history
def day_rows(data: ReportData) -> list[dict[str, Any]]:
    per = Counter((r["started_at"].date().isoformat(), r.status) for r in data.runs)
    return [{"label": f"{day} · {status}", "day": day, "status": status, "deliveries": n} for (day, status), n in sorted(per.items())]


def history_section(data: ReportData) -> str:
    out = ['<section id="history"><h2>Run history</h2><p class="lead">Every delivery of the period, failures first,'
           " then newest first.</p>"]
    if not data.runs:
        return out[0] + '<p class="note">No run recorded in this period.</p></section>'
    rows = day_rows(data)
    out.append(figure(
        "deliveries",
        charts.stacked_by_status(rows, title="Deliveries per day by status"),
        table([text_col("day", "day"), Column("status", lambda r: badge(r["status"])), num_col("deliveries", "deliveries")],
              rows, name="deliveries"),
        "Each delivery is one audience sent to one destination.",
    ))
    cols = [
        Column("started", lambda r: esc(when(r["started_at"]))), text_col("audience", "audience"),
        text_col("destination", "destination"), Column("status", lambda r: badge(r.status)),
        Column("members", lambda r: num(r["members"]), numeric=True), Column("sent", lambda r: esc(sent(r))),
        Column("platform reports", read_back),
        Column("seconds", lambda r: f"{r['seconds']:.1f}" if r["seconds"] is not None else "", numeric=True),
        Column("notes", problems, wrap=True),
    ]
    cols += [Column(c.replace("_", " "), lambda r, c=c: esc(r[c]), wrap=True) for c in data.extra_run_columns]
    ordered = [dict(r.values, label=delivery_label(r)) for r in history_order(data.runs)]
    out.append(f'<div class="scroll">{table(cols, [Delivery(r) for r in ordered], name="history")}</div>')
    return "".join(out) + "</section>"

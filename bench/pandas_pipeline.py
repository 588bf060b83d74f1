"""The usual alternative: what a dealer's analyst writes by hand. pandas reads the extract and
computes the same ten audiences as bench/benchmark.toml; the facebook-business SDK's customer
audience helper (``CustomAudience.format_params``, which calls ``normalize_key`` and hashes) turns
each member into Meta's multi-key row; Google's row is normalized and hashed with hashlib. Writes
the same two files per audience. Run in its own process by bench/run.py.

    python bench/pandas_pipeline.py EXTRACT_DIR OUT_DIR JSON_OUT [--as-of 2026-11-23]

The audience rules are re-implemented from the segment library's documentation (docs/segments.md)
for as_of = 2026-11-23; the policy is the same (exclude segments, the extract's suppression list,
priority groups, the SHA-256 holdout, ads consent = not do_not_market), and it applies to the
person, as docs/dealer-groups.md states the rule: records sharing a normalized email or phone
(transitively) are one person, grouped here by connected components in pandas; a person is in an
audience when any record is in the segment and no record is excluded, suppressed (scope ``all``),
outranked, or opted out or suppressed for ads; the holdout is drawn on the person's anchor record
(its smallest customer id: the extract is one store, so every record is of the home rooftop).
Two things an analyst does
that the SDK does not: a US number gets its country code (10 digits -> 1XXXXXXXXXX, as Meta's
docs ask) and must look real (NANP shape, or 11-15 digits with another country code; the home
number when the mobile does not), and an email must look like one (one @, no spaces, a dot in
the domain). Duplicates are
dropped on the hashed email, then on the hashed phone (first customer id kept). Also writes
``OUT_DIR/_customers.parquet``: audience, customer_id, email hash, phone hash (for the comparison).
"""

from __future__ import annotations

import argparse
import datetime as dt
import hashlib
import json
import re
import resource
import time
from pathlib import Path

import duckdb
from dealersync.timing import peak_rss_bytes
import pandas as pd
from dealersync.opcodes import (
    DEFAULT_OPCODES,  # the op-code catalog: data an analyst would copy
)
from facebook_business.adobjects.customaudience import CustomAudience

SCHEMA = ["EMAIL", "PHONE", "FN", "LN", "CT", "ST", "ZIP", "COUNTRY"]
META_HEADERS = ["email", "phone", "fn", "ln", "ct", "st", "zip", "country"]
GOOGLE_HEADERS = ["Email", "Phone", "First Name", "Last Name", "Country", "Zip"]
EMPTY_SHA = hashlib.sha256(b"").hexdigest()
EMAIL_OK = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")

AUDIENCES = {
    # name: (segment, excludes, holdout, (priority group, rank))
    "service_loyal": ("loyal", [], 0.0, ("service", 1)),
    "winback": ("at_risk", ["recent_tire_buyers"], 0.10, ("service", 2)),
    "lost": ("lost", ["recent_tire_buyers"], 0.0, ("service", 3)),
    "never_serviced": ("never_serviced", [], 0.0, None),
    "declined_brakes": ("declined_brakes", [], 0.0, None),
    "lease_end": ("lease_ending", [], 0.05, None),
    "warranty": ("warranty_expiring", [], 0.0, None),
    "repeat_buyers": ("repeat_buyers", ["lease_ending"], 0.0, None),
    "web_leads": ("website_leads", [], 0.0, ("leads", 1)),
    "nurture": ("low_engagement_leads", ["prefers_mail"], 0.0, ("leads", 2)),
}


def read(extract: Path, name: str, dates: list[str] | None = None, cols: list[str] | None = None) -> pd.DataFrame:
    """One extract file, as text, only the columns the rules need (the analyst's habit at 1M rows)."""
    df = pd.read_csv(extract / f"{name}.csv", dtype=str, keep_default_na=False, na_values=[""], usecols=cols)
    for c in dates or []:
        df[c] = pd.to_datetime(df[c].str.slice(0, 10), errors="coerce", format="%Y-%m-%d")
    return df


def truthy(s: pd.Series) -> pd.Series:
    return s.fillna("").str.strip().str.lower().isin(["true", "t", "y", "yes", "1"])


def months_between(d: pd.Series, as_of: pd.Timestamp) -> pd.Series:
    """Whole calendar months from d to as_of (as_of is not a month end here)."""
    m = (as_of.year - d.dt.year) * 12 + (as_of.month - d.dt.month)
    return m - (d.dt.day > as_of.day).astype(int)


def segments(extract: Path, as_of: dt.date) -> tuple[pd.DataFrame, dict[str, set[str]]]:
    now = pd.Timestamp(as_of)
    day = pd.Timedelta(days=1)
    cust = read(extract, "customers")
    cust = cust[cust["customer_id"].notna()].drop_duplicates("customer_id")
    ids = set(cust["customer_id"])

    ro = read(extract, "repair_orders", ["opened_on", "closed_on"],
              ["ro_id", "customer_id", "opened_on", "closed_on", "pay_type"])
    ro["date"] = ro["opened_on"].fillna(ro["closed_on"])
    ro = ro[ro["customer_id"].notna() & (ro["date"] <= now)
            & (ro["pay_type"].fillna("").str.strip().str.lower() != "internal")]
    last_service = ro.groupby("customer_id")["date"].max()
    months = months_between(last_service, now)

    lines = read(extract, "ro_lines", cols=["ro_id", "op_code", "status"]).merge(ro[["ro_id", "customer_id", "date"]], on="ro_id")
    lines["category"] = lines["op_code"].fillna("").str.strip().str.upper().map(DEFAULT_OPCODES)
    lines["status"] = lines["status"].str.strip().str.lower().fillna("performed")
    lines = lines[lines["category"].notna()]
    tires = lines[(lines["category"] == "tires") & (lines["status"] == "performed")
                  & (lines["date"] >= now - 180 * day)]
    per_cat = lines.assign(
        declined=lines["date"].where(lines["status"].isin(["declined", "recommended"])),
        performed=lines["date"].where(lines["status"] == "performed"),
    ).groupby(["customer_id", "category"])[["declined", "performed"]].max().reset_index()
    open_declined = per_cat[per_cat["declined"] > per_cat["performed"].fillna(pd.Timestamp("1900-01-01"))]
    brakes = open_declined[(open_declined["category"] == "brakes")
                           & open_declined["declined"].between(now - 90 * day, now - 3 * day)]

    deals = read(extract, "deals", ["deal_date", "lease_maturity_date"],
                 ["customer_id", "co_buyer_customer_id", "deal_date", "deal_type", "lease_maturity_date"])
    deals = deals[deals["deal_date"] <= now]
    co = deals[deals["co_buyer_customer_id"].notna() & (deals["co_buyer_customer_id"] != deals["customer_id"])]
    rel = pd.concat([deals[deals["customer_id"].notna()],
                     co.assign(customer_id=co["co_buyer_customer_id"])])
    rel["deal_type"] = rel["deal_type"].str.strip().str.lower()
    buyers = set(rel["customer_id"])
    deal_counts = rel.groupby("customer_id").size()
    leases = rel[rel["deal_type"] == "lease"]
    upcoming = leases[leases["lease_maturity_date"] >= now].groupby("customer_id")["lease_maturity_date"].min()
    lease_date = upcoming.combine_first(leases.groupby("customer_id")["lease_maturity_date"].max())

    veh = read(extract, "vehicles", ["purchased_on", "disposed_on", "warranty_end"],
               ["vehicle_id", "customer_id", "purchased_on", "disposed_on", "warranty_end"])
    veh = veh[veh["vehicle_id"].notna() & (veh["purchased_on"].isna() | (veh["purchased_on"] <= now))]
    veh = veh.drop_duplicates("vehicle_id")
    veh = veh[veh["customer_id"].notna() & (veh["disposed_on"].isna() | (veh["disposed_on"] > now))]
    soon = veh[veh["warranty_end"] >= now].groupby("customer_id")["warranty_end"].min()
    warranty = soon.combine_first(veh.groupby("customer_id")["warranty_end"].max())

    ev = read(extract, "events", ["occurred_at"], ["customer_id", "occurred_at", "channel", "type"])
    ev = ev[ev["customer_id"].notna() & (ev["occurred_at"] <= now)
            & (ev["channel"].str.strip().str.lower() == "email")
            & ev["type"].str.strip().str.lower().isin(["open", "click"])]
    engaged_90 = set(ev.loc[ev["occurred_at"] >= now - 90 * day, "customer_id"])

    leads = read(extract, "leads", cols=["lead_id", "customer_id", "created_at", "source"])
    leads["day"] = pd.to_datetime(leads["created_at"].str.slice(0, 10), errors="coerce")
    leads = leads[leads["customer_id"].notna() & (leads["day"] <= now)]
    latest = leads.sort_values(["created_at", "lead_id"]).groupby("customer_id").tail(1).set_index("customer_id")
    latest_source = latest["source"].str.strip().str.lower()

    serviced = set(last_service.index)
    lead_stage = set(latest.index) - buyers - serviced
    seg = {
        "loyal": set(months[months < 12].index),
        "at_risk": set(months[(months >= 12) & (months < 24)].index),
        "lost": set(months[months >= 24].index),
        "never_serviced": (buyers - serviced),
        "recent_tire_buyers": set(tires["customer_id"]),
        "declined_brakes": set(brakes["customer_id"]),
        "lease_ending": set(lease_date[(lease_date >= now) & (lease_date <= now + 180 * day)].index),
        "warranty_expiring": set(warranty[(warranty >= now) & (warranty <= now + 90 * day)].index),
        "repeat_buyers": set(deal_counts[deal_counts >= 2].index),
        "website_leads": set(latest_source[latest_source == "website"].index),
        "low_engagement_leads": {
            c for c in lead_stage if latest.at[c, "day"] < now - 30 * day and c not in engaged_90
        },
        "prefers_mail": set(cust.loc[cust["preferred_channel"].str.strip().str.lower() == "mail", "customer_id"]),
    }
    return cust, {k: v & ids for k, v in seg.items()}


def email_key(s: pd.Series) -> pd.Series:
    """The match key of an email (docs/dealer-groups.md): trimmed and lower-cased; empty: none."""
    k = s.fillna("").str.strip().str.lower()
    return k.where(k != "")


def phone_key(s: pd.Series) -> pd.Series:
    """The match key of a phone: its digits without leading zeros; 11 digits starting with 1 by
    the last 10; 7 digits or more as they are; shorter: none."""
    d = s.fillna("").str.replace(r"[^0-9]", "", regex=True).str.lstrip("0")
    nanp = (d.str.len() == 11) & d.str.startswith("1")
    return d.str.slice(1).where(nanp, d.where(d.str.len() >= 7))


def persons(cust: pd.DataFrame) -> dict[str, str]:
    """customer id -> person id, for the records of persons of two or more records (any other
    record is a person of one, its own id). Records sharing an email or phone key are linked, and
    links are transitive: the components of the customer-key graph, found by propagating the
    smallest customer id over the shared keys until nothing changes. That smallest id is the
    anchor the holdout is drawn on."""
    ids = cust["customer_id"]
    keys = pd.concat([
        pd.DataFrame({"cid": ids, "tok": "email:" + email_key(cust["email"])}),
        pd.DataFrame({"cid": ids, "tok": "phone:" + phone_key(cust["phone_mobile"])}),
        pd.DataFrame({"cid": ids, "tok": "phone:" + phone_key(cust["phone_home"])}),
    ]).dropna().drop_duplicates()
    keys = keys[keys["tok"].duplicated(keep=False)]  # only keys two or more records hold link
    label = pd.Series(keys["cid"].unique(), index=keys["cid"].unique())
    while True:
        smallest_of_key = label.reindex(keys["cid"]).groupby(keys["tok"].values).transform("min")
        new = smallest_of_key.groupby(keys["cid"].values).min().reindex(label.index)
        if new.equals(label):
            return dict(zip(label.index, label.values))
        label = new


def suppressed(extract: Path, cust: pd.DataFrame) -> dict[str, set[str]]:
    """Scope (all, ads, email, sms) -> the customer ids the extract's suppressions.csv suppresses
    on it. A file without a ``scope`` column, an empty cell, or a scope that is not one of the
    four means all (dealersync loads an unknown scope as all: fail safe, docs/data-model.md)."""
    sup = read(extract, "suppressions")
    scope = (sup["scope"] if "scope" in sup else pd.Series(pd.NA, index=sup.index, dtype=object))
    scope = scope.fillna("").str.strip().str.lower()
    scope = scope.where(scope.isin(["all", "ads", "email", "sms"]), "all")
    cust_email = email_key(cust["email"])
    mobile, home = phone_key(cust["phone_mobile"]), phone_key(cust["phone_home"])
    out = {}
    for name in ("all", "ads", "email", "sms"):
        rows = sup[scope == name]
        emails = set(email_key(rows["email"]).dropna())
        phones = set(phone_key(rows["phone"]).dropna())
        ids = set(rows["customer_id"].dropna().str.strip()) - {""}
        hit = cust_email.isin(emails) | mobile.isin(phones) | home.isin(phones) | cust["customer_id"].isin(ids)
        out[name] = set(cust.loc[hit, "customer_id"])
    return out


class People:
    """Set operations on customer ids that act on their persons (:func:`persons`)."""

    def __init__(self, person_of: dict[str, str]) -> None:
        self.person_of = person_of

    def of(self, ids: set[str]) -> set[str]:
        """The persons of these records."""
        return {self.person_of.get(c, c) for c in ids}

    def without(self, records: set[str], ids: set[str]) -> set[str]:
        """``records`` minus every record whose person has a record among ``ids``."""
        out = self.of(ids)
        return {c for c in records if self.person_of.get(c, c) not in out}

    def held_out(self, records: set[str], salt: str, share: float) -> set[str]:
        """The records whose person's anchor is drawn: SHA-256(salt:anchor), first 32 bits."""
        cut = int(share * 2**32)
        return {
            c for c in records
            if int(hashlib.sha256(f"{salt}:{self.person_of.get(c, c)}".encode()).hexdigest()[:8], 16) < cut
        }


def ads_consented(cust: pd.DataFrame, people: People, suppressed_for_ads: set[str]) -> set[str]:
    """Records the ads channel lets through: not ``do_not_market`` themselves, and no record of
    their person opted out (``do_not_market``) or suppressed with scope ``ads``."""
    opted_out = truthy(cust["do_not_market"])
    own = set(cust.loc[~opted_out, "customer_id"])
    return people.without(own, set(cust.loc[opted_out, "customer_id"]) | suppressed_for_ads)


def audiences(seg: dict[str, set[str]], blocked: set[str], consented: set[str], people: People) -> dict[str, set[str]]:
    eligible = {
        name: people.without(people.without(seg[s], set().union(*(seg[x] for x in ex))), blocked)
        for name, (s, ex, _h, _p) in AUDIENCES.items()
    }
    out = {}
    for name, (_s, _ex, holdout, prio) in AUDIENCES.items():
        keep = set(eligible[name])
        if prio:
            higher = [eligible[o] for o, (_s2, _e2, _h2, p2) in AUDIENCES.items()
                      if p2 and p2[0] == prio[0] and p2[1] < prio[1]]
            keep = people.without(keep, set().union(*higher))
        if holdout:
            keep -= people.held_out(keep, name, holdout)
        out[name] = keep & consented
    return out


PHONE_OK = re.compile(r"^(1[2-9][0-9]{2}[2-9][0-9]{6}|[2-9][0-9]{10,14})$")


def us_phone(mobile: str, home: str) -> str:
    """The mobile, else the home number: digits, a leading 1 for 10 digits, kept when it looks real."""
    for raw in (mobile, home):
        digits = re.sub(r"[^0-9]", "", raw).lstrip("0")
        digits = "1" + digits if len(digits) == 10 else digits
        if PHONE_OK.match(digits):
            return digits
    return ""


def meta_row(r: dict[str, str]) -> list[str]:
    """One customer as Meta's multi-key row, the SDK way (it strips, lowercases, normalizes, hashes)."""
    email = r["email"] if EMAIL_OK.match(r["email"].strip()) else ""
    row = [email, us_phone(r["phone_mobile"], r["phone_home"]), r["first_name"], r["last_name"],
           r["city"], r["state"], r["postal_code"], r["country"] or "US"]
    hashed = CustomAudience.format_params(schema=SCHEMA, users=[row], is_raw=True)["payload"]["data"][0]
    return ["" if h == EMPTY_SHA else h for h in hashed]


def _sha(v: str) -> str:
    return hashlib.sha256(v.encode("utf-8")).hexdigest() if v else ""


def google_row(r: dict[str, str]) -> list[str]:
    email = re.sub(r"\s+", "", r["email"]).lower()
    if not EMAIL_OK.match(email):
        email = ""
    phone = us_phone(r["phone_mobile"], r["phone_home"])
    return [_sha(email), _sha("+" + phone) if phone else "", _sha(r["first_name"].strip().lower()),
            _sha(r["last_name"].strip().lower()), (r["country"] or "US").upper(), r["postal_code"][:5]]



def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("extract", type=Path)
    ap.add_argument("out", type=Path)
    ap.add_argument("json_out", type=Path)
    ap.add_argument("--as-of", type=dt.date.fromisoformat, default=dt.date(2026, 11, 23))
    args = ap.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    steps = {}

    t0 = time.perf_counter()
    cust, seg = segments(args.extract, args.as_of)
    t1 = time.perf_counter()
    steps["read + segments"] = t1 - t0
    people = People(persons(cust))
    blocked = suppressed(args.extract, cust)
    consented = ads_consented(cust, people, blocked["ads"])
    auds = audiences(seg, blocked["all"], consented, people)
    t2 = time.perf_counter()
    steps["policy"] = t2 - t1

    # normalize + hash once per customer in any audience (Python per row: the SDK's way)
    wanted = set().union(*auds.values())
    cols = ["customer_id", "email", "phone_mobile", "phone_home", "first_name", "last_name", "city",
            "state", "postal_code", "country"]
    people = cust.loc[cust["customer_id"].isin(wanted), cols].fillna("").sort_values("customer_id")
    records = people.to_dict("records")
    meta = pd.DataFrame([meta_row(r) for r in records], columns=META_HEADERS, index=people["customer_id"])
    google = pd.DataFrame([google_row(r) for r in records], columns=GOOGLE_HEADERS, index=people["customer_id"])
    t3 = time.perf_counter()
    steps["normalize + hash"] = t3 - t2

    kept_rows = []
    for name, ids in auds.items():
        m = meta.loc[sorted(ids)]
        m = m[(m["email"] != "") | (m["phone"] != "")]
        m = m[(m["email"] == "") | ~m["email"].duplicated()]
        m = m[(m["phone"] == "") | ~m["phone"].duplicated()]
        m.to_csv(args.out / f"{name}.meta_upload.csv", index=False)
        g = google.loc[m.index]
        g.to_csv(args.out / f"{name}.google_upload.csv", index=False)
        kept_rows.append(pd.DataFrame({"audience": name, "customer_id": m.index, "email": m["email"].values,
                                       "phone": m["phone"].values, "policy": False}))
        kept_rows.append(pd.DataFrame({"audience": name, "customer_id": sorted(ids), "email": "", "phone": "",
                                       "policy": True}))
    t4 = time.perf_counter()
    steps["dedupe + write"] = t4 - t3
    kept = pd.concat(kept_rows)  # for the comparison (not timed); DuckDB writes the Parquet
    duckdb.sql("SELECT * FROM kept").write_parquet(str(args.out / "_customers.parquet"))
    peak = peak_rss_bytes()
    cpu = sum(resource.getrusage(resource.RUSAGE_SELF)[:2])
    args.json_out.write_text(json.dumps({
        "total_seconds": t4 - t0, "steps": steps, "peak_rss": peak, "cpu_seconds": cpu,
        "members": {k: int(v) for k, v in kept.query("not policy").groupby("audience").size().items()},
        "customers_hashed": len(records),
    }), encoding="utf-8")


if __name__ == "__main__":
    main()

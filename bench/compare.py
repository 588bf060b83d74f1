"""Do dealersync and the pandas + SDK pipeline produce the same audiences? (bench/run.py)

Three checks per audience, all on the Meta files' data:

* **customers** after policy and consent (before identity): the sets of customer ids must be
  equal; this checks segments, excludes, suppression, priority groups, holdouts and consent, all
  applied to the person (records sharing a normalized email or phone), which each pipeline finds
  on its own (dealersync in SQL, the analyst with a pandas connected-components pass);
* **hashed emails**: dealersync's members vs the analyst's rows. A difference is *explained* when
  the customer is part of a dealersync member of several customers (dealersync merges customers
  sharing an email or phone transitively and takes the smallest customer id's valid value; the
  analyst drops duplicates pairwise, email first) or when the identifier is one dealersync's
  rules reject (see ``PHONE_NOTE``); anything else is *unexplained*;
* **hashed phones**: same, explained the same way.

Names, city and state are not compared: the SDK drops letters outside a-z by design, Meta's docs
(and dealersync) keep them.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import duckdb

PHONE_NOTE = (
    "phones: the analyst keeps the digits (plus a leading 1 for 10 digits); dealersync drops an "
    "extension, refuses numbers that are not possible (NANP shape, phonenumbers for the rest) and "
    "falls back to the home phone when the mobile is not possible"
)


def compare(ds_export: Path, pandas_out: Path) -> dict[str, Any]:
    con = duckdb.connect()
    q = lambda p: "'" + str(p).replace("'", "''") + "'"
    con.execute(f"CREATE VIEW ds_pol AS SELECT * FROM read_parquet({q(ds_export / 'policy_meta_upload.parquet')})")
    con.execute(f"CREATE VIEW ds_mem AS SELECT * FROM read_parquet({q(ds_export / 'members_meta_upload.parquet')})")
    con.execute(f"CREATE VIEW pd_all AS SELECT * FROM read_parquet({q(pandas_out / '_customers.parquet')})")
    con.execute("CREATE VIEW pd_pol AS SELECT audience, customer_id FROM pd_all WHERE policy")
    con.execute("CREATE VIEW pd_mem AS SELECT audience, customer_id, email, phone FROM pd_all WHERE NOT policy")
    # dealersync: customer -> (member size, member's email and phone)
    con.execute(
        """CREATE TEMP TABLE ds_cust AS
           SELECT audience, unnest(customer_ids) AS customer_id, len(customer_ids) AS size,
                  email, phone FROM ds_mem"""
    )
    out: dict[str, Any] = {"audiences": {}, "phone_note": PHONE_NOTE}
    # the audiences dealersync synced (all ten, or those of run.py --audiences)
    audiences = [r[0] for r in con.execute("SELECT DISTINCT audience FROM ds_pol ORDER BY 1").fetchall()]
    agree = True
    for a in audiences:
        row: dict[str, Any] = {}
        ds_only, pd_only = con.execute(
            """SELECT (SELECT count(*) FROM (SELECT customer_id FROM ds_pol WHERE audience = $a
                                             EXCEPT SELECT customer_id FROM pd_pol WHERE audience = $a)),
                      (SELECT count(*) FROM (SELECT customer_id FROM pd_pol WHERE audience = $a
                                             EXCEPT SELECT customer_id FROM ds_pol WHERE audience = $a))""",
            {"a": a},
        ).fetchone()  # type: ignore[misc]
        n = con.execute("SELECT count(*) FROM ds_pol WHERE audience = $a", {"a": a}).fetchone()[0]  # type: ignore[index]
        row["customers"] = {"dealersync": n, "only_dealersync": ds_only, "only_pandas": pd_only}
        agree &= ds_only == 0 and pd_only == 0
        for field in ("email", "phone"):
            stats = con.execute(
                f"""WITH d AS (SELECT DISTINCT {field} AS h FROM ds_mem WHERE audience = $a AND {field} IS NOT NULL),
                        p AS (SELECT DISTINCT {field} AS h FROM pd_mem WHERE audience = $a AND {field} <> ''),
                        pd_extra AS (SELECT h FROM p EXCEPT SELECT h FROM d),
                        ds_extra AS (SELECT h FROM d EXCEPT SELECT h FROM p),
                        -- an analyst's extra value: its customer is in a merged dealersync member,
                        -- or dealersync has another (or no) value for that customer
                        pd_why AS (
                            SELECT e.h, max(coalesce(c.size, 1)) > 1 AS merged,
                                   bool_or(c.customer_id IS NULL OR c.{field} IS DISTINCT FROM e.h) AS rule
                            FROM pd_extra e JOIN pd_mem m ON m.audience = $a AND m.{field} = e.h
                            LEFT JOIN ds_cust c ON c.audience = $a AND c.customer_id = m.customer_id
                            GROUP BY e.h),
                        ds_why AS (
                            SELECT e.h, max(c.size) > 1 AS merged,
                                   bool_or(m.customer_id IS NULL OR m.{field} IS DISTINCT FROM e.h) AS rule
                            FROM ds_extra e JOIN ds_cust c ON c.audience = $a AND c.{field} = e.h
                            LEFT JOIN pd_mem m ON m.audience = $a AND m.customer_id = c.customer_id
                            GROUP BY e.h)
                   SELECT (SELECT count(*) FROM d), (SELECT count(*) FROM p),
                          (SELECT count(*) FROM d JOIN p USING (h)),
                          (SELECT count(*) FROM pd_why WHERE merged), (SELECT count(*) FROM ds_why WHERE merged),
                          (SELECT count(*) FROM pd_why WHERE NOT merged AND rule),
                          (SELECT count(*) FROM ds_why WHERE NOT merged AND rule),
                          (SELECT count(*) FROM pd_extra) - (SELECT count(*) FROM pd_why WHERE merged OR rule),
                          (SELECT count(*) FROM ds_extra) - (SELECT count(*) FROM ds_why WHERE merged OR rule)""",
                {"a": a},
            ).fetchone()
            assert stats is not None
            d, p, both, m_pd, m_ds, r_pd, r_ds, u_pd, u_ds = (int(x) for x in stats)
            row[field] = {
                "dealersync": d, "pandas": p, "same": both,
                "only_pandas": p - both, "only_dealersync": d - both,
                "explained_merged_member": m_pd + m_ds,
                "explained_normalization": r_pd + r_ds,
                "unexplained": u_pd + u_ds,
            }
            if field == "email":
                # emails: the rules are the same on both sides; only merges may differ
                agree &= (r_pd + r_ds + u_pd + u_ds) == 0
        out["audiences"][a] = row
    out["agree"] = bool(agree)
    con.close()
    return out


def summary_lines(cmp: dict[str, Any]) -> list[str]:
    head = (
        f"{'audience':<16} {'customers':>9} {'cust diff':>9} {'emails ds/pd':>15} {'same':>7} {'merged':>6}"
        f" {'rule':>5} {'unexpl':>6} {'phones ds/pd':>15} {'same':>7} {'merged':>6} {'rule':>5} {'unexpl':>6}"
    )
    lines = [head]
    for a, r in cmp["audiences"].items():
        c, e, p = r["customers"], r["email"], r["phone"]
        lines.append(
            f"{a:<16} {c['dealersync']:>9} {c['only_dealersync'] + c['only_pandas']:>9}"
            f" {str(e['dealersync']) + '/' + str(e['pandas']):>15} {e['same']:>7} {e['explained_merged_member']:>6}"
            f" {e['explained_normalization']:>5} {e['unexplained']:>6}"
            f" {str(p['dealersync']) + '/' + str(p['pandas']):>15} {p['same']:>7} {p['explained_merged_member']:>6}"
            f" {p['explained_normalization']:>5} {p['unexplained']:>6}"
        )
    lines.append(f"pipelines agree: {'yes' if cmp['agree'] else 'NO'} (customers equal; email differences only from merged members)")
    return lines


if __name__ == "__main__":
    import sys

    print("\n".join(summary_lines(compare(Path(sys.argv[1]), Path(sys.argv[2])))))

"""Benchmark dealersync at dealer-group scale, against the floor and against pandas + the SDK.

    python bench/run.py --customers 100000 [--customers 1000000 ...] [--repeat 3] [--json out.json]

For each size: generate (or reuse, cached under bench/.cache/) the sample extract and its 1%
change (bench/mutate.py), then, each sync in a fresh subprocess (peak RSS is per run):

1. the floor (bench/floor.py): DuckDB reads every CSV and SHA-256s every email and phone once;
2. a full first sync of bench/benchmark.toml (ten audiences, each to meta-file and google-file);
3. the same warehouse after the 1% change: the second sync;
4. the pandas + facebook-business SDK pipeline (bench/pandas_pipeline.py) on the same files,
   and the check that both produce the same audiences (bench/compare.py);
5. the same audiences to the Meta API (connector "meta") against the meta plugin's fake on
   127.0.0.1: a full sync, then the sync after the change, whose adds and removes are checked
   against the difference of the two member sets.

Sizes below --large (default 1,000,000) run --repeat times and report the median; larger ones
run --repeat-large times (default 1). Prints one table per size and writes the same as JSON.
See bench/README.md.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import platform
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
CACHE = HERE / ".cache"
AS_OF = dt.date(2026, 11, 23)
STEPS = ("load", "facts", "segments", "policy", "identity", "diff", "deliver")
STEP_LABEL = {"identity": "normalize+hash (identity)"}
AFTER_LOAD = STEPS[1:]
CACHE_VERSION = "v1"

sys.path.insert(0, str(HERE))
from compare import compare, summary_lines
from mutate import mutate


# ----------------------------------------------------------------------------- the extract
def extract_dirs(customers: int, seed: int, change_seed: int, share: float, log: Any) -> tuple[Path, Path, dict]:
    """(base, changed) extract directories, generated once per argument set and cached."""
    root = CACHE / f"extract-{CACHE_VERSION}-n{customers}-s{seed}-{AS_OF}-c{share}-m{change_seed}"
    base, changed, meta = root / "base", root / "changed", root / "meta.json"
    if meta.exists():
        log(f"  reusing the cached extract {root.relative_to(ROOT)}")
        return base, changed, json.loads(meta.read_text())
    from dealersync.sample import generate

    shutil.rmtree(root, ignore_errors=True)
    t0 = time.perf_counter()
    rows = generate(base, customers, seed=seed, as_of=AS_OF)
    t1 = time.perf_counter()
    kinds = mutate(base, changed, share=share, seed=change_seed, as_of=AS_OF)
    info = {"rows": rows, "changed": kinds, "generate_seconds": t1 - t0, "mutate_seconds": time.perf_counter() - t1,
            "bytes": sum(f.stat().st_size for f in base.glob("*.csv"))}
    meta.write_text(json.dumps(info, indent=1))
    log(f"  generated {customers:,} customers in {t1 - t0:.1f}s, changed {sum(kinds.values()):,} {kinds}")
    return base, changed, info


# ----------------------------------------------------------------------------- subprocesses
def child(args: list[str], env: dict[str, str] | None = None, timeout: float = 3600) -> float:
    t0 = time.perf_counter()
    proc = subprocess.run([sys.executable, *args], check=False, cwd=ROOT, env={**os.environ, **(env or {})},
                          capture_output=True, text=True, timeout=timeout)
    if proc.returncode != 0:
        raise RuntimeError(f"{' '.join(args[:1])} failed ({proc.returncode}):\n{proc.stderr[-3000:]}")
    return time.perf_counter() - t0


def workdir(parent: Path, name: str, extract: Path, config_text: str) -> Path:
    w = parent / name
    w.mkdir(parents=True, exist_ok=True)
    (w / "connectors.toml").write_text(config_text, encoding="utf-8")
    point(w, extract)
    return w


def point(w: Path, extract: Path) -> None:
    link = w / "extract"
    if link.is_symlink() or link.exists():
        link.unlink()
    link.symlink_to(extract, target_is_directory=True)


AUDIENCES: list[str] = []  # --audiences: sync only these (the smoke test); default all


def sync(w: Path, label: str, export: bool, env: dict[str, str] | None = None) -> dict[str, Any]:
    out = w / f"{label}.json"
    args = [str(HERE / "sync_child.py"), str(w / "connectors.toml"), str(out)]
    for a in AUDIENCES:
        args += ["--audience", a]
    if export:
        args += ["--export", str(w / f"export_{label}")]
    wall = child(args, env)
    data = json.loads(out.read_text())
    data["process_seconds"] = wall
    return data


def meta_config(text: str, url: str) -> str:
    text = text.replace('destinations = ["meta_upload", "google_upload"]', 'destinations = ["meta_api"]')
    return text.replace('base_url = "http://127.0.0.1:9"', f'base_url = "{url}"')


# ----------------------------------------------------------------------------- the Meta fake
def meta_fake_classes() -> tuple[Any, Any, str]:
    tests = ROOT / "plugins" / "dealersync-meta" / "tests"
    if not (tests / "meta_fake.py").exists():
        raise RuntimeError("the meta plugin's fake (plugins/dealersync-meta/tests/meta_fake.py) is missing: use --no-meta")
    sys.path.insert(0, str(tests))
    import meta_fake  # type: ignore[import-not-found]

    class IndexedFakeMeta(meta_fake.FakeMeta):
        """The plugin's fake with members indexed by key: its list scan per batch is quadratic
        at a million members, and its time would be counted as dealersync's deliver step."""

        def _index(self, list_id: str) -> dict[Any, dict[str, Any]]:
            held = self.lists.setdefault(list_id, {})
            if not isinstance(held, dict):  # usersreplace resets the list to []
                held = self.lists[list_id] = {self.key(m): m for m in held}
            return held

        def add_members(self, list_id, members):  # type: ignore[no-untyped-def]
            held = self._index(list_id)
            for m in members:
                held.setdefault(self.key(m), dict(m))

        def remove_members(self, list_id, members):  # type: ignore[no-untyped-def]
            held = self._index(list_id)
            for m in members:
                held.pop(self.key(m), None)

    return IndexedFakeMeta, meta_fake.FakeMetaServer, meta_fake.TOKEN


META_FIELDS = "email, phone, fn, ln, ct, st, zip, country"
FILE_FIELDS = {"meta_upload": META_FIELDS, "google_upload": "email, phone, first_name, last_name, country, zip"}


def expected_meta_diff(before: Path, after: Path, dest: str = "meta_api", fields: str = META_FIELDS) -> dict[str, dict[str, int]]:
    """Per audience: members (key + identifiers) to add and to remove between two exports."""
    import duckdb

    con = duckdb.connect()
    cols = f"audience, member_key, {fields}"
    q = lambda p: "'" + str(p / f"members_{dest}.parquet").replace("'", "''") + "'"
    rows = con.execute(
        f"""WITH b AS (SELECT {cols} FROM read_parquet({q(before)})), a AS (SELECT {cols} FROM read_parquet({q(after)})),
                 adds AS (SELECT * FROM a EXCEPT SELECT * FROM b), removes AS (SELECT * FROM b EXCEPT SELECT * FROM a)
            SELECT audience, (SELECT count(*) FROM adds WHERE adds.audience = x.audience),
                   (SELECT count(*) FROM removes WHERE removes.audience = x.audience)
            FROM (SELECT DISTINCT audience FROM a UNION SELECT DISTINCT audience FROM b) x ORDER BY 1"""
    ).fetchall()
    con.close()
    return {a: {"adds": int(ad), "removes": int(rm)} for a, ad, rm in rows}


def fake_matches(fake: Any, export: Path) -> bool:
    """The fake's audiences hold exactly the exported members (compared on the hashed fields)."""
    import duckdb

    con = duckdb.connect()
    path = str(export / "members_meta_api.parquet").replace("'", "''")
    fields = ["email", "phone", "fn", "ln", "ct", "st", "zip", "country"]
    want: dict[str, set[tuple]] = {}
    for row in con.execute(f"SELECT audience, {', '.join(fields)} FROM read_parquet('{path}')").fetchall():
        want.setdefault(row[0], set()).add(tuple(row[1:]))
    con.close()
    got: dict[str, set[tuple]] = {}
    for list_id, members in fake.lists.items():
        name = fake.audiences[list_id]["name"]
        vals = members.values() if isinstance(members, dict) else members
        got[name] = {tuple(m.get(f) for f in fields) for m in vals}
    return all(got.get(a, set()) == s for a, s in want.items())


# ----------------------------------------------------------------------------- one size
def run_size(n: int, repeats: int, args: argparse.Namespace, log: Any) -> dict[str, Any]:
    log(f"\n== {n:,} customers, {repeats} run(s)")
    base, changed, info = extract_dirs(n, args.seed, args.change_seed, args.change, log)
    config_text = (HERE / "benchmark.toml").read_text(encoding="utf-8")
    runs: list[dict[str, Any]] = []
    comparison = None
    errors: list[str] = []
    if args.work:
        Path(args.work).mkdir(parents=True, exist_ok=True)
    tmp_root = Path(tempfile.mkdtemp(prefix=f"dsbench-{n}-", dir=args.work))
    try:
        for r in range(repeats):
            run: dict[str, Any] = {}
            rd = tmp_root / f"run{r}"
            rd.mkdir()
            floor_json = rd / "floor.json"
            child([str(HERE / "floor.py"), str(base), str(floor_json)])
            run["floor"] = json.loads(floor_json.read_text())
            log(f"  [{r + 1}/{repeats}] floor {run['floor']['total_seconds']:.2f}s")

            w = workdir(rd, "files", base, config_text)
            run["full"] = sync(w, "full", export=(r == 0))
            log(f"  [{r + 1}/{repeats}] full sync (files) {run['full']['total_seconds']:.2f}s")
            point(w, changed)
            run["change"] = sync(w, "change", export=False)
            log(f"  [{r + 1}/{repeats}] sync after the change (files) {run['change']['total_seconds']:.2f}s")

            if not args.no_change_files:
                run["cfiles"] = run_change_files(rd, base, changed, config_text, log)

            if not args.no_pandas and (r == 0 or n < args.large):
                pj = rd / "pandas.json"
                try:
                    child([str(HERE / "pandas_pipeline.py"), str(base), str(rd / "pandas_out"), str(pj)])
                    run["pandas"] = json.loads(pj.read_text())
                    log(f"  [{r + 1}/{repeats}] pandas + SDK {run['pandas']['total_seconds']:.2f}s")
                    if r == 0:
                        comparison = compare(w / "export_full", rd / "pandas_out")
                        for line in summary_lines(comparison):
                            log("    " + line)
                except Exception as exc:  # noqa: BLE001 - report it, keep the other results
                    errors.append(f"pandas: {exc}")
                    log(f"  pandas pipeline FAILED: {exc}")

            if not args.no_meta and r == 0:
                try:
                    run["meta"] = run_meta(rd, base, changed, config_text, log)
                except Exception as exc:  # noqa: BLE001 - report it, keep the other results
                    errors.append(f"meta: {exc}")
                    log(f"  Meta API run FAILED: {exc}")
            runs.append(run)
            if not args.keep:
                shutil.rmtree(rd, ignore_errors=True)
    finally:
        if not args.keep:
            shutil.rmtree(tmp_root, ignore_errors=True)
    out = summarize(n, runs, info, comparison)
    out["errors"] = errors
    return out


def assemble(rd: Path, n: int, args: argparse.Namespace) -> dict[str, Any]:
    """Summarize the files one interrupted run left in its work directory (run.py --keep, or
    a killed run): whichever of floor, full, change, pandas and the Meta API syncs finished."""
    _, _, info = extract_dirs(n, args.seed, args.change_seed, args.change, lambda _m: None)
    load = lambda p: json.loads(p.read_text()) if p.exists() else None
    run: dict[str, Any] = {"floor": load(rd / "floor.json"), "full": load(rd / "files" / "full.json"),
                           "change": load(rd / "files" / "change.json")}
    for k in ("full", "change"):
        run[k]["process_seconds"] = run[k].get("process_seconds", run[k]["setup_seconds"] + run[k]["total_seconds"])
    comparison = None
    if (rd / "pandas.json").exists():
        run["pandas"] = load(rd / "pandas.json")
        comparison = compare(rd / "files" / "export_full", rd / "pandas_out")
    mf, mc = load(rd / "meta" / "full.json"), load(rd / "meta" / "change.json")
    if mf and mc:
        for d in (mf, mc):
            d["process_seconds"] = d["setup_seconds"] + d["total_seconds"]
        expected = expected_meta_diff(rd / "meta" / "export_full", rd / "meta" / "export_change")
        got = {r["audience"]: {"adds": r["added"], "removes": r["removed"]} for r in mc["results"]}
        run["meta"] = {"full": mf, "change": mc, "expected": expected, "delivered": got,
                       "exact": all(got.get(a) == e for a, e in expected.items()),
                       "fake_matches_full": None, "fake_matches_change": None, "change_requests": {}}
    out = summarize(n, [run], info, comparison)
    out["errors"] = [f"assembled from {rd} (run interrupted)"] + ([] if mf and mc else ["Meta API run not finished"])
    return out


def change_files_config(config_text: str) -> str:
    """The benchmark config with the file destinations writing change files only (no snapshot)."""
    for conn in ("meta-file", "google-file"):
        text = f'connector = "{conn}"\n'
        assert text in config_text
        config_text = config_text.replace(text, text + "snapshot = false\nchanges = true\n")
    return config_text


def run_change_files(rd: Path, base: Path, changed: Path, config_text: str, log: Any) -> dict[str, Any]:
    """The same two syncs with the file destinations writing change files (adds / removes) only;
    their rows are checked against the difference of the two member sets."""
    w = workdir(rd, "changefiles", base, change_files_config(config_text))
    full = sync(w, "full", export=True)
    point(w, changed)
    change = sync(w, "change", export=True)
    log(f"  change files: full sync {full['total_seconds']:.2f}s, after the change {change['total_seconds']:.2f}s")
    expected = {f"{a}/{dest}": v for dest, fields in FILE_FIELDS.items()
                for a, v in expected_meta_diff(w / "export_full", w / "export_change", dest, fields).items()}
    got = {f"{r['audience']}/{r['destination']}": {"adds": r["added"], "removes": r["removed"]} for r in change["results"]}
    exact = all(got.get(k) == e for k, e in expected.items()) and len(got) == len(expected)
    log(f"  change files: rows {'match' if exact else 'DO NOT match'} the member difference")
    return {"full": full, "change": change, "expected": expected, "delivered": got, "exact": exact}


def run_meta(rd: Path, base: Path, changed: Path, config_text: str, log: Any) -> dict[str, Any]:
    Fake, Server, token = meta_fake_classes()
    fake = Fake()
    env = {"BENCH_META_TOKEN": token}
    with Server(fake, max_seconds=3600) as server:
        w = workdir(rd, "meta", base, meta_config(config_text, server.url))
        full = sync(w, "full", export=True, env=env)
        log(f"  Meta API full sync {full['total_seconds']:.2f}s")
        full_ok = fake_matches(fake, w / "export_full")
        point(w, changed)
        calls_before = dict(fake.calls)
        change = sync(w, "change", export=True, env=env)
        log(f"  Meta API sync after the change {change['total_seconds']:.2f}s")
        change_ok = fake_matches(fake, w / "export_change")
        requests = {k: v - calls_before.get(k, 0) for k, v in fake.calls.items()}
    expected = expected_meta_diff(w / "export_full", w / "export_change")
    got = {r["audience"]: {"adds": r["added"], "removes": r["removed"]} for r in change["results"]}
    exact = all(got.get(a) == e for a, e in expected.items())
    log(f"  Meta API: adds/removes {'match' if exact else 'DO NOT match'} the member difference;"
        f" fake holds exactly the members: full {full_ok}, after change {change_ok}")
    return {"full": full, "change": change, "expected": expected, "delivered": got, "exact": exact,
            "fake_matches_full": full_ok, "fake_matches_change": change_ok, "change_requests": requests}


# ----------------------------------------------------------------------------- summary
def med(values: list[float]) -> float:
    return statistics.median(values) if values else 0.0


def step_table(syncs: list[dict[str, Any]], floor_total: float) -> dict[str, Any]:
    steps = {}
    for s in STEPS:
        present = [x["steps"][s] for x in syncs if s in x["steps"]]
        if not present:
            continue
        secs = med([p["seconds"] for p in present])
        rows = int(med([p["rows"] for p in present]))
        steps[s] = {"seconds": secs, "rows": rows, "rows_per_second": rows / secs if secs else None,
                    "peak_rss": int(med([p["peak_rss"] for p in present])),
                    "x_floor": secs / floor_total if floor_total else None}
    total = med([x["total_seconds"] for x in syncs])
    after = med([sum(x["steps"].get(s, {}).get("seconds", 0.0) for s in AFTER_LOAD) for x in syncs])
    return {"steps": steps, "total_seconds": total, "after_load_seconds": after,
            "peak_rss": int(med([x["peak_rss"] for x in syncs])), "x_floor": total / floor_total if floor_total else None,
            "process_seconds": med([x["process_seconds"] for x in syncs]),
            "cpu_seconds": med([x["cpu_seconds"] for x in syncs])}


def summarize(n: int, runs: list[dict[str, Any]], info: dict, comparison: dict | None) -> dict[str, Any]:
    floor_total = med([r["floor"]["total_seconds"] for r in runs])
    out: dict[str, Any] = {
        "customers": n, "repeats": len(runs), "extract": info,
        "floor": {"total_seconds": floor_total, "peak_rss": int(med([r["floor"]["peak_rss"] for r in runs])),
                  "read_seconds": med([r["floor"]["steps"]["read"]["seconds"] for r in runs]),
                  "hash_seconds": med([r["floor"]["steps"]["hash"]["seconds"] for r in runs]),
                  "rows_read": runs[0]["floor"]["rows_read"],
                  "cpu_seconds": med([r["floor"].get("cpu_seconds", 0.0) for r in runs]) or None},
        "full": step_table([r["full"] for r in runs], floor_total),
        "change": step_table([r["change"] for r in runs], floor_total),
    }
    pandas = [r["pandas"] for r in runs if "pandas" in r]
    if pandas:
        out["pandas"] = {"total_seconds": med([p["total_seconds"] for p in pandas]),
                         "peak_rss": int(med([p["peak_rss"] for p in pandas])),
                         "steps": {k: med([p["steps"][k] for p in pandas]) for k in pandas[0]["steps"]},
                         "runs": len(pandas), "cpu_seconds": med([p.get("cpu_seconds", 0.0) for p in pandas]) or None}
        out["pandas"]["x_floor"] = out["pandas"]["total_seconds"] / floor_total
        out["pandas_over_dealersync"] = out["pandas"]["total_seconds"] / out["full"]["total_seconds"]
    if comparison is not None:
        out["comparison"] = comparison
    cfs = [r["cfiles"] for r in runs if "cfiles" in r]
    if cfs:
        out["change_files"] = {
            "full": step_table([c["full"] for c in cfs], floor_total), "change": step_table([c["change"] for c in cfs], floor_total),
            "expected": cfs[0]["expected"], "delivered": cfs[0]["delivered"], "exact": all(c["exact"] for c in cfs),
        }
    metas = [r["meta"] for r in runs if "meta" in r]
    if metas:
        m = metas[0]
        out["meta_api"] = {
            "full": step_table([m["full"]], floor_total), "change": step_table([m["change"]], floor_total),
            "expected": m["expected"], "delivered": m["delivered"], "exact": m["exact"],
            "fake_matches_full": m["fake_matches_full"], "fake_matches_change": m["fake_matches_change"],
            "change_requests": m["change_requests"],
        }
    full_results = runs[0]["full"]["results"]
    out["audiences"] = {r["audience"]: {"segment_size": r["segment_size"], "customers": r["customers"],
                                        "members": r["members"], "held_out": r["held_out"], "outranked": r["outranked"],
                                        "excluded": r["excluded"], "suppressed": r["suppressed"]}
                        for r in full_results if r["destination"] == "meta_upload"}
    return out


def gib(b: float) -> str:
    return f"{b / 2**30:.2f} GiB" if b >= 2**30 else f"{b / 2**20:.0f} MiB"


def fmt_rate(x: float | None) -> str:
    if not x:
        return "-"
    return f"{x / 1e6:.2f}M/s" if x >= 1e6 else f"{x / 1e3:.0f}k/s"


def table(res: dict[str, Any]) -> list[str]:
    n = res["customers"]
    fl = res["floor"]
    title = (f"### {n:,} customers ({res['repeats']} run(s), median; {fl['rows_read']:,} extract rows,"
             f" {res['extract']['bytes'] / 1e6:.0f} MB)")
    lines = [title, ""]
    cols = (["full", "change"] + (["cf_full", "cf_change"] if "change_files" in res else [])
            + (["meta_full", "meta_change"] if "meta_api" in res else []))
    src = {"full": res["full"], "change": res["change"]}
    if "change_files" in res:
        src["cf_full"], src["cf_change"] = res["change_files"]["full"], res["change_files"]["change"]
    if "meta_api" in res:
        src["meta_full"], src["meta_change"] = res["meta_api"]["full"], res["meta_api"]["change"]
    heads = {"full": "full sync (files)", "change": "after 1% change (files)",
             "meta_full": "Meta API full", "meta_change": "Meta API after change",
             "cf_full": "change files full", "cf_change": "change files after change"}
    lines.append("| step | " + " | ".join(f"{heads[c]}: s | rows/s | peak RSS | x floor" for c in cols[:2])
                 + "".join(f" | {heads[c]}: s" for c in cols[2:]) + " |")
    lines.append("|---" * (1 + 4 * 2 + len(cols[2:])) + "|")
    for s in STEPS:
        cells = []
        for c in cols[:2]:
            st = src[c]["steps"].get(s)
            cells += ([f"{st['seconds']:.2f}", fmt_rate(st["rows_per_second"]), gib(st["peak_rss"]), f"{st['x_floor']:.2f}"]
                      if st else ["-", "-", "-", "-"])
        for c in cols[2:]:
            st = src[c]["steps"].get(s)
            cells.append(f"{st['seconds']:.2f}" if st else "-")
        lines.append(f"| {STEP_LABEL.get(s, s)} | " + " | ".join(cells) + " |")
    cells = []
    for c in cols[:2]:
        t = src[c]
        cells += [f"**{t['total_seconds']:.2f}**", "", gib(t["peak_rss"]), f"**{t['x_floor']:.2f}**"]
    cells += [f"{src[c]['total_seconds']:.2f}" for c in cols[2:]]
    lines.append("| **total** | " + " | ".join(cells) + " |")
    lines.append("")
    lines.append(f"- floor (DuckDB reads every CSV, SHA-256 of emails and phones): **{fl['total_seconds']:.2f} s**"
                 f" (read {fl['read_seconds']:.2f} s, hash {fl['hash_seconds']:.2f} s), peak RSS {gib(fl['peak_rss'])}")
    f, ch = res["full"], res["change"]
    if fl.get("cpu_seconds"):
        cpu = f"- CPU seconds (all threads; steadier than wall time on a loaded machine): floor {fl['cpu_seconds']:.1f},"
        cpu += f" full sync {f['cpu_seconds']:.1f} ({f['cpu_seconds'] / fl['cpu_seconds']:.1f}x floor),"
        cpu += f" after the change {ch['cpu_seconds']:.1f}"
        if res.get("pandas", {}).get("cpu_seconds"):
            cpu += f", pandas + SDK {res['pandas']['cpu_seconds']:.1f} ({res['pandas']['cpu_seconds'] / f['cpu_seconds']:.1f}x dealersync)"
        lines.append(cpu)
    lines.append(f"- after the change, facts..deliver: {ch['after_load_seconds']:.2f} s ="
                 f" {100 * ch['after_load_seconds'] / f['after_load_seconds']:.0f}% of the full sync's facts..deliver"
                 f" ({f['after_load_seconds']:.2f} s), {100 * ch['after_load_seconds'] / f['total_seconds']:.0f}% of its total")
    if "pandas" in res:
        p = res["pandas"]
        lines.append(f"- pandas + SDK: **{p['total_seconds']:.2f} s** ({p['x_floor']:.1f}x floor), peak RSS {gib(p['peak_rss'])};"
                     f" dealersync full sync is **{res['pandas_over_dealersync']:.1f}x faster** ("
                     + ", ".join(f"{k} {v:.2f} s" for k, v in p["steps"].items()) + ")")
    if "comparison" in res:
        c = res["comparison"]
        diffs = sum(a["customers"]["only_dealersync"] + a["customers"]["only_pandas"] for a in c["audiences"].values())
        e_same = sum(a["email"]["same"] for a in c["audiences"].values())
        e_ds = sum(a["email"]["dealersync"] for a in c["audiences"].values())
        e_pd = sum(a["email"]["pandas"] for a in c["audiences"].values())
        p_same = sum(a["phone"]["same"] for a in c["audiences"].values())
        p_ds = sum(a["phone"]["dealersync"] for a in c["audiences"].values())
        p_un = sum(a["phone"]["unexplained"] for a in c["audiences"].values())
        lines.append(f"- same members? **{'yes' if c['agree'] else 'NO'}**: customers after policy differ in {diffs};"
                     f" hashed emails {e_same:,} same of {e_ds:,} (dealersync) / {e_pd:,} (pandas);"
                     f" hashed phones {p_same:,} same of {p_ds:,}, the rest explained by the phone rules"
                     f" ({p_un} unexplained)")
    if "change_files" in res:
        c = res["change_files"]
        exp_a, exp_r, got_a, got_r = diff_totals(c)
        lines.append(f"- change files (`snapshot = false, changes = true`), after the change: {got_a:,} rows added /"
                     f" {got_r:,} removed in {len(c['delivered'])} audience files, expected {exp_a:,} / {exp_r:,} from the"
                     f" two member sets: **{'exact' if c['exact'] else 'MISMATCH'}**; facts..deliver"
                     f" {c['change']['after_load_seconds']:.2f} s = {100 * c['change']['after_load_seconds'] / c['full']['after_load_seconds']:.0f}%"
                     f" of its full sync's ({c['full']['after_load_seconds']:.2f} s)")
    if "meta_api" in res:
        m = res["meta_api"]
        exp_a, exp_r, got_a, got_r = diff_totals(m)
        lines.append(f"- Meta API after the change: {got_a:,} adds / {got_r:,} removes delivered, expected {exp_a:,} / {exp_r:,}"
                     f" from the two member sets: **{'exact' if m['exact'] else 'MISMATCH'}**"
                     f" (requests {m['change_requests']}); the fake holds exactly the members:"
                     f" {m['fake_matches_full'] and m['fake_matches_change']}")
    return lines


def diff_totals(run: dict[str, Any]) -> tuple[int, int, int, int]:
    """Adds and removes expected from the member sets, then those delivered, summed over audiences."""
    return tuple(  # type: ignore[return-value]
        sum(v[kind] for v in run[side].values()) for side in ("expected", "delivered") for kind in ("adds", "removes")
    )


def targets(results: list[dict[str, Any]]) -> list[str]:
    by_n = {r["customers"]: r for r in results}
    big = by_n[max(by_n)]
    out = [f"### Targets (at {big['customers']:,} customers)", ""]

    def line(ok: bool | None, text: str) -> None:
        out.append(f"- [{'met' if ok else 'NOT met' if ok is not None else 'n/a'}] {text}")

    f = big["full"]
    line(f["x_floor"] <= 3, f"full first sync {f['total_seconds']:.1f} s = {f['x_floor']:.2f}x the floor (target <= 3x)")
    if "pandas" in big:
        line(big["pandas_over_dealersync"] >= 5,
             f"pandas + SDK {big['pandas']['total_seconds']:.1f} s = {big['pandas_over_dealersync']:.1f}x dealersync (target >= 5x)")
    ch = big["change"]
    share = ch["after_load_seconds"] / f["after_load_seconds"]
    line(share <= 0.25, f"after the 1% change, facts..deliver = {100 * share:.0f}% of the full sync's (target <= 25%)")
    if "change_files" in big:
        c = big["change_files"]
        line(c["exact"], "change files after the change: exactly the changed members written (adds / removes)")
        cs = c["change"]["after_load_seconds"] / c["full"]["after_load_seconds"]
        line(cs <= 0.25, f"change files: after the 1% change, facts..deliver = {100 * cs:.0f}% of the full sync's (target <= 25%)")
    if "meta_api" in big:
        line(big["meta_api"]["exact"], "Meta API after the change: exactly the changed members added/removed")
        mch = big["meta_api"]["change"]
        mf = big["meta_api"]["full"]
        line(mch["after_load_seconds"] / mf["after_load_seconds"] <= 0.25,
             f"Meta API after the change, facts..deliver = {100 * mch['after_load_seconds'] / mf['after_load_seconds']:.0f}%"
             " of its full sync's")
    peak = max(r["full"]["peak_rss"] for r in results)
    line(peak < 2**31, f"peak RSS {gib(peak)} (target < 2 GiB)")
    if 1_000_000 in by_n and 100_000 in by_n:
        a, b = by_n[100_000], by_n[1_000_000]
        tx, mx = b["full"]["total_seconds"] / a["full"]["total_seconds"], b["full"]["peak_rss"] / a["full"]["peak_rss"]
        line(tx <= 12 and mx <= 12, f"1M vs 100k: time {tx:.1f}x, peak RSS {mx:.1f}x (target <= 12x each)")
    if "comparison" in big:
        line(big["comparison"]["agree"], "dealersync and pandas + SDK produce the same audiences")
    return out


def machine() -> dict[str, Any]:
    import duckdb

    def sh(cmd: str) -> str:
        try:
            return subprocess.run(cmd, shell=True, check=False, capture_output=True, text=True, timeout=10).stdout.strip()
        except Exception:  # noqa: BLE001
            return ""

    return {"date": dt.datetime.now().isoformat(timespec="seconds"), "nproc": sh("nproc"), "free_h": sh("free -h"),
            "python": platform.python_version(), "duckdb": duckdb.__version__, "platform": platform.platform(),
            "loadavg_start": os.getloadavg(), "git_head": sh(f"git -C {ROOT} rev-parse --short HEAD"),
            "core_uncommitted_changes": sh(f"git -C {ROOT} status --short core plugins | wc -l")}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--customers", type=int, action="append", help="size (repeatable); default 10000")
    ap.add_argument("--repeat", type=int, default=3, help="runs per size below --large (median reported)")
    ap.add_argument("--repeat-large", type=int, default=1)
    ap.add_argument("--large", type=int, default=1_000_000)
    ap.add_argument("--json", type=Path, help="write the results here")
    ap.add_argument("--seed", type=int, default=7)
    ap.add_argument("--change", type=float, default=0.01, help="share of customers changed")
    ap.add_argument("--change-seed", type=int, default=11)
    ap.add_argument("--no-pandas", action="store_true")
    ap.add_argument("--no-meta", action="store_true")
    ap.add_argument("--no-change-files", action="store_true", help="skip the file syncs writing change files")
    ap.add_argument("--keep", action="store_true", help="keep the work directories")
    ap.add_argument("--work", type=Path, default=None, help="where work directories go (default: system temp)")
    ap.add_argument("--quiet", action="store_true")
    ap.add_argument("--assemble", type=Path, help="summarize an interrupted run's work directory (.../run0)")
    ap.add_argument("--merge", type=Path, nargs="+", help="print one report from earlier --json files")
    ap.add_argument("--prepare", action="store_true", help="only generate (cache) the extracts, measure nothing")
    ap.add_argument("--audiences", default="", help="comma-separated audiences to sync (default: all ten)")
    args = ap.parse_args()
    AUDIENCES[:] = [a for a in args.audiences.split(",") if a]
    sizes = args.customers or [10_000]
    log = (lambda *_a: None) if args.quiet else (lambda msg: print(msg, flush=True))
    if args.assemble:
        res = assemble(args.assemble, sizes[0], args)
        print("\n".join(table(res) + [""] + targets([res])))
        if args.json:
            args.json.write_text(json.dumps({"machine": {**machine(), "note": "assembled"}, "sizes": [res]},
                                            indent=1, default=str))
        return
    if args.merge:
        docs = [json.loads(p.read_text()) for p in args.merge]
        # one result per size: a later file's parts (e.g. a files-only rerun on a quieter
        # machine: --no-pandas --no-meta) replace an earlier one's, the rest is kept
        by_n: dict[int, dict[str, Any]] = {}
        for d in docs:
            for r in d["sizes"]:
                merged = by_n.setdefault(r["customers"], {})
                errors = merged.get("errors", []) + r.get("errors", [])
                merged.update(r)
                merged["errors"] = errors
        for r in by_n.values():
            if "pandas" in r:
                r["pandas"]["x_floor"] = r["pandas"]["total_seconds"] / r["floor"]["total_seconds"]
                r["pandas_over_dealersync"] = r["pandas"]["total_seconds"] / r["full"]["total_seconds"]
        results = [by_n[n] for n in sorted(by_n)]
        lines = []
        for d in docs:
            m = d["machine"]
            lines.append(f"- run of {m['date']}: load average {m['loadavg_start'][0]:.1f} at start,"
                         f" {m.get('loadavg_end', [0])[0]:.1f} at end; sizes {[r['customers'] for r in d['sizes']]}")
        lines.append("")
        for r in results:
            lines += table(r) + [""]
        lines += targets(results)
        print("\n".join(lines))
        if args.json:
            args.json.write_text(json.dumps({"machines": [d["machine"] for d in docs], "sizes": results, "report": lines},
                                            indent=1, default=str))
        return
    if args.prepare:
        for n in sizes:
            extract_dirs(n, args.seed, args.change_seed, args.change, log)
        return
    info = machine()
    log(f"dealersync benchmark {info['date']}: nproc {info['nproc']}, Python {info['python']}, DuckDB {info['duckdb']},"
        f" load average {info['loadavg_start'][0]:.2f}")
    results = []
    for n in sizes:
        results.append(run_size(n, args.repeat if n < args.large else args.repeat_large, args, log))
        if args.json:  # after each size, so a long run keeps what it measured
            args.json.write_text(json.dumps({"machine": info, "sizes": results}, indent=1, default=str))
    info["loadavg_end"] = os.getloadavg()
    lines = []
    for r in results:
        lines += table(r) + [""]
    lines += targets(results)
    print("\n" + "\n".join(lines))
    if args.json:
        args.json.write_text(json.dumps({"machine": info, "sizes": results, "report": lines}, indent=1, default=str))


if __name__ == "__main__":
    main()

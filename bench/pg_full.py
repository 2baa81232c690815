"""PostgreSQL at a large scale from an ingested DuckDB warehouse (issue 15).

    .venv/bin/python -m bench.pg_full --source /work/fullscale/full.duckdb --pg pg_full
    .venv/bin/python -m bench.pg_full --source ... --pg pg_full --steps load     # one step only
    .venv/bin/python -m bench.pg_full --source ... --pg pg_full --exclude evaluation  # raw -> signals

Steps (each timed, each build in its own subprocess through bench.steps so its peak RSS is its own):
  load   raw.* of the DuckDB file (read only, never written) into a new PostgreSQL database: DuckDB
         writes each table to a CSV file, PostgreSQL reads it with COPY (the loader's own path,
         `Database.upsert`, stages through the same COPY; its rate is bench/run.py --pg's figure).
  full   `dbt build --full-refresh` on PostgreSQL.
  day    the held-back last day (<source>.lastday/, as bench/run.py makes it) through the loader, then
         a one-day incremental `dbt build` (`--day-vars '{test_recent_days: 5}'`: as `aquant daily`).
Writes bench/out/pg_full-<name>.json; the database is dropped at the end unless --keep.
"""
from __future__ import annotations

import argparse
import json
import os
import subprocess
import time
from pathlib import Path

from bench.common import OUT, run_step

PSQL = ["psql", "-h", "127.0.0.1", "-U", "postgres", "-d", "postgres", "-v", "ON_ERROR_STOP=1", "-qc"]


def load(source: Path, name: str, before: str | None = None) -> dict:
    """raw.* from the DuckDB file into PostgreSQL with COPY; rows and seconds per table. With
    `before` (a date), only the rows dated before it (bench.steps.DATE_COL's column per table):
    the source as it was before `bench.steps add_day` added the held-back day, so the one-day
    build can be measured after the DuckDB one. Not exact where the held-back day restates a
    report: the restatement is dropped, and the version it superseded, moved by add_day into
    <table>_versions, is loaded there instead of into <table>. A source ingested before
    2026-12-02 also held such a restatement before add_day (at full scale, 2024-12-31: one of
    300069.SZ; fundamentals_pit then differed from DuckDB in one row's state_from)."""
    import duckdb

    from aquant.config import load_settings
    from aquant.db import Database
    from aquant.extract.loader import ensure_raw
    from aquant.schema import RAW_TABLES, q, versions_table
    from bench.steps import DATE_COL

    os.environ.update({"AQUANT_TARGET": "postgres", "PGDATABASE": name})
    subprocess.run(PSQL + [f"drop database if exists {name}"], check=True)
    subprocess.run(PSQL + [f"create database {name}"], check=True)
    out: dict = {"tables": {}}
    t0 = time.perf_counter()
    con = duckdb.connect(str(source), read_only=True)
    with Database(load_settings()) as db:
        ensure_raw(db)
        # every raw table with its `<name>_versions` (superseded rows, e.g. restated reports: the
        # point-in-time models read them; leaving them out made fundamentals_pit differ)
        tables = {**RAW_TABLES, **{versions_table(t).name: versions_table(t) for t in RAW_TABLES.values()
                                   if t.versioned}}
        for tname, t in tables.items():
            if not con.execute("select count(*) from information_schema.tables where table_schema = 'raw' "
                               "and table_name = ?", [tname]).fetchone()[0]:
                continue
            cols = ", ".join(q(c) for c in t.columns)
            csv = OUT / f"pg_full_{tname}.csv"  # OUT: created by main()
            date_col = DATE_COL.get(tname.removesuffix("_versions"))
            where = f" where {date_col} < date '{before}'" if before and date_col else ""
            t1 = time.perf_counter()
            con.execute(f"copy (select {cols} from raw.{tname}{where}) to '{csv}' (header false, nullstr '\\N')")
            t2 = time.perf_counter()
            with db.con.cursor() as cur, open(csv) as fh:
                cur.copy_expert(f"copy {t.fqn} ({cols}) from stdin with (format csv, null '\\N')", fh)
            t3 = time.perf_counter()
            n = db.scalar(f"select count(*) from {t.fqn}")
            csv.unlink()
            out["tables"][tname] = {"rows": n, "export_s": t2 - t1, "copy_s": t3 - t2}
            print(f"  {tname}: {n:,} rows, export {t2 - t1:.1f} s, copy {t3 - t2:.1f} s", flush=True)
        db.execute("vacuum analyze")
    out["load_s"] = time.perf_counter() - t0
    out["rows"] = sum(v["rows"] for v in out["tables"].values())
    return out


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--source", required=True, help="an ingested DuckDB file (read only)")
    ap.add_argument("--pg", default="pg_full", help="PostgreSQL database to create (dropped at the end)")
    ap.add_argument("--steps", default="load,full,day")
    ap.add_argument("--keep", action="store_true")
    ap.add_argument("--before", help="load only the rows dated before this day (the held-back day, when "
                                     "the DuckDB source has had it added already)")
    ap.add_argument("--exclude", nargs="*", help="dbt --exclude for both builds (e.g. evaluation)")
    ap.add_argument("--day-vars", help="dbt --vars of the one-day build, e.g. '{test_recent_days: 5}' "
                                       "(aquant daily's default: data tests on the latest 5 sessions)")
    a = ap.parse_args()
    steps = a.steps.split(",")
    source = Path(a.source)
    OUT.mkdir(parents=True, exist_ok=True)
    res_path = OUT / f"pg_full-{a.pg}.json"
    res = json.loads(res_path.read_text()) if res_path.exists() else {}
    env = {"AQUANT_TARGET": "postgres", "PGDATABASE": a.pg}
    tgt = str(OUT / f"target-{a.pg}")
    excl = ["--exclude", *a.exclude] if a.exclude else []
    try:
        if "load" in steps:
            res["load"] = load(source, a.pg, a.before)
            print(f"load: {res['load']['rows']:,} rows in {res['load']['load_s']:.0f} s", flush=True)
        if "full" in steps:
            r = run_step("build", ["--pg", a.pg, "--target", tgt, "--full", *excl],
                         OUT / "logs" / f"{a.pg}_full.log", env)
            res["full"] = vars(r)
            print(f"full build: {r.wall_s:.0f} s, peak {r.max_rss_mib:.0f} MiB", flush=True)
        if "day" in steps:
            r = run_step("add_day", ["--db", str(source)], OUT / "logs" / f"{a.pg}_add_day.log", env)
            res["add_day"] = vars(r)
            day_vars = ["--vars", a.day_vars] if a.day_vars else []
            r = run_step("build", ["--pg", a.pg, "--target", tgt, *excl, *day_vars], OUT / "logs" / f"{a.pg}_incr.log",
                         env)
            res["incr"] = vars(r)
            print(f"one-day build: {r.wall_s:.1f} s, peak {r.max_rss_mib:.0f} MiB", flush=True)
    finally:
        res_path.write_text(json.dumps(res, indent=1, default=str))
        if not a.keep:
            subprocess.run(PSQL + [f"drop database if exists {a.pg}"], check=False)
    models = sorted(res.get("full", {}).get("result", {}).get("models", []), key=lambda m: -m["s"])
    for m in models[:15]:
        print(f"  {m['name']}: {m['s']:.1f} s", flush=True)


if __name__ == "__main__":
    main()

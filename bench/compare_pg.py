"""DuckDB against PostgreSQL on the same data, every model table compared row by row (issue 15).

    .venv/bin/python -m bench.compare_pg --db X.duckdb --pg pg_full [--tables a.b c.d]

Both warehouses must hold the same raw data built by the same project (e.g. `bench.pg_full --keep`
from X.duckdb, and the same steps on X.duckdb itself). Each table or view of the dbt schemas that
both have is exported from PostgreSQL with COPY (CSV; PostgreSQL 12+ prints a float8 so that it
reads back to the same double), read by DuckDB with the DuckDB table's column types, and compared:
  - keyed (KEYS below, else the model's unique_key from dbt's manifest, when unique): rows only on one side,
    and rows whose values differ; a DOUBLE differs when |a - b| > 1e-9 x max(1, |a|) (the engines
    sum in different orders; the closed-form EMA on PostgreSQL differs from DuckDB's recursion in
    the last bits, see tests/test_postgres_fast_paths.py); anything else must be equal;
  - without a key: the two multisets of rows, doubles rounded to 9 significant digits.
Prints one JSON line per table and a total; bench/out/compare_pg-<pg>.json keeps them. Columns
that record when a row was loaded or built (loaded_at, built_at, ...) are left out.
"""
from __future__ import annotations

import argparse
import json
import os
import time
from pathlib import Path

import duckdb

from bench.common import OUT

SKIP_SCHEMAS = {"raw", "ops", "main", "udf", "information_schema", "pg_catalog", "audit"}
TIME_COLS = {"loaded_at", "built_at", "created_at", "updated_at", "_loaded_at"}
KEYS = {"factor_industry_flow": ["industry_l1", "trade_date"], "stg_industry_flow": ["industry_l1", "trade_date"],
        "signals": ["signal_id"], "qmt_signals": ["signal_id"], "int_offense_signals__chained": ["signal_id"],
        "portfolio_targets": ["rebalance_date", "code"]}


def _manifest_keys(target: Path | None) -> dict[str, list[str]]:
    """model name -> unique_key of the incremental models in dbt's manifest (when given)."""
    if target is None or not (target / "manifest.json").exists():
        return {}
    out = {}
    for node in json.loads((target / "manifest.json").read_text())["nodes"].values():
        uk = node.get("config", {}).get("unique_key")
        if node.get("resource_type") == "model" and uk:
            out[node["name"]] = [uk] if isinstance(uk, str) else list(uk)
    return out


def _pg_tables(pg) -> set[str]:  # noqa: ANN001
    with pg.cursor() as cur:
        cur.execute("select table_schema || '.' || table_name from information_schema.tables")
        return {r[0] for r in cur.fetchall()}


def compare_table(con: duckdb.DuckDBPyConnection, pg, fqn: str, keys: list[str] | None, tmp: Path) -> dict:  # noqa: ANN001
    schema, name = fqn.split(".")
    types = dict(con.execute("select column_name, data_type from information_schema.columns where table_schema = ? "
                             "and table_name = ? order by ordinal_position", [schema, name]).fetchall())
    cols = [c for c in types if c not in TIME_COLS]
    t0 = time.perf_counter()
    csv = tmp / f"cmp_{schema}_{name}.csv"
    with pg.cursor() as cur, open(csv, "w") as fh:
        cur.copy_expert(f"copy (select {', '.join(cols)} from {fqn}) to stdout "
                        f"with (format csv, header, null '\\N')", fh)
    spec = "{" + ", ".join(f"'{c}': '{types[c]}'" for c in cols) + "}"
    con.execute(f"create or replace temp table pg_side as select * from read_csv('{csv}', header = true, "
                f"nullstr = '\\N', columns = {spec})")
    csv.unlink()
    t_export = time.perf_counter() - t0
    n_duck = con.execute(f"select count(*) from {fqn}").fetchone()[0]
    n_pg = con.execute("select count(*) from pg_side").fetchone()[0]
    out = {"table": fqn, "rows_duckdb": n_duck, "rows_postgres": n_pg, "export_s": round(t_export, 1)}
    dbl = [c for c in cols if types[c] in ("DOUBLE", "FLOAT", "REAL")]
    if keys and all(k in cols for k in keys) and con.execute(  # an incremental model's delete key need not be unique
            f"select count(*) = count(distinct ({', '.join(keys)})) from {fqn}").fetchone()[0]:
        on = " and ".join(f"d.{k} = p.{k}" for k in keys)
        only = con.execute(f"select count(*) filter (where d.{keys[0]} is null), "
                           f"count(*) filter (where p.{keys[0]} is null) "
                           f"from (select * from {fqn}) as d full join pg_side as p on {on}").fetchone()
        diff_expr = {c: (f"not ((d.{c} is null and p.{c} is null) or abs(d.{c} - p.{c}) "
                         f"<= 1e-9 * greatest(1, abs(d.{c})))" if c in dbl else f"d.{c} is distinct from p.{c}")
                     for c in cols if c not in keys}
        # one pass over the matched rows: rows that differ in any column, then per column
        counts = con.execute("select count(*) filter (where " + " or ".join(f"({e})" for e in diff_expr.values())
                             + "), " + ", ".join(f"count(*) filter (where {e})" for e in diff_expr.values())
                             + f" from {fqn} as d join pg_side as p on {on}").fetchone() if diff_expr else (0,)
        any_diff, cols_diff = counts[0], {c: int(n) for c, n in zip(diff_expr, counts[1:]) if n}
        out.update(method="keyed", key=keys, only_duckdb=int(only[1]), only_postgres=int(only[0]),
                   rows_differ=int(any_diff), columns_differ=cols_diff)
        out["identical"] = not (only[0] or only[1] or any_diff)
    else:
        sel = ", ".join(f"round({c}, 9 - cast(floor(log10(greatest(abs({c}), 1e-12))) as integer)) as {c}"
                        if c in dbl else c for c in cols)
        a, b = (con.execute(f"select count(*) from (select {sel} from {x} except all select {sel} from {y})")
                .fetchone()[0] for x, y in ((fqn, "pg_side"), ("pg_side", fqn)))
        out.update(method="multiset", only_duckdb=int(a), only_postgres=int(b), identical=not (a or b))
    con.execute("drop table pg_side")
    return out


def main() -> None:
    import psycopg2

    ap = argparse.ArgumentParser()
    ap.add_argument("--db", required=True, help="the DuckDB warehouse (read only)")
    ap.add_argument("--pg", required=True, help="the PostgreSQL database")
    ap.add_argument("--target", help="a dbt target dir whose manifest.json gives the unique keys")
    ap.add_argument("--tables", nargs="*", help="schema.table (default: every model both have)")
    a = ap.parse_args()
    con = duckdb.connect(a.db, read_only=True)
    con.execute("set preserve_insertion_order = false")
    pg = psycopg2.connect(host=os.environ.get("PGHOST", "127.0.0.1"), user=os.environ.get("PGUSER", "postgres"),
                          dbname=a.pg)
    keys = {**_manifest_keys(Path(a.target) if a.target else None), **KEYS}
    duck = [f"{s}.{t}" for s, t in con.execute(
        "select table_schema, table_name from information_schema.tables order by 1, 2").fetchall()
        if s not in SKIP_SCHEMAS]
    both = _pg_tables(pg)
    tables = a.tables or [t for t in duck if t in both]
    tmp = OUT / "compare_pg"
    tmp.mkdir(parents=True, exist_ok=True)
    results = []
    for fqn in tables:
        # no declared key: compared as multisets ((code, trade_date) may repeat, e.g. one row per factor)
        r = compare_table(con, pg, fqn, keys.get(fqn.split(".")[1]), tmp)
        results.append(r)
        print(json.dumps(r), flush=True)
    summary = {"tables": len(results), "identical": sum(r["identical"] for r in results),
               "differ": [r["table"] for r in results if not r["identical"]],
               "missing_in_postgres": [t for t in duck if t not in both]}
    print(json.dumps(summary), flush=True)
    (OUT / f"compare_pg-{a.pg}.json").write_text(json.dumps({"tables": results, **summary}, indent=1, default=str))


if __name__ == "__main__":
    main()

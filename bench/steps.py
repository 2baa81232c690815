"""The measured steps, each run in its own subprocess by bench/run.py (`python -m bench.steps STEP`).

Each prints `RESULT {json}` as its last word: inner timings (without interpreter start-up),
row counts and whatever the harness tabulates.
"""
from __future__ import annotations

import argparse
import json
import os
import shutil
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd

from bench.common import OUT, SCALES, TreeRssSampler

DATE_COL = {"daily_quote": "trade_date", "funds_flow": "trade_date", "industry_flow": "trade_date",
            "chip_distribution": "trade_date", "finance_data": "ann_date", "dividend": "ann_date",
            "trade_calendar": "trade_date"}


def emit(d: dict) -> None:
    print("RESULT " + json.dumps(d, default=str), flush=True)


def settings_for(db: str):
    os.environ["AQUANT_DB"] = str(db)
    os.environ.setdefault("AQUANT_TARGET", "duckdb")
    from aquant.config import load_settings

    return load_settings()


# -- (1) generate + ingest ---------------------------------------------------------------------
def step_ingest(a: argparse.Namespace) -> None:
    """Generate the sample market, hold back its last trading day, load the rest into a new file."""
    from aquant.db import Database
    from aquant.extract.ingest_sample import _chunks
    from aquant.extract.loader import ensure_raw, load_frame, set_watermark
    from aquant.extract.sample import SampleConfig, SampleMarket

    sc = SCALES[a.scale]
    t0 = time.perf_counter()
    m = SampleMarket(SampleConfig(n_stocks=sc.n_stocks, start=sc.start, end=sc.end, seed=7))
    t_market = time.perf_counter() - t0
    t1 = time.perf_counter()
    frames = {"trade_calendar": m.trade_calendar(), "stock_info": m.stock_info(), "daily_quote": m.daily_quote(),
              "finance_data": m.finance, "dividend": m.dividend, "funds_flow": m.funds_flow(),
              "industry_flow": m.industry_flow(), "minute_quote": m.minute_quote()}
    t_tables = time.perf_counter() - t1
    t2 = time.perf_counter()
    frames["chip_distribution"] = m.chip_distribution()
    t_chips = time.perf_counter() - t2
    last = m.days[-1].date()
    held: dict[str, pd.DataFrame] = {}
    for name, col in DATE_COL.items():
        df = frames[name]
        is_last = pd.to_datetime(df[col]).dt.date == last
        held[name] = df[is_last]
        frames[name] = df[~is_last]
    # restatements announced on the held-back day are that day's news too (loading them with the
    # rest put them in the warehouse before add_day: a look-ahead in the one-day build's input)
    restated = m.restated
    if not restated.empty:
        late = pd.to_datetime(restated["ann_date"]).dt.date == last
        held["finance_data"] = pd.concat([held["finance_data"], restated[late]], ignore_index=True)
        restated = restated[~late]
    held_dir = Path(a.db).with_suffix(".lastday")
    shutil.rmtree(held_dir, ignore_errors=True)
    held_dir.mkdir(parents=True)
    for name, df in held.items():
        df.to_pickle(held_dir / f"{name}.pkl")
    for p in [Path(a.db), Path(str(a.db) + ".wal")]:
        p.unlink(missing_ok=True)
    settings = settings_for(a.db)
    rows = {k: len(v) for k, v in frames.items()}
    t3 = time.perf_counter()
    with Database(settings) as db:
        ensure_raw(db)
        for name, df in frames.items():
            for unit, chunk in _chunks(name, df):
                load_frame(db, name, chunk, "sample", origin=f"sample.{name}")
                col = DATE_COL.get(name)
                wm = pd.to_datetime(chunk[col]).max().date() if col and not chunk.empty else None
                set_watermark(db, "sample", name, unit, wm, len(chunk))
        if not restated.empty:
            load_frame(db, "finance_data", restated, "sample", "sample.restated")
        if db.kind == "duckdb":
            db.execute("checkpoint")
    t_load = time.perf_counter() - t3
    total_rows = sum(rows.values()) + len(restated)
    emit({"market_s": t_market, "tables_s": t_tables, "chips_s": t_chips, "load_s": t_load,
          "rows": total_rows, "daily_rows": rows["daily_quote"], "rows_per_s": total_rows / t_load,
          "held_back_day": last,
          "db_mib": Path(a.db).stat().st_size / 2 ** 20 if Path(a.db).exists() else None})


def step_add_day(a: argparse.Namespace) -> None:
    """Load the held-back last trading day (what a daily `aquant ingest` would bring)."""
    from aquant.db import Database
    from aquant.extract.loader import load_frame

    held_dir = Path(a.db).with_suffix(".lastday")
    settings = settings_for(a.db)
    t0 = time.perf_counter()
    n = 0
    with Database(settings) as db:
        for f in sorted(held_dir.glob("*.pkl")):
            df = pd.read_pickle(f)
            if not df.empty:
                load_frame(db, f.stem, df, "sample", origin=f"sample.{f.stem}")
                n += len(df)
    emit({"load_s": time.perf_counter() - t0, "rows": n})


# -- (2) dbt build ------------------------------------------------------------------------------
def _iso(ts: str) -> float:
    from datetime import datetime, timezone

    return datetime.strptime(ts.rstrip("Z"), "%Y-%m-%dT%H:%M:%S.%f").replace(tzinfo=timezone.utc).timestamp()


def _run_results(target: Path, rss: TreeRssSampler | None = None) -> dict:
    """Per node: status, seconds, and (with `rss`) the peak RSS of the process tree while it ran
    (with dbt threads > 1 that peak is shared with whatever ran beside it)."""
    rr = json.loads((target / "run_results.json").read_text())
    models, tests = [], []
    for r in rr["results"]:
        uid = r["unique_id"]
        row = {"name": uid.split(".")[-1] if uid.startswith("model.") else uid.split(".")[2],
               "status": r["status"], "s": r["execution_time"],
               "rows": (r.get("adapter_response") or {}).get("rows_affected")}
        times = [(_iso(t["started_at"]), _iso(t["completed_at"])) for t in r.get("timing", []) if t.get("started_at")]
        if rss is not None and times:
            row["peak_mib"] = rss.peak_mib(min(a for a, _ in times), max(b for _, b in times))
            row["cpu_s"] = rss.cpu_s(min(a for a, _ in times), max(b for _, b in times))
        (models if uid.startswith(("model.", "seed.")) else tests).append(row)
    return {"elapsed_s": rr["elapsed_time"], "models": models,
            "tests_s": sum(t["s"] for t in tests), "n_tests": len(tests),
            "failed": [t["name"] for t in models + tests if t["status"] not in ("success", "pass")]}


def step_build(a: argparse.Namespace) -> None:
    """`dbt build` (full refresh or incremental) into the DuckDB file or the PostgreSQL database."""
    from aquant.dbt_runner import run_dbt

    if a.pg:
        os.environ.update({"AQUANT_TARGET": "postgres", "PGDATABASE": a.pg})
        from aquant.config import load_settings

        settings = load_settings()
    else:
        settings = settings_for(a.db)
    target = Path(a.target)
    args = ["build"] + (["--full-refresh"] if a.full else [])
    args += (["--select", *a.select] if a.select else []) + (["--exclude", *a.exclude] if a.exclude else [])
    args += (["--vars", a.vars] if a.vars else [])
    t0 = time.perf_counter()
    with TreeRssSampler() as rss:
        res = run_dbt(settings, args, quiet=True, target_path=str(target))
    wall = time.perf_counter() - t0
    out = _run_results(target, rss)
    out.update({"wall_s": wall, "returncode": res.returncode, "tree_peak_mib": rss.peak_mib(),
                "cpu_s": rss.cpu_s(),
                "duckdb_settings": {k: v for k, v in os.environ.items() if k.startswith("AQUANT_DUCKDB_")}})
    emit(out)
    if res.returncode != 0:
        sys.exit(res.returncode)


def step_compare(a: argparse.Namespace) -> None:
    """Incremental tables against a full rebuild of the same data: rows that differ (0 = identical)."""
    import duckdb

    con = duckdb.connect(a.db, read_only=True)
    con.execute(f"attach '{a.other}' as other (read_only)")
    main_db = con.execute("select current_database()").fetchone()[0]
    out = {}
    for fqn, key in [("intermediate.int_macd__recursed", "code, trade_date"),
                     ("factors.factor_technical", "code, trade_date"),
                     ("factors.factor_valuation", "code, trade_date"), ("factors.factor_chip", "code, trade_date"),
                     ("factors.factor_fund_flow", "code, trade_date"),
                     ("factors.factor_industry_flow", "industry_l1, trade_date"),
                     ("signals.factor_scores", "code, trade_date"), ("signals.signals", "signal_id"),
                     ("signals.portfolio_targets", "rebalance_date, code"), ("signals.qmt_signals", "signal_id"),
                     ("staging.stg_daily_quote", "code, trade_date"),
                     ("staging.stg_funds_flow", "code, trade_date"),
                     ("staging.stg_chip_distribution", "code, trade_date"),
                     ("staging.stg_industry_flow", "industry_l1, trade_date"),
                     ("factors.fundamentals_pit", "code, trade_date"),
                     ("intermediate.int_offense_signals__chained", "signal_id"),
                     ("staging.quarantine", "source_table, code, row_date"),
                     ("intermediate.int_fundamentals__pit_events", "code, trade_date"),
                     *[(f"evaluation.{t}", "") for t in EVAL_TABLES]]:
        schema, table = fqn.split(".")
        present = [con.execute(f"select count(*) from information_schema.tables where table_catalog = '{cat}' "
                               f"and table_schema = '{schema}' and table_name = '{table}'").fetchone()[0]
                   for cat in (main_db, "other")]
        if not all(present):  # the evaluation layer is compared when both builds have it
            continue
        cols = [r[0] for r in con.execute(f"select column_name from information_schema.columns where "
                                          f"table_schema = '{fqn.split('.')[0]}' "
                                          f"and table_name = '{fqn.split('.')[1]}' "
                                          f"and table_catalog = current_database()").fetchall()]
        cols = [c for c in cols if c != "loaded_at"]  # the time each copy's new day was loaded
        # floats rounded to 9 decimals (absolute): a recursion continued from stored state may differ in the last bit
        sel = ", ".join(f"round({c}, 9) as {c}" if con.execute(
            f"select data_type from information_schema.columns where table_catalog = current_database() and "
            f"table_schema = '{fqn.split('.')[0]}' and table_name = '{fqn.split('.')[1]}' and column_name = '{c}'"
        ).fetchone()[0] == "DOUBLE" else c for c in cols)
        diff = con.execute(f"select count(*) from ((select {sel} from {fqn} except select {sel} from other.{fqn}) "
                           f"union all (select {sel} from other.{fqn} except select {sel} from {fqn}))").fetchone()[0]
        out[fqn] = int(diff)
    emit(out)


EVAL_TABLES = ["eval_forward_returns", "eval_factor_quantiles", "eval_ic_daily", "eval_quantile_returns_daily",
               "eval_turnover_daily", "eval_factor_summary", "eval_quantile_summary"]


# -- (3) MACD + volume ratio: SQL against TA-Lib ------------------------------------------------
def step_talib(a: argparse.Namespace) -> None:
    """TA-Lib MACD + 5-bar volume ratio over a pandas groupby, on stg_daily_quote; checks agreement."""
    import duckdb
    import talib

    con = duckdb.connect(a.db, read_only=True)
    t0 = time.perf_counter()
    q = con.execute("select code, trade_date, close_hfq, adj_factor, volume from staging.stg_daily_quote "
                    "order by code, trade_date").df()
    t_read = time.perf_counter() - t0
    t1, c1 = time.perf_counter(), time.process_time()
    dif = np.empty(len(q))
    dea = np.empty(len(q))
    close = q["close_hfq"].to_numpy()
    # one TA-Lib call per stock; groupby gives the row positions of each code
    for _, idx in q.groupby("code", sort=False).indices.items():
        d, s, _h = talib.MACD(close[idx], fastperiod=12, slowperiod=26, signalperiod=9)
        dif[idx], dea[idx] = d, s
    adj = q["adj_factor"].to_numpy()
    q["dif"], q["dea"] = dif / adj, dea / adj
    q["macd"] = 2 * (q["dif"] - q["dea"])
    prev = q.groupby("code", sort=False)["volume"].transform(lambda v: v.shift(1).rolling(5).mean())
    q["volume_ratio"] = np.where(prev > 0, q["volume"] / prev, np.nan)
    t_talib, cpu_talib = time.perf_counter() - t1, time.process_time() - c1
    # agreement with factor_technical after 250 bars (TA-Lib seeds with an SMA; the seed decays)
    ours = con.execute("select code, trade_date, dif, dea, volume_ratio, bar_seq from factors.factor_technical").df()
    m = q.merge(ours, on=["code", "trade_date"], suffixes=("_ta", ""))
    late = m[m["bar_seq"] > 250]
    scale = late["dif"].abs().max()
    # CPU seconds beside the wall time: on a shared machine the wall time is mostly other work's
    emit({"read_s": t_read, "talib_s": t_talib, "talib_cpu_s": cpu_talib, "rows": len(q),
          "max_abs_diff_dif_after_250": float((late["dif_ta"] - late["dif"]).abs().max()),
          "max_abs_diff_dea_after_250": float((late["dea_ta"] - late["dea"]).abs().max()),
          "max_abs_dif": float(scale),
          "max_abs_diff_volume_ratio": float((m["volume_ratio_ta"] - m["volume_ratio"]).abs().max())})


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("step")
    ap.add_argument("--scale", default="small")
    ap.add_argument("--db", default=str(OUT / "small.duckdb"))
    ap.add_argument("--other")
    ap.add_argument("--target", default=str(OUT / "target"))
    ap.add_argument("--full", action="store_true")
    ap.add_argument("--pg")
    ap.add_argument("--select", nargs="*")
    ap.add_argument("--exclude", nargs="*")
    ap.add_argument("--vars", help="dbt --vars (YAML/JSON)")
    ap.add_argument("--mode", default="simple")
    a = ap.parse_args()
    {"ingest": step_ingest, "add_day": step_add_day, "build": step_build, "compare": step_compare,
     "talib": step_talib, **_more()}[a.step](a)


def _more() -> dict:
    try:
        from bench.backtest_steps import STEPS
    except ImportError:
        return {}
    return STEPS


if __name__ == "__main__":
    main()

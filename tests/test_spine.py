"""The spine end to end: sample market -> raw -> dbt (staging to signals) on DuckDB and PostgreSQL,
idempotent re-ingest, quarantine of corrupt rows, determinism of the sample, CLI errors."""
from __future__ import annotations

import hashlib
import os
import subprocess
import sys
from datetime import date
from pathlib import Path

import pandas as pd
import pytest

from aquant.db import Database
from aquant.dbt_runner import run_dbt
from aquant.extract.ingest_sample import ingest_sample
from aquant.extract.loader import load_frame
from aquant.extract.sample import SampleConfig, SampleMarket

from conftest import ROOT

SMALL = SampleConfig(n_stocks=12, start=date(2023, 1, 3), end=date(2023, 12, 29))
RAW = ["stock_info", "daily_quote", "finance_data", "dividend", "funds_flow", "industry_flow",
       "chip_distribution", "trade_calendar", "minute_quote"]


def _snapshot(db: Database) -> dict[str, tuple[int, str]]:
    """Row count and a content hash (including loaded_at) per raw table."""
    out = {}
    for t in RAW:
        df = db.query_df(f"select * from raw.{t}")
        df = df.sort_values(list(df.columns[:2])).reset_index(drop=True)
        out[t] = (len(df), hashlib.sha256(pd.util.hash_pandas_object(df.astype(str), index=False).values).hexdigest())
    return out


def test_sample_is_deterministic_and_history_stable_when_end_moves():
    a = SampleMarket(SMALL).tables()
    b = SampleMarket(SMALL).tables()
    for name in a:
        pd.testing.assert_frame_equal(a[name], b[name])
    # Within the year and across the year end: every dated row up to the old end is unchanged,
    # so a daily run that moves `end` by one day only adds that day.
    for new_end in [date(2023, 7, 31), date(2024, 1, 31)]:
        short = SampleMarket(SampleConfig(n_stocks=12, start=SMALL.start, end=date(2023, 6, 30))).tables()
        longer = SampleMarket(SampleConfig(n_stocks=12, start=SMALL.start, end=new_end)).tables()
        for name, col in [("daily_quote", "trade_date"), ("funds_flow", "trade_date"),
                          ("industry_flow", "trade_date"), ("chip_distribution", "trade_date"),
                          ("finance_data", "ann_date"), ("dividend", "ann_date")]:
            head = longer[name][pd.to_datetime(longer[name][col]) <= pd.Timestamp("2023-06-30")]
            pd.testing.assert_frame_equal(short[name].reset_index(drop=True), head.reset_index(drop=True),
                                          obj=f"{name} up to 2023-06-30 (end {new_end})")


def test_sample_uses_the_sse_calendar_and_board_limits():
    m = SampleMarket(SampleConfig(n_stocks=40, start=date(2024, 1, 2), end=date(2024, 12, 31)))
    dq = m.daily_quote()
    days = set(pd.to_datetime(dq.trade_date))
    # 2024-02-09 (Friday before Spring Festival) and 2024-10-01 (National Day) are weekdays, not sessions.
    assert pd.Timestamp("2024-02-09") not in days and pd.Timestamp("2024-10-01") not in days
    info = m.stock_info().set_index("code")
    dq = dq.join(info[["board"]], on="code")
    # the limit width follows the ST flag of the day (name history), not today's flag
    hist = m.stock_name_history()[["code", "start_date", "is_st"]]
    hist["start_date"] = pd.to_datetime(hist["start_date"])
    dq["trade_date"] = pd.to_datetime(dq["trade_date"])
    dq = pd.merge_asof(dq.sort_values("trade_date"), hist.sort_values("start_date"), left_on="trade_date",
                       right_on="start_date", by="code")
    dq["is_st"] = dq["is_st"].astype(bool)
    ret = (dq.close / dq.pre_close - 1).abs()
    limit = dq.board.map({"main": 0.10, "chinext": 0.20, "star": 0.20, "bse": 0.30}).where(~dq.is_st, 0.05)
    assert (ret <= limit + 0.01).all()
    assert (ret > limit - 0.006).sum() > 0, "some days close at the price limit"
    assert (dq.adj_factor.groupby(dq.code).nunique() > 1).any(), "dividends move adj_factor"


def test_reingest_changes_no_row(duck):
    with Database(duck) as db:
        ingest_sample(db, SMALL, progress=False)
        before = _snapshot(db)
        report, _ = ingest_sample(db, SMALL, progress=False)
        assert all(r.changed == 0 for r in report.tables.values()), report.tables
        assert _snapshot(db) == before


@pytest.fixture(scope="module")
def built_duck(tmp_path_factory):
    """A small sample on DuckDB with corrupt rows added, built once with dbt."""
    from conftest import duck_settings

    tmp = tmp_path_factory.mktemp("spine")
    settings = duck_settings(tmp / "w.duckdb")
    with Database(settings) as db:
        ingest_sample(db, SMALL, progress=False)
        good = db.query_df("select * from raw.daily_quote where code = (select min(code) from raw.daily_quote) "
                           "order by trade_date limit 3")
        bad = good.drop(columns=["source", "loaded_at"]).copy()
        bad.loc[0, "trade_date"] = pd.Timestamp("2023-12-30")  # a Saturday: off the calendar
        bad.loc[1, ["high", "low"]] = [9.0, 10.0]
        bad.loc[1, "trade_date"] = pd.Timestamp("2024-01-02")
        bad.loc[2, "trade_date"] = pd.Timestamp("2024-01-03")
        bad.loc[2, "close"] = -1.0
        load_frame(db, "trade_calendar", pd.DataFrame({"trade_date": [date(2024, 1, 2), date(2024, 1, 3)],
                                                        "is_open": [True, True]}), "sample")
        load_frame(db, "daily_quote", bad, "sample")  # corrupt rows of the same (sample) market
    res = run_dbt(settings, ["build"], quiet=True, target_path=str(tmp / "target"))
    return settings, res, bad


def test_dbt_build_passes_on_duckdb_with_corrupt_rows_quarantined(built_duck):
    settings, res, bad = built_duck
    assert res.returncode == 0
    with Database(settings) as db:
        q = db.query_df("select code, cast(row_date as varchar) as d, reason from staging.quarantine "
                        "where source_table = 'daily_quote' order by d")
        assert list(q.reason) == ["date off the trading calendar", "high < low", "non-positive price"]
        # the sample's margin rows of ETFs (510050.SH, 159915.SZ) are counted there too, not staged
        etf = db.scalar("select count(*) from raw.funds_flow where code in ('510050.SH', '159915.SZ')")
        held = db.scalar("select count(*) from staging.quarantine where source_table = 'funds_flow'")
        assert etf > 0 and held == etf
        leaked = db.scalar("select count(*) from staging.stg_daily_quote where trade_date >= '2023-12-30'")
        assert leaked == 0
        for rel in ["signals.factor_scores", "signals.signals", "signals.portfolio_targets"]:
            assert db.scalar(f"select count(*) from {rel}") > 0, rel


def test_dbt_build_passes_on_postgres_with_same_scores(built_duck, tmp_path):
    from conftest import create_pg_database, drop_pg_database, pg_settings

    name = create_pg_database()
    try:
        settings = pg_settings(name)
        with Database(settings) as db:
            ingest_sample(db, SMALL, progress=False)
        res = run_dbt(settings, ["build"], quiet=True, target_path=str(tmp_path / "target"))
        assert res.returncode == 0
        q = "select code, trade_date, composite_score from signals.factor_scores order by code, trade_date"
        with Database(settings) as db:
            pg = db.query_df(q)
            pg_sig = db.query_df("select signal_id from signals.signals order by signal_id")
        with Database(built_duck[0]) as db:
            dk = db.query_df(q)
            dk_sig = db.query_df("select signal_id from signals.signals order by signal_id")
        assert len(pg) == len(dk)
        assert (pg.composite_score.astype(float) - dk.composite_score.astype(float)).abs().max() < 1e-6
        assert list(pg_sig.signal_id) == list(dk_sig.signal_id)
    finally:
        drop_pg_database(name)


def _cli(*args: str, env: dict | None = None) -> subprocess.CompletedProcess:
    exe = Path(sys.executable).parent / "aquant"
    return subprocess.run([str(exe), *args], capture_output=True, text=True, cwd=ROOT,
                          env={**os.environ, **(env or {})}, timeout=120)


def test_cli_rejects_bad_date_in_one_line(tmp_path):
    r = _cli("ingest", "--end", "2024-13-01", env={"AQUANT_DB": str(tmp_path / "x.duckdb")})
    assert r.returncode == 2
    assert "expected a date like 2024-12-31" in r.stderr
    assert "Traceback" not in r.stderr


def test_cli_rejects_unknown_target(tmp_path):
    r = _cli("ingest", env={"AQUANT_TARGET": "oracle"})
    assert r.returncode == 1 and "AQUANT_TARGET must be one of duckdb, postgres, spark" in r.stderr


def test_cli_ingest_writes_an_audit_row(tmp_path):
    db_path = tmp_path / "cli.duckdb"
    r = _cli("ingest", "--quiet", "--stocks", "5", "--start", "2024-11-01", "--end", "2024-12-31",
             "--tables", "trade_calendar,stock_info,daily_quote", env={"AQUANT_DB": str(db_path)})
    assert r.returncode == 0, r.stderr
    assert "daily_quote" in r.stdout
    import duckdb

    con = duckdb.connect(str(db_path), read_only=True)
    action, detail = con.execute("select action, detail from ops.audit_log").fetchone()
    assert action == "ingest" and '"stocks": 5' in detail


def test_a_second_build_of_the_same_data_is_identical(built_duck, tmp_path):
    """DuckDB aggregates in parallel; every factor, score and signal must still be reproducible."""
    import shutil

    from conftest import duck_settings

    settings = built_duck[0]
    again = duck_settings(tmp_path / "again.duckdb")
    shutil.copy(settings.duckdb_path, again.duckdb_path)
    assert run_dbt(again, ["build", "--full-refresh"], quiet=True, target_path=str(tmp_path / "t")).returncode == 0
    for rel in ["factors.factor_industry_flow", "factors.factor_fund_flow", "factors.factor_valuation",
                "factors.factor_chip", "factors.factor_technical", "signals.factor_scores", "signals.signals",
                "signals.portfolio_targets"]:
        with Database(settings) as db:
            a = db.query_df(f"select * from {rel} order by all")
        with Database(again) as db:
            b = db.query_df(f"select * from {rel} order by all")
        pd.testing.assert_frame_equal(a, b, check_exact=True, obj=rel)

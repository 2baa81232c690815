"""A database holds either the sample market or real data, never both (issue 19, part 1).

The sample market reuses real codes (its 000001.SZ is invented): loading it over akshare rows once
replaced all 966 real rows of 000001.SZ. These tests load a real-source row through the real
loader, then try every way the sample could reach it.
"""
from __future__ import annotations

from datetime import date

import pandas as pd
import pytest
from click.testing import CliRunner

from aquant.cli import main
from aquant.db import Database
from aquant.extract.loader import ensure_raw, load_frame
from aquant.extract.market_guard import MixedMarketError
from aquant.ingest import run as run_ingest

# 000001.SZ on 2024-06-14 (an ex-date: pre_close 10.08 is the reference price), tushare `daily`
# as recorded in tests/fixtures/tushare/daily_000001.SZ.csv (PROVENANCE.md there): vol 1,637,990.47
# lots, amount 1,657,433.955 thousand CNY; adj_factor 125.049 from the reconstructed tushare series
# (../shared/realdata/derived, anchored on published values). turnover_rate is not in `daily`: left out.
REAL_BAR = pd.DataFrame([{
    "code": "000001.SZ", "trade_date": date(2024, 6, 14), "open": 10.15, "high": 10.23, "low": 9.99,
    "close": 10.18, "pre_close": 10.08, "volume": 163_799_047.0, "amount": 1_657_433_955.0, "adj_factor": 125.049}])


def _real_rows(db: Database) -> pd.DataFrame:
    return db.query_df("select code, trade_date, close, source from raw.daily_quote where source = 'akshare'")


def test_sample_never_overwrites_real_quotes(any_db):
    with Database(any_db) as db:
        ensure_raw(db)
        load_frame(db, "daily_quote", REAL_BAR, "akshare", "test: one real bar")
        before = _real_rows(db)
        with pytest.raises(MixedMarketError, match="AQUANT_DB=data/sample.duckdb"):
            run_ingest(db, source="sample", stocks=3, tables=["daily_quote"], full_refresh=True, progress=False)
    with Database(any_db) as db:  # a new connection: the check is not a per-object cache artefact
        with pytest.raises(MixedMarketError):
            load_frame(db, "daily_quote", REAL_BAR.assign(close=99.0), "sample")
        pd.testing.assert_frame_equal(_real_rows(db), before)
        assert db.scalar("select count(*) from raw.daily_quote") == 1


def test_real_source_is_refused_on_the_sample_market(any_db):
    with Database(any_db) as db:
        run_ingest(db, source="sample", stocks=3, tables=["daily_quote"], progress=False)
        n = db.scalar("select count(*) from raw.daily_quote")
        with pytest.raises(MixedMarketError, match="AQUANT_DB=data/real.duckdb"):
            load_frame(db, "daily_quote", REAL_BAR, "akshare")
        assert db.scalar("select count(*) from raw.daily_quote where source <> 'sample'") == 0
        assert db.scalar("select count(*) from raw.daily_quote") == n


def test_demo_stops_on_a_database_with_real_data(duck, monkeypatch):
    with Database(duck) as db:
        ensure_raw(db)
        load_frame(db, "daily_quote", REAL_BAR, "akshare")
    monkeypatch.setenv("AQUANT_DB", str(duck.duckdb_path))
    monkeypatch.setenv("AQUANT_TARGET", "duckdb")
    out = CliRunner().invoke(main, ["demo", "--stocks", "3"])
    assert out.exit_code == 2, out.output
    assert "AQUANT_DB=" in out.output and "real market data" in out.output
    with Database(duck) as db:
        assert _real_rows(db).close.tolist() == [10.18]
        assert not db.table_exists("staging", "stg_daily_quote")  # stopped before the build


def test_ingest_command_refuses_with_a_message(duck, monkeypatch):
    with Database(duck) as db:
        ensure_raw(db)
        load_frame(db, "daily_quote", REAL_BAR, "tushare")
    monkeypatch.setenv("AQUANT_DB", str(duck.duckdb_path))
    out = CliRunner().invoke(main, ["ingest", "--source", "sample", "--stocks", "3", "--quiet"])
    assert out.exit_code == 1 and "tushare" in out.output and "AQUANT_DB=" in out.output

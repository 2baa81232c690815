"""Incremental builds equal full builds: int_macd__recursed continues its EMA state, factor_technical
re-reads only `technical_lookback` bars, and factor_scores on top of them matches a --full-refresh;
so does int_offense_signals__chained (its open trades redone, stops compared on the adjusted basis across ex-dates).

The sample market is built up to day D (the rows of a later-ending sample dated on or before D),
then the remaining days are loaded and `dbt build` runs incrementally; a byte copy of that
database is rebuilt with --full-refresh, and the two are compared row by row within 1e-9.
"""
from __future__ import annotations

from datetime import date

import pandas as pd
import pytest

from aquant.db import Database
from aquant.extract.ingest_sample import DATE_COL
from aquant.extract.sample import SampleConfig, SampleMarket

from conftest import duck_settings
from test_offense_support import (DEFAULTS, assert_frames_close, build_selected, copy_duck, load_tables, read,
                                  sample_tables)

CFG = SampleConfig(n_stocks=12, start=date(2021, 1, 4), end=date(2023, 7, 14))
D = date(2023, 6, 30)
SELECT = ["+factor_scores", "int_offense_signals__chained"]
TABLES = {"intermediate.int_macd__recursed": ["code", "trade_date"],
          "factors.factor_technical": ["code", "trade_date"], "factors.factor_valuation": ["code", "trade_date"],
          "factors.factor_industry_flow": ["industry_l1", "trade_date"],
          "factors.factor_fund_flow": ["code", "trade_date"], "factors.factor_chip": ["code", "trade_date"],
          "signals.factor_scores": ["code", "trade_date"], "intermediate.int_offense_signals__chained": ["signal_id"]}


@pytest.fixture(scope="module")
def builds(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("offense_incremental")
    inc = duck_settings(tmp / "incremental.duckdb")
    with Database(inc) as db:
        load_tables(db, sample_tables(CFG, until=D))
    build_selected(inc, tmp / "t1", SELECT, vars_=DEFAULTS)
    first = read(inc, "select max(trade_date) as d, count(*) as n from intermediate.int_macd__recursed")
    with Database(inc) as db:
        load_tables(db, sample_tables(CFG))
    build_selected(inc, tmp / "t2", SELECT, vars_=DEFAULTS)
    full = copy_duck(inc, tmp / "full.duckdb")
    build_selected(full, tmp / "t3", SELECT, vars_=DEFAULTS, full_refresh=True)
    return inc, full, first


def test_first_build_stopped_at_d_and_the_second_added_days(builds):
    inc, _, first = builds
    assert first["d"][0] == pd.Timestamp(D)
    later = read(inc, "select count(distinct trade_date) as n from intermediate.int_macd__recursed where trade_date > ?", [D])
    assert later["n"][0] == 10  # 2023-07-03 .. 2023-07-14


@pytest.mark.parametrize("table", list(TABLES))
def test_incremental_equals_full_refresh(builds, table):
    inc, full, _ = builds
    a, b = read(inc, f"select * from {table}"), read(full, f"select * from {table}")
    assert len(a) > (50 if table == "intermediate.int_offense_signals__chained" else 1500)
    assert_frames_close(a, b, TABLES[table], 1e-9, f"{table} incremental vs full")


def test_sample_history_does_not_change_when_end_moves():
    short, long_ = SampleMarket(SampleConfig(n_stocks=12, start=CFG.start, end=D)).tables(), SampleMarket(CFG).tables()
    for name in ["stock_info", "daily_quote", "funds_flow"]:
        col = DATE_COL.get(name)
        b = long_[name] if col is None else long_[name][pd.to_datetime(long_[name][col]) <= pd.Timestamp(D)]
        pd.testing.assert_frame_equal(short[name].reset_index(drop=True), b.reset_index(drop=True), obj=name)

"""xtdata extractor: QMT shapes (epoch ms, lots, suspendFlag, dividend factors) -> the contract."""
from __future__ import annotations

import sys
from datetime import date

import pandas as pd
import pytest
from fake_upstreams import DAYS, EX_DATE, FakeXtdata

from aquant.db import Database
from aquant.extract.runner import run_ingest
from aquant.extract.xtdata import back_adj_factor, default_client


def ingest(db, tables, codes=("000001.SZ", "600000.SH", "430047.BJ"), start=DAYS[0], end=DAYS[-1]):
    return run_ingest(db, "xtdata", tables=tables, codes=list(codes), start=start, end=end, client=FakeXtdata(),
                      progress=False, min_interval=0, sleep=lambda s: None)


def test_daily_units_suspension_and_factor(any_db):
    with Database(any_db) as db:
        s = ingest(db, ["daily_quote"])
        assert not s.failures
        q = db.query_df("select * from raw.daily_quote order by code, trade_date")
        first = q[q.code == "000001.SZ"].iloc[0]
        assert pd.Timestamp(first.trade_date).date() == DAYS[0]  # epoch ms -> Beijing trading day
        assert first.volume == 10_000 * 100 and first.turnover_rate == pytest.approx(1_000_000 / 1.0e9)
        pf = q[q.code == "600000.SH"]
        assert len(pf) == len(DAYS) - 1  # the suspendFlag=1 day is dropped
        days = [pd.Timestamp(d).date() for d in pf.trade_date]
        assert [f for d, f in zip(days, pf.adj_factor) if d >= EX_DATE] == [1.05] * 3
        assert {f for d, f in zip(days, pf.adj_factor) if d < EX_DATE} == {1.0}


def test_reference_minute_and_finance(duck):
    with Database(duck) as db:
        ingest(db, ["trade_calendar", "stock_info", "minute_quote", "finance_data"], start=date(2023, 1, 1))
        assert db.scalar("select count(*) from raw.trade_calendar where is_open") == len(DAYS)
        info = db.query_df("select * from raw.stock_info").set_index("code")
        assert info.loc["430047.BJ", "board"] == "bse" and bool(info.loc["430047.BJ", "is_st"])
        assert pd.isna(info.loc["000001.SZ", "delist_date"]) and info.loc["000001.SZ", "float_shares"] == 1.0e9
        m = db.query_df("select * from raw.minute_quote where code = '000001.SZ' order by ts").iloc[0]
        assert pd.Timestamp(m.ts) == pd.Timestamp("2024-01-02 01:31:00") and m.volume == 1200
        f = db.query_df("select * from raw.finance_data where code = '600000.SH'").iloc[0]
        assert pd.Timestamp(f.ann_date).date() == date(2024, 3, 15) and f.roe == pytest.approx(0.1025)
        assert f.net_profit == 4.6e10


def test_back_adj_factor_is_cumulative_over_ex_dates():
    days = pd.Series([date(2024, 1, 1), date(2024, 2, 1), date(2024, 3, 1)])
    divid = pd.DataFrame({"dr": [1.1, 1.2]}, index=["20240115", "20240201"])
    assert back_adj_factor(days, divid).tolist() == [1.0, pytest.approx(1.32), pytest.approx(1.32)]


@pytest.mark.skipif(sys.platform == "win32", reason="xtdata imports on Windows")
def test_missing_terminal_explains_what_is_needed():
    with pytest.raises(ImportError, match="Windows x64 next to a running MiniQMT"):
        default_client()


@pytest.mark.skipif(sys.platform == "win32", reason="xtdata imports on Windows")
def test_runner_turns_missing_terminal_into_a_config_error(duck):
    from aquant.config import ConfigError

    with Database(duck) as db, pytest.raises(ConfigError, match="MiniQMT"):
        run_ingest(db, "xtdata", tables=["daily_quote"], codes=["000001.SZ"], progress=False)

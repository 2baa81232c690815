"""xtdata extractor against a fake with xtquant 250807's function names, signatures and return
shapes (tests/fake_upstreams.py) serving real recorded exchange bars around real ex-dates."""
from __future__ import annotations

import sys
from datetime import date
from decimal import Decimal
from pathlib import Path

import pandas as pd
import pytest

from aquant.db import Database
from aquant.extract.normalize import UpstreamSchemaError
from aquant.extract.runner import run_ingest
from aquant.extract.xtdata import back_adj_factor, default_client, divid_dates, ex_reference_price

from fake_upstreams import FakeXtdata

D = date
TS_FIXTURES = Path(__file__).parent / "fixtures" / "tushare"


def ingest(db, tables, fake=None, codes=("000001.SZ", "600000.SH"), start=D(2016, 6, 6), end=D(2016, 6, 24)):
    return run_ingest(db, "xtdata", tables=tables, codes=list(codes), start=start, end=end,
                      client=fake or FakeXtdata(), progress=False, min_interval=0, sleep=lambda s: None)


def quotes(db, code: str) -> pd.DataFrame:
    df = db.query_df("select * from raw.daily_quote where code = ? order by trade_date", [code])
    df["trade_date"] = pd.to_datetime(df["trade_date"]).dt.date
    return df.set_index("trade_date")


def tushare_factor(code: str, day: date) -> float:
    """tushare's published/reconstructed adj_factor (tests/fixtures/tushare/PROVENANCE.md)."""
    af = pd.read_csv(TS_FIXTURES / f"adj_factor_{code}.csv", dtype={"trade_date": str})
    return float(af.loc[af.trade_date == day.strftime("%Y%m%d"), "adj_factor"].iloc[0])


# (code, window, previous day, ex-date, exchange reference price)
EX = [("000001.SZ", (D(2016, 6, 6), D(2016, 6, 24)), D(2016, 6, 15), D(2016, 6, 16), 8.57),
      ("000001.SZ", (D(2024, 6, 3), D(2024, 6, 28)), D(2024, 6, 13), D(2024, 6, 14), 10.08),
      ("600000.SH", (D(2017, 5, 15), D(2017, 6, 2)), D(2017, 5, 24), D(2017, 5, 25), 11.75)]


@pytest.mark.parametrize("code, window, prev, ex, ref", EX, ids=[f"{c}-{e}" for c, _, _, e, _ in EX])
def test_pre_close_and_factor_step_equal_the_exchange_and_tushare_on_real_ex_dates(duck, code, window, prev, ex,
                                                                                   ref):
    with Database(duck) as db:
        assert not ingest(db, ["daily_quote"], codes=[code], start=window[0], end=window[1]).failures
        q = quotes(db, code)
    assert q.loc[ex, "pre_close"] == ref  # xtdata preClose: the exchange's reference price
    step = q.loc[ex, "adj_factor"] / q.loc[prev, "adj_factor"]
    assert step == pytest.approx(q.loc[prev, "close"] / ref, rel=1e-6)
    published = tushare_factor(code, ex) / tushare_factor(code, prev)
    assert step == pytest.approx(published, abs=2e-5)  # tushare's factor is rounded to 3 dp
    flat = q.loc[(q.index > ex), "adj_factor"]
    assert (flat == q.loc[ex, "adj_factor"]).all()  # no drift between ex-dates


def test_units_follow_xtdata(duck):
    with Database(duck) as db:
        ingest(db, ["daily_quote"], codes=["000001.SZ"])
        q = quotes(db, "000001.SZ").loc[D(2016, 6, 15)]
    assert q.volume == pytest.approx(378_172.41 * 100)  # lots -> shares
    assert q.amount == pytest.approx(394_033_686.1)  # CNY


@pytest.mark.parametrize("layout", ["index+time", "time_ms", "time_ymd"])
def test_divid_dates_are_read_from_the_time_field_or_the_index(duck, layout):
    with Database(duck) as db:
        assert not ingest(db, ["daily_quote"], fake=FakeXtdata(divid_layout=layout), codes=["000001.SZ"]).failures
        q = quotes(db, "000001.SZ")
    assert q.loc[D(2016, 6, 16), "adj_factor"] / q.loc[D(2016, 6, 15), "adj_factor"] == pytest.approx(10.44 / 8.57)


def test_divid_factors_without_dates_stop_the_run_instead_of_a_factor_of_one(duck):
    with Database(duck) as db, pytest.raises(UpstreamSchemaError, match="get_divid_factors: cannot find the ex-dates"):
        ingest(db, ["daily_quote"], fake=FakeXtdata(divid_layout="none"), codes=["000001.SZ"])


def test_ex_reference_price_is_the_exchange_formula():
    """[(prev close − cash) + rights price × rights ratio] ÷ (1 + share change ratio), to 0.01,
    checked against the exchanges' published prices (tushare pre_close) and a textbook case."""
    assert ex_reference_price(10.44, 0.153, gift=0.2) == Decimal("8.57")  # 000001 2016-06-16
    assert ex_reference_price(17.89, 0.515, bonus=0.1) == Decimal("15.80")  # 600000 2016-06-23
    assert ex_reference_price(15.47, 0.2, gift=0.3) == Decimal("11.75")  # 600000 2017-05-25
    assert ex_reference_price(12, 0.2, bonus=0.3, allot_num=0.2, allot_price=5) == Decimal("8.53")


def test_factor_prices_events_without_bars_by_formula_or_dr_and_refuses_otherwise():
    days = pd.Series([D(2024, 1, 2), D(2024, 1, 3), D(2024, 3, 1)])
    # 2024-01-03 has no preClose: previous close 10.0 and the fields give the reference 9.5;
    # 2024-03-01 lies after the last bar: xtdata's own dr prices it
    bars = pd.DataFrame({"date": [D(2024, 1, 2), D(2024, 1, 3)], "close": [10.0, 9.6],
                         "preClose": [9.9, float("nan")]})
    divid = pd.DataFrame({"time": ["20240103", "20240301"], "interest": [0.5, 0.0], "dr": [9.0, 1.25]})
    f = back_adj_factor(days, divid, bars)
    assert f.tolist() == [1.0, pytest.approx(10 / 9.5, abs=1e-6), pytest.approx(10 / 9.5 * 1.25, abs=1e-6)]
    with pytest.raises(ValueError, match="cannot be priced"):
        back_adj_factor(days, divid.drop(columns="dr"), bars)
    assert divid_dates(pd.DataFrame({"dr": [1.1]}, index=["20240115"])).tolist() == [D(2024, 1, 15)]


def test_turnover_uses_the_float_shares_in_force_that_day_never_todays(duck):
    with Database(duck) as db:
        ingest(db, ["daily_quote"], codes=["000001.SZ"])
        ingest(db, ["daily_quote"], codes=["600000.SH"], start=D(2017, 5, 15), end=D(2017, 6, 2))
        a, b = quotes(db, "000001.SZ"), quotes(db, "600000.SH")
    assert a.loc[D(2016, 6, 15), "turnover_rate"] == pytest.approx(37_817_241 / 11_710_000_000, abs=1e-6)
    # the 10转2 row (effective 06-16, announced 06-08) applies from the ex-date on
    assert a.loc[D(2016, 6, 16), "turnover_rate"] == pytest.approx(38_667_008 / 14_052_000_000, abs=1e-6)
    assert b["turnover_rate"].isna().all()  # no capital row known in 2017: null, not today's FloatVolume


def test_suspended_days_are_dropped(duck):
    fake = FakeXtdata()
    fake.suspended.add(("600000.SH", "20170518"))
    with Database(duck) as db:
        assert not ingest(db, ["daily_quote"], fake=fake, codes=["600000.SH"], start=D(2017, 5, 15),
                          end=D(2017, 6, 2)).failures
        q = quotes(db, "600000.SH")
    assert D(2017, 5, 18) not in q.index and D(2017, 5, 19) in q.index


def test_reference_minute_and_finance(duck):
    with Database(duck) as db:
        s = ingest(db, ["trade_calendar", "stock_info", "minute_quote", "finance_data"], start=D(2024, 1, 1),
                   end=D(2024, 6, 28))
        assert not s.failures
        assert db.scalar("select count(*) from raw.trade_calendar where is_open and trade_date "
                         "between '2024-06-03' and '2024-06-28'") == 19
        info = db.query_df("select * from raw.stock_info").set_index("code")
        assert pd.Timestamp(info.loc["600000.SH", "list_date"]).date() == D(1999, 11, 10)
        assert pd.isna(info.loc["000001.SZ", "delist_date"])
        m = db.query_df("select * from raw.minute_quote where code = '000001.SZ' order by ts").iloc[0]
        assert pd.Timestamp(m.ts) == pd.Timestamp("2024-06-03 01:31:00") and m.volume == 1200
        f = db.query_df("select * from raw.finance_data where code = '000001.SZ' and report_period = '2023-12-31'")
        assert pd.Timestamp(f.iloc[0].ann_date).date() == D(2024, 3, 15) and f.iloc[0].eps == 2.25


@pytest.mark.skipif(sys.platform == "win32", reason="xtdata imports on Windows")
def test_missing_terminal_explains_what_is_needed():
    with pytest.raises(ImportError, match="Windows x64 next to a running MiniQMT"):
        default_client()


@pytest.mark.skipif(sys.platform == "win32", reason="xtdata imports on Windows")
def test_runner_turns_missing_terminal_into_a_config_error(duck):
    from aquant.config import ConfigError

    with Database(duck) as db, pytest.raises(ConfigError, match="MiniQMT"):
        run_ingest(db, "xtdata", tables=["daily_quote"], codes=["000001.SZ"], progress=False)

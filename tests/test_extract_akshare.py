"""akshare extractor: upstream shapes and units -> the contract, on a fake akshare module."""
from __future__ import annotations

from datetime import date

import pandas as pd
import pytest
from fake_upstreams import DAYS, EX_DATE, FakeAkshare

from aquant.db import Database
from aquant.extract.akshare import smooth_adj_factor
from aquant.extract.loader import SchemaError
from aquant.extract.normalize import to_ts_code
from aquant.extract.runner import run_ingest

CODES = ["000001", "600000", "430047"]


def ingest(db, fake, tables, codes=CODES, start=DAYS[0], end=DAYS[-1], **kw):
    return run_ingest(db, "akshare", tables=tables, codes=codes, start=start, end=end, client=fake, progress=False,
                      min_interval=0, sleep=lambda s: None, **kw)


def test_codes_get_exchange_suffix_by_prefix():
    assert [to_ts_code(c) for c in ["000001", "600000", "300750", "688981", "430047", "830799", "920001", "1"]] == \
        ["000001.SZ", "600000.SH", "300750.SZ", "688981.SH", "430047.BJ", "830799.BJ", "920001.BJ", "000001.SZ"]


def test_daily_quote_units_are_normalised(duck):
    with Database(duck) as db:
        ingest(db, FakeAkshare(), ["daily_quote"])
        q = db.query_df("select * from raw.daily_quote where code = '000001.SZ' order by trade_date")
        first = q.iloc[0]
        assert first.volume == 10_000 * 100  # lots -> shares
        assert first.amount == pytest.approx(10_000 * 100 * 10.0)  # already yuan
        assert first.turnover_rate == pytest.approx(0.015)  # % -> fraction
        assert first.adj_factor == pytest.approx(3.0)  # hfq close / close
        assert first.pe_ttm == 5.1 and first.pb == 0.55 and first.total_mv == 2.0e11 and first.circ_mv == 1.5e11
        assert q.iloc[1].pre_close == pytest.approx(q.iloc[0].close)
        assert set(db.query_df("select code from raw.daily_quote").code) == {"000001.SZ", "600000.SH", "430047.BJ"}
        assert (q.source == "akshare").all()


def test_suspended_day_has_no_row_and_factor_steps_on_ex_date(duck):
    with Database(duck) as db:
        ingest(db, FakeAkshare(), ["daily_quote"], codes=["600000"])
        q = db.query_df("select trade_date, adj_factor from raw.daily_quote order by trade_date")
        days = [pd.Timestamp(d).date() for d in q.trade_date]
        assert date(2024, 1, 5) not in days and len(days) == len(DAYS) - 1
        before = q[[d < EX_DATE for d in days]].adj_factor
        after = q[[d >= EX_DATE for d in days]].adj_factor
        # one value per segment (rounding noise smoothed), within the 2-decimal rounding of hfq prices
        assert before.nunique() == 1 and after.nunique() == 1
        assert before.iloc[0] == pytest.approx(2.0, abs=1e-3) and after.iloc[0] == pytest.approx(2.1, abs=1e-3)


def test_adj_factor_smoothing_removes_rounding_noise_but_keeps_real_steps():
    close = pd.Series([3.33, 3.37, 3.41, 3.30, 3.31])
    hfq = (close * pd.Series([3.0, 3.0, 3.0, 3.3, 3.3])).round(2)
    f = smooth_adj_factor(close, hfq)
    assert f.iloc[:3].nunique() == 1 and f.iloc[3:].nunique() == 1
    assert f.iloc[0] == pytest.approx(3.0, abs=2e-3) and f.iloc[-1] == pytest.approx(3.3, abs=2e-3)


def test_delisted_stock_gives_no_bars_and_no_failure(duck):
    with Database(duck) as db:
        s = ingest(db, FakeAkshare(), ["stock_info", "daily_quote"], codes=["600087"])
        assert not s.failures
        info = db.query_df("select * from raw.stock_info where code = '600087.SH'").iloc[0]
        assert pd.Timestamp(info.delist_date).date() == date(2014, 6, 5)
        assert db.scalar("select count(*) from raw.daily_quote") == 0


def test_stock_info_maps_board_industry_and_st(duck):
    with Database(duck) as db:
        ingest(db, FakeAkshare(), ["stock_info"])
        info = db.query_df("select * from raw.stock_info order by code").set_index("code")
        assert info.loc["430047.BJ", "board"] == "bse" and bool(info.loc["430047.BJ", "is_st"])
        assert info.loc["000001.SZ", "industry_l1"] == "银行" and info.loc["000001.SZ", "exchange"] == "SZ"
        assert not bool(info.loc["600000.SH", "is_st"])


def test_finance_percentages_become_fractions_with_announcement_date(duck):
    with Database(duck) as db:
        ingest(db, FakeAkshare(), ["finance_data"], start=date(2023, 12, 1), end=date(2024, 1, 11))
        f = db.query_df("select * from raw.finance_data where code = '000001.SZ'").iloc[0]
        assert pd.Timestamp(f.report_period).date() == date(2023, 12, 31)
        assert pd.Timestamp(f.ann_date).date() == date(2024, 3, 15)
        assert f.roe == pytest.approx(0.1025) and f.net_profit_yoy == pytest.approx(0.0206)
        assert f.revenue == 1.6e11 and f.eps == 2.25


def test_dividend_cash_per_ten_shares_becomes_per_share_with_payout(duck):
    with Database(duck) as db:
        ingest(db, FakeAkshare(), ["dividend"], start=date(2023, 12, 1), end=date(2024, 1, 11))
        d = db.query_df("select * from raw.dividend order by code").set_index("code")
        assert d.loc["000001.SZ", "cash_div_per_share"] == pytest.approx(0.719)
        assert d.loc["000001.SZ", "payout_ratio"] == pytest.approx(0.719 / 2.25, rel=1e-5)
        assert d.loc["600000.SH", "bonus_ratio"] == pytest.approx(0.3)
        # no plan date upstream -> latest announcement date
        assert pd.Timestamp(d.loc["600000.SH", "ann_date"]).date() == date(2024, 7, 11)


def test_funds_flow_combines_north_main_force_and_margin(duck):
    fake = FakeAkshare()
    with Database(duck) as db:
        ingest(db, fake, ["trade_calendar", "daily_quote", "funds_flow"], codes=["000001", "600000"])
        ff = db.query_df("select * from raw.funds_flow where trade_date = '2024-01-11' order by code").set_index("code")
        assert ff.loc["000001.SZ", "north_hold_shares"] == 1.0e8 + 7
        assert ff.loc["000001.SZ", "main_net_inflow"] == pytest.approx(-1.5e7)
        assert ff.loc["000001.SZ", "margin_balance"] == 4.0e9 and ff.loc["000001.SZ", "short_balance"] == 5000.0
        close = db.scalar("select close from raw.daily_quote where code = '600000.SH' and trade_date = '2024-01-11'")
        assert ff.loc["600000.SH", "short_balance"] == pytest.approx(1000 * close)  # SSE reports shares
        assert pd.isna(ff.loc["600000.SH", "north_hold_shares"])  # not in Stock Connect


def test_chip_history_is_derived_where_upstream_has_none(duck):
    with Database(duck) as db:
        ingest(db, FakeAkshare(), ["daily_quote", "chip_distribution"], codes=["000001"])
        c = db.query_df("select trade_date, source, profit_ratio from raw.chip_distribution order by trade_date")
        assert len(c) == len(DAYS)
        assert c.source.tolist() == ["derived:cyq"] * 5 + ["akshare"] * 3
        assert c.profit_ratio.between(0, 1).all()


def test_minute_bars_are_utc_and_in_shares(duck):
    with Database(duck) as db:
        ingest(db, FakeAkshare(), ["minute_quote"], codes=["000001"])
        m = db.query_df("select * from raw.minute_quote order by ts")
        assert pd.Timestamp(m.ts.iloc[0]) == pd.Timestamp("2024-01-11 01:31:00")
        assert m.volume.iloc[0] == 12_000


def test_industry_flow_unknown_industry_is_a_reported_failure(duck):
    with Database(duck) as db:
        ingest(db, FakeAkshare(), ["stock_info"])
        db.execute("update raw.stock_info set industry_l1 = '不存在' where code = '600000.SH'")
        s = ingest(db, FakeAkshare(), ["industry_flow"])
        assert [f.unit for f in s.failures] == ["不存在"]
        row = db.query_df("select * from raw.industry_flow where trade_date = '2024-01-02'").iloc[0]
        assert row.industry_l1 == "银行" and row.net_inflow == 2.0e8 and row.amount == pytest.approx(1.0e10)


def test_renamed_upstream_column_stops_with_clear_error_and_writes_nothing(duck):
    fake = FakeAkshare()
    fake.rename["stock_zh_a_hist"] = {"成交量": "成交量(手)"}
    with Database(duck) as db:
        with pytest.raises(SchemaError, match=r"akshare\.stock_zh_a_hist: expected columns .*成交量.*missing \['成交量'\]"):
            ingest(db, fake, ["daily_quote"])
        assert db.scalar("select count(*) from raw.daily_quote") == 0
        assert db.scalar("select count(*) from ops.ingest_state") == 0
        assert "failed" in db.scalar("select detail from ops.audit_log")


def test_empty_calendar_is_an_error_naming_the_function(duck):
    fake = FakeAkshare(days=[])
    with Database(duck) as db, pytest.raises(SchemaError, match="tool_trade_date_hist_sina"):
        ingest(db, fake, ["trade_calendar"])


def test_nonsense_prices_are_rejected_per_stock(duck):
    class Bad(FakeAkshare):
        def stock_zh_a_hist(self, **kw):
            df = super().stock_zh_a_hist(**kw)
            if kw.get("symbol") == "600000" and len(df):
                df["最低"] = df["最高"] + 1  # low above high
            return df

    with Database(duck) as db:
        s = ingest(db, Bad(), ["daily_quote"])
        assert [(f.unit, "high < low" in f.error) for f in s.failures] == [("600000.SH", True)]
        assert db.scalar("select count(*) from raw.daily_quote where code = '600000.SH'") == 0
        assert db.scalar("select count(*) from raw.daily_quote where code = '000001.SZ'") == len(DAYS)

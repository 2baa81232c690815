"""tushare extractor: tushare pro units (lots, thousand yuan, 10k yuan, %) -> the contract."""
from __future__ import annotations

from datetime import date

import pandas as pd
import pytest
from fake_upstreams import DAYS, FakeTusharePro

from aquant.config import ConfigError
from aquant.db import Database
from aquant.extract.loader import SchemaError
from aquant.extract.runner import run_ingest
from aquant.extract.tushare import default_client


def ingest(db, fake, tables, codes=("000001.SZ", "600000.SH"), start=DAYS[0], end=DAYS[-1]):
    return run_ingest(db, "tushare", tables=tables, codes=list(codes), start=start, end=end, client=fake,
                      progress=False, min_interval=0, sleep=lambda s: None)


def test_daily_units_are_normalised(any_db):
    with Database(any_db) as db:
        ingest(db, FakeTusharePro(), ["daily_quote"])
        q = db.query_df("select * from raw.daily_quote where code = '000001.SZ' order by trade_date").iloc[0]
        assert q.volume == 10_000 * 100  # lots -> shares
        assert q.amount == pytest.approx(10_000 * 100 * q.close)  # thousand yuan -> yuan
        assert q.turnover_rate == pytest.approx(0.015)
        assert q.total_mv == 2.0e11 and q.circ_mv == 1.5e11  # 10k yuan -> yuan
        assert q.adj_factor == 3.0 and q.pe_ttm == 5.1
        assert db.scalar("select count(*) from raw.daily_quote where code = '600000.SH'") == len(DAYS) - 1


def test_reference_finance_dividend_flow_and_chips(duck):
    with Database(duck) as db:
        s = ingest(db, FakeTusharePro(), ["trade_calendar", "stock_info", "finance_data", "dividend", "funds_flow",
                                          "chip_distribution"], start=date(2023, 1, 1),
                   end=date(2024, 12, 31))
        assert not s.failures
        assert db.scalar("select count(*) from raw.trade_calendar where is_open") == len(DAYS)
        info = db.query_df("select * from raw.stock_info").set_index("code")
        assert info.loc["000001.SZ", "industry_l2"] == "股份制银行Ⅱ" and info.loc["600000.SH", "industry_l1"] == "银行"
        assert pd.Timestamp(info.loc["600087.SH", "delist_date"]).date() == date(2014, 6, 5)
        f = db.query_df("select * from raw.finance_data where report_period = '2023-12-31' and code = '000001.SZ'").iloc[0]
        assert f.roe == pytest.approx(0.1025) and f.net_profit == 4.6e10 and f.revenue == 1.6e11
        d = db.query_df("select * from raw.dividend where code = '000001.SZ'").iloc[0]
        assert pd.Timestamp(d.ann_date).date() == date(2024, 6, 7)  # the implemented plan
        assert d.cash_div_per_share == 0.719 and d.payout_ratio == pytest.approx(0.719 / 2.25, rel=1e-5)
        ff = db.query_df("select * from raw.funds_flow where code = '000001.SZ' order by trade_date").iloc[0]
        assert ff.main_net_inflow == pytest.approx(1500 * 1e4)  # (3000 + 500 - 1000 - 1000) 10k yuan
        assert ff.north_hold_shares == 1.0e8 and ff.margin_balance == 4.0e9 and ff.short_balance == 5.0e6
        c = db.query_df("select * from raw.chip_distribution order by trade_date").iloc[0]
        assert c.profit_ratio == 0.625 and c.cost_90_low == 9.0 and c.cost_70_high == 10.5
        assert c.concentration_90 == pytest.approx((11 - 9) / 20)


def test_renamed_column_names_function_and_expected_columns(duck):
    class Renamed(FakeTusharePro):
        def daily(self, **kw):
            return super().daily(**kw).rename(columns={"vol": "volume"})

    with Database(duck) as db, pytest.raises(SchemaError, match=r"tushare\.daily: expected columns .*missing \['vol'\]"):
        ingest(db, Renamed(), ["daily_quote"])


def test_missing_token_is_a_clear_error(monkeypatch):
    monkeypatch.delenv("TUSHARE_TOKEN", raising=False)
    with pytest.raises(ConfigError, match="TUSHARE_TOKEN is not set"):
        default_client()


def test_token_is_never_in_the_error_or_summary(monkeypatch, duck):
    monkeypatch.setenv("TUSHARE_TOKEN", "secret-token-123")
    with Database(duck) as db:
        s = ingest(db, FakeTusharePro(), ["daily_quote"])
        assert "secret-token-123" not in str(s)
        assert "secret-token-123" not in db.scalar("select detail from ops.audit_log")

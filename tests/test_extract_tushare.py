"""tushare extractor on real recorded `daily`/`adj_factor` rows and fakes that follow each API's
documented filter semantics (tests/fake_upstreams.py, tests/fixtures/tushare/PROVENANCE.md)."""
from __future__ import annotations

from datetime import date

import pandas as pd
import pytest
from fake_upstreams import FakeTusharePro

from aquant.config import ConfigError
from aquant.db import Database
from aquant.extract.loader import SchemaError
from aquant.extract.runner import run_ingest
from aquant.extract.tushare import default_client
from aquant.qmt.rules import RuleBook

D = date


def ingest(db, fake, tables, codes=("000001.SZ", "600000.SH"), start=D(2021, 4, 1), end=D(2021, 8, 31)):
    return run_ingest(db, "tushare", tables=tables, codes=list(codes), start=start, end=end, client=fake,
                      progress=False, min_interval=0, sleep=lambda s: None)


def quotes(db, code: str) -> pd.DataFrame:
    df = db.query_df("select * from raw.daily_quote where code = ? order by trade_date", [code])
    df["trade_date"] = pd.to_datetime(df["trade_date"]).dt.date
    return df.set_index("trade_date")


def test_daily_units_are_normalised(any_db):
    with Database(any_db) as db:
        s = ingest(db, FakeTusharePro(), ["daily_quote"], start=D(2016, 6, 6), end=D(2016, 6, 24))
        assert not s.failures
        q = quotes(db, "000001.SZ").loc[D(2016, 6, 15)]
        # real row: vol 378172.41 手, amount 394033.6861 千元
        assert q.volume == pytest.approx(37_817_241)
        assert q.amount == pytest.approx(394_033_686.1)
        # daily_basic: % -> fraction, 万元 -> CNY (float 1,171,000 万股 in the fake)
        assert q.turnover_rate == pytest.approx(37_817_241 / 11_710_000_000, rel=1e-3)
        assert q.total_mv == pytest.approx(10.44 * 14_308_676_000)


# (code, ex-date, previous day, real pre_close = exchange reference price, previous real close,
#  published / reconstructed tushare adj_factor on the previous day and on the ex-date)
EX_DATES = [
    ("000001.SZ", D(2016, 6, 16), D(2016, 6, 15), 8.57, 10.44, 85.994, 104.758),   # 10转2派1.53
    ("000001.SZ", D(2018, 7, 12), D(2018, 7, 11), 8.64, 8.78, 106.308, 108.031),   # 108.031: tushare doc
    ("000001.SZ", D(2024, 6, 14), D(2024, 6, 13), 10.08, 10.80, 116.712, 125.049),  # 10派7.19
    ("600000.SH", D(2017, 5, 25), D(2017, 5, 24), 11.75, 15.47, 9.267, 12.201),    # 10转3派2.0
]


@pytest.mark.parametrize("code, ex, prev, pre_close, prev_close, af_prev, af_ex", EX_DATES,
                         ids=[f"{c}-{e}" for c, e, *_ in EX_DATES])
def test_ex_date_keeps_exchange_reference_price_and_published_factor(duck, code, ex, prev, pre_close, prev_close,
                                                                     af_prev, af_ex):
    with Database(duck) as db:
        assert not ingest(db, FakeTusharePro(), ["daily_quote"], codes=[code], start=prev, end=ex).failures
        q = quotes(db, code)
    assert q.loc[prev, "close"] == prev_close
    assert q.loc[ex, "pre_close"] == pre_close  # not the previous close: the ex-right reference price
    assert q.loc[ex, "pre_close"] != q.loc[prev, "close"]
    assert (q.loc[prev, "adj_factor"], q.loc[ex, "adj_factor"]) == (af_prev, af_ex)
    # the factor steps exactly by previous close / exchange reference price (3 dp rounding)
    assert q.loc[ex, "adj_factor"] / q.loc[prev, "adj_factor"] == pytest.approx(prev_close / pre_close, abs=2e-5)
    # back-adjusted prices continue across the ex-date (within the day's own move)
    hfq_ref = q.loc[ex, "pre_close"] * q.loc[ex, "adj_factor"]
    assert hfq_ref == pytest.approx(q.loc[prev, "close"] * q.loc[prev, "adj_factor"], rel=1e-3)


def test_ex_date_limit_prices_come_from_the_reference_price(duck):
    """Main-board ±10 % of the exchange reference price, rounded to 0.01 (hand-computed here):
    600000 closed limit-up at 12.93 on 2017-05-25, a +10.04 % day that a pre_close of the raw
    previous close (15.47) would call −16.4 %."""
    book = RuleBook()
    with Database(duck) as db:
        ingest(db, FakeTusharePro(), ["daily_quote"], codes=["600000.SH"], start=D(2017, 5, 15), end=D(2017, 6, 2))
        ingest(db, FakeTusharePro(), ["daily_quote"], codes=["000001.SZ"], start=D(2016, 6, 6), end=D(2024, 6, 28))
        pf, pa = quotes(db, "600000.SH"), quotes(db, "000001.SZ")
    day = D(2017, 5, 25)
    assert book.limit_prices(pf.loc[day, "pre_close"], "main", False, day) == (10.58, 12.93)
    assert pf.loc[day, "close"] == 12.93
    assert book.limit_prices(pa.loc[D(2016, 6, 16), "pre_close"], "main", False, D(2016, 6, 16)) == (7.71, 9.43)
    assert book.limit_prices(pa.loc[D(2024, 6, 14), "pre_close"], "main", False, D(2024, 6, 14)) == (9.07, 11.09)


def test_q4_report_announced_inside_a_window_that_starts_after_its_period_is_loaded(duck):
    """fina_indicator selects by report period, income by announcement date: a window of
    announcement dates from 2024-01-01 must still load the 2023 annual report (announced
    2024-03-15, real date and EPS) — the old code asked fina_indicator for periods >= 2024-01-01."""
    fake = FakeTusharePro()
    with Database(duck) as db:
        s = ingest(db, fake, ["finance_data"], codes=["000001.SZ"], start=D(2024, 1, 1), end=D(2024, 6, 30))
        assert not s.failures and s.status == "ok"
        f = db.query_df("select * from raw.finance_data where code = '000001.SZ' order by report_period")
    f["report_period"] = pd.to_datetime(f["report_period"]).dt.date
    f = f.set_index("report_period")
    assert list(f.index) == [D(2023, 12, 31), D(2024, 3, 31)]  # announced in the window; Q3 2023 was not
    annual = f.loc[D(2023, 12, 31)]
    assert pd.Timestamp(annual.ann_date).date() == D(2024, 3, 15)
    assert (annual.eps, annual.bps, annual.revenue, annual.net_profit) == (2.25, 20.74, 1.65e11, 4.65e10)
    assert annual.roe == pytest.approx(0.114)
    # each API was asked in its own semantics: periods reach back a year, announcements too
    fi = [kw for name, kw in fake.calls if name == "fina_indicator"]
    assert fi and min(kw["start_date"] for kw in fi) <= "20230101"


def test_incremental_run_loads_a_restatement_of_an_old_period(duck):
    """After the Q1 2024 report the watermark is 2024-04-20; a correction of the 2023 annual
    report announced on 2024-08-30 is for a period long before that window."""
    fake = FakeTusharePro()
    with Database(duck) as db:
        ingest(db, fake, ["finance_data"], codes=["000001.SZ"], start=D(2024, 1, 1), end=D(2024, 6, 30))
        fake.fina.append(("000001.SZ", "20231231", "20240830", 2.26, 20.75, 11.5, 2.2, 1.66e11, 4.66e10))
        s = ingest(db, fake, ["finance_data"], codes=["000001.SZ"], start=D(2024, 1, 1), end=D(2024, 9, 30))
        assert not s.failures
        row = db.query_df("select * from raw.finance_data where report_period = '2023-12-31'").iloc[0]
        old = db.query_df("select * from raw.finance_data_versions where report_period = '2023-12-31'")
    assert pd.Timestamp(row.ann_date).date() == D(2024, 8, 30) and row.eps == 2.26 and row.revenue == 1.66e11
    assert len(old) == 1 and old.iloc[0].eps == 2.25


def test_fina_indicator_is_asked_in_period_slices_under_its_100_row_cap(duck):
    fake = FakeTusharePro()
    with Database(duck) as db:
        s = ingest(db, fake, ["finance_data"], codes=["000001.SZ"], start=D(2010, 1, 1), end=D(2024, 6, 30))
        assert not s.failures
        assert db.scalar("select count(*) from raw.finance_data") == len(fake.fina) - 4  # all of 000001's
    spans = [(kw["start_date"], kw["end_date"]) for name, kw in fake.calls if name == "fina_indicator"]
    assert len(spans) >= 3 and spans[0][0] == "20081127" and spans[-1][1] == "20240630"
    for (_, hi), (lo, _) in zip(spans, spans[1:]):  # contiguous, no gap, no overlap
        assert (pd.Timestamp(lo) - pd.Timestamp(hi)).days == 1

    class Capped(FakeTusharePro):
        def fina_indicator(self, **kw):
            return pd.concat([super().fina_indicator(**kw)] * 100).head(100)

    with Database(duck) as db:
        s = ingest(db, Capped(), ["finance_data"], codes=["000001.SZ"], start=D(2024, 1, 1), end=D(2024, 6, 30))
    assert s.failures and "per-call cap" in s.failures[0].error


def test_a_report_income_has_but_fina_indicator_lacks_fails_the_unit_not_silently(duck):
    class Lagging(FakeTusharePro):
        def fina_indicator(self, **kw):
            df = super().fina_indicator(**kw)
            return df[df["end_date"] != "20231231"]

    with Database(duck) as db:
        s = ingest(db, Lagging(), ["finance_data"], codes=["000001.SZ"], start=D(2024, 1, 1), end=D(2024, 6, 30))
    assert s.status == "failed"  # its only unit failed: nothing usable came in (runner: failed, exit 1)
    assert s.failures and "2023-12-31" in s.failures[0].error


def test_dividend_implementation_announced_after_the_plan_is_picked_up_incrementally(duck):
    """dividend has no date filter and ann_date is the plan's (预案公告日): the implemented plan
    (ex-date 2024-06-14, announced 2024-06-06) must replace the plan loaded in March."""
    fake = FakeTusharePro()
    with Database(duck) as db:
        ingest(db, fake, ["finance_data", "dividend"], codes=["000001.SZ"], start=D(2024, 1, 1), end=D(2024, 3, 31))
        d = db.query_df("select * from raw.dividend where report_period = '2023-12-31'").iloc[0]
        assert pd.isna(d.ex_date) and d.cash_div_per_share == 0.719
        ingest(db, fake, ["dividend"], codes=["000001.SZ"], start=D(2024, 1, 1), end=D(2024, 6, 30))
        d = db.query_df("select * from raw.dividend where report_period = '2023-12-31'").iloc[0]
    assert pd.Timestamp(d.ex_date).date() == D(2024, 6, 14)
    assert pd.Timestamp(d.ann_date).date() == D(2024, 3, 15)  # still the plan's announcement
    assert d.payout_ratio == pytest.approx(0.719 / 2.25, rel=1e-5)


def test_reference_flows_and_chips(duck):
    with Database(duck) as db:
        s = ingest(db, FakeTusharePro(), ["trade_calendar", "stock_info", "funds_flow", "chip_distribution"])
        assert not s.failures
        assert db.scalar("select count(*) from raw.trade_calendar where is_open and trade_date "
                         "between '2021-04-01' and '2021-08-31'") == 104  # = real bars in the window
        info = db.query_df("select * from raw.stock_info").set_index("code")
        assert info.loc["000001.SZ", "industry_l2"] == "股份制银行Ⅱ" and info.loc["600000.SH", "industry_l1"] == "银行"
        assert pd.Timestamp(info.loc["600087.SH", "delist_date"]).date() == D(2014, 6, 5)
        ff = db.query_df("select * from raw.funds_flow where code = '000001.SZ' order by trade_date").iloc[0]
        assert ff.main_net_inflow == pytest.approx(1500 * 1e4)  # (3000 + 500 - 1000 - 1000) 万元
        assert ff.north_hold_shares == 1.0e8 and ff.margin_balance == 4.0e9 and ff.short_balance == 5.0e6
        c = db.query_df("select * from raw.chip_distribution order by trade_date").iloc[0]
        assert c.profit_ratio == 0.625 and c.concentration_90 == pytest.approx((1.1 - 0.9) / (1.1 + 0.9), abs=1e-3)


def test_renamed_column_names_function_and_expected_columns(duck):
    class Renamed(FakeTusharePro):
        def daily(self, **kw):
            return super().daily(**kw).rename(columns={"vol": "volume"})

    with Database(duck) as db, \
            pytest.raises(SchemaError, match=r"tushare\.daily: expected columns .*missing \['vol'\]"):
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


def test_cli_ingest_from_tushare_then_dbt_build_is_green(any_db, tmp_path, monkeypatch):
    """`aquant ingest --source tushare` end to end on the recorded market (fake client in place of
    tushare.pro_api), then the dbt build on that data: one small build per target."""
    from click.testing import CliRunner

    from aquant.cli import main
    from aquant.dbt_runner import run_dbt

    monkeypatch.setattr("aquant.extract.tushare.default_client", lambda *a, **k: FakeTusharePro())
    for k, v in any_db.dbt_env().items():
        monkeypatch.setenv(k, v)
    out = CliRunner().invoke(main, ["ingest", "--source", "tushare", "--start", "2021-04-01", "--end", "2021-08-31",
                                    "--codes", "000001.SZ,600000.SH", "--quiet"])
    assert out.exit_code == 0, out.output
    assert "status=ok" in out.output and "failures=0" in out.output
    with Database(any_db) as db:
        n = {t: db.scalar(f"select count(*) from raw.{t}") for t in
             ("daily_quote", "finance_data", "dividend", "funds_flow", "chip_distribution")}
        assert n["daily_quote"] == 2 * 104 and n["finance_data"] == 3 and n["dividend"] == 1, n
    res = run_dbt(any_db, ["build"], quiet=True, target_path=str(tmp_path / "target"))
    assert res.returncode == 0
    with Database(any_db) as db:
        q = db.query_df("select * from staging.stg_daily_quote_base where code = '000001.SZ' "
                        "and trade_date in ('2021-05-13', '2021-05-14') order by trade_date")
        assert db.scalar("select count(*) from staging.quarantine where row_date between '2021-04-01' "
                         "and '2021-08-31'") == 0  # the ex-dates are clean: pre_close is the reference
    # real 2021-05-14 ex-date (10派1.8): close 23.07 the day before, exchange reference 22.89
    assert list(q["close"])[0] == 23.07 and list(q["pre_close"])[1] == 22.89


class _CappedDaily(FakeTusharePro):
    """The recorded fake, but `daily` answers at most 6,000 rows per call as tushare's does
    (doc_id=27: 每次调用最多 6000 条), over a long synthetic history (8,000 weekdays from 1991)."""

    DAYS = pd.bdate_range("1991-04-03", periods=8000)

    def daily(self, ts_code="", trade_date="", start_date="", end_date="", **_):
        days = [d for d in self.DAYS if start_date <= d.strftime("%Y%m%d") <= end_date][:6000]
        return pd.DataFrame({"ts_code": ts_code, "trade_date": [d.strftime("%Y%m%d") for d in days], "open": 10.0,
                             "high": 10.5, "low": 9.5, "close": 10.0, "pre_close": 10.0, "vol": 100.0,
                             "amount": 100.0})


def test_long_daily_history_is_asked_in_slices_not_cut_at_the_cap(duck):
    with Database(duck) as db:
        ingest(db, _CappedDaily(), ["daily_quote"], codes=("000001.SZ",), start=D(1991, 4, 3), end=D(2021, 12, 31))
        n = db.scalar("select count(*) from raw.daily_quote where code = '000001.SZ'")
    assert n == sum(1 for d in _CappedDaily.DAYS if d <= pd.Timestamp("2021-12-31"))

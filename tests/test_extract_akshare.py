"""akshare extractor on the REAL akshare 1.19.5 functions: requests' transport serves recorded
wire payloads (tests/akshare_wire.py), so akshare's own parsing and renames run in every test.
Expected values come from other real sources (tushare `daily` pre_close, the exchanges' rules),
copied under tests/fixtures/akshare/ with PROVENANCE.md."""
from __future__ import annotations

import csv
from datetime import date
from decimal import Decimal
from pathlib import Path

import pandas as pd
import pytest

from aquant.db import Database
from aquant.extract.akshare import AkshareExtractor
from aquant.extract.jobs import Context
from aquant.extract.normalize import a_share_stock_code, ex_reference_price, to_ts_code
from aquant.extract.runner import run_ingest
from aquant.qmt.rules import RuleBook

import akshare_wire

FIX = Path(__file__).parent / "fixtures" / "akshare"


def _rows(name: str) -> list[dict[str, str]]:
    with open(FIX / name, encoding="utf-8") as f:
        return list(csv.DictReader(f))


def ingest(db, tables, codes, start, end, **kw):
    import akshare

    return run_ingest(db, "akshare", tables=tables, codes=codes, start=start, end=end, client=akshare,
                      progress=False, min_interval=0, sleep=lambda s: None, **kw)


@pytest.fixture
def wire(monkeypatch):
    return akshare_wire.install(monkeypatch)


# The recorded bars are windows years apart; each is ingested into its own warehouse (a stored
# history with a years-long hole would read as a suspension across every ex-date in between).
WINDOWS = [(date(2016, 4, 1), date(2016, 6, 30)), (date(2017, 5, 1), date(2017, 6, 30)),
           (date(2024, 6, 1), date(2024, 6, 30))]


def quotes(tmp_path) -> pd.DataFrame:
    from conftest import duck_settings

    out = []
    for i, (lo, hi) in enumerate(WINDOWS):
        with Database(duck_settings(tmp_path / f"w{i}.duckdb")) as db:
            s = ingest(db, ["daily_quote"], ["000001", "600000"], lo, hi)
            assert not s.failures
            out.append(db.query_df("select * from raw.daily_quote"))
    q = pd.concat(out, ignore_index=True)
    q["d"] = [pd.Timestamp(x).strftime("%Y%m%d") for x in q.trade_date]
    return q.sort_values(["code", "d"])


def _quotes(q, code):
    return q[q.code == code].set_index("d")


def test_codes_get_exchange_suffix_by_prefix():
    assert [to_ts_code(c) for c in ["000001", "600000", "300750", "688981", "430047", "830799", "920001", "1"]] == \
        ["000001.SZ", "600000.SH", "300750.SZ", "688981.SH", "430047.BJ", "830799.BJ", "920001.BJ", "000001.SZ"]


def test_non_stock_codes_are_recognised():
    assert [a_share_stock_code(c) for c in ["510050", "159915", "161005", "184801", "200002", "900901", "113050",
                                            "689009", "301548", "nan"]] == \
        [None, None, None, None, None, None, None, "689009.SH", "301548.SZ", None]


def test_pre_close_is_the_exchange_reference_price_every_day(tmp_path, wire):
    """000001 2016-06-16 (10转2派1.53) and 2024-06-14 (派7.19); 600000 2016-06-23 (10送1派5.15) and
    2017-05-25 (10转3派2.0): pre_close equals tushare's published daily.pre_close on every day."""
    allq = quotes(tmp_path)
    for code, ts in (("000001.SZ", "tushare_daily_000001.csv"), ("600000.SH", "tushare_daily_600000.csv")):
        q = _quotes(allq, code)
        want = {r["trade_date"]: Decimal(r["pre_close"]) for r in _rows(ts)}
        assert set(q.index) == set(want)
        got = {d: Decimal(repr(v)).quantize(Decimal("0.01")) for d, v in q.pre_close.items()}
        assert {d: v for d, v in got.items() if v != want[d]} == {}


def test_ex_reference_price_formula_is_exact():
    assert ex_reference_price(10.44, Decimal("0.153"), Decimal("0.2")) == Decimal("8.57")   # 000001 2016-06-16
    assert ex_reference_price(15.47, Decimal("0.2"), Decimal("0.3")) == Decimal("11.75")    # 600000 2017-05-25
    assert ex_reference_price("10.005", 0, 0) == Decimal("10.01")                            # half-up, not banker's


def test_adj_factor_is_sinas_published_factor_not_a_price_ratio(tmp_path, wire):
    """adj_factor is the factor in effect per Sina's table (fixture), constant between ex-dates, and
    each step matches the exchange's reference price (tushare's step, prev_close/pre_close) to 0.1 %."""
    sina = {r["date"]: float(r["hfq_factor"]) for r in _rows("sina_hfq_factor_sz000001_DERIVED.csv")}
    q = _quotes(quotes(tmp_path), "000001.SZ")
    assert q.loc["20160615", "adj_factor"] == sina["2015-04-13"]
    assert (q.loc["20160616":"20160622", "adj_factor"] == sina["2016-06-16"]).all()
    assert (q.loc["20240614":"20240621", "adj_factor"] == sina["2024-06-14"]).all()
    assert q.loc["20240613", "adj_factor"] == sina["2023-06-14"]
    for prev, ex in (("20160615", "20160616"), ("20240613", "20240614")):
        step = q.loc[ex, "adj_factor"] / q.loc[prev, "adj_factor"]
        assert step == pytest.approx(q.loc[prev, "close"] / q.loc[ex, "pre_close"], rel=1e-3)


def test_sina_factor_wire_format_parses_to_the_published_values(wire):
    """The real sz000002 factor table (akshare docs) through akshare's own parser."""
    import akshare

    f = akshare.stock_zh_a_daily(symbol="sz000002", adjust="hfq-factor")
    assert str(f.loc[0, "date"].date()) == "2023-08-25" and float(f.loc[0, "hfq_factor"]) == 169.1453113717332


@pytest.mark.parametrize("code,day,board,want", [
    ("000001.SZ", "20160616", "main", (7.71, 9.43)),   # pre_close 8.57
    ("600000.SH", "20170525", "main", (10.58, 12.93)),  # pre_close 11.75: the ex-date close 12.93 is limit-up
    ("600000.SH", "20160623", "main", (14.22, 17.38)),  # pre_close 15.80
])
def test_limit_prices_on_ex_dates_follow_the_reference_price(tmp_path, wire, code, day, board, want):
    pre = _quotes(quotes(tmp_path), code).loc[day, "pre_close"]
    assert RuleBook().limit_prices(pre, board, False, pd.Timestamp(day).date()) == want


def test_margin_list_with_etfs_loads_the_stocks_of_that_trade_date(wire):
    ext = AkshareExtractor(client=__import__("akshare"))
    ctx = Context(date(2023, 9, 22), date(2023, 9, 22), lambda sql, p: pd.DataFrame(columns=["code", "close"]))
    [fr] = ext.margin(date(2023, 9, 22), ctx)
    df = fr.df.set_index("code")
    assert sorted(df.index) == sorted(["688799.SH", "688800.SH", "688819.SH", "688981.SH", "689009.SH",
                                       "000001.SZ", "000002.SZ", "000006.SZ", "000008.SZ", "000009.SZ",
                                       "301528.SZ", "301529.SZ", "301533.SZ", "301548.SZ", "301550.SZ"])
    assert (df.trade_date == date(2023, 9, 22)).all()
    # SZSE: 融资余额 = 融资融券余额 - 融券余额 (4,365,763,792 - 20,098,128); 融券余额 as published
    assert df.loc["000001.SZ", "margin_balance"] == 4365763792 - 20098128
    assert df.loc["000001.SZ", "short_balance"] == 20098128


def test_empty_report_period_is_empty_and_settles(duck, wire):
    """stock_fhps_em / stock_yjbb_em raise TypeError on `result: null` in akshare 1.19.5."""
    with Database(duck) as db:
        s = ingest(db, ["finance_data", "dividend"], None, date(2015, 3, 1), date(2015, 3, 31))
        assert not s.failures and s.units_done == 2
        assert db.scalar("select count(*) from raw.dividend") == 0
        # long past its settle_days: settled, a later run does not ask again
        again = ingest(db, ["finance_data", "dividend"], None, date(2015, 3, 1), date(2015, 3, 31))
        assert again.units_skipped == 2 and again.units_done == 0


def test_stock_info_has_listing_dates_and_no_b_shares(duck, wire):
    with Database(duck) as db:
        s = ingest(db, ["stock_info"], None, date(2016, 6, 1), date(2016, 6, 30))
        assert not s.failures
        info = db.query_df("select * from raw.stock_info").set_index("code")
        margin_stocks = {a_share_stock_code(r["标的证券代码"]) for r in _rows("margin_sse_20230922_docs.csv")} | \
            {a_share_stock_code(r["证券代码"]) for r in _rows("margin_szse_20230925_docs.csv")}
        assert set(info.index) == {"000001.SZ", "000002.SZ", "000003.SZ", "430047.BJ", "600000.SH", "600087.SH",
                                   "688981.SH"} | (margin_stocks - {None})  # no 900956 / 200003 / 900901 (B shares)
        assert pd.isna(info.loc["600000.SH", "list_date"])  # blank upstream (the hazard route)
        assert pd.Timestamp(info.loc["000001.SZ", "list_date"]).date() == date(1991, 4, 3)
        assert pd.isna(info.loc["000002.SZ", "list_date"])  # empty upstream: kept, staging fills it
        assert pd.Timestamp(info.loc["600087.SH", "delist_date"]).date() == date(2014, 6, 5)
        assert info.loc["000001.SZ", "industry_l1"] == "银行" and info.loc["430047.BJ", "board"] == "bse"


def test_cli_ingest_akshare_then_build_is_green(any_db, wire, monkeypatch):
    """`aquant ingest --source akshare` (every default job, real akshare on recorded payloads),
    then `aquant build` on that data, on DuckDB and PostgreSQL. 000002 comes without a listing
    date and without bars: the build must still pass (staging default, never-null buy_eligible)."""
    from click.testing import CliRunner

    from aquant.cli import main

    for k, v in any_db.dbt_env().items():
        monkeypatch.setenv(k, v)
    monkeypatch.setenv("AQUANT_MIN_INTERVAL", "0")
    out = CliRunner().invoke(main, ["ingest", "--source", "akshare", "--start", "2016-04-01", "--end", "2016-06-30",
                                    "--codes", "000001.SZ,600000.SH,000002.SZ", "--quiet"])
    assert out.exit_code == 0, out.output
    # no failures: the Eastmoney-board industry flow is not fetched any more (issue 12 item 4: the
    # industry flow is summed from stock flows over Shenwan members in dbt)
    import json

    with Database(any_db) as db:
        detail = json.loads(db.scalar("select detail from ops.audit_log where action = 'ingest'"))
    assert detail["failed_units"] == [] and detail["status"] == "ok", out.output
    with Database(any_db) as db:
        recorded = sum(r["日期"].startswith("2016-0") for c in ("000001", "600000")
                       for r in _rows(f"eastmoney_kline_raw_{c}.csv"))
        assert db.scalar("select count(*) from raw.daily_quote") == recorded
        assert db.scalar("select pre_close from raw.daily_quote where code = '600000.SH' "
                         "and trade_date = '2016-06-23'") == 15.8
        assert db.scalar("select count(*) from raw.funds_flow where margin_balance is not null") > 0
        assert db.scalar("select count(*) from raw.chip_distribution") > 0
    out = CliRunner().invoke(main, ["build", "--", "--threads", "1"])
    assert out.exit_code == 0, out.output
    with Database(any_db) as db:
        # 600000 has bars but no listing date upstream: its first bar stands in, so it is not eligible
        assert str(db.scalar("select list_date from staging.stg_stock_info where code = '600000.SH'")) == "2016-04-11"
        assert db.scalar("select count(*) from signals.factor_scores where code = '600000.SH'") > 0
        assert db.scalar("select count(*) from signals.factor_scores where buy_eligible is null") == 0


def test_volume_unit_is_read_from_the_data():
    """Eastmoney 成交量 is 手 for main-board stocks (real 000001 2016-06-15: 378,172 手, 394,033,680
    元, price 10.32..10.48); a bar quoted in shares (as Tencent quotes STAR) is recognised, not x100."""
    from aquant.extract.akshare import volume_unit

    lots = pd.DataFrame({"low": [10.32], "high": [10.48], "amount": [394033680.0]})
    assert volume_unit(lots, pd.Series([378172.0]), "t") == 100
    shares = pd.DataFrame({"low": [40.1], "high": [41.9], "amount": [1_000_000 * 41.0]})
    assert volume_unit(shares, pd.Series([1_000_000.0]), "t") == 1


def test_renamed_upstream_column_stops_the_run_and_names_the_function(duck, wire):
    import types

    import akshare

    def renamed(**kw):
        return akshare.stock_zh_a_hist(**kw).rename(columns={"成交量": "成交量(手)"})

    client = types.SimpleNamespace(**{n: getattr(akshare, n) for n in dir(akshare) if not n.startswith("_")})
    client.stock_zh_a_hist = renamed
    from aquant.extract.loader import SchemaError

    with Database(duck) as db:
        with pytest.raises(SchemaError, match=r"akshare\.stock_zh_a_hist: expected columns .*missing \['成交量'\]"):
            run_ingest(db, "akshare", tables=["daily_quote"], codes=["000001"], start=date(2016, 6, 1),
                       end=date(2016, 6, 30), client=client, progress=False, min_interval=0, sleep=lambda s: None)
        assert db.scalar("select count(*) from raw.daily_quote") == 0


def test_dividend_cross_section_per_ten_shares_becomes_per_share(duck, wire):
    """Real stock_fhps_em(20231231) rows: 现金分红比例 is CNY per 10 shares, 送转 shares per 10."""
    want = {a_share_stock_code(r["代码"]): r for r in _rows("stock_fhps_em_20231231_head20.csv")}
    with Database(duck) as db:
        s = ingest(db, ["dividend"], None, date(2023, 12, 1), date(2024, 1, 10))
        assert not s.failures
        d = db.query_df("select * from raw.dividend").set_index("code")
    assert set(d.index) <= set(want) and len(d) >= 15
    r = want["300708.SZ"]  # 聚灿光电 10派1.6, EPS 0.21, ex-date 2024-02-28
    assert d.loc["300708.SZ", "cash_div_per_share"] == pytest.approx(float(r["现金分红-现金分红比例"]) / 10)
    assert d.loc["300708.SZ", "payout_ratio"] == pytest.approx(0.16 / 0.21, rel=1e-5)
    assert pd.Timestamp(d.loc["300708.SZ", "ex_date"]).date() == date(2024, 2, 28)
    bonus = {c: float(v["送转股份-送转总比例"]) / 10 for c, v in want.items() if v["送转股份-送转总比例"]}
    for c, b in bonus.items():
        assert d.loc[c, "bonus_ratio"] == pytest.approx(b)


def test_reference_price_when_suspended_over_the_ex_date_and_factor_fallback():
    """600000 2017-05-25 (10转3派2.0, prev close 15.47, published pre_close 11.75): the first bar
    after a suspension that covers the ex-date gets the reference price; with no dividend record
    the factor step (Sina's, derived fixture) rounded to the cent gives the same price."""
    from aquant.extract.akshare import reference_pre_close

    f = sorted((date.fromisoformat(r["date"]), float(r["hfq_factor"]))
               for r in _rows("sina_hfq_factor_sh600000_DERIVED.csv"))
    ev = {date(2017, 5, 25): (Decimal("0.2"), Decimal("0.3"))}
    prev = Decimal("15.47")
    assert reference_pre_close("600000.SH", date(2017, 5, 24), date(2017, 5, 26), prev, ev, f) == Decimal("11.75")
    assert reference_pre_close("600000.SH", date(2017, 5, 24), date(2017, 5, 25), prev, {}, f) == Decimal("11.75")
    assert reference_pre_close("600000.SH", date(2017, 5, 25), date(2017, 5, 26), Decimal("12.93"), ev, f) == \
        Decimal("12.93")


def test_minute_bars_are_utc_and_in_shares_whatever_the_board(duck, wire):
    with Database(duck) as db:
        s = ingest(db, ["minute_quote"], ["000001", "688981"], date(2024, 1, 11), date(2024, 1, 11))
        assert not s.failures
        m = db.query_df("select * from raw.minute_quote order by code, ts")
    main = m[m.code == "000001.SZ"]
    assert pd.Timestamp(main.ts.iloc[0]) == pd.Timestamp("2024-01-11 01:31:00")  # 09:31 CST
    assert main.volume.tolist() == [12_000, 8_000]      # 手 -> shares
    star = m[m.code == "688981.SH"]
    assert star.volume.tolist() == [120_000, 80_000]    # already shares: not x100

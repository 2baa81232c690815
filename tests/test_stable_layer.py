"""Stable layer (稳定层): point-in-time fundamentals, the four alert rules and alert decisions.

One hand-made market (a few stocks, each built to exercise one case) is loaded through the real
loader into a fresh DuckDB file and a fresh PostgreSQL database; dbt builds `+stable_alerts` once
per target (module-scoped fixtures) and the tests read the result.

Cases (codes are watch-list stocks unless noted):
  000002.SZ  payout 5 %, 4 %, 3 % in 2020-2022            -> one payout_low alert (2nd period), not a 2nd
  001002.SZ  payout 30 %, 5 %, 35 %                      -> quiet (one bad period)
  002001.SZ  like 000002.SZ but on the offense watch list -> alert only with stable_alert_all_stocks
  600003.SH  net profit YoY -40 %, -50 % (ann weeks after period end), -60 %, +10 %, -35 %, -40 %
                                                          -> two earnings_drop episodes
  601005.SH  YoY -40 %, +10 %, -50 %; then -40 %, (missing Q2), -50 % -> quiet
  603001.SH  Q2 first reported -10 %, restated to -45 % three weeks later -> alert on the restatement day
  870001.BJ  eps 0.15/0.30/0.45/0.60 (2022), 0.00/0.05 (2023), bps 10 -> TTM arithmetic, roe_floor
  601001.SH  PE flat 10, 14 for 40 days from day 300, 15 from day 420 -> two valuation_spike alerts
"""
from __future__ import annotations

import hashlib
from datetime import date, timedelta
from pathlib import Path

import pandas as pd
import pytest

from aquant.alerts import AlertError, open_alerts, record_decision
from aquant.db import Database
from aquant.dbt_runner import run_dbt
from aquant.extract.loader import ensure_raw, load_frame

from conftest import create_pg_database, drop_pg_database, duck_settings, pg_settings

START, END = date(2022, 1, 3), date(2023, 12, 29)
DAYS = [d for d in (START + timedelta(n) for n in range((END - START).days + 1)) if d.weekday() < 5]
WATCH = ["000002.SZ", "001002.SZ", "600003.SH", "601005.SH", "603001.SH", "870001.BJ", "001001.SZ",
         "603003.SH", "600001.SH", "601001.SH", "300001.SZ", "000001.SZ", "002001.SZ", "605003.SH"]
SPIKE1, SPIKE2 = DAYS[300], DAYS[420]
# Pinned so a change of the project's defaults does not silently change what these tests prove.
VARS = {"stable_payout_min": 0.10, "stable_np_yoy_drop": 0.30, "stable_roe_floor": 0.05,
        "stable_valuation_window": 250, "stable_valuation_high_pct": 0.95, "stable_valuation_min_history": 120,
        "stable_valuation_rise_pct": 0.30, "stable_valuation_rise_days": 20, "stable_valuation_rearm_days": 60}
BUILD = ["build", "--select", "+stable_alerts", "--indirect-selection", "cautious"]


def _fin(code: str, period: str, ann: str, yoy: float | None = 0.05, roe: float | None = None, eps=None,
         revenue=None, net_profit=None, bps=None) -> dict:
    q = {3: 1, 6: 2, 9: 3, 12: 4}[int(period[5:7])]
    return {"code": code, "report_period": period, "ann_date": ann, "net_profit_yoy": yoy,
            "roe": 0.05 * q if roe is None else roe, "eps": eps, "revenue": revenue,
            "net_profit": net_profit if net_profit is not None else 1e7 * q, "bps": bps}


def _div(code: str, year: int, ann: str, payout: float) -> dict:
    return {"code": code, "report_period": f"{year}-12-31", "ann_date": ann,
            "ex_date": (pd.Timestamp(ann) + pd.Timedelta(days=45)).date(), "cash_div_per_share": 0.1,
            "bonus_ratio": 0.0, "payout_ratio": payout}


def _roe_stock() -> list[dict]:
    """870001.BJ: shares 1e8, bps 10; YTD eps per quarter, revenue YTD in CNY."""
    rows = []
    for period, ann, eps, rev in [("2022-03-31", "2022-04-20", 0.15, 1e8), ("2022-06-30", "2022-08-19", 0.30, 2e8),
                                  ("2022-09-30", "2022-10-20", 0.45, 3e8), ("2022-12-31", "2023-03-20", 0.60, 4e8),
                                  ("2023-03-31", "2023-04-20", 0.00, 0.9e8), ("2023-06-30", "2023-08-18", 0.05, 1.7e8)]:
        rows.append(_fin("870001.BJ", period, ann, roe=eps / 10, eps=eps, revenue=rev, net_profit=eps * 1e8, bps=10.0))
    return rows


def market() -> dict[str, pd.DataFrame]:
    """The hand-made raw tables; `finance_restated` is loaded after `finance_data`."""
    all_days = pd.date_range(date(2022, 1, 1), date(2023, 12, 31), freq="D")
    calendar = pd.DataFrame({"trade_date": all_days.date, "is_open": all_days.day_of_week < 5})
    info = pd.DataFrame({"code": WATCH, "name": [f"S{i}" for i in range(len(WATCH))],
                         "exchange": [c[-2:] for c in WATCH],
                         "board": ["bse" if c.endswith(".BJ") else "chinext" if c.startswith("300") else "main"
                                   for c in WATCH],
                         "industry_l1": "银行", "industry_l2": "股份制银行", "list_date": date(2010, 1, 4),
                         "is_st": False, "total_shares": 1e8, "float_shares": 1e8})
    quotes = []
    for code in ["000002.SZ", "001002.SZ", "002001.SZ", "600003.SH", "601005.SH", "603001.SH", "870001.BJ",
                 "601001.SH"]:
        for i, d in enumerate(DAYS):
            pe = 10.0
            if code == "601001.SH":
                pe = 14.0 if 300 <= i < 340 else 15.0 if i >= 420 else 10.0
            quotes.append({"code": code, "trade_date": d, "open": 10.0, "high": 10.0, "low": 10.0, "close": 10.0,
                           "pre_close": 10.0, "volume": 1e6, "amount": 1e7, "turnover_rate": 0.01,
                           "adj_factor": 1.0, "pe_ttm": pe, "pb": 1.0})
    fin = [
        # 600003.SH: Q1 announced on a Saturday; Q2 two months after its period ended.
        _fin("600003.SH", "2022-03-31", "2022-04-23", -0.40), _fin("600003.SH", "2022-06-30", "2022-08-26", -0.50),
        _fin("600003.SH", "2022-09-30", "2022-10-28", -0.60), _fin("600003.SH", "2022-12-31", "2023-03-30", 0.10),
        _fin("600003.SH", "2023-03-31", "2023-04-26", -0.35), _fin("600003.SH", "2023-06-30", "2023-08-25", -0.40),
        # 601005.SH: one bad quarter at a time; then a missing Q2 between two bad quarters.
        _fin("601005.SH", "2022-03-31", "2022-04-20", -0.40), _fin("601005.SH", "2022-06-30", "2022-08-19", 0.10),
        _fin("601005.SH", "2022-09-30", "2022-10-20", -0.50), _fin("601005.SH", "2023-03-31", "2023-04-20", -0.40),
        _fin("601005.SH", "2023-09-30", "2023-10-20", -0.50),
        # 603001.SH: Q2 first looks fine ...
        _fin("603001.SH", "2022-03-31", "2022-04-25", -0.40), _fin("603001.SH", "2022-06-30", "2022-08-22", -0.10),
        *_roe_stock(),
    ]
    restated = [_fin("603001.SH", "2022-06-30", "2022-09-13", -0.45, net_profit=1.5e7)]  # ... then is restated
    div = [_div("000002.SZ", 2020, "2021-03-22", 0.05), _div("000002.SZ", 2021, "2022-03-21", 0.04),
           _div("000002.SZ", 2022, "2023-03-20", 0.03),
           _div("001002.SZ", 2020, "2021-03-22", 0.30), _div("001002.SZ", 2021, "2022-03-21", 0.05),
           _div("001002.SZ", 2022, "2023-03-20", 0.35),
           _div("002001.SZ", 2020, "2021-03-22", 0.05), _div("002001.SZ", 2021, "2022-03-21", 0.04)]
    return {"trade_calendar": calendar, "stock_info": info, "daily_quote": pd.DataFrame(quotes),
            "finance_data": pd.DataFrame(fin), "finance_restated": pd.DataFrame(restated),
            "dividend": pd.DataFrame(div)}


def load_market(db: Database) -> None:
    ensure_raw(db)
    for name, df in market().items():
        load_frame(db, "finance_data" if name == "finance_restated" else name, df, "test")


def build(settings, target_path: Path, vars_: dict) -> None:
    res = run_dbt(settings, BUILD, vars_=vars_, quiet=True, target_path=str(target_path))
    assert res.returncode == 0, "dbt build +stable_alerts failed; see the output above"


@pytest.fixture(scope="module")
def duck_built(tmp_path_factory):
    """DuckDB, default watch-list mode, built once."""
    tmp = tmp_path_factory.mktemp("stable_duck")
    settings = duck_settings(tmp / "warehouse.duckdb")
    with Database(settings) as db:
        load_market(db)
    build(settings, tmp / "target", VARS)
    return settings, tmp


@pytest.fixture(scope="module")
def pg_built(tmp_path_factory):
    """PostgreSQL, stable_alert_all_stocks on, built once."""
    tmp = tmp_path_factory.mktemp("stable_pg")
    name = create_pg_database("aquant_stable")
    settings = pg_settings(name)
    try:
        with Database(settings) as db:
            load_market(db)
        build(settings, tmp / "target", {**VARS, "stable_alert_all_stocks": True})
        yield settings
    finally:
        drop_pg_database(name)


def _alerts(settings) -> list[tuple]:
    with Database(settings) as db:
        rows = db.query("select code, rule, cast(trade_date as varchar) from signals.stable_alerts "
                        "order by code, rule, trade_date")
    return [tuple(r) for r in rows]


def _pit(settings, code: str, day: str) -> dict:
    with Database(settings) as db:
        df = db.query_df("select * from factors.fundamentals_pit where code = ? and trade_date = ?",
                         [code, date.fromisoformat(day)])
    assert len(df) == 1, f"expected one fundamentals_pit row for {code} on {day}, got {len(df)}"
    # DuckDB frames carry Timestamps, PostgreSQL dates: compare dates on both.
    return {k: v.date() if isinstance(v, pd.Timestamp) else v for k, v in df.iloc[0].to_dict().items()}


EXPECTED = [
    ("000002.SZ", "payout_low", "2022-03-21"),
    ("600003.SH", "earnings_drop", "2022-08-26"),
    ("600003.SH", "earnings_drop", "2023-08-25"),
    ("601001.SH", "valuation_spike", SPIKE1.isoformat()),
    ("601001.SH", "valuation_spike", SPIKE2.isoformat()),
    ("603001.SH", "earnings_drop", "2022-09-13"),
    ("870001.BJ", "roe_floor", "2023-08-18"),
]


# -- the rules ------------------------------------------------------------------------------------
def test_alerts_fire_exactly_once_per_episode_on_watched_stocks(duck_built):
    settings, _ = duck_built
    assert _alerts(settings) == EXPECTED


def test_one_bad_period_or_a_missing_quarter_stays_quiet(duck_built):
    codes = {a[0] for a in _alerts(duck_built[0])}
    assert "001002.SZ" not in codes  # one low payout between two normal ones
    assert "601005.SH" not in codes  # bad, good, bad; then bad, missing, bad


def test_report_cannot_trip_before_its_announcement(duck_built):
    settings, _ = duck_built
    # 600003.SH Q2 (period ended 2022-06-30) was announced 2022-08-26: on 08-25 only Q1 is known.
    before = _pit(settings, "600003.SH", "2022-08-25")
    assert before["report_period"] == date(2022, 3, 31)
    assert _pit(settings, "600003.SH", "2022-08-26")["report_period"] == date(2022, 6, 30)
    # Announced on Saturday 2022-04-23: known from Monday 04-25, nothing on Friday 04-22.
    assert pd.isna(_pit(settings, "600003.SH", "2022-04-22")["report_period"])
    monday = _pit(settings, "600003.SH", "2022-04-25")
    assert (monday["report_period"], monday["state_from"]) == (date(2022, 3, 31), date(2022, 4, 25))
    with Database(settings) as db:
        early = db.scalar("select count(*) from signals.stable_alerts where trade_date < ann_date")
    assert early == 0


def test_restatement_counts_from_its_own_announcement(duck_built):
    settings, _ = duck_built
    original = _pit(settings, "603001.SH", "2022-09-12")
    restated = _pit(settings, "603001.SH", "2022-09-13")
    assert (original["net_profit_yoy"], bool(original["is_restated"])) == (pytest.approx(-0.10), False)
    assert (restated["net_profit_yoy"], bool(restated["is_restated"])) == (pytest.approx(-0.45), True)
    assert restated["ann_date"] == date(2022, 9, 13)
    with Database(settings) as db:
        row = db.query("select metric_value, report_period, prev_report_period, ann_date, priority "
                       "from signals.stable_alerts where code = '603001.SH'")
    assert row == [(pytest.approx(-0.45), date(2022, 6, 30), date(2022, 3, 31), date(2022, 9, 13), 1)]


def test_ttm_uses_last_years_annual_and_same_quarter(duck_built):
    settings, _ = duck_built
    q3_2022 = _pit(settings, "870001.BJ", "2022-10-20")  # no 2021 reports: TTM unknown, not guessed
    assert pd.isna(q3_2022["eps_ttm"]) and pd.isna(q3_2022["revenue_ttm"])
    assert q3_2022["roe_annualised"] == pytest.approx(0.045 * 4 / 3)
    annual = _pit(settings, "870001.BJ", "2023-03-20")  # Q4 is the annual figure itself
    assert (annual["eps_ttm"], annual["revenue_ttm"], annual["roe_ttm"]) == (
        pytest.approx(0.60), pytest.approx(4e8), pytest.approx(0.06))
    q1 = _pit(settings, "870001.BJ", "2023-04-20")  # 0.00 + 0.60 - 0.15
    assert (q1["eps_ttm"], q1["revenue_ttm"]) == (pytest.approx(0.45), pytest.approx(0.9e8 + 4e8 - 1e8))
    q2 = _pit(settings, "870001.BJ", "2023-08-18")  # 0.05 + 0.60 - 0.30
    assert (q2["eps_ttm"], q2["net_profit_ttm"], q2["revenue_ttm"], q2["roe_ttm"]) == (
        pytest.approx(0.35), pytest.approx(0.35e8), pytest.approx(1.7e8 + 4e8 - 2e8), pytest.approx(0.035))
    assert q2["pe_ttm"] == pytest.approx(10.0)  # the vendor's PE wins when present


def test_roe_floor_needs_two_consecutive_quarters(duck_built):
    settings, _ = duck_built
    with Database(settings) as db:
        rows = db.query("select trade_date, metric_value, threshold, report_period, prev_report_period, reason "
                        "from signals.stable_alerts where code = '870001.BJ'")
    # 2023Q1 alone (4.5 % after 6.0 %) is not enough; 2023Q2 (3.5 %) after 2023Q1 (4.5 %) is.
    assert len(rows) == 1
    day, value, threshold, period, prev, reason = rows[0]
    assert (day, value, threshold, period, prev) == (
        date(2023, 8, 18), pytest.approx(0.035), pytest.approx(0.05), date(2023, 6, 30), date(2023, 3, 31))
    assert reason == ("ROE (TTM) 3.5 % (period 2023-06-30, announced 2023-08-18) and 4.5 % "
                      "(period 2023-03-31) both below 5.0 %")


def test_payout_alert_names_both_periods(duck_built):
    with Database(duck_built[0]) as db:
        row = db.query("select reason, metric_value, report_period, prev_report_period, layer, kind, "
                       "composite_score, take_profit, stop_loss, close, industry_l1 "
                       "from signals.stable_alerts where rule = 'payout_low'")
    assert row == [("payout ratio 4.0 % (period 2021-12-31, announced 2022-03-21) and 5.0 % (period 2020-12-31) "
                    "both below 10.0 %", pytest.approx(0.04), date(2021, 12, 31), date(2020, 12, 31),
                    "stable", "alert", None, None, None, pytest.approx(10.0), "银行")]


def test_valuation_spike_alerts_on_the_first_day_only(duck_built):
    with Database(duck_built[0]) as db:
        rows = db.query("select trade_date, metric_value, threshold, reason from signals.stable_alerts "
                        "where rule = 'valuation_spike' order by trade_date")
    assert [r[0] for r in rows] == [SPIKE1, SPIKE2]
    assert rows[0][1:3] == (pytest.approx(14.0), pytest.approx(10.0))
    assert "PE(TTM) 14.00 above the 95.0 % quantile of its last 250 trading days (10.00), up 40.0 % in 20" in rows[0][3]
    assert rows[1][1:3] == (pytest.approx(15.0), pytest.approx(14.0))


def test_signal_id_is_the_hash_of_layer_rule_code_date(duck_built):
    with Database(duck_built[0]) as db:
        ids = db.query("select signal_id, rule, code, cast(trade_date as varchar) from signals.stable_alerts")
    for signal_id, rule, code, day in ids:
        assert signal_id == hashlib.md5(f"stable|{rule}|{code}|{day}".encode()).hexdigest()


def test_point_in_time_never_reads_an_unannounced_report(duck_built):
    with Database(duck_built[0]) as db:
        bad = db.scalar("select count(*) from factors.fundamentals_pit where ann_date > trade_date "
                        "or div_ann_date > trade_date or state_from > trade_date")
        n, keys = db.query("select count(*), count(distinct code || cast(trade_date as varchar)) "
                           "from factors.fundamentals_pit")[0]
    assert bad == 0
    assert n == keys == 8 * len(DAYS)


# -- decisions ------------------------------------------------------------------------------------
def test_decisions_survive_a_rebuild(duck_built):
    settings, tmp = duck_built
    with Database(settings) as db:
        before = open_alerts(db)
        assert len(before) == len(EXPECTED)
        target = before[before.code == "000002.SZ"].iloc[0]
        assert target["pit_payout_ratio"] == pytest.approx(0.04)  # joined to the report state that day
        decision_id = record_decision(db, target.signal_id, "hold", "dividend cut is temporary", "tester")
        with pytest.raises(AlertError, match="decision must be one of"):
            record_decision(db, target.signal_id, "panic", "", "tester")
        with pytest.raises(AlertError, match="no stable alert"):
            record_decision(db, "0" * 32, "hold", "", "tester")
    build(settings, tmp / "target", VARS)  # a full rebuild of the stable layer
    with Database(settings) as db:
        kept = db.query("select decision_id, signal_id, decision, comment, decided_by from ops.alert_decisions")
        assert kept == [(decision_id, target.signal_id, "hold", "dividend cut is temporary", "tester")]
        still_open = open_alerts(db)
        assert target.signal_id not in set(still_open.signal_id)
        assert len(still_open) == len(EXPECTED) - 1
        audit = db.query("select actor, detail from ops.audit_log where action = 'alert_decision'")
        assert len(audit) == 1 and audit[0][0] == "tester" and decision_id in audit[0][1]


# -- PostgreSQL -----------------------------------------------------------------------------------
def test_postgres_gives_the_same_alerts_and_all_stocks_mode(pg_built, duck_built):
    pg = _alerts(pg_built)
    # stable_alert_all_stocks: the offense-only watch-list stock 002001.SZ is alerted too.
    assert pg == sorted(EXPECTED + [("002001.SZ", "payout_low", "2022-03-21")])
    with Database(pg_built) as pdb, Database(duck_built[0]) as ddb:
        sql = ("select signal_id, reason, priority, metric_value from signals.stable_alerts "
               "where code <> '002001.SZ' order by signal_id")
        pg_rows, duck_rows = pdb.query(sql), ddb.query(sql)
        assert [r[:3] for r in pg_rows] == [r[:3] for r in duck_rows]
        assert [r[3] for r in pg_rows] == pytest.approx([r[3] for r in duck_rows])
        types = dict(pdb.query("select column_name, data_type from information_schema.columns "
                               "where table_schema = 'signals' and table_name = 'stable_alerts'"))
    assert types["priority"] == "integer"
    assert types["composite_score"] == types["close"] == "double precision"
    assert types["trade_date"] == types["report_period"] == "date"
    q2 = _pit(pg_built, "870001.BJ", "2023-08-18")
    assert (q2["eps_ttm"], q2["roe_ttm"]) == (pytest.approx(0.35), pytest.approx(0.035))


def test_postgres_records_decisions(pg_built):
    with Database(pg_built) as db:
        alert = open_alerts(db).iloc[0]
        decision_id = record_decision(db, alert.signal_id, "reduce", "trim by half", "tester")
        assert db.scalar("select decision from ops.alert_decisions where decision_id = ?", [decision_id]) == "reduce"
        assert alert.signal_id not in set(open_alerts(db).signal_id)

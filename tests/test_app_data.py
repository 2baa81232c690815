"""The app's data layer against a small hand-built DuckDB file (no dbt run needed).

`build_small_db` is shared with the page and browser tests: three stocks with Chinese names,
45 trading days, every relation the pages read, made from hand-written frames.
"""
from __future__ import annotations

from datetime import date, timedelta
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from aquant import audit
from aquant.app import data
from aquant.config import Settings
from aquant.db import Database

STOCKS = pd.DataFrame({
    "code": ["600000.SH", "000001.SZ", "300750.SZ"],
    "name": ["浦发银行", "平安银行", "宁德时代"],
    "exchange": ["SH", "SZ", "SZ"], "board": ["main", "main", "chinext"],
    "industry_l1": ["银行", "银行", "电力设备"], "industry_l2": ["股份制银行", "股份制银行", "电池"],
    "list_date": [date(1999, 11, 10), date(1991, 4, 3), date(2018, 6, 11)],
    "delist_date": [None, None, None], "is_st": [False, False, False],
})


def trading_days(n: int = 45, end: date = date(2024, 6, 28)) -> list[date]:
    days, d = [], end
    while len(days) < n:
        if d.weekday() < 5:
            days.append(d)
        d -= timedelta(days=1)
    return sorted(days)


DAYS = trading_days()
LAST = DAYS[-1]


def put(db: Database, fqn: str, df: pd.DataFrame) -> None:
    """Create (or replace) a table from a frame, the way a dbt model would appear."""
    schema = fqn.split(".")[0]
    db.execute(f"create schema if not exists {schema}")
    db.con.register("_frame", df)
    db.execute(f"create or replace table {fqn} as select * from _frame")
    db.con.unregister("_frame")


def build_small_db(path: Path, with_signals: bool = True) -> Settings:
    """A DuckDB file holding every relation the pages read, small enough to reason about."""
    settings = Settings(target="duckdb", duckdb_path=path, pg={})
    rng = np.random.default_rng(1)
    quotes, tech, scores = [], [], []
    for i, code in enumerate(STOCKS.code):
        close = 10 * (i + 1) * np.cumprod(1 + rng.normal(0.001, 0.02, len(DAYS)))
        for k, d in enumerate(DAYS):
            c = float(close[k])
            o, h, lo = c * 0.99, c * 1.02, c * 0.97
            quotes.append(dict(code=code, trade_date=d, open=o, high=h, low=lo, close=c, pre_close=c, volume=1e6 + k,
                               amount=c * 1e6, turnover_rate=0.01, adj_factor=1.0, close_hfq=c, open_qfq=o,
                               high_qfq=h, low_qfq=lo, close_qfq=c, pe_ttm=8.0 + i, pb=0.8 + i))
            tech.append(dict(code=code, trade_date=d, close_adj=c, dif=0.1 * np.sin(k / 5), dea=0.05 * np.sin(k / 6),
                             macd=2 * (0.1 * np.sin(k / 5) - 0.05 * np.sin(k / 6)), volume_ratio=1.1,
                             is_breakout=k == len(DAYS) - 1, technical_score=5.0 + i))
            scores.append(dict(code=code, trade_date=d, industry_l1=STOCKS.industry_l1[i], board=STOCKS.board[i],
                               industry_score=4.0 + i, valuation_score=6.0 - i, technical_score=5.0 + i,
                               chip_score=5.0, composite_score=5.0 + i * 1.5 + k / 100))
    flow = pd.DataFrame([dict(industry_l1=ind, trade_date=d,
                              net_inflow_n=(1e8 if ind == "电力设备" else -5e7) + k * 1e6,
                              inflow_change=1e6, industry_rank=1 if ind == "电力设备" else 2,
                              industry_score=8.0 if ind == "电力设备" else 3.0)
                         for k, d in enumerate(DAYS) for ind in ("银行", "电力设备")])
    signals = pd.DataFrame([
        dict(signal_id="S-BUY-1", trade_date=LAST, code="300750.SZ", layer="offense", kind="buy", rule="breakout",
             composite_score=8.2, take_profit=60.0, stop_loss=45.0, priority=1, reason="MACD 金叉 + 放量突破",
             close=50.0, industry_l1="电力设备", metric_value=None, threshold=None, report_period=None,
             prev_report_period=None, ann_date=None),
        dict(signal_id="S-SELL-1", trade_date=LAST, code="000001.SZ", layer="offense", kind="sell", rule="stop_loss",
             composite_score=4.1, take_profit=None, stop_loss=9.5, priority=1, reason="跌破止损价",
             close=9.4, industry_l1="银行", metric_value=None, threshold=None, report_period=None,
             prev_report_period=None, ann_date=None),
        dict(signal_id="S-ALERT-1", trade_date=LAST, code="600000.SH", layer="stable", kind="alert",
             rule="dividend_cut", composite_score=5.0, take_profit=None, stop_loss=None, priority=1,
             reason="ROE 下滑超过阈值", close=10.0, industry_l1="银行", metric_value=0.06, threshold=0.08,
             report_period=date(2024, 3, 31), prev_report_period=date(2023, 12, 31), ann_date=date(2024, 4, 28)),
    ])
    finance = pd.DataFrame([
        dict(code="600000.SH", report_period=date(2024, 3, 31), ann_date=date(2024, 4, 28), roe=0.06, eps=0.4,
             revenue=4.1e10, net_profit=1.2e10, net_profit_yoy=-0.1, bps=20.0, version_rank=1),
        dict(code="600000.SH", report_period=date(2023, 12, 31), ann_date=date(2024, 3, 30), roe=0.09, eps=1.2,
             revenue=1.7e11, net_profit=3.7e10, net_profit_yoy=-0.3, bps=19.5, version_rank=1),
        dict(code="600000.SH", report_period=date(2023, 9, 30), ann_date=date(2023, 10, 30), roe=0.07, eps=0.9,
             revenue=1.3e11, net_profit=2.9e10, net_profit_yoy=-0.2, bps=19.0, version_rank=1),
    ])
    targets = pd.DataFrame([dict(rebalance_date=DAYS[-5], code="300750.SZ", industry_l1="电力设备", target_weight=0.6,
                                 composite_score=8.0, industry_rank=1, stock_rank=1),
                            dict(rebalance_date=DAYS[-5], code="600000.SH", industry_l1="银行", target_weight=0.3,
                                 composite_score=6.0, industry_rank=2, stock_rank=1)])
    equity = pd.DataFrame([dict(run_id="run-1", trade_date=d, equity=1e6 * (1 + 0.002 * k), cash=1e5,
                                drawdown=-0.01 * (k % 4), benchmark=3000 + 2 * k) for k, d in enumerate(DAYS)])
    runs = pd.DataFrame([dict(run_id="run-1", started_at=pd.Timestamp("2024-07-01 08:00"), params='{"top_n": 10}',
                              start_date=DAYS[0], end_date=LAST, total_return=0.088, annual_return=0.6,
                              volatility=0.2, sharpe=1.5, max_drawdown=-0.03, calmar=20.0, win_rate=0.55,
                              turnover=3.0, benchmark_return=0.03)])
    log = pd.DataFrame([dict(run_id="run-1", seq=1, trade_date=DAYS[1], code="300750.SZ", side="buy", status="filled",
                             price=31.5, qty=1000, fee=5.0, reason="signal"),
                        dict(run_id="run-1", seq=2, trade_date=DAYS[3], code="600000.SH", side="buy",
                             status="rejected", price=10.0, qty=100, fee=0.0, reason="signal: limit up")])
    recon = pd.DataFrame([dict(recon_date=LAST, seq=1, kind="missing_fill", code="300750.SZ", signal_id="S-BUY-1",
                               order_id="O-1", trade_id=None, detail="order sent, no fill",
                               created_at=pd.Timestamp(LAST))])
    with Database(settings) as db:
        put(db, "staging.stg_stock_info", STOCKS)
        put(db, "staging.stg_daily_quote", pd.DataFrame(quotes))
        put(db, "staging.stg_finance_data", finance)
        put(db, "factors.factor_technical", pd.DataFrame(tech))
        put(db, "factors.factor_industry_flow", flow)
        put(db, "signals.factor_scores", pd.DataFrame(scores))
        if with_signals:
            put(db, "signals.signals", signals)
            put(db, "signals.stable_alerts", signals[signals.layer == "stable"])
        put(db, "signals.portfolio_targets", targets)
        put(db, "ops.backtest_run", runs)
        put(db, "ops.backtest_equity", equity)
        put(db, "ops.backtest_log", log)
        put(db, "ops.reconcile_diff", recon)
        audit.record(db, "build", {"args": ["build"], "returncode": 0}, who="tester")
    return settings


@pytest.fixture
def small(tmp_path: Path) -> Settings:
    return build_small_db(tmp_path / "app.duckdb")


def test_scores_are_filtered_and_limited_in_sql(small):
    with Database(small) as db:
        all_ = data.scores(db, LAST)
        banks = data.scores(db, LAST, industries=["银行"], limit=1)
    assert list(all_.code) == ["300750.SZ", "000001.SZ", "600000.SH"]  # best composite first
    assert list(banks.code) == ["000001.SZ"] and banks.name.iloc[0] == "平安银行"


def test_scores_refuse_an_unknown_sort_column(small):
    with Database(small) as db, pytest.raises(ValueError, match="order_by"):
        data.scores(db, LAST, order_by="1; drop table x")


def test_signals_for_day_falls_back_to_the_latest_signal_day(small):
    with Database(small) as db:
        later = data.signals_for_day(db, LAST + timedelta(days=3))
        before = data.signals_for_day(db, LAST - timedelta(days=1))
    assert set(later.kind) == {"buy", "sell"} and later.trade_date.nunique() == 1
    assert before.empty


def test_missing_model_raises_not_built(tmp_path):
    settings = build_small_db(tmp_path / "x.duckdb", with_signals=False)
    with Database(settings) as db, pytest.raises(data.NotBuilt, match="aquant demo"):
        data.signals_for_day(db, LAST)


def test_price_history_takes_the_last_n_days_with_macd(small):
    with Database(small) as db:
        bars = data.price_history(db, "600000.SH", days=20)
    assert len(bars) == 20 and bars.trade_date.is_monotonic_increasing
    assert pd.Timestamp(bars.trade_date.iloc[-1]).date() == LAST and bars.macd.notna().all()


def test_signal_factors_returns_the_rows_of_the_signal_day(small):
    with Database(small) as db:
        d = data.signal_factors(db, "S-BUY-1")
    assert d["scores"].code.iloc[0] == "300750.SZ"
    assert pd.Timestamp(d["technical"].trade_date.iloc[0]).date() == LAST
    assert len(d["quote"]) == 1


def test_backtest_equity_rebases_the_benchmark(small):
    with Database(small) as db:
        eq = data.backtest_equity(db, "run-1")
    assert eq.benchmark_equity.iloc[0] == pytest.approx(eq.equity.iloc[0])


def test_report_rows_are_the_two_compared_periods(small):
    with Database(small) as db:
        rows = data.report_rows(db, "600000.SH", [date(2024, 3, 31), date(2023, 12, 31)])
    assert len(rows) == 2

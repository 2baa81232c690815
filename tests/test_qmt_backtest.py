"""Backtest: metrics agree with empyrical, ops tables on DuckDB and PostgreSQL, determinism, risk."""
from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from aquant.db import Database
from aquant.qmt import metrics
from aquant.qmt.backtest import run_backtest, simulate
from aquant.qmt.broker import Position
from aquant.qmt.strategy import StrategyParams, StrategyState, decide

CODES = ["600000.SH", "000001.SZ", "300750.SZ", "688001.SH"]


def market(n_days: int = 40, seed: int = 3) -> dict[str, pd.DataFrame]:
    """A tiny deterministic market with signals, targets and one dividend."""
    rng = np.random.default_rng(seed)
    days = pd.bdate_range("2024-01-02", periods=n_days)
    rows = []
    for i, code in enumerate(CODES):
        close = 10.0 + i
        for d in days:
            pre = close
            close = round(pre * (1 + rng.normal(0.002, 0.02)), 2)
            op = round(pre * (1 + rng.normal(0, 0.005)), 2)
            rows.append((code, d, op, max(op, close) + 0.05, min(op, close) - 0.05, close, pre, 2e6, 2e7, 0.01, 1.0))
    q = pd.DataFrame(rows, columns=["code", "trade_date", "open", "high", "low", "close", "pre_close", "volume",
                                    "amount", "turnover_rate", "adj_factor"])
    info = pd.DataFrame({"code": CODES, "name": list("ABCD"), "board": ["main", "main", "chinext", "star"],
                         "industry_l1": ["银行", "银行", "电力设备", "电子"], "is_st": [False] * 4,
                         "list_date": pd.to_datetime(["1999-11-10", "1991-04-03", "2018-06-11", "2019-07-22"]),
                         "delist_date": [pd.NaT] * 4})
    close_on = q.set_index(["trade_date", "code"])["close"]
    sig = []
    for k, (d, code, kind) in enumerate([(days[2], CODES[0], "buy"), (days[2], CODES[2], "buy"),
                                         (days[5], CODES[3], "buy"), (days[20], CODES[0], "sell"),
                                         (days[25], CODES[1], "buy")]):
        c = close_on[(d, code)]
        sig.append((f"s{k}", d, code, "offense", kind, "r", 0.8, round(c * 1.3, 2), round(c * 0.9, 2), 1, "test",
                    c, info.set_index("code").industry_l1[code]))
    sig.append(("x1", days[3], CODES[1], "stable", "buy", "r", 0.9, None, None, 1, "stable layer", 10.0, "银行"))
    signals = pd.DataFrame(sig, columns=["signal_id", "trade_date", "code", "layer", "kind", "rule",
                                         "composite_score", "take_profit", "stop_loss", "priority", "reason",
                                         "close", "industry_l1"])
    targets = pd.DataFrame({"rebalance_date": [days[30]] * 2, "code": [CODES[1], CODES[2]],
                            "industry_l1": ["银行", "电力设备"], "target_weight": [0.15, 0.15],
                            "composite_score": [0.7, 0.6], "industry_rank": [1, 2], "stock_rank": [1, 1]})
    div = pd.DataFrame({"code": [CODES[2]], "report_period": [pd.Timestamp("2023-12-31")],
                        "ann_date": [days[1]], "ex_date": [days[10]], "cash_div_per_share": [0.2],
                        "bonus_ratio": [0.0], "payout_ratio": [0.3]})
    return {"stg_daily_quote": q, "stg_stock_info": info, "signals": signals, "portfolio_targets": targets,
            "stg_dividend": div}


KEYS = {"stg_daily_quote": ("code", "trade_date"), "portfolio_targets": ("rebalance_date", "code"),
        "stg_dividend": ("code", "report_period")}


def load_market(db: Database, m: dict[str, pd.DataFrame]) -> None:
    """Create the dbt relations the strategy reads, as plain tables with the models' columns.

    stg_dividend gets `ex_trade_date` as models/staging/stg_dividend.sql computes it: the first
    session (here: a day of the quotes) on or after the ex-date, null past the last session."""
    from aquant.schema import Table

    m = dict(m)
    if "stg_dividend" in m and "ex_trade_date" not in m["stg_dividend"]:
        sessions = pd.Series(sorted(m["stg_daily_quote"].trade_date.unique()))
        nxt = [sessions[sessions >= d].min() if (sessions >= d).any() else pd.NaT
               for d in pd.to_datetime(m["stg_dividend"].ex_date)]
        m["stg_dividend"] = m["stg_dividend"].assign(ex_trade_date=pd.to_datetime(pd.Series(nxt, dtype=object)))
    for name, df in m.items():
        schema = "signals" if name in ("signals", "portfolio_targets", "qmt_signals") else "staging"
        types = {c: ("DATE" if "date" in c or c == "report_period" else "BOOLEAN" if df[c].dtype == bool else
                     "BIGINT" if pd.api.types.is_integer_dtype(df[c]) else
                     "DOUBLE" if pd.api.types.is_float_dtype(df[c]) else "VARCHAR") for c in df.columns}
        t = Table(schema, name, types, KEYS.get(name, (df.columns[0],)), audit_cols=())
        db.append(t, df)


def test_metrics_agree_with_empyrical():
    import empyrical as ep

    r = pd.Series(np.random.default_rng(0).normal(0.0005, 0.015, 500),
                  index=pd.bdate_range("2020-01-01", periods=500))
    m = metrics.compute(r)
    assert m.total_return == pytest.approx(ep.cum_returns_final(r), rel=1e-10)
    assert m.annual_return == pytest.approx(ep.annual_return(r, annualization=252), rel=1e-10)
    assert m.volatility == pytest.approx(ep.annual_volatility(r, annualization=252), rel=1e-10)
    assert m.sharpe == pytest.approx(ep.sharpe_ratio(r, risk_free=0, annualization=252), rel=1e-10)
    assert m.max_drawdown == pytest.approx(ep.max_drawdown(r), rel=1e-10)
    assert m.calmar == pytest.approx(ep.calmar_ratio(r, annualization=252), rel=1e-10)


def _sim(m: dict[str, pd.DataFrame], **params):
    sig = m["signals"][m["signals"].layer == "offense"]
    return simulate(m["stg_daily_quote"], m["stg_stock_info"], sig, m["portfolio_targets"], m["stg_dividend"],
                    {"slippage": 0.0005, **params})


def test_simulate_is_deterministic_and_consistent():
    m = market()
    old = {"rotation_exit": True, "max_weight_stock": 0.2, "max_weight_industry": 0.4}  # re-weights to targets
    a, b = _sim(m, **old), _sim(m, **old)
    pd.testing.assert_frame_equal(a.log, b.log)
    pd.testing.assert_frame_equal(a.equity, b.equity)
    log = a.log
    filled = log[log.status == "filled"]
    assert {"signal", "rotation"} <= set(filled.reason)
    assert (filled.price > 0).all() and (filled.fee >= 5).all()
    # cash in the equity curve equals initial cash minus net flows plus the dividend
    flows = (np.where(filled.side == "buy", -1, 1) * filled.price * filled.qty - filled.fee).sum()
    ex = m["stg_dividend"].ex_date[0]
    before = filled[(filled.code == CODES[2]) & (filled.trade_date < ex)]
    held_on_ex = (np.where(before.side == "buy", 1, -1) * before.qty).sum()
    assert held_on_ex > 0
    assert a.equity.cash.iloc[-1] == pytest.approx(1_000_000 + flows + 0.2 * held_on_ex, abs=0.02)
    assert a.summary["n_trades"] == len(filled)


def test_stable_layer_signals_never_trade_via_run_backtest(duck):
    m = market()
    with Database(duck) as db:
        load_market(db, m)
        run_id = run_backtest(db, "2024-01-01", "2024-03-31", {"slippage": 0.0005})
        codes = {r[0] for r in db.query("select signal_id from ops.backtest_log where run_id = ?", [run_id])}
    assert "x1" not in codes


def test_ops_tables_written(any_db):
    m = market()
    with Database(any_db) as db:
        load_market(db, m)
        run_id = run_backtest(db, "2024-01-01", "2024-03-31", {"slippage": 0.0005}, run_id="golden-1")
        run = db.query_df("select * from ops.backtest_run where run_id = ?", [run_id])
        log = db.query_df("select * from ops.backtest_log where run_id = ? order by seq", [run_id])
        eq = db.query_df("select * from ops.backtest_equity where run_id = ? order by trade_date", [run_id])
    assert run_id == "golden-1" and len(run) == 1
    assert json.loads(run.params[0])["slippage"] == 0.0005
    assert len(eq) == 40 and (eq.drawdown <= 0).all()
    assert set(log.status) <= {"filled", "rejected"} and list(log.seq) == list(range(1, len(log) + 1))
    assert {"run_id", "seq", "trade_date", "code", "side", "status", "price", "qty", "fee", "reason"} <= set(log)
    rets = eq.equity.pct_change()
    rets.iloc[0] = eq.equity.iloc[0] / 1_000_000 - 1
    assert run.total_return[0] == pytest.approx(eq.equity.iloc[-1] / 1_000_000 - 1)
    assert run.sharpe[0] == pytest.approx(metrics.compute(rets).sharpe)


def test_buy_signal_skipped_by_industry_cap_is_logged():
    pos = {"600000.SH": Position("600000.SH", 4000, 4000, 10.0)}
    sig = pd.DataFrame({"signal_id": ["b1"], "code": ["000001.SZ"], "kind": ["buy"], "priority": [1],
                        "composite_score": [0.9], "stop_loss": [9.0], "take_profit": [12.0]})
    d = decide(pd.Timestamp("2024-01-05"), pos, 60_000.0, {"600000.SH": 10.0, "000001.SZ": 10.0}, sig,
               pd.DataFrame(), {"600000.SH": "银行", "000001.SZ": "银行"}, StrategyState(),
               StrategyParams(max_weight_industry=0.4, buy_weight=0.2))
    assert d.orders == [] and "cap: industry 银行" in d.skipped[0].reason


def test_position_trailing_stop_and_standing_stop_orders():
    pos = {"600000.SH": Position("600000.SH", 1000, 1000, 10.0), "000001.SZ": Position("000001.SZ", 1000, 1000, 10.0)}
    st = StrategyState()
    from aquant.qmt.strategy import PositionMeta
    st.meta["600000.SH"] = PositionMeta("600000.SH", "s1", 9.0, 13.0, peak_close=12.0)
    st.meta["000001.SZ"] = PositionMeta("000001.SZ", "s2", 8.0, None, peak_close=10.0)
    d = decide(pd.Timestamp("2024-01-05"), pos, 0.0, {"600000.SH": 10.0, "000001.SZ": 10.0}, pd.DataFrame(
        columns=["kind"]), pd.DataFrame(), {}, st, StrategyParams(trail_stop_position=0.15, trail_stop_portfolio=None))
    assert [(o.code, o.reason) for o in d.orders] == [("600000.SH", "risk")]  # 10 <= 12 * 0.85
    assert [(o.code, o.order_type, o.price) for o in d.standing] == [("000001.SZ", "stop", 8.0)]


def test_crash_rule_is_off_by_default_and_cuts_exposure_when_on():
    pos = {"600000.SH": Position("600000.SH", 1000, 1000, 10.0)}
    args = (pd.Timestamp("2024-01-05"), pos, 0.0, {"600000.SH": 10.0}, pd.DataFrame(columns=["kind"]),
            pd.DataFrame(), {})
    assert decide(*args, StrategyState(), StrategyParams(), market_return=-0.08).orders == []
    d = decide(*args, StrategyState(), StrategyParams(crash_rule=True), market_return=-0.08)
    assert [(o.side, o.qty, o.reason) for o in d.orders] == [("sell", 500, "risk")]


def test_portfolio_drawdown_stop_liquidates_and_pauses_buys():
    pos = {"600000.SH": Position("600000.SH", 1000, 1000, 10.0)}
    st = StrategyState(equity_peak=20_000.0)
    sig = pd.DataFrame({"signal_id": ["b1"], "code": ["000001.SZ"], "kind": ["buy"], "priority": [1],
                        "composite_score": [0.9], "stop_loss": [None], "take_profit": [None]})
    d = decide(pd.Timestamp("2024-01-05"), pos, 1000.0, {"600000.SH": 10.0, "000001.SZ": 5.0}, sig, pd.DataFrame(),
               {}, st, StrategyParams(trail_stop_portfolio=0.25))
    assert [(o.side, o.reason) for o in d.orders] == [("sell", "risk")]
    assert "portfolio drawdown" in d.skipped[0].reason and st.cooloff_left == 5

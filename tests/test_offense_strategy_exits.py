"""The strategy's caps and exits (issue 13 items 5 and 6), and what trading costs.

- One set of caps: the strategy's defaults are dbt_project.yml's `max_weight_stock` /
  `max_weight_industry` (the vars portfolio_targets reads), enforced on holdings at each rebalance
  (trim in lots at the next open), not only on new buys.
- Rotation chooses what enters; a holding is not sold only for leaving the week's list
  (`rotation_exit` false by default; true keeps the old re-weighting rotation).
- Every backtest reports annualised turnover (traded value / mean equity) and cost drag
  (fees / initial capital), in ops.backtest_run and on the app's backtest page.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml

from aquant.db import Database
from aquant.qmt import metrics
from aquant.qmt.backtest import simulate, write_result
from aquant.qmt.broker import Position
from aquant.qmt.knobs import dbt_vars
from aquant.qmt.strategy import StrategyParams, StrategyState, decide

ROOT = Path(__file__).resolve().parents[1]
DAY = pd.Timestamp("2024-01-05")            # a Friday: the rotation's rebalance day in these tests
NO_SIGNALS = pd.DataFrame(columns=["kind"])
NO_RISK = {"trail_stop_position": None, "trail_stop_portfolio": None}


def _targets(*codes: str, w: float = 0.1) -> pd.DataFrame:
    return pd.DataFrame({"rebalance_date": [DAY] * len(codes), "code": list(codes),
                         "industry_l1": ["电子"] * len(codes), "target_weight": [w] * len(codes),
                         "composite_score": [6.0] * len(codes)})


def _pos(code: str, qty: int, cost: float = 10.0) -> Position:
    return Position(code, qty, qty, cost)


# -- one set of caps ---------------------------------------------------------------------------
def test_strategy_caps_are_the_dbt_vars():
    with open(ROOT / "dbt_project.yml", encoding="utf-8") as f:
        v = yaml.safe_load(f)["vars"]
    p = StrategyParams()
    assert (p.max_weight_stock, p.max_weight_industry) == (v["max_weight_stock"], v["max_weight_industry"])
    assert p.rotation_exit is False and v["rotation_exit"] is False
    assert p.rotation_max_hold_days == v["max_hold_days"] and p.rotation_stop_loss_pct == v["stop_loss_pct"]


def test_knobs_follow_the_file_they_read(tmp_path):
    f = tmp_path / "dbt_project.yml"
    f.write_text("name: x\nvars:\n  max_weight_stock: 0.07\n", encoding="utf-8")
    assert dbt_vars(f)["max_weight_stock"] == 0.07


def test_a_rise_above_the_stock_cap_is_trimmed_at_the_next_rebalance():
    # 600000.SH rose to 25 % of equity, 688001.SH (STAR: 200-share minimum, then steps of 1) to 10.2 %.
    pos = {"600000.SH": _pos("600000.SH", 10_000), "688001.SH": _pos("688001.SH", 1_020)}
    closes = {"600000.SH": 25.0, "688001.SH": 100.0}
    cash = 1_000_000 - 250_000 - 102_000
    ind = {"600000.SH": "银行", "688001.SH": "电子"}
    p = StrategyParams(**NO_RISK)
    quiet = decide(DAY - pd.Timedelta(days=1), pos, cash, closes, NO_SIGNALS, pd.DataFrame(), ind,
                   StrategyState(), p)
    assert quiet.orders == [], "no trim between rebalances"
    d = decide(DAY, pos, cash, closes, NO_SIGNALS, _targets("600000.SH", "688001.SH"), ind, StrategyState(), p)
    sells = {o.code: (o.qty, o.reason) for o in d.orders if o.side == "sell"}
    # 150,000 CNY over the 10 % cap at 25.00 -> 6,000 shares (whole lots of 100, rounded up)
    assert sells["600000.SH"] == (6_000, "cap")
    # 2,000 CNY over at 100.00 -> 20 shares, but a STAR sell is at least 200 shares
    assert sells["688001.SH"] == (200, "cap")
    for code, (qty, _) in sells.items():
        assert (pos[code].qty - qty) * closes[code] <= p.max_weight_stock * 1_000_000


def test_backtest_trims_a_holding_a_rise_took_above_the_cap():
    """End to end on SimBroker: a signal buy of 10 %, the price +60 %, the Friday rebalance
    (a target in another stock) sells the excess at Monday's open; nothing is sold before."""
    days = pd.bdate_range("2024-01-01", periods=10)          # Mon 1st .. Fri 12th
    px = {"600000.SH": [10.0, 10.0, 11.0, 12.0, 13.0, 14.5, 16.0, 16.0, 16.0, 16.0],
          "000001.SZ": [20.0] * 10}
    rows = [(c, d, p[i], p[i] * 1.01, p[i] * 0.99, p[i], p[i - 1] if i else p[0], 1e7, 1e8, 0.01, 1.0)
            for c, p in px.items() for i, d in enumerate(days)]
    q = pd.DataFrame(rows, columns=["code", "trade_date", "open", "high", "low", "close", "pre_close", "volume",
                                    "amount", "turnover_rate", "adj_factor"])
    info = pd.DataFrame({"code": list(px), "name": ["A", "B"], "board": ["main", "main"],
                         "industry_l1": ["银行", "电子"], "is_st": [False, False]})
    sig = pd.DataFrame([("b1", days[0], "600000.SH", "offense", "buy", "composite_buy", 6.0, 100.0, 1.0, 1, "t",
                         10.0, "银行")], columns=["signal_id", "trade_date", "code", "layer", "kind", "rule",
                                                "composite_score", "take_profit", "stop_loss", "priority", "reason",
                                                "close", "industry_l1"])
    tg = pd.DataFrame({"rebalance_date": [days[4]], "code": ["000001.SZ"], "industry_l1": ["电子"],
                       "target_weight": [0.05], "composite_score": [6.0]})
    res = simulate(q, info, sig, tg, pd.DataFrame(), {**NO_RISK, "slippage": 0.0})
    f = res.log[res.log.status == "filled"]
    a = f[f.code == "600000.SH"]
    assert a.reason.tolist() == ["signal", "cap"] and a.trade_date.iloc[1] == days[5]
    held = a.qty.iloc[0] - a.qty.iloc[1]
    eq4 = res.equity.equity.iloc[4]
    assert a.qty.iloc[0] * 13.0 > 0.12 * eq4, "the rise took it above the cap"
    assert held * 13.0 <= StrategyParams().max_weight_stock * eq4 < (held + 100) * 13.0  # to the cap, in lots


def test_an_industry_above_its_cap_is_trimmed_pro_rata():
    codes = ["600000.SH", "600036.SH", "601398.SH", "000001.SZ"]
    pos = {c: _pos(c, 9_500) for c in codes}          # four banks at 9.5 % each: 38 % > 30 %
    closes = {c: 10.0 for c in codes}
    d = decide(DAY, pos, 620_000.0, closes, NO_SIGNALS, _targets(*codes), {c: "银行" for c in codes},
               StrategyState(), StrategyParams(**NO_RISK))
    assert sorted((o.code, o.qty, o.reason) for o in d.orders) == sorted((c, 2_000, "cap") for c in codes)


def test_a_trim_refused_at_limit_down_is_resized_not_retried_whole():
    pos = {"600000.SH": _pos("600000.SH", 10_000)}
    st = StrategyState(retry_sells={"600000.SH": "cap"})
    d = decide(DAY - pd.Timedelta(days=1), pos, 750_000.0, {"600000.SH": 25.0}, NO_SIGNALS, pd.DataFrame(),
               {"600000.SH": "银行"}, st, StrategyParams(**NO_RISK))
    assert d.orders == [] and st.retry_sells == {}


# -- rotation picks what enters ------------------------------------------------------------------
def test_leaving_the_weeks_list_is_no_exit_by_default():
    pos = {"600000.SH": _pos("600000.SH", 5_000)}
    args = (DAY, pos, 950_000.0, {"600000.SH": 10.0, "000001.SZ": 20.0}, NO_SIGNALS, _targets("000001.SZ"),
            {"600000.SH": "银行", "000001.SZ": "电子"})
    d = decide(*args, StrategyState(), StrategyParams(**NO_RISK))
    assert [(o.code, o.side, o.reason) for o in d.orders] == [("000001.SZ", "buy", "rotation")]
    old = decide(*args, StrategyState(), StrategyParams(rotation_exit=True, **NO_RISK))
    assert ("600000.SH", "sell", "rotation") in [(o.code, o.side, o.reason) for o in old.orders]


def test_a_rotation_entry_carries_stop_and_target_and_a_time_exit():
    st, p = StrategyState(), StrategyParams(**NO_RISK)
    d = decide(DAY, {}, 1_000_000.0, {"000001.SZ": 20.0}, NO_SIGNALS, _targets("000001.SZ"), {"000001.SZ": "电子"},
               st, p)
    # 10 % of 1,000,000 at 20.00 with the 0.1 % fee buffer -> 4,995 shares -> 4,900 in lots of 100
    assert [(o.code, o.qty, o.reason) for o in d.orders] == [("000001.SZ", 4_900, "rotation")]
    st.on_buy_fill("000001.SZ", 20.0)
    m = st.meta["000001.SZ"]
    assert m.entry_reason == "rotation"
    assert m.stop_loss == pytest.approx(20.0 * (1 - p.rotation_stop_loss_pct))
    assert m.take_profit == pytest.approx(20.0 * (1 + p.rotation_take_profit_pct))
    pos = {"000001.SZ": _pos("000001.SZ", 5_000, 20.0)}
    for k in range(1, p.rotation_max_hold_days + 1):
        day = DAY + pd.Timedelta(days=k)
        d = decide(day, pos, 900_000.0, {"000001.SZ": 20.0}, NO_SIGNALS, pd.DataFrame(), {"000001.SZ": "电子"}, st, p)
        if k < p.rotation_max_hold_days:
            assert d.orders == [], f"no exit on session {k}"
            assert {o.order_type for o in d.standing} == {"stop", "target"}
    assert [(o.code, o.qty, o.reason) for o in d.orders] == [("000001.SZ", 5_000, "time")]


# -- turnover and cost drag --------------------------------------------------------------------
def test_turnover_and_cost_drag_definitions():
    # 126 sessions = half a year: 3,000,000 traded on 1,500,000 mean equity -> 2x in half a year -> 4x/yr
    assert metrics.turnover(3_000_000.0, 1_500_000.0, 126) == pytest.approx(4.0)
    assert metrics.cost_drag(5_000.0, 1_000_000.0, 126) == pytest.approx(0.01)
    assert np.isnan(metrics.turnover(1.0, 1.0, 0)) and np.isnan(metrics.cost_drag(1.0, 0.0, 10))


def _market() -> dict[str, pd.DataFrame]:
    from test_qmt_backtest import market
    return market()


def test_backtest_summary_reports_turnover_and_cost_drag_from_its_fills():
    m = _market()
    sig = m["signals"][m["signals"].layer == "offense"]
    res = simulate(m["stg_daily_quote"], m["stg_stock_info"], sig, m["portfolio_targets"], m["stg_dividend"],
                   {"slippage": 0.0005})
    filled = res.log[res.log.status == "filled"]
    years = len(res.equity) / 252
    traded = (filled.price * filled.qty).sum()
    assert res.summary["turnover_annual"] == pytest.approx(traded / res.equity.equity.mean() / years, rel=1e-12)
    assert res.summary["fees"] == pytest.approx(filled.fee.sum(), rel=1e-12)
    assert res.summary["cost_drag"] == pytest.approx(filled.fee.sum() / 1_000_000 / years, rel=1e-12)
    assert res.summary["turnover_annual"] == pytest.approx(2 * res.summary["turnover"], rel=1e-12)


def test_backtest_page_shows_turnover_and_cost_drag(tmp_path, monkeypatch):
    from streamlit.testing.v1 import AppTest

    from test_app_data import build_small_db

    settings = build_small_db(tmp_path / "app.duckdb")   # its backtest_run predates the new columns
    m = _market()
    p = StrategyParams(slippage=0.0005)
    res = simulate(m["stg_daily_quote"], m["stg_stock_info"], m["signals"][m["signals"].layer == "offense"],
                   m["portfolio_targets"], m["stg_dividend"], p)
    with Database(settings) as db:
        write_result(db, "bt-costs", res, pd.Timestamp("2024-01-02").date(), pd.Timestamp("2024-02-26").date(), p)
        run = db.query_df("select * from ops.backtest_run where run_id = 'bt-costs'").iloc[0]
    monkeypatch.setenv("AQUANT_DB", str(settings.duckdb_path))
    monkeypatch.setenv("AQUANT_TARGET", "duckdb")
    at = AppTest.from_file(str(ROOT / "app" / "main.py"), default_timeout=60)
    at.run()
    at.switch_page("views/backtest.py").run()
    assert not at.exception, [e.message for e in at.exception]
    at.selectbox(key="bt_run").set_value("bt-costs").run()
    shown = {x.label: x.value for x in at.metric}
    assert shown["Turnover ×/yr"] == f"{run.turnover_annual:,.2f}" and run.turnover_annual > 0
    assert shown["Cost drag /yr"] == f"{run.cost_drag:.2%}" and run.cost_drag > 0
    assert shown["Fees CNY"] == f"{run.fees:,.0f}"


def test_a_warehouse_from_before_the_cost_columns_takes_new_runs(any_db):
    """ops.backtest_run created with the columns it had before gains turnover_annual, fees and
    cost_drag on the next run (DuckDB and PostgreSQL); the old row stays."""
    from aquant.qmt.tables import BACKTEST_RUN
    from aquant.schema import Table

    old_cols = {k: v for k, v in BACKTEST_RUN.columns.items() if k not in ("turnover_annual", "fees", "cost_drag")}
    m = _market()
    p = StrategyParams(slippage=0.0005)
    res = simulate(m["stg_daily_quote"], m["stg_stock_info"], m["signals"][m["signals"].layer == "offense"],
                   m["portfolio_targets"], m["stg_dividend"], p)
    with Database(any_db) as db:
        old = Table("ops", "backtest_run", old_cols, ("run_id",), audit_cols=())
        db.ensure_table(old)
        db.append(old, pd.DataFrame([{c: None for c in old_cols} | {"run_id": "old", "n_trades": 1}]))
        write_result(db, "new", res, pd.Timestamp("2024-01-02").date(), pd.Timestamp("2024-02-26").date(), p)
        got = db.query_df("select run_id, fees, cost_drag, turnover_annual from ops.backtest_run order by run_id")
    assert got.run_id.tolist() == ["new", "old"]
    assert got.fees[0] == pytest.approx(res.summary["fees"]) and got.cost_drag[0] > 0 and got.turnover_annual[0] > 0
    assert pd.isna(got.fees[1])

"""Independent check of the backtest (issue 13): the same orders on the same bars through RQAlpha.

The sample market (30 stocks, 2023: it spans the 2023-08-28 stamp-duty cut) is ingested and built
as in the golden backtest; `aquant.qmt.crosscheck.crosscheck` runs our backtest, replays every
order that reached SimBroker in RQAlpha 6.4 (its own venv, `.crosscheck-venv`, made by
`python -m aquant.qmt.crosscheck --setup`, which scripts/test.sh runs) and compares.

Tolerance (docs/qmt.md, "Cross-check against RQAlpha"): fills identical (status, quantity,
price to 1e-9 CNY); commission, stamp duty and transfer fee each within 0.005 CNY (ours rounds
to the cent, RQAlpha does not); daily cash and equity within 1e-6 relative after adding back
those sub-cent differences. Known differences are named (`CAUSES`) and each is checked for the
direction it must have; anything else fails.

Without .crosscheck-venv the test is skipped, except in CI (CI=true), where it fails.
"""
from __future__ import annotations

import os
from datetime import date
from decimal import ROUND_HALF_UP, Decimal

import pandas as pd
import pytest

from aquant.db import Database
from aquant.extract.ingest_sample import ingest_sample
from aquant.extract.sample import SampleConfig
from aquant.qmt import crosscheck as xc

from conftest import duck_settings
from test_offense_support import DEFAULTS, build

pytestmark = pytest.mark.slow

CFG = SampleConfig(n_stocks=30, start=date(2023, 1, 3), end=date(2023, 12, 29))
# the golden backtest's knobs, without slippage: RQAlpha fills at the open auction price as is
PARAMS = {"initial_cash": 1_000_000.0, "buy_weight": 0.10, "max_weight_stock": 0.20, "max_weight_industry": 0.40,
          "max_positions": 20, "trail_stop_position": 0.15, "trail_stop_portfolio": 0.25, "cooloff_days": 5,
          "crash_rule": False, "use_targets": True, "rebalance_tolerance": 0.02, "commission_rate": 0.00025,
          "commission_min": 5.0, "slippage": 0.0, "volume_share": 0.25}


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    if not xc.have_rqalpha():
        msg = f"RQAlpha not found at {xc.venv_python()}; run `python -m aquant.qmt.crosscheck --setup`"
        if os.environ.get("CI") == "true":
            pytest.fail(msg)
        pytest.skip(msg)
    tmp = tmp_path_factory.mktemp("crosscheck")
    settings = duck_settings(tmp / "warehouse.duckdb")
    with Database(settings) as db:
        ingest_sample(db, CFG, progress=False)
    build(settings, tmp / "target", vars_=DEFAULTS)
    with Database(settings) as db:
        aligned = xc.crosscheck(db, CFG.start, CFG.end, PARAMS, move_ex_dates=True)
        raw = xc.crosscheck(db, CFG.start, CFG.end, PARAMS)
    return aligned, raw


def test_every_order_agrees_or_has_a_known_cause(runs):
    cc, _ = runs
    o = cc.orders
    assert len(o) > 200 and (o["our_filled"] > 0).sum() > 150, "too few orders to prove anything"
    assert {"buy", "sell"} <= set(o["side"]) and {"open", "intraday"} <= set(o["phase"])
    bad = o[~o["ok"]]
    assert set(bad["cause"]) <= {"cash_shrink"}, bad[["trade_date", "code", "side", "cause", "our_why", "rq_why"]]
    # the one known difference (SimBroker keeps a 0.1 % cash buffer when it cuts a buy): ours buys
    # less than the cash pays for, never more; a fix in qmt/sim_broker.py removes these rows
    assert (bad["our_filled"] < bad["affordable"]).all()
    assert (bad["our_filled"] == bad["rq_filled"]).all()
    # rejections agree too: suspended days, odd lots, cut buys
    assert ((o["our_filled"] == 0) == (o["rq_filled"] == 0)).all()
    assert (o["our_filled"] < o["requested"]).sum() > 5


def test_fees_agree_within_half_a_cent_per_component(runs):
    o = runs[0].orders
    f = o[o["our_filled"] > 0]
    assert f["fee_diff"].max() <= xc.FEE_TOL
    sells = f[f["side"] == "sell"]
    before, after = sells[sells["trade_date"] < "2023-08-28"], sells[sells["trade_date"] >= "2023-08-28"]
    assert len(before) > 10 and len(after) > 10, "the stamp-duty cut must be exercised on both sides"
    # stamp duty by date, as RQAlpha charges it (its own table, pit_tax): 0.1 % then 0.05 %
    for part, rate in ((before, Decimal("0.001")), (after, Decimal("0.0005"))):
        value = [Decimal(repr(p)) * q for p, q in zip(part["our_price"], part["our_filled"])]
        exact = [(v * rate).quantize(Decimal("0.01"), rounding=ROUND_HALF_UP) for v in value]
        for ours, want, v in zip(part["our_stamp"], exact, value):
            if Decimal(repr(ours)) != want:
                # qmt/costs.py rounds the float value x rate with round(): a product that ends in
                # exactly half a cent goes down (95.595 -> 95.59, half up gives 95.60)
                assert (v * rate) % Decimal("0.01") == Decimal("0.005")
                assert want - Decimal(repr(ours)) == Decimal("0.01")
        assert part["rq_tax"].tolist() == pytest.approx([float(v * rate) for v in value], rel=1e-9)
    assert (f.loc[f["side"] == "buy", "rq_tax"] == 0).all()
    # the 5 CNY minimum commission is hit and agrees
    small = f[f["our_price"] * f["our_filled"] * PARAMS["commission_rate"] < 5]
    assert len(small) > 0 and (small["our_commission"] == 5.0).all() and (small["rq_commission"] == 5.0).all()


def test_daily_cash_and_equity_agree(runs):
    d = runs[0].daily
    assert len(d) > 200
    assert d["ok"].all(), d.loc[~d["ok"]].head()
    assert d["equity_rdiff"].abs().max() <= xc.EQUITY_RTOL
    assert d["fee_adj"].abs().max() < 5, "sub-cent fee rounding only"


def test_limit_prices_found_off_by_a_cent_are_half_cent_cases(runs):
    """Issue 13 defect 1: SimBroker rounds the float pre_close x (1 +/- width). Each bar found
    here must be a case where the exact product ends in half a cent (the float falls under it);
    the fix in qmt/rules.py empties this table."""
    lim = runs[0].limits
    for r in lim.itertuples(index=False):
        for ours, exact in ((r.our_down, r.exact_down), (r.our_up, r.exact_up)):
            if ours != exact:
                assert round(abs(ours - exact), 2) == 0.01
                # the exact value lies exactly half-way between two cents
                assert any((Decimal(repr(r.pre_close)) * (1 + s * Decimal(w))) % Decimal("0.01") == Decimal("0.005")
                           for s in (1, -1) for w in ("0.05", "0.1", "0.2", "0.3"))


def test_off_session_ex_dates_are_the_only_daily_difference(runs):
    """Issue 13 defect 3: with the raw dividend table our engine drops events whose ex-date is
    not a session; RQAlpha applies them on the next session. The days differ from the first such
    event on a holding on, and from nothing else (once the fix lands, the raw run agrees fully)."""
    _, raw = runs
    d = raw.daily
    bad = d[~d["ok"]]
    if len(bad):
        assert bad["cause"].iloc[0] == "ex_date_not_session", bad.head()
        assert set(bad["cause"]) <= {"ex_date_not_session", "after_divergence"}
        first = bad["trade_date"].iloc[0]
        assert d.loc[d["trade_date"] < first, "ok"].all()
        # RQAlpha got the dividend/bonus, we did not: its equity is the higher one
        assert bad["equity_rdiff"].iloc[0] < 0
    o = raw.orders
    assert set(o.loc[~o["ok"], "cause"]) <= {"cash_shrink", "after_divergence"}


# -- a hand-made market for the rules the sample's orders never reach -----------------------------
def _scenario():
    """Five sessions (2023-03-06 .. 03-10), scripted orders that hit a sealed limit-up and
    limit-down, T+1, the volume cap on a STAR stock, a standing stop inside the bar, and a sell at
    a limit-down price that ends in half a cent (pre_close 1.65 x 0.9 = 1.485). Bars are made up
    for the purpose (a guess of no market; only their arithmetic matters)."""
    from aquant.qmt.broker import OrderRequest

    days = pd.bdate_range("2023-03-06", periods=5)
    #        code        day open   high   low    close  pre    volume
    bars = [("600000.SH", 0, 10.00, 10.20, 9.90, 10.00, 10.00, 1_000_000),
            ("688001.SH", 0, 20.00, 20.50, 19.80, 20.00, 20.00, 10_006),     # 25 % = 2501.5 shares
            ("600003.SH", 0, 1.66, 1.70, 1.64, 1.65, 1.65, 10_000_000),
            ("000001.SZ", 0, 11.00, 11.00, 11.00, 11.00, 10.00, 500_000),   # sealed at limit-up
            ("603001.SH", 0, 5.40, 5.45, 5.35, 5.40, 5.40, 2_000_000),
            ("600000.SH", 1, 9.00, 9.00, 9.00, 9.00, 10.00, 300_000),       # sealed at limit-down
            ("688001.SH", 1, 20.10, 20.30, 19.90, 20.00, 20.00, 50_000),
            ("600003.SH", 1, 1.49, 1.55, 1.49, 1.52, 1.65, 10_000_000),     # opens at the exact 1.49
            ("000001.SZ", 1, 11.50, 11.80, 11.40, 11.60, 11.00, 500_000),
            ("603001.SH", 1, 5.30, 5.35, 5.10, 5.20, 5.40, 2_000_000),      # stop 5.20 inside the bar
            *[(c, i, px, px + 0.1, px - 0.1, px, px, 1_000_000) for i in (2, 3, 4)
              for c, px in (("600000.SH", 9.0), ("688001.SH", 20.0), ("600003.SH", 1.52),
                            ("000001.SZ", 11.6), ("603001.SH", 5.2))]]
    q = pd.DataFrame(bars, columns=["code", "i", "open", "high", "low", "close", "pre_close", "volume"])
    q["trade_date"] = days[q["i"]]
    q["amount"] = q["close"] * q["volume"]
    q["turnover_rate"], q["adj_factor"] = 1.0, 1.0
    q = q.drop(columns="i").sort_values(["trade_date", "code"]).reset_index(drop=True)
    info = pd.DataFrame({"code": sorted(set(q["code"])), "name": "x", "board": None, "industry_l1": "x",
                         "is_st": False, "list_date": pd.Timestamp("2010-01-04"), "delist_date": pd.NaT})
    info["board"] = [xc.board_of(c) for c in info["code"]]
    script = {
        0: [OrderRequest("600000.SH", "buy", 1000), OrderRequest("688001.SH", "buy", 3000),
            OrderRequest("600003.SH", "buy", 10000), OrderRequest("000001.SZ", "buy", 1000),
            OrderRequest("603001.SH", "buy", 2000), OrderRequest("600000.SH", "sell", 1000)],
        1: [OrderRequest("600000.SH", "sell", 1000), OrderRequest("600003.SH", "sell", 10000),
            OrderRequest("603001.SH", "sell", 2000, "stop", 5.20, "stop")],
        2: [OrderRequest("600000.SH", "sell", 1000), OrderRequest("688001.SH", "sell", 2501)],
    }
    return q, info, script


def test_scripted_rules_against_rqalpha(tmp_path):
    from aquant.qmt.backtest import BacktestResult, make_broker
    from aquant.qmt.costs import CostModel
    from aquant.qmt.strategy import StrategyParams

    if not xc.have_rqalpha():
        if os.environ.get("CI") == "true":
            pytest.fail(f"RQAlpha not found at {xc.venv_python()}")
        pytest.skip("RQAlpha not installed (python -m aquant.qmt.crosscheck --setup)")
    q, info, script = _scenario()
    p = StrategyParams.from_any(PARAMS)
    broker, rows = make_broker(p, info), []
    days = list(pd.DatetimeIndex(q["trade_date"].unique()))
    for i, d in enumerate(days):
        broker.start_day(d, q[q["trade_date"] == d])
        for o in script.get(i, []):
            broker.submit(o)
        rows.append((d, broker.end_day(), broker.cash()))
    log = pd.DataFrame([(e.trade_date, e.code, e.side, e.status, e.price, e.qty, e.fee, e.reason, e.order_id)
                        for e in broker.log], columns=["trade_date", "code", "side", "status", "price", "qty", "fee",
                                                       "reason", "order_id"])
    log.insert(0, "seq", range(1, len(log) + 1))
    res = BacktestResult(log, pd.DataFrame(rows, columns=["trade_date", "equity", "cash"]), {})
    m = xc.Market(q, info, pd.DataFrame(), pd.DataFrame(), pd.DataFrame(columns=["code", "ex_date",
                                                                                  "cash_div_per_share", "bonus_ratio"]))
    it = xc.intents(log, q)
    costs = CostModel(p.commission_rate, p.commission_min, p.slippage)
    xc.export_inputs(tmp_path, m, it, p, costs.rules, days[0].date(), days[-1].date())
    cc = xc.compare(it, xc.run_rqalpha(tmp_path), res, m, costs)
    o = cc.orders.set_index(["trade_date", "code", "side"])

    def row(i, code, side):
        return o.loc[(days[i], code, side)]

    # both engines reject: limit-up buy, same-day sell (T+1), sell sealed at limit-down
    for i, code, side in ((0, "000001.SZ", "buy"), (0, "600000.SH", "sell"), (1, "600000.SH", "sell")):
        r = row(i, code, side)
        assert r["our_filled"] == 0 and r["rq_filled"] == 0, (code, side, r["our_why"], r["rq_why"])
    # both fill: the standing stop at its price inside the bar, the next day's sell
    assert row(1, "603001.SH", "sell")[["our_filled", "rq_filled", "our_price", "rq_price"]].tolist() == \
        [2000, 2000, 5.2, 5.2]
    assert row(2, "600000.SH", "sell")[["our_filled", "rq_filled"]].tolist() == [1000, 1000]
    # volume cap on a STAR stock (step 1): 25 % of 10,006 shares is 2,501.5
    cap = row(0, "688001.SH", "buy")
    assert cap["our_filled"] == 2501
    assert cap["ok"] or (cap["cause"] == "volume_cap_rounding" and cap["rq_filled"] == 2502)
    # 1.65 x 0.9 = 1.485: the exchange's limit-down is 1.49 and a sell opening there is sealed;
    # until qmt/rules.py computes it exactly ours is 1.48 and the sell fills
    lim = row(1, "600003.SH", "sell")
    assert lim["rq_filled"] == 0 and "limit_down" in lim["rq_why"]
    assert lim["ok"] or (lim["cause"] == "limit_price" and lim["our_filled"] == 10000)
    bad = cc.orders[~cc.orders["ok"]]
    assert set(bad["cause"]) <= {"volume_cap_rounding", "limit_price", "after_divergence"}

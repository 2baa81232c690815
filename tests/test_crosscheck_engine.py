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
                assert (v * rate) % Decimal("0.01") == Decimal("0.005") and want - Decimal(repr(ours)) == Decimal("0.01")
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

"""The fast engine (qmt/fast_core.py) against the reference SimBroker: identical, not close.

End to end: the golden test's sample market (30 stocks, 2022-2023, every model built with the
project's defaults) backtested by both engines under several knob sets that reach the rules'
branches (costs and slippage, volume cap, rotation with and without exits, the crash rule,
delisting written off, no dividend tax). Every backtest_log column (order ids and dividend tax
included), the equity curve, the applied corporate actions and the summary must be equal.
Unit level: the integer-cent fee and slippage equal the Decimal reference on a grid that spans
every dated cost row (stamp duty on both sides before 2008-09-19, the SSE's face-value transfer
fee before 2015-08-01, prices that are not whole cents).
"""
from __future__ import annotations

import itertools
from datetime import date

import numpy as np
import pandas as pd
import pytest
from aquant.extract.ingest_sample import ingest_sample
from aquant.extract.sample import SampleConfig
from aquant.qmt import data
from aquant.qmt.backtest import simulate
from aquant.qmt.costs import CostModel
from aquant.qmt.fast_core import FastCostModel, FastSimBroker, broker_class
from conftest import duck_settings
from test_offense_backtest_golden import PARAMS
from test_offense_support import DEFAULTS, build

from aquant.db import Database

CFG = SampleConfig(n_stocks=30, start=date(2022, 1, 4), end=date(2023, 12, 29))
KNOB_SETS = {
    "golden": PARAMS,
    "tight cash, high costs": {**PARAMS, "initial_cash": 200_000.0, "slippage": 0.0013, "commission_min": 0.1,
                               "commission_rate": 0.0003, "volume_share": 0.01, "buy_weight": 0.3},
    "rotation exits, crash rule": {**PARAMS, "rotation_exit": True, "crash_rule": True, "crash_threshold": -0.01,
                                   "trail_stop_position": 0.05, "trail_stop_portfolio": 0.08, "cooloff_days": 2},
    "written off, no dividend tax": {**PARAMS, "delisting": "zero", "dividend_tax": False, "max_positions": 3},
}


@pytest.fixture(scope="module")
def frames(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("fast_core")
    settings = duck_settings(tmp / "warehouse.duckdb")
    with Database(settings) as db:
        ingest_sample(db, CFG, progress=False)
    build(settings, tmp / "target", vars_=DEFAULTS)
    with Database(settings) as db:
        src = data.Sources()
        return (data.load_quotes(db, CFG.start, CFG.end, src), data.load_stock_info(db, src),
                data.load_signals(db, CFG.start, CFG.end, src), data.load_targets(db, CFG.start, CFG.end, src),
                data.load_dividends(db, CFG.start, CFG.end, src))


@pytest.mark.parametrize("name", list(KNOB_SETS))
def test_fast_engine_gives_identical_log_and_equity_on_the_sample_market(frames, name):
    ref = simulate(*frames, KNOB_SETS[name], engine="reference")
    fast = simulate(*frames, KNOB_SETS[name], engine="fast")
    assert len(ref.log) > 20 and (ref.log.status == "filled").sum() > 10, "the run must trade to prove anything"
    pd.testing.assert_frame_equal(fast.log, ref.log, check_exact=True)
    pd.testing.assert_frame_equal(fast.equity, ref.equity, check_exact=True)
    pd.testing.assert_frame_equal(fast.actions, ref.actions, check_exact=True)
    assert fast.summary.keys() == ref.summary.keys()
    for k, v in ref.summary.items():
        assert fast.summary[k] == v or (pd.isna(v) and pd.isna(fast.summary[k])), k


def test_the_knob_sets_reach_the_rules_they_are_there_for(frames):
    """Without this the identity above could hold on runs that never hit a limit or a cap."""
    logs = {n: simulate(*frames, p, engine="fast").log for n, p in KNOB_SETS.items()}
    reasons = " | ".join(" | ".join(lg.reason.astype(str)) for lg in logs.values())
    for why in ("limit", "volume cap", "insufficient cash", "risk", "stop", "target", "rotation"):
        assert why in reasons, f"no log line mentions {why!r}"
    assert (logs["golden"].dividend_tax > 0).any() and not (logs["written off, no dividend tax"].dividend_tax > 0).any()


def test_integer_cent_fees_equal_the_decimal_reference():
    days = [pd.Timestamp(d) for d in ("2007-06-01", "2008-06-02", "2015-07-31", "2015-08-03", "2022-04-28",
                                      "2022-05-05", "2023-08-28", "2024-01-02")]
    prices = [0.01, 0.05, 1.65, 3.33, 9.99, 10.0, 123.45, 1999.99, 10.005, 1 / 3]  # last two: not whole cents
    for rate, low, slip in ((0.00025, 5.0, 0.0005), (0.0003, 0.1, 0.0013), (0.0, 0.0, 0.0)):
        ref, fast = CostModel(rate, low, slip), FastCostModel(rate, low, slip)
        for d, px, qty, side, code in itertools.product(days, prices, (1, 100, 250, 12_345, 1_000_000),
                                                        ("buy", "sell"), ("600000.SH", "000001.SZ", "830799.BJ")):
            assert fast.fee(side, px, qty, d, code) == ref.fee(side, px, qty, d, code), (d, px, qty, side, code)
            if fast.fee_cents(side, px, qty, d, code) is not None:
                assert fast.fee_cents(side, px, qty, d, code) == ref.fee(side, px, qty, d, code).cents
        for px in np.round(np.random.default_rng(0).uniform(0.01, 300, 2000), 2).tolist() + prices:
            for side in ("buy", "sell"):
                assert fast.slipped(side, px, 0.5, 250.0) == ref.slipped(side, px, 0.5, 250.0), (px, side)


def test_engine_names_are_checked():
    assert broker_class("fast") is FastSimBroker
    with pytest.raises(ValueError, match="engine must be one of"):
        broker_class("turbo")


def _rule_tests() -> list:
    """The reference broker's rule tests that take no fixture, from the modules that build a
    SimBroker by name: rerun below with FastSimBroker in its place."""
    import importlib
    import inspect

    out = []
    for name in ("test_qmt_rules", "test_qmt_rules_exact", "test_qmt_dividend_tax"):
        mod = importlib.import_module(name)
        out += [pytest.param(mod, t, id=f"{name}::{t}") for t, f in vars(mod).items()
                if t.startswith("test_") and callable(f) and not inspect.signature(f).parameters]
    return out


@pytest.mark.parametrize("mod, test", _rule_tests())
def test_the_reference_rule_tests_pass_on_the_fast_broker(mod, test, monkeypatch):
    """Every hand-built rule case (limits, lots, T+1, caps, costs, dividend tax by holding
    period...) written for SimBroker holds for FastSimBroker too. Tests that go through
    `simulate` already run the fast engine (the default)."""
    monkeypatch.setattr(mod, "SimBroker", FastSimBroker)
    getattr(mod, test)()


def test_random_orders_fill_identically_on_both_brokers():
    """Differential check at the edges the sample market rarely hits: stops exactly at the low,
    targets exactly at the high, cash that binds to the last lot, odd quantities, four boards,
    across the 2015-08-01 transfer-fee change. Hand-built bars (seeded), both brokers fed alike."""
    from aquant.qmt.broker import OrderRequest
    from aquant.qmt.sim_broker import SimBroker

    rng = np.random.default_rng(7)
    codes = ["600000.SH", "300750.SZ", "688001.SH", "830799.BJ"]
    info = pd.DataFrame({"code": codes, "board": ["main", "chinext", "star", "bse"], "is_st": [False, True, False, False],
                         "list_date": [pd.Timestamp("2010-01-04")] * 3 + [pd.Timestamp("2015-07-27")]})
    ref, fast = SimBroker(60_000, CostModel(0.0003, 5.0, 0.0007), 0.2), FastSimBroker(60_000, CostModel(0.0003, 5.0, 0.0007), 0.2)
    for b in (ref, fast):
        b.set_info(info)
    close = {c: 10.0 + 7 * i for i, c in enumerate(codes)}
    for day in pd.bdate_range("2015-07-20", periods=40):
        rows = []
        for c in codes:
            pre = close[c]
            op = round(pre * (1 + rng.normal(0, 0.04)), 2)
            cl = round(pre * (1 + rng.normal(0, 0.04)), 2)
            rows.append((c, op, round(max(op, cl) + rng.integers(0, 30) / 100, 2),
                         round(min(op, cl) - rng.integers(0, 30) / 100, 2), cl, pre, float(rng.integers(0, 4) * 5000)))
            close[c] = cl
        bars = pd.DataFrame(rows, columns=["code", "open", "high", "low", "close", "pre_close", "volume"])
        for b in (ref, fast):
            b.start_day(day, bars)
        for _ in range(12):
            r = bars.iloc[int(rng.integers(0, len(codes)))]
            kind = rng.choice(["buy", "sell", "stop", "target"])
            qty = int(rng.choice([1, 99, 100, 150, 201, 300, 1000, 2500]))
            def make(r=r, kind=kind, qty=qty):  # a fresh order; its price drawn from rng (replayed below)
                if kind in ("buy", "sell"):
                    return OrderRequest(r.code, str(kind), qty)
                level = [r.low, r.open, r.low - 0.01] if kind == "stop" else [r.high, r.open, r.high + 0.01]
                return OrderRequest(r.code, "sell", qty, str(kind), float(rng.choice(level)))
            rng_state = rng.bit_generator.state
            a = ref.submit(make())
            rng.bit_generator.state = rng_state  # the same order for both brokers
            f = fast.submit(make())
            assert (f.status, f.filled, f.rejected, f.reason) == (a.status, a.filled, a.rejected, a.reason)
        assert fast.end_day() == ref.end_day() and fast._cash_c == ref._cash_c
    assert [vars(e) for e in fast.log] == [vars(e) for e in ref.log]
    statuses = {e.status for e in ref.log} | {e.reason.split(":")[0] for e in ref.log}
    assert {"filled", "rejected"} <= statuses and len(ref.fills()) > 20


def test_cash_needed_for_a_buy_and_the_affordable_lot_equal_the_reference():
    """The cash check of a buy, to the cent: with cash exactly the cost of n lots both brokers buy
    n lots, with a cent less both buy n - 1 (where the binary search of _affordable_qty turns)."""
    from aquant.qmt.sim_broker import SimBroker

    for day in (pd.Timestamp("2015-07-31"), pd.Timestamp("2024-01-02")):
        for px, code, board in ((9.87, "600000.SH", "main"), (123.45, "688001.SH", "star"), (3.01, "000001.SZ", "main")):
            for q in (100, 200, 300, 1700, 20_000):
                ref, fast = SimBroker(1e6, CostModel(0.0003, 5.0)), FastSimBroker(1e6, CostModel(0.0003, 5.0))
                for b in (ref, fast):
                    b.day = day
                cost = ref._buy_cost_c(px, q, code)
                assert fast._buy_cost_c(px, q, code) == cost
                for cash in (cost, cost - 1):
                    ref._cash_c = fast._cash_c = cash
                    assert fast._affordable_qty(px, q + 500, board, code) == ref._affordable_qty(px, q + 500, board, code)

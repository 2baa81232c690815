"""The fast engine's day inputs equal the reference's: one day's signals and bars as plain lists.

The backtest's fast engine cuts the whole period's signals and bars into per-day lists once
(strategy.split_by_day, data.bars_by_day); paper trading and the reference engine hand `decide`
and the broker that day's DataFrames. These tests pin that both forms carry the same values and
that `decide` makes the same decision from either, on a market with the awkward cases (a NaN
score, a NaN priority, missing stop/target levels, several signals per day, rotation targets,
an industry change mid-period), so paper trading, live and the backtest cannot drift apart here;
and paper trading run day by day fills what the fast backtest fills. End to end the two engines
are compared in tests/test_qmt_fast_core.py.
"""
from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from aquant.db import Database
from aquant.qmt import data, paper
from aquant.qmt.backtest import simulate
from aquant.qmt.broker import Position
from aquant.qmt.fast_core import FastSimBroker
from aquant.qmt.paper import run_paper
from aquant.qmt.sim_broker import SimBroker
from aquant.qmt.strategy import DaySignals, StrategyParams, StrategyState, decide, split_by_day

from test_qmt_backtest import load_market, market

CODES = ["000001.SZ", "000002.SZ", "300001.SZ", "600000.SH", "688001.SH"]
DAYS = pd.bdate_range("2024-03-04", periods=6)


def _signals() -> pd.DataFrame:
    rng = np.random.default_rng(7)
    rows = []
    for k in range(40):
        d, code = DAYS[k % len(DAYS)], CODES[(k * 3) % len(CODES)]
        kind = "sell" if k % 4 == 0 else "buy"
        score = np.nan if k % 7 == 0 else float(rng.uniform(5, 9))
        prio = np.nan if k % 9 == 0 else float(k % 3)
        tp, sl = (np.nan, np.nan) if k % 5 == 0 else (12.5, 9.1)
        rows.append((f"s{k}", d, code, kind, score, tp, sl, prio, 10.0 + k % 4))
    return pd.DataFrame(rows, columns=["signal_id", "trade_date", "code", "kind", "composite_score", "take_profit",
                                       "stop_loss", "priority", "close"])


def _targets() -> pd.DataFrame:
    return pd.DataFrame({"rebalance_date": [DAYS[2]] * 3 + [DAYS[5]] * 2,
                         "code": [CODES[3], CODES[0], CODES[4], CODES[1], CODES[2]],
                         "target_weight": [0.1, 0.3, 0.05, 0.2, 0.2]})


def test_split_by_day_equals_each_days_frame_converted():
    sig, tgt = _signals(), _targets()
    by_day = split_by_day(sig, tgt)
    assert sorted(by_day) == list(DAYS)
    for d in DAYS:
        one = DaySignals.of(sig[sig.trade_date == d], tgt[tgt.rebalance_date == d])
        assert repr(by_day[d]) == repr(one), d  # repr: NaN equals NaN, floats exact
        assert one.rows and (one.targets != []) == (d in (DAYS[2], DAYS[5]))


def test_decide_is_the_same_from_frames_and_from_day_signals():
    """Every day, from the same positions and state: the frames (paper trading's form) and the
    DaySignals (the backtest's) give equal orders, standing orders and skips."""
    sig, tgt = _signals(), _targets()
    by_day = split_by_day(sig, tgt)
    pos = {CODES[0]: Position(CODES[0], 2000, 2000, 9.5), CODES[3]: Position(CODES[3], 800, 800, 11.0)}
    closes = {c: 10.0 + i for i, c in enumerate(CODES)}
    ind = {CODES[0]: "银行", CODES[1]: "银行", CODES[2]: "电力设备", CODES[3]: "银行"}
    for rotation_exit in (False, True):
        p = StrategyParams(max_positions=4, max_weight_industry=0.3, rotation_exit=rotation_exit)
        for d in DAYS:
            st_a, st_b = StrategyState(), StrategyState()
            a = decide(d, pos, 50_000.0, closes, sig[sig.trade_date == d], tgt[tgt.rebalance_date == d], ind, st_a, p)
            b = decide(d, pos, 50_000.0, closes, by_day[d], None, ind, st_b, p)
            assert (a.orders, a.standing, a.skipped) == (b.orders, b.standing, b.skipped), d
            assert st_a == st_b
            assert a.orders or a.skipped, "each day must decide something to prove anything"


def _quotes() -> pd.DataFrame:
    rng = np.random.default_rng(3)
    rows = []
    for d in DAYS:
        for i, c in enumerate(CODES[:-1] if d == DAYS[1] else CODES):  # one code missing on a day
            pre = 10.0 + i
            o = round(pre * (1 + rng.normal(0, 0.01)), 2)
            cl = round(pre * (1 + rng.normal(0, 0.02)), 2)
            ind = "电子" if (c == CODES[2] and d >= DAYS[3]) else "银行"
            rows.append((c, d, o, max(o, cl) + 0.05, min(o, cl) - 0.05, cl, pre, 0.0 if i == 1 and d == DAYS[4]
                         else 1e6, "main", c == CODES[1] and d >= DAYS[2], ind))
    q = pd.DataFrame(rows, columns=["code", "trade_date", "open", "high", "low", "close", "pre_close", "volume",
                                    "board", "is_st", "industry_l1"])
    prev = q.groupby("code")[["is_st", "industry_l1"]].shift(1)
    q["state_changed"] = (q.is_st != prev.is_st) | (q.industry_l1 != prev.industry_l1)
    return q.sort_values(["trade_date", "code"], kind="stable").reset_index(drop=True)


def test_bars_by_day_without_a_change_flag_carries_every_row_as_state():
    q = _quotes().drop(columns="state_changed")
    for (d, bars), (_, frame) in zip(data.bars_by_day(q), q.groupby("trade_date", sort=True)):
        state = data.day_state(frame)
        assert len(state) == len(frame) and bars.state == {c: state[c].tolist() for c in state.columns}, d


def test_bars_by_day_carries_each_days_bars_and_state():
    q = _quotes()
    got = list(data.bars_by_day(q))
    ref = list(q.groupby("trade_date", sort=True))
    assert [d for d, _ in got] == [d for d, _ in ref]
    for (d, bars), (_, frame) in zip(got, ref):
        assert bars.codes == frame.code.tolist()
        for c in ("open", "high", "low", "close", "pre_close", "volume"):
            assert bars.cols[c] == frame[c].astype(float).tolist()
        state = data.day_state(frame)
        assert bars.state == {c: state[c].tolist() for c in state.columns}, d
        assert data.day_state(bars) is bars.state
    assert sum(len(b.state["code"]) for _, b in got) < len(q), "the state rows must be the changed ones only"
    # the broker opens the same day from either form: same marks, bars and limit checks
    for (d, bars), (_, frame) in zip(got, ref):
        fast, slow = FastSimBroker(1e6), SimBroker(1e6)
        fast.start_day(d, bars)
        slow.start_day(d, frame)
        for c in CODES:
            assert fast.bar(c) == slow.bar(c)
        assert fast.marks(set(CODES)) == slow.marks(set(CODES))


@pytest.mark.parametrize("params", [{"slippage": 0.0005},
                                    {"slippage": 0.0005, "rotation_exit": True, "max_weight_stock": 0.2,
                                     "max_weight_industry": 0.4, "trail_stop_position": 0.05}])
def test_paper_trading_day_by_day_fills_what_the_fast_backtest_fills(duck, monkeypatch, params):
    """Paper trading (one run per day through ops tables, the reference broker restored from its
    snapshot, decide on that day's DataFrames) and the fast backtest (one pass, per-day lists):
    the same fills, to the cent, and the same equity every day."""
    m = market()
    days = sorted(m["stg_daily_quote"].trade_date.unique())
    after = days[-1] + pd.Timedelta(days=1)
    monkeypatch.setattr(paper, "next_session",
                        lambda d, db=None: next((x for x in days if x > pd.Timestamp(d)), after).date())
    with Database(duck) as db:
        load_market(db, m)
        equity = [run_paper(db, d.date(), params).equity for d in days]
        trades = db.query_df("select traded_at, code, side, price, qty, fee from ops.trades")
    sig = m["signals"][m["signals"].layer == "offense"]  # what data.load_signals reads
    res = simulate(m["stg_daily_quote"], m["stg_stock_info"], sig, m["portfolio_targets"], m["stg_dividend"], params,
                   engine="fast")
    fills = res.log[res.log.status == "filled"]
    key = lambda rows: sorted((pd.Timestamp(d), c, s, float(p), int(q), float(f)) for d, c, s, p, q, f in rows)  # noqa: E731
    assert len(fills) >= 6 and {"buy", "sell"} <= set(fills.side)
    assert key(trades.itertuples(index=False)) == key(fills[["trade_date", "code", "side", "price", "qty", "fee"]]
                                                      .itertuples(index=False))
    assert equity == res.equity["equity"].tolist()

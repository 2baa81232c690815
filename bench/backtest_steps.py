"""Backtest steps: our simulator (qmt/backtest.simulate) against vectorbt on the same signals.

Two configurations of ours:
  rotation  the default StrategyParams (rotation targets + signals, caps, trailing stops, costs,
            A-share rules): what `aquant backtest` runs.
  simple    the rules vectorbt expresses too: buy on a buy signal at the next open with
            `buy_weight` of equity, sell the whole position on the sell signal at the next open,
            no rotation, no trailing stops, no standing stop/target orders, no costs (commission,
            stamp duty and transfer fee zeroed), volume cap at 100 % of the bar's volume (not 5 %),
            cash never binding (tiny weight, huge account, so lot rounding is negligible).
            Still A-share: board lots, T+1,
            no buy at limit-up / no sell at limit-down (vectorbt gets the same outcome as data:
            see `_ours_outcomes`).
vectorbt's from_signals sizes an entry in shares, value or percent of cash, not percent of
equity: it buys a fixed `buy_weight x initial_cash` CNY at the open, where ours buys `buy_weight`
of the day's equity at the close, in 100-share lots; with equity moving a few per cent over the
run, that is the main (second-order) gap between the two returns.
vectorbt trades back-adjusted prices (open/close x adj_factor), which credits dividends and
bonus shares as ours does in cash and shares (the sample market steps adj_factor on the first
session on or after an ex-date, the session ours credits the event on; a suspended stock's step
shows on its next bar, where its price drop does). Closes are forward-filled over a suspension
(ours marks a suspended holding at its last close); an order on a day without a bar has a NaN
price and vectorbt ignores it, as ours refuses it. Not modelled: the dividend tax ours withholds
(BookParams.dividend_tax; ~4.5 points of ours' return at full scale) and the reinvestment implied
by adjusted prices (ours keeps the dividend in cash).
What ours could not do enters vectorbt as data from ours' log (`_ours_outcomes`): entries and
exits refused outright are dropped, exits refused at a sealed limit-down are retried at the next
open, and entries and exits cut by the volume cap (`volume_share`, 100 % of the bar's volume here;
a 6 M CNY order on a low-float stock's quiet day) are sized to the share ours filled.
"""
from __future__ import annotations

import argparse
import time

import numpy as np
import pandas as pd

SIMPLE = dict(initial_cash=1e10, buy_weight=0.0002, max_weight_stock=1.0, max_weight_industry=1.0,
              max_positions=1_000_000, trail_stop_position=None, trail_stop_portfolio=None, use_targets=False,
              commission_rate=0.0, commission_min=0.0, slippage=0.0, volume_share=1.0)


def _emit(d: dict) -> None:
    from bench.steps import emit

    emit(d)


def _load(db_path: str):
    from aquant import relations
    from aquant.db import Database
    from aquant.qmt import data
    from bench.steps import settings_for

    settings = settings_for(db_path)
    with Database(settings) as db:
        lo, hi = db.query(f"select min(trade_date), max(trade_date) from {relations.locate(db, 'factor_scores')}")[0]
        src = data.Sources()
        t0 = time.perf_counter()
        frames = dict(quotes=data.load_quotes(db, lo, hi, src), info=data.load_stock_info(db, src),
                      signals=data.load_signals(db, lo, hi, src), targets=data.load_targets(db, lo, hi, src),
                      dividends=data.load_dividends(db, lo, hi, src))
        return frames, time.perf_counter() - t0, lo, hi


def _zero_fee_broker():
    """make_broker with stamp duty and transfer fee at zero (bench only; the product keeps them),
    for either engine (the fast one gets the same zeroed rows through its cached RuleBook)."""
    from aquant.qmt import backtest
    from aquant.qmt.costs import CostModel
    from aquant.qmt.fast_core import FastRuleBook, broker_class
    from aquant.qmt.rules import RuleBook

    class NoTaxRules(RuleBook):
        def stamp_rate(self, day):  # noqa: ANN001, ANN201
            return 0.0

        def transfer_rate(self, day, exchange="SH"):  # noqa: ANN001, ANN201
            return 0.0

    class FastNoTaxRules(FastRuleBook, NoTaxRules):
        pass

    def make(p, info=None, engine="reference"):  # noqa: ANN001, ANN202
        rules = FastNoTaxRules() if engine == "fast" else NoTaxRules()
        b = broker_class(engine)(p.initial_cash, CostModel(p.commission_rate, p.commission_min, p.slippage, rules),
                                 p.volume_share)
        if info is not None and not info.empty:
            b.set_info(info)
        return b

    backtest.make_broker = make


def step_backtest(a: argparse.Namespace) -> None:
    """Ours, one configuration (`--mode rotation|simple`), timed inside the process."""
    from aquant.qmt.backtest import simulate

    f, t_load, lo, hi = _load(a.db)
    sig = f["signals"]
    if a.mode == "simple":
        _zero_fee_broker()
        sig = sig.assign(take_profit=np.nan, stop_loss=np.nan)
        params = SIMPLE
    else:
        params = None
    # Both engines alternately, twice each (reference, fast, reference, fast): the fastest wall and
    # CPU time of each, so a burst of load on the shared machine does not pick the winner. The
    # fast engine (qmt/fast_core.py) must give the reference's result exactly, or its time means nothing.
    wall: dict[str, float] = {"reference": float("inf"), "fast": float("inf")}
    cpu = dict(wall)
    for engine in ("reference", "fast", "reference", "fast"):
        t0, c0 = time.perf_counter(), time.process_time()
        r = simulate(f["quotes"], f["info"], sig, f["targets"], f["dividends"], params, engine=engine)
        wall[engine] = min(wall[engine], time.perf_counter() - t0)
        cpu[engine] = min(cpu[engine], time.process_time() - c0)
        if engine == "reference":
            res = r
        else:
            fast = r
    t_sim, t_fast = wall["reference"], wall["fast"]
    identical = fast.log.equals(res.log) and fast.equity.equals(res.equity)
    out = {"mode": a.mode, "load_s": t_load, "simulate_s": t_sim, "simulate_fast_s": t_fast,
           "fast_identical": identical, "simulate_cpu_s": cpu["reference"], "simulate_fast_cpu_s": cpu["fast"],
           "days": len(res.equity), "start": lo, "end": hi,
           "quote_rows": len(f["quotes"]), "signals": len(sig), "orders_logged": len(res.log),
           "total_return": res.summary["total_return"], "n_trades": res.summary["n_trades"]}
    if a.mode == "simple":
        log = res.log
        out["cash_skips"] = int(log["reason"].str.contains("cash:").sum())
        res.equity.to_pickle(f"{a.db}.ours_simple_equity.pkl")
        log.to_pickle(f"{a.db}.ours_simple_log.pkl")
    _emit(out)


def _mask(days: pd.Index, codes: pd.Index, dates: pd.Series, cs: pd.Series) -> pd.DataFrame:
    """A days x codes boolean frame, true at the given (date, code) pairs."""
    g = np.zeros((len(days), len(codes)), dtype=bool)
    g[days.get_indexer(pd.to_datetime(dates)), codes.get_indexer(cs)] = True
    return pd.DataFrame(g, index=days, columns=codes)


def _ours_outcomes(log: pd.DataFrame, days: pd.Index, codes: pd.Index) -> dict[str, pd.DataFrame]:
    """What happened to ours' orders, as days x codes grids (execution day) for vectorbt to replay
    the same market. vectorbt has no limit-locked days, no volume cap and no per-order refusals, so
    ours' outcomes enter as data:

    refused_buy      an entry ours could not fill at all (sealed limit-up, suspension, volume cap,
                     or `already held` because a remainder of the last position is still held):
                     dropped.
    refused_sell     an exit ours could not fill at all (sealed limit-down, suspension, volume
                     cap): vectorbt must not sell that day either. Before this grid existed it
                     sold at the sealed limit-down open that ours could not (12,753 exits at
                     full scale).
    limit_down_sell  an exit refused at a sealed limit-down: ours retries it at the next open.
    buy_fraction     the share of an entry ours filled (1.0 unless the volume cap cut it): a cut
                     entry is sized `buy_weight x fraction`. Before this grid existed, an entry cut
                     by the cap had a `rejected` row for its remainder and was dropped entirely.
    sell_fraction    the share of the holding an exit sold (1.0 unless the volume cap cut it): the
                     unsold rest stays held until the next sell signal, as in ours.
    """
    key = ["trade_date", "code", "side"]
    filled = log[log["status"] == "filled"].groupby(key)["qty"].sum()
    rej = log[log["status"] == "rejected"]
    cut = rej[rej["reason"].str.contains("volume cap")].groupby(key)["qty"].sum()
    done = filled.reindex(cut.index).fillna(0)
    frac = (done / (done + cut)).rename("fraction").reset_index()
    frac = frac[frac["fraction"] > 0]  # nothing filled: a refused entry (below), not a fraction
    out = {}
    for side in ("buy", "sell"):
        fr = frac[frac["side"] == side]
        a = np.ones((len(days), len(codes)))
        a[days.get_indexer(pd.to_datetime(fr["trade_date"])), codes.get_indexer(fr["code"])] = fr["fraction"]
        out[f"{side}_fraction"] = pd.DataFrame(a, index=days, columns=codes)
    for side in ("buy", "sell"):  # refused outright: a rejected row and no fill that day
        r = rej[rej["side"] == side].set_index(["trade_date", "code"]).index
        f = filled.xs(side, level="side").index if (filled.index.get_level_values("side") == side).any() else r[:0]
        r = r.difference(f).to_frame(index=False)
        out[f"refused_{side}"] = _mask(days, codes, r["trade_date"], r["code"])
    ld = rej[(rej["side"] == "sell") & rej["reason"].str.contains("limit down")]
    out["limit_down_sell"] = _mask(days, codes, ld["trade_date"], ld["code"])
    return out


def step_vectorbt(a: argparse.Namespace) -> None:
    """vectorbt Portfolio.from_signals on the same signals, `simple` rules; compared with ours."""
    import vectorbt as vbt
    from vectorbt.portfolio.enums import SizeType

    f, t_load, lo, hi = _load(a.db)
    q, sig = f["quotes"], f["signals"]
    t0 = time.perf_counter()
    wide = q.pivot(index="trade_date", columns="code", values=["open", "close", "adj_factor"])
    adj = wide["adj_factor"]
    open_h = wide["open"] * adj
    close_h = (wide["close"] * adj).ffill()
    days, codes = open_h.index, open_h.columns
    # the signal of day D executes at D+1's open: shift by one session
    def grid(kind: str) -> pd.DataFrame:
        s = sig[sig["kind"] == kind]
        return _mask(days, codes, s["trade_date"], s["code"]).shift(1, fill_value=False)
    entries, exits = grid("buy"), grid("sell")
    log = pd.read_pickle(f"{a.db}.ours_simple_log.pkl")
    g = _ours_outcomes(log, days, codes)
    entries &= ~g["refused_buy"]
    exits = (exits & ~g["refused_sell"]) | g["limit_down_sell"].shift(1, fill_value=False)
    entries &= open_h.notna()
    t_prep = time.perf_counter() - t0
    kw = dict(close=close_h, entries=entries, exits=exits, price=open_h,
              size=SIMPLE["buy_weight"] * SIMPLE["initial_cash"] * g["buy_fraction"],
              size_type="value", init_cash=SIMPLE["initial_cash"], cash_sharing=True, group_by=True,
              call_seq="auto", size_granularity=100, freq="1D")
    t1 = time.perf_counter()
    pf = vbt.Portfolio.from_signals(**kw)
    value = pf.value()
    t_first = time.perf_counter() - t1
    t2 = time.perf_counter()
    pf = vbt.Portfolio.from_signals(**kw)
    value = pf.value()
    t_vbt = time.perf_counter() - t2
    # Agreement: from_signals can only size an entry by value or % of cash, so a fixed value does
    # not compound while ours (a fraction of equity) does. from_orders expresses ours exactly:
    # target `buy_weight` of the portfolio at the entry, target 0 at the exit, nothing in between.
    # An exit the volume cap cut sells that share of the holding (size_type Percent of the
    # position, negative = sell; long only, or Percent would open a short); a whole exit targets 0.
    sell_frac = g["sell_fraction"].to_numpy()
    target = np.where(entries.to_numpy(), SIMPLE["buy_weight"] * g["buy_fraction"].to_numpy(), np.nan)
    target = np.where(exits.to_numpy(), np.where(sell_frac < 1.0, -sell_frac, 0.0), target)
    size_type = pd.DataFrame(np.where(exits.to_numpy() & (sell_frac < 1.0), SizeType.Percent,
                                      SizeType.TargetPercent), index=days, columns=codes)
    kw_o = dict(close=close_h, size=pd.DataFrame(target, index=days, columns=codes), size_type=size_type,
                direction="longonly", price=open_h, init_cash=SIMPLE["initial_cash"], cash_sharing=True,
                group_by=True, call_seq="auto", size_granularity=100, freq="1D")
    t3 = time.perf_counter()
    pf_o = vbt.Portfolio.from_orders(**kw_o)
    value_o = pf_o.value()
    t_orders_first = time.perf_counter() - t3
    t4 = time.perf_counter()
    value_o = vbt.Portfolio.from_orders(**kw_o).value()
    t_orders = time.perf_counter() - t4
    ours = pd.read_pickle(f"{a.db}.ours_simple_equity.pkl").set_index("trade_date")["equity"]
    ours.index = pd.to_datetime(ours.index)
    v = value.reindex(ours.index)
    r_ours, r_vbt = ours.pct_change().dropna(), v.pct_change().dropna()
    vo = value_o.reindex(ours.index)
    r_o = vo.pct_change().dropna()
    _emit({"orders_first_call_s": t_orders_first, "orders_s": t_orders,
           "total_return_vbt_orders": float(vo.iloc[-1] / SIMPLE["initial_cash"] - 1),
           "daily_return_corr_orders": float(np.corrcoef(r_ours, r_o)[0, 1]),
           "max_abs_daily_return_gap_orders": float((r_ours - r_o).abs().max()),
           "load_s": t_load, "prep_s": t_prep, "vbt_first_call_s": t_first, "vbt_s": t_vbt,
           "orders": int(pf.orders.count()), "total_return_vbt": float(v.iloc[-1] / SIMPLE["initial_cash"] - 1),
           "total_return_ours": float(ours.iloc[-1] / SIMPLE["initial_cash"] - 1),
           "daily_return_corr": float(np.corrcoef(r_ours, r_vbt)[0, 1]),
           "max_abs_daily_return_gap": float((r_ours - r_vbt).abs().max())})


def step_broker(a: argparse.Namespace) -> None:
    """The broker alone, both engines: a day of market buys on every stock of the last day's bars,
    then a day of untriggered stops and market sells; best of 5 CPU times, identical logs required."""
    from aquant.qmt.backtest import make_broker
    from aquant.qmt.broker import OrderRequest
    from aquant.qmt.strategy import StrategyParams

    f = _load(a.db)[0]
    q = f["quotes"]
    days = sorted(q["trade_date"].unique())[-2:]
    bars = [q[q["trade_date"] == d].reset_index(drop=True) for d in days]
    live = bars[0][bars[0]["volume"] > 0]["code"].tolist()
    p = StrategyParams(initial_cash=1e11, volume_share=1.0, slippage=0.0005)
    out, logs = {}, {}
    for engine in ("reference", "fast"):
        best = float("inf")
        for _ in range(5):
            b = make_broker(p, f["info"], engine)
            b.start_day(days[0], bars[0])
            t0 = time.process_time()
            for c in live:
                b.submit(OrderRequest(c, "buy", 300))
            b.start_day(days[1], bars[1])
            for c in live:
                bar = b.bar(c)
                if bar is not None:
                    b.submit(OrderRequest(c, "sell", 300, "stop", round(bar["low"] * 0.9, 2) or 0.01))
                b.submit(OrderRequest(c, "sell", 300))
            best = min(best, time.process_time() - t0)
        out[f"{engine}_s"], logs[engine] = best, [vars(e) for e in b.log]
    _emit({**out, "orders": 3 * len(live), "identical": logs["fast"] == logs["reference"],
           "us_per_order_reference": out["reference_s"] / (3 * len(live)) * 1e6,
           "us_per_order_fast": out["fast_s"] / (3 * len(live)) * 1e6})


STEPS = {"backtest": step_backtest, "vectorbt": step_vectorbt, "broker": step_broker}

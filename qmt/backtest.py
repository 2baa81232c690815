"""Backtest: the strategy on SimBroker over history, written to ops.backtest_*.

`simulate` is pure (frames in, frames out) and deterministic: same inputs and params give the
same log and equity byte for byte, so a golden file can pin it. Data is grouped by day once
(vectorised); the per-day loop touches only held positions and that day's signals.
"""
from __future__ import annotations

import json
import uuid
from dataclasses import asdict, dataclass, field, fields
from datetime import date, datetime, timezone
from operator import attrgetter
from typing import Any, Mapping

import numpy as np
import pandas as pd

from aquant.db import Database

from . import data, metrics
from .corporate_actions import schedule
from .costs import CostModel
from .fast_core import DEFAULT_ENGINE, broker_class
from .sim_broker import DELISTING_RULES, CorporateAction, LogEntry, SimBroker
from .strategy import DaySignals, Decision, StrategyParams, StrategyState, decide, split_by_day
from .tables import BACKTEST_EQUITY, BACKTEST_LOG, BACKTEST_RUN, ensure_current


@dataclass
class BacktestResult:
    """Everything a run produced, before it is written."""

    log: pd.DataFrame      # backtest_log rows without run_id
    equity: pd.DataFrame   # trade_date, equity, cash, drawdown, benchmark
    summary: dict[str, Any]
    # corporate actions applied to holdings: trade_date (session applied), code, ex_date, cash,
    # withheld, bonus_shares (not written to ops: the contract's tables stay as they are)
    actions: pd.DataFrame = field(default_factory=pd.DataFrame)


@dataclass(frozen=True)
class BookParams:
    """Knobs of the simulated account's bookkeeping (given with the strategy's in one params JSON).

    delisting: "last_close" sells a holding at its last close once its delist_date is reached,
        "zero" writes it off (docs/qmt.md, "Delisting").
    dividend_tax: withhold the individual investor's dividend income tax (rules.DIVIDEND_TAX)
        at the sale, by holding period; False for an account that pays none.
    """

    delisting: str = "last_close"
    dividend_tax: bool = True

    def __post_init__(self) -> None:
        if self.delisting not in DELISTING_RULES:
            raise ValueError(f"delisting must be one of {DELISTING_RULES}, got {self.delisting!r}")

    def apply(self, broker: SimBroker) -> SimBroker:
        broker.delisting, broker.dividend_tax = self.delisting, bool(self.dividend_tax)
        return broker


def split_params(params: StrategyParams | Mapping[str, Any] | None) -> tuple[StrategyParams, BookParams]:
    """One params mapping -> the strategy's knobs and the bookkeeping's (each rejects unknown keys)."""
    if params is None or isinstance(params, StrategyParams):
        return StrategyParams.from_any(params), BookParams()
    book_keys = {f.name for f in fields(BookParams)}
    book = BookParams(**{k: v for k, v in params.items() if k in book_keys})
    return StrategyParams.from_any({k: v for k, v in params.items() if k not in book_keys}), book


def params_json(p: StrategyParams, book: BookParams) -> str:
    """Both sets of knobs, as recorded in ops.backtest_run.params."""
    return json.dumps({**json.loads(p.to_json()), **asdict(book)}, sort_keys=True)


def make_broker(p: StrategyParams, info: pd.DataFrame | None = None, engine: str = "reference") -> SimBroker:
    """The simulated account of a run; `engine` "fast" is fast_core.FastSimBroker (same rules and
    results, integer-cent hot paths), "reference" the readable SimBroker."""
    b = broker_class(engine)(p.initial_cash, CostModel(p.commission_rate, p.commission_min, p.slippage),
                             p.volume_share)
    if info is not None and not info.empty:
        b.set_info(info)
    return b


def execute_day(broker: SimBroker, state: StrategyState, day: pd.Timestamp, bars: pd.DataFrame,
                actions: pd.DataFrame | None, plan: Decision) -> list[CorporateAction]:
    """One session: delisted holdings closed, corporate actions that apply on this session (see
    corporate_actions.schedule), yesterday's plan at the open (sells, then buys), then the
    standing stops/targets against the bar. Shared by the backtest and paper trading."""
    broker.set_info(data.day_state(bars))  # that day's board / ST flag (point in time)
    broker.start_day(day, bars)
    for code in broker.delisted:
        state.on_position_closed(code)
    done = broker.apply_corporate_actions(actions)
    for a in done:
        state.on_corporate_action(a.code, a.cash_per_share, a.bonus_ratio)
    for s in plan.skipped:  # decided yesterday, logged on the day it would have traded
        broker.log.append(LogEntry(day, s.code, s.side, "rejected", None, s.qty, 0.0, s.reason, "", s.signal_id))
    for o in plan.orders:
        res = broker.submit(o)
        if o.side == "buy" and res.filled:
            state.on_buy_fill(o.code, res.fills[0].price)
        elif o.side == "sell":
            if res.rejected and res.reason.startswith("limit down"):
                state.retry_sells[o.code] = o.reason
            if not broker.holds(o.code):
                state.on_position_closed(o.code)
    for o in plan.standing:
        pos = broker.position(o.code)
        if not pos or pos.sellable <= 0:
            continue  # already sold at the open or by the other standing order
        o.qty = pos.sellable
        broker.submit(o)
        if not broker.holds(o.code):
            state.on_position_closed(o.code)
    for code in list(state.pending_meta):  # buy signals that did not fill
        if not broker.holds(code):
            state.pending_meta.pop(code)
    return done


def simulate(quotes: pd.DataFrame, info: pd.DataFrame, signals: pd.DataFrame, targets: pd.DataFrame,
             dividends: pd.DataFrame, params: StrategyParams | Mapping[str, Any] | None = None,
             book: BookParams | None = None, engine: str = DEFAULT_ENGINE) -> BacktestResult:
    """Run the strategy over every trading day present in `quotes` (sorted by date).

    `engine`: "fast" (default) or "reference" (qmt/fast_core.py; identical logs and equity,
    pinned by tests/test_qmt_fast_core.py).

    Corporate actions apply on the first session on or after their ex-date (an ex-date on a
    weekend or holiday is not lost); `params` may hold BookParams keys too."""
    p, book2 = split_params(params)
    book = book or book2
    if quotes.empty:
        raise ValueError("no quotes in the backtest range; expected rows in stg_daily_quote — run "
                         "`aquant ingest` and `aquant build`, or widen --start/--end")
    quotes = quotes.sort_values(["trade_date", "code"], kind="stable")
    days = pd.DatetimeIndex(quotes["trade_date"].unique())
    fast = engine == "fast"
    # equal-weight market return per day: benchmark and crash rule
    mkt = (quotes["close"] / quotes["pre_close"] - 1).groupby(quotes["trade_date"]).mean().reindex(days).fillna(0.0)
    # Plain Python objects for the text columns: itertuples over Arrow-backed strings is slow.
    signals = signals.astype({c: object for c in signals.columns if signals[c].dtype.kind not in "fiubmM"})
    if fast:  # each day's bars and signals as plain lists, converted once (not a DataFrame per day)
        day_bars = data.bars_by_day(quotes)
        sig_days = split_by_day(signals, targets)
    else:  # the reference: each day's rows as DataFrames
        day_bars = iter(quotes.groupby("trade_date", sort=True))
        sig_by = {d: g for d, g in signals.groupby("trade_date")} if not signals.empty else {}
        tgt_by = ({d: g for d, g in targets.groupby("rebalance_date")}
                  if targets is not None and not targets.empty else {})
    events = schedule(dividends, days)
    div_by = {d: g for d, g in events.groupby("apply_date")} if not events.empty else {}
    industries: dict[str, str] = {}
    if info is not None and not info.empty:
        industries.update({c: i for c, i in zip(info["code"], info["industry_l1"]) if isinstance(i, str)})
    day_industry = "industry_l1" in quotes.columns  # point-in-time industry per bar (data.load_quotes)
    if not day_industry and not signals.empty and "industry_l1" in signals:
        industries.update({c: i for c, i in zip(signals["code"], signals["industry_l1"]) if isinstance(i, str)})

    broker, state, plan = book.apply(make_broker(p, info, engine)), StrategyState(), Decision()
    rows: list[tuple] = []
    applied: list[tuple] = []
    empty, no_signals = pd.DataFrame(columns=["kind"]), DaySignals()
    mkt_of = mkt.to_numpy().tolist()  # per day, in the loop's order (Series.get per day is slow)
    for k, (d, bars) in enumerate(day_bars):
        ev = div_by.get(d)
        ex = dict(zip(ev["code"], ev["ex_date"])) if ev is not None else {}
        for a in execute_day(broker, state, d, bars, ev, plan):
            applied.append((d, a.code, ex.get(a.code), a.cash, a.withheld, a.bonus_shares))
        eq = broker.end_day()
        rows.append((d, eq, broker.cash()))
        if day_industry:  # industry caps use each stock's industry of the day (rows that changed)
            chg = data.day_state(bars)
            industries.update({c: i for c, i in zip(chg["code"], chg["industry_l1"]) if isinstance(i, str)})
        held = broker.positions()
        if fast:
            sigs, tgts = sig_days.get(d, no_signals), None  # the targets ride in the DaySignals
            sig_codes, sig_closes = [r[0] for r in sigs.rows], [r[7] for r in sigs.rows]
            tgt_codes = [c for c, _ in sigs.targets]
        else:
            sigs, tgts = sig_by.get(d, empty), tgt_by.get(d, empty)
            sig_codes, sig_closes, tgt_codes = sigs.get("code", []), sigs.get("close", []), tgts.get("code", [])
        closes = broker.marks(set(held) | set(sig_codes) | set(tgt_codes))
        for c, v in zip(sig_codes, sig_closes):  # signal's own close as fallback
            if c not in closes and v == v and v:
                closes[c] = float(v)
        plan = decide(d, held, broker.cash(), closes, sigs, tgts, industries,
                      state, p, broker.rules, float(mkt_of[k]))

    eq = pd.DataFrame(rows, columns=["trade_date", "equity", "cash"])
    eq["drawdown"] = metrics.drawdown(eq["equity"], p.initial_cash)
    eq["benchmark"] = p.initial_cash * np.cumprod(1 + mkt.to_numpy())
    # one C-level getter over the log's entries (a full-market run logs ~700,000)
    row = attrgetter("trade_date", "code", "side", "status", "price", "qty", "fee", "reason", "order_id",
                     "signal_id", "tax")
    log = pd.DataFrame(list(map(row, broker.log)),
                       columns=["trade_date", "code", "side", "status", "price", "qty", "fee", "reason",
                                "order_id", "signal_id", "dividend_tax"])
    log.insert(0, "seq", np.arange(1, len(log) + 1, dtype="int64"))
    rets = eq["equity"].pct_change()
    rets.iloc[0] = eq["equity"].iloc[0] / p.initial_cash - 1
    m = metrics.compute(rets)
    fills = broker.fills()
    sells = [f for f in fills if f.side == "sell"]
    traded = sum(f.price * f.qty for f in fills)
    years = len(eq) / metrics.ANNUAL
    trading_fees = float(sum(f.fee for f in fills) - log["dividend_tax"].sum())
    summary = {**asdict(m),
               "win_rate": (sum(f.pnl > 0 for f in sells) / len(sells)) if sells else float("nan"),
               # one-way annual turnover: half of traded value over mean equity, per year
               "turnover": float(traded / 2 / eq["equity"].mean() / years) if years else float("nan"),
               "benchmark_return": float(np.prod(1 + mkt.to_numpy()) - 1),
               "final_equity": float(eq["equity"].iloc[-1]), "n_trades": len(fills),
               "dividends": broker.dividends_received(), "dividend_tax": float(log["dividend_tax"].sum()),
               "turnover_annual": metrics.turnover(traded, float(eq["equity"].mean()), len(eq)),
               # trading costs only (commission, stamp duty, transfer fee): the dividend tax withheld
               # at a sale sits in that fill's fee (contract: all costs of the fill) but is not one
               "fees": trading_fees,
               "cost_drag": metrics.cost_drag(trading_fees, p.initial_cash, len(eq)),
               "params": params_json(p, book)}
    actions = pd.DataFrame(applied, columns=["trade_date", "code", "ex_date", "cash", "withheld", "bonus_shares"])
    return BacktestResult(log, eq, summary, actions)


def _none(x: Any) -> Any:
    return None if isinstance(x, float) and x != x else x


def write_result(db: Database, run_id: str, res: BacktestResult, start: date, end: date,
                 params: StrategyParams) -> None:
    """All three ops tables in one transaction: a run is either fully recorded or absent."""
    ensure_current(db, BACKTEST_RUN, BACKTEST_LOG, BACKTEST_EQUITY)  # e.g. turnover_annual, fees, cost_drag
    s = res.summary
    run = pd.DataFrame([{"run_id": run_id, "started_at": datetime.now(timezone.utc).replace(tzinfo=None),
                         "params": s.get("params") or params.to_json(), "start_date": pd.Timestamp(start),
                         "end_date": pd.Timestamp(end), **{k: _none(s.get(k)) for k in BACKTEST_RUN.columns
                                                            if k in s and k != "params"}}])
    log = res.log.drop(columns=["order_id", "dividend_tax"]).assign(run_id=run_id)
    log["qty"] = log["qty"].astype("int64")
    eq = res.equity.assign(run_id=run_id)
    with db.transaction():
        db.append(BACKTEST_RUN, run)
        db.append(BACKTEST_LOG, log)
        db.append(BACKTEST_EQUITY, eq)


def run_backtest(db: Database, start: date | str, end: date | str,
                 params: StrategyParams | Mapping[str, Any] | None = None, run_id: str | None = None,
                 engine: str = DEFAULT_ENGINE) -> str:
    """Backtest [start, end] on the dbt relations and record it; returns the run_id."""
    start, end = pd.Timestamp(start).date(), pd.Timestamp(end).date()
    if end < start:
        raise ValueError(f"backtest end {end} is before start {start}")
    p, book = split_params(params)
    src = data.Sources(p.staging_schema, p.signals_schema)
    res = simulate(data.load_quotes(db, start, end, src), data.load_stock_info(db, src),
                   data.load_signals(db, start, end, src), data.load_targets(db, start, end, src),
                   data.load_dividends(db, start, end, src), p, book, engine)
    run_id = run_id or f"bt-{datetime.now(timezone.utc):%Y%m%d-%H%M%S}-{uuid.uuid4().hex[:6]}"
    write_result(db, run_id, res, start, end, p)
    return run_id

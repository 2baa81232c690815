"""Reconciliation of one signal day: signals x orders x trades x quotes.

Every trade must trace to an order and (for signal orders) to a signal; every buy signal must
have become an order or carry a logged reason (skipped/rejected: limit up, suspended, cash, cap).
Differences are returned, printed by the CLI and stored in ops.reconcile_diff.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import date

import pandas as pd

from aquant.db import Database

from . import data
from .paper import next_session
from .records import now
from .rules import RuleBook, board_of
from .tables import ORDERS, RECONCILE_DIFF, TRADES


@dataclass
class Diff:
    kind: str
    code: str | None
    signal_id: str | None
    order_id: str | None
    trade_id: str | None
    detail: str


def _why_not_traded(code: str, day: date, quotes: pd.DataFrame, info: dict[str, bool]) -> str:
    """What the next session's bar says about a missing order (suspended, opened at limit up)."""
    q = quotes[quotes["code"] == code]
    if q.empty or not (q["volume"].iloc[0] > 0):
        return "next session: suspended (no bar)"
    r = q.iloc[0]
    _, up = RuleBook().limit_prices(r.pre_close, board_of(code), info.get(code, False), day)
    return f"next session: opened at limit up {up:.2f}" if r.open >= up else "next session: tradeable at the open"


def reconcile(db: Database, day: date | str, account: str | None = None,
              src: data.Sources = data.Sources()) -> list[Diff]:
    """Compare day's signals with the orders/trades for the next session; store and return diffs."""
    day = pd.Timestamp(day).date()
    nxt = next_session(day)
    for t in (ORDERS, TRADES, RECONCILE_DIFF):
        db.ensure_table(t)
    acct = "" if account is None else " and account = ?"
    args = [] if account is None else [account]
    sig = data.load_signals(db, day, day, src)
    orders = db.query_df(f"select order_id, signal_id, code, side, qty, status, reason, filled_qty "
                         f"from ops.orders where trade_date = ?{acct}", [nxt, *args])
    trades = db.query_df(f"select trade_id, order_id, code, side, price, qty, traded_at from ops.trades "
                         f"where cast(traded_at as date) = ?{acct}", [nxt, *args])
    quotes = data.load_quotes(db, nxt, nxt, src)
    try:
        info = dict(zip(*[data.load_stock_info(db, src, as_of=nxt)[c] for c in ("code", "is_st")]))
    except data.MissingRelation:
        info = {}
    diffs: list[Diff] = []
    # 1. each buy signal became an order, or has a logged reason
    by_sig = orders.dropna(subset=["signal_id"]).groupby("signal_id")
    seen = set(by_sig.groups)
    for r in sig[sig["kind"] == "buy"].itertuples(index=False):
        if r.signal_id not in seen:
            diffs.append(Diff("signal_without_order", r.code, r.signal_id, None, None,
                              "buy signal has no order and no logged reason; " + _why_not_traded(r.code, nxt, quotes, info)))
    # 2. each trade traces to an order, each signal order to a signal of that day
    known_orders = set(orders["order_id"]) | {r[0] for r in db.query(
        "select order_id from ops.orders where order_id in (select order_id from ops.trades "
        "where cast(traded_at as date) = ?)", [nxt])}
    sig_ids = set(sig["signal_id"])
    for t in trades.itertuples(index=False):
        if t.order_id not in known_orders:
            diffs.append(Diff("trade_without_order", t.code, None, t.order_id, t.trade_id,
                              f"trade {t.side} {t.qty} @ {t.price} has no row in ops.orders"))
        q = quotes[quotes["code"] == t.code]
        if not q.empty and not (q["low"].iloc[0] - 1e-6 <= t.price <= q["high"].iloc[0] + 1e-6):
            diffs.append(Diff("price_outside_bar", t.code, None, t.order_id, t.trade_id,
                              f"price {t.price} outside the day's range {q['low'].iloc[0]}-{q['high'].iloc[0]}"))
    for o in orders.itertuples(index=False):
        reason = (o.reason or "") if isinstance(o.reason, str) else ""
        if reason.startswith("signal") and (not isinstance(o.signal_id, str) or o.signal_id not in sig_ids):
            diffs.append(Diff("order_without_signal", o.code, o.signal_id if isinstance(o.signal_id, str) else None,
                              o.order_id, None, f"signal order but no offense signal on {day}"))
        got = int(trades.loc[trades["order_id"] == o.order_id, "qty"].sum())
        if o.status in ("filled", "partial") and o.qty and got != int(o.filled_qty or 0):
            diffs.append(Diff("qty_mismatch", o.code, None, o.order_id, None,
                              f"order says {int(o.filled_qty or 0)} filled, ops.trades hold {got}"))
    with db.transaction():
        db.execute("delete from ops.reconcile_diff where recon_date = ?", [day])
        if diffs:
            df = pd.DataFrame([d.__dict__ for d in diffs])
            df.insert(0, "seq", range(1, len(df) + 1))
            df.insert(0, "recon_date", pd.Timestamp(day))
            df["created_at"] = now()
            db.append(RECONCILE_DIFF, df)
    return diffs

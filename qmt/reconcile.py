"""Reconciliation of one signal day: signals x orders x trades x quotes.

Every trade must trace to an order and (for signal orders) to a signal; every buy signal must
have become an order or carry a logged reason (skipped/rejected: limit up, suspended, cash, cap).
A paper account's saved holdings after the next session must equal what its fills and the
bonus shares of corporate actions imply, with events scheduled by corporate_actions.schedule on
the sessions the account was run (as paper trading applies them).
Differences are returned, printed by the CLI and stored in ops.reconcile_diff.
"""
from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import date

import pandas as pd

from aquant.db import Database
from aquant.relations import NotBuilt

from . import data
from .corporate_actions import bonus_shares, schedule
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
    _, up = RuleBook().limit_prices(r.pre_close, board_of(code), info.get(code, False), day,
                                    exchange=code.rpartition(".")[2].upper())
    return f"next session: opened at limit up {up:.2f}" if r.open >= up else "next session: tradeable at the open"


def implied_positions(trades: pd.DataFrame, events: pd.DataFrame | None, sessions: list) -> dict[str, int]:
    """Shares per code after the last of `sessions`: fills (code, side, qty, traded_at) in date
    order, each event's bonus shares added at the open of the session it applies on, to the
    shares held at the previous close (before that session's fills)."""
    ev = schedule(events, sessions)
    if len(sessions):
        last = max(pd.Timestamp(x) for x in sessions)
        trades = trades[pd.to_datetime(trades["traded_at"]).dt.normalize() <= last]
    t = trades.assign(d=pd.to_datetime(trades["traded_at"]).dt.normalize()).sort_values("d", kind="stable")
    held: dict[str, int] = {}
    ev_by = {d: g for d, g in ev.groupby("apply_date")} if not ev.empty else {}
    tr_by = {d: g for d, g in t.groupby("d")} if not t.empty else {}
    for d in sorted(set(ev_by) | set(tr_by)):
        if d in ev_by:
            for code, ratio in zip(ev_by[d]["code"], ev_by[d]["bonus_ratio"]):
                held[code] = held.get(code, 0) + bonus_shares(held.get(code, 0), float(ratio))
        if d in tr_by:
            for code, side, qty in zip(tr_by[d]["code"], tr_by[d]["side"], tr_by[d]["qty"]):
                held[code] = held.get(code, 0) + (int(qty) if side == "buy" else -int(qty))
    return {c: q for c, q in held.items() if q}


def _holding_diffs(db: Database, nxt: date, account: str | None, src: data.Sources) -> list[Diff]:
    """Paper accounts run on `nxt`: saved holdings vs fills + corporate actions (see module doc)."""
    if not db.table_exists("ops", "paper_state"):
        return []
    acct = "" if account is None else " and account = ?"
    runs = db.query_df(f"select account, as_of, state from ops.paper_state where as_of <= ?{acct} "
                       "order by account, as_of", [nxt, *([] if account is None else [account])])
    diffs: list[Diff] = []
    for acc, g in runs.groupby("account"):
        last = g.iloc[-1]
        if pd.Timestamp(last["as_of"]).date() != nxt:
            continue
        saved = {c: int(row[0]) for c, row in json.loads(last["state"])["broker"]["holdings"].items()}
        # the paper engine's own fills (source 'paper'); foreign rows are flagged by the trade checks
        trades = db.query_df("select code, side, qty, traded_at from ops.trades where account = ? "
                             "and source = 'paper' and cast(traded_at as date) <= ?", [acc, nxt])
        first = pd.Timestamp(g["as_of"].min()).date()
        events = data.load_dividends(db, first, nxt, src)
        implied = implied_positions(trades, events, list(pd.to_datetime(g["as_of"])))
        for code in sorted(set(saved) | set(implied)):
            if saved.get(code, 0) != implied.get(code, 0):
                diffs.append(Diff("position_mismatch", code, None, None, None,
                                  f"account {acc} holds {saved.get(code, 0)} after {nxt}; fills and corporate "
                                  f"actions imply {implied.get(code, 0)}"))
    return diffs


def reconcile(db: Database, day: date | str, account: str | None = None,
              src: data.Sources = data.Sources()) -> list[Diff]:
    """Compare day's signals with the orders/trades for the next session; store and return diffs."""
    day = pd.Timestamp(day).date()
    nxt = next_session(day, db)
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
    except NotBuilt:
        info = {}
    diffs: list[Diff] = []
    # 1. each buy signal became an order, or has a logged reason
    by_sig = orders.dropna(subset=["signal_id"]).groupby("signal_id")
    seen = set(by_sig.groups)
    for r in sig[sig["kind"] == "buy"].itertuples(index=False):
        if r.signal_id not in seen:
            diffs.append(Diff("signal_without_order", r.code, r.signal_id, None, None,
                              "buy signal has no order and no logged reason; "
                              + _why_not_traded(r.code, nxt, quotes, info)))
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
    diffs += _holding_diffs(db, nxt, account, src)
    with db.transaction():
        db.execute("delete from ops.reconcile_diff where recon_date = ?", [day])
        if diffs:
            df = pd.DataFrame([d.__dict__ for d in diffs])
            df.insert(0, "seq", range(1, len(df) + 1))
            df.insert(0, "recon_date", pd.Timestamp(day))
            df["created_at"] = now()
            db.append(RECONCILE_DIFF, df)
    return diffs

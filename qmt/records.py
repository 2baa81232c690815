"""Written record of live/paper trading: every intent in ops.orders before it is sent, every fill in
ops.trades. order_id is derived from the account and the signal, so a restart finds an intent
already written (and its status) and never sends it twice.
"""
from __future__ import annotations

from datetime import date, datetime, timezone
from typing import Any, Iterable

import pandas as pd

from aquant import audit
from aquant.db import Database

from .broker import Fill, OrderRequest
from .strategy import Skip
from .tables import ORDERS, TRADES, ensure_current

FINAL = ("filled", "rejected", "skipped", "cancelled", "expired")


def now() -> datetime:
    return datetime.now(timezone.utc).replace(tzinfo=None)


def order_id_for(account: str, trade_date: date, o: OrderRequest | Skip) -> str:
    """Stable id: the same signal, side and purpose on the same account maps to the same order.

    Standing stops/targets repeat daily until hit, so they carry the date; others do not, so a
    signal re-decided after a crash still finds its first order.
    """
    kind = getattr(o, "order_type", "market")
    reason = o.reason.split(":")[0]
    if o.signal_id and kind == "market" and reason == "signal":
        return f"{account}:{o.signal_id}:{o.side}"
    ref = o.signal_id or o.code
    purpose = reason if reason == kind else f"{reason}:{kind}"
    return f"{account}:{ref}:{o.side}:{purpose}:{pd.Timestamp(trade_date):%Y%m%d}"


def record_intents(db: Database, account: str, trade_date: date, orders: Iterable[OrderRequest],
                   skipped: Iterable[Skip] = (), status: str = "pending") -> list[OrderRequest]:
    """Write intents not yet recorded; return every given order whose row is still unsent.

    Skipped signals are written too (status 'skipped', reason) so reconciliation can show why a
    buy signal did not become an order.
    """
    ensure_current(db, ORDERS)  # seq, on a warehouse from before it
    rows, orders = [], list(orders)
    for o in orders:  # seq = the place in the decision: the order they are sent in
        o.order_id = o.order_id or order_id_for(account, trade_date, o)
        rows.append((o.order_id, o.signal_id, o.code, o.side, o.price, int(o.qty), status, o.order_type, o.reason,
                     len(rows)))
    for s in skipped:
        rows.append((order_id_for(account, trade_date, s), s.signal_id, s.code, s.side, None, int(s.qty),
                     "skipped", "market", s.reason, len(rows)))
    if not rows:
        return []
    df = pd.DataFrame(rows, columns=["order_id", "signal_id", "code", "side", "price", "qty", "status",
                                     "order_type", "reason", "seq"]).drop_duplicates("order_id")
    have = existing(db, df["order_id"].tolist())
    new = df[~df["order_id"].isin(have)].assign(
        account=account, created_at=now(), trade_date=pd.Timestamp(trade_date), broker_order_id=None,
        filled_qty=0, updated_at=now())
    new["price"] = new["price"].astype(float)
    db.append(ORDERS, new)
    if len(new):
        audit.record(db, "order", {"account": account, "trade_date": trade_date, "orders": len(new),
                                   "order_ids": new["order_id"].tolist()[:50],
                                   "statuses": new["status"].value_counts().to_dict()})
    status_now = {**have, **dict(zip(new["order_id"], new["status"]))}
    return [o for o in orders if status_now.get(o.order_id) in ("pending", status)]


def existing(db: Database, order_ids: list[str]) -> dict[str, str]:
    """order_id -> status for those already in ops.orders."""
    db.ensure_table(ORDERS)
    out: dict[str, str] = {}
    for i in range(0, len(order_ids), 500):
        chunk = order_ids[i:i + 500]
        marks = ", ".join("?" * len(chunk))
        out.update(dict(db.query(f"select order_id, status from ops.orders where order_id in ({marks})", chunk)))
    return out


def mark_order(db: Database, order_id: str, status: str, filled_qty: int | None = None,
               broker_order_id: str | None = None, reason: str | None = None) -> None:
    db.execute("update ops.orders set status = ?, filled_qty = coalesce(?, filled_qty), "
               "broker_order_id = coalesce(?, broker_order_id), reason = coalesce(?, reason), updated_at = ? "
               "where order_id = ?", [status, filled_qty, broker_order_id, reason, now(), order_id])


def record_fills(db: Database, fills: Iterable[Fill], account: str, source: str) -> int:
    """Insert fills not seen before (by trade_id); returns how many were new."""
    db.ensure_table(TRADES)
    rows = [(f.trade_id, f.order_id, f.code, f.side, float(f.price), int(f.qty), float(f.fee),
             pd.Timestamp(f.trade_date) if f.trade_date is not None else now(), account, source) for f in fills]
    if not rows:
        return 0
    df = pd.DataFrame(rows, columns=list(TRADES.columns)).drop_duplicates("trade_id")
    seen = set()
    ids = df["trade_id"].tolist()
    for i in range(0, len(ids), 500):
        chunk = ids[i:i + 500]
        seen |= {r[0] for r in db.query(f"select trade_id from ops.trades where trade_id in "
                                        f"({', '.join('?' * len(chunk))})", chunk)}
    fresh = df[~df["trade_id"].isin(seen)]
    n = db.append(TRADES, fresh)
    if n:
        audit.record(db, "fill", {"account": account, "source": source, "fills": n,
                                  "trade_ids": fresh["trade_id"].tolist()[:50]})
    return n


def send_pending(db: Database, broker: Any, account: str, trade_date: date,
                 orders: list[OrderRequest]) -> list[Any]:
    """Send intents that are recorded and unsent, marking each as sent/rejected right after."""
    status = existing(db, [o.order_id for o in orders])
    results = []
    for o in orders:
        if status.get(o.order_id) != "pending":
            continue  # never recorded, or already sent before a restart
        res = broker.submit(o)
        mark_order(db, o.order_id, res.status, res.filled or None, res.broker_order_id or None, res.reason or None)
        results.append(res)
    return results


def reconcile_on_start(db: Database, broker: Any, account: str) -> list[str]:
    """Match the broker's orders to ops.orders by order_remark; report what disagrees.

    A crash between sending and marking leaves a 'pending' row for an order the broker has:
    it is marked 'sent' here so it is not sent again. Broker positions are compared with the
    positions implied by ops.trades.
    """
    notes: list[str] = []
    db.ensure_table(ORDERS)
    db.ensure_table(TRADES)
    ours = dict(db.query("select order_id, status from ops.orders where account = ?", [account]))
    for bo in broker.orders() if hasattr(broker, "orders") else []:
        oid = getattr(bo, "order_remark", "")
        if oid in ours and ours[oid] == "pending":
            mark_order(db, oid, "sent", broker_order_id=str(bo.order_id))
            notes.append(f"{oid}: found at the broker as {bo.order_id}, marked sent (not resent)")
        elif oid not in ours:
            notes.append(f"broker order {bo.order_id} ({getattr(bo, 'stock_code', '?')}) has no intent in ops.orders")
    new = record_fills(db, broker.fills(), account, type(broker).__name__)
    if new:
        notes.append(f"{new} fill(s) from the broker added to ops.trades")
    held = implied_holdings(db, account)
    for code, pos in broker.positions().items():
        if int(held.get(code) or 0) != pos.qty:
            notes.append(f"{code}: broker holds {pos.qty}, ops.trades and bonus issues imply "
                         f"{int(held.get(code) or 0)}")
    return notes


def implied_holdings(db: Database, account: str, today: date | None = None) -> dict[str, int]:
    """Shares per code the account's fills imply, with every bonus/transfer issue since its first
    fill added on the session it applies on (qmt/corporate_actions.schedule), as the broker books
    them; without that every bonus issue would read as a position mismatch."""
    from aquant import trading_calendar  # noqa: PLC0415 - reconcile imports this module

    from . import data  # noqa: PLC0415
    from .reconcile import implied_positions  # noqa: PLC0415

    trades = db.query_df("select code, side, qty, traded_at from ops.trades where account = ?", [account])
    if trades.empty:
        return {}
    first = pd.to_datetime(trades["traded_at"]).min().date()
    today = today or pd.Timestamp.now(tz="Asia/Shanghai").date()
    sessions = [pd.Timestamp(d) for d in trading_calendar.sessions(db, first, today)]
    events = data.load_dividends(db, first, today)
    return implied_positions(trades, events, sessions)

"""xttrader's callbacks, written to ops.* as they arrive.

XtBroker queues the callbacks xtquant delivers on its own thread (on_stock_order, on_stock_trade,
on_order_error, on_cancel_error, on_disconnected: XtQuantTraderCallback in xtquant/xttrader.py);
the session drains the queue every loop and hands each event here, on the thread that owns the
database connection. Each event is written at once: an order's status and filled quantity to
ops.orders, a fill to ops.trades, every event to ops.audit_log.

Order statuses map from xtconstant (xtquant/xtconstant.py, 委托状态): 48/49/50/51 unreported,
waiting, reported, reported-cancel-pending -> sent; 55 part-filled and 52 part-filled-cancel-pending
-> partial; 56 -> filled; 54 cancelled and 53 part-cancelled -> cancelled (filled_qty keeps the part);
57 junk -> rejected. A final status is never overwritten by a late non-final one.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from typing import Any

from aquant import audit
from aquant.db import Database

from ..broker import Fill
from ..records import mark_order, record_fills
from ..xt_broker import xtconstant

FINAL = ("filled", "rejected", "cancelled", "expired", "skipped")


def status_of(order_status: int) -> str:
    c = xtconstant()
    return {c.ORDER_UNREPORTED: "sent", c.ORDER_WAIT_REPORTING: "sent", c.ORDER_REPORTED: "sent",
            c.ORDER_REPORTED_CANCEL: "sent", c.ORDER_PARTSUCC_CANCEL: "partial", c.ORDER_PART_SUCC: "partial",
            c.ORDER_SUCCEEDED: "filled", c.ORDER_CANCELED: "cancelled", c.ORDER_PART_CANCEL: "cancelled",
            c.ORDER_JUNK: "rejected"}.get(int(order_status), "sent")


def xt_fill(t: Any) -> Fill:
    """An XtTrade as our Fill: order_remark carries our order_id; traded_time is epoch seconds (UTC).

    traded_id is the counter's match number, unique within an account's day only (exchanges
    restart their numbering daily), so the trade_id carries the account and the Beijing date."""
    side = "buy" if int(t.order_type) == xtconstant().STOCK_BUY else "sell"
    at = datetime.fromtimestamp(int(t.traded_time), tz=timezone.utc).replace(tzinfo=None)
    bj = at + timedelta(hours=8)
    tid = f"xt-{getattr(t, 'account_id', '') or ''}-{bj:%Y%m%d}-{t.traded_id}"
    return Fill(t.order_remark or str(t.order_id), t.stock_code, side, float(t.traded_price), int(t.traded_volume),
                float(getattr(t, "commission", 0.0) or 0.0), at, "", tid)


@dataclass
class Applied:
    """What one batch of events changed, for the session's own state (stops, re-arm, reconnect)."""

    fills: list[Fill] = field(default_factory=list)
    ended: dict[str, str] = field(default_factory=dict)  # order_id -> final status
    disconnected: bool = False


class WriteBack:
    def __init__(self, db: Database, account: str, source: str = "XtBroker"):
        self.db, self.account, self.source = db, account, source

    def _status(self, oid: str) -> tuple[str | None, int]:
        row = self.db.query("select status, coalesce(filled_qty, 0) from ops.orders where order_id = ?", [oid])
        return (row[0][0], int(row[0][1])) if row else (None, 0)

    def apply(self, events: list[tuple[str, Any]]) -> Applied:
        out = Applied()
        for kind, obj in events:
            getattr(self, f"_on_{kind}")(obj, out)
        return out

    def _on_order(self, o: Any, out: Applied) -> None:
        oid = getattr(o, "order_remark", "") or ""
        have, filled = self._status(oid)
        new = status_of(o.order_status)
        detail = {"account": self.account, "order_id": oid, "broker_order_id": o.order_id,
                  "order_status": int(o.order_status), "status": new, "traded_volume": int(o.traded_volume)}
        if have is None:
            audit.record(self.db, "live_foreign_order", detail)
            return
        if have in FINAL or (have == new and filled == int(o.traded_volume)):
            return
        reason = getattr(o, "status_msg", "") or None
        mark_order(self.db, oid, new, int(o.traded_volume), str(o.order_id), reason if new == "rejected" else None)
        audit.record(self.db, "live_order", detail)
        if new in FINAL:
            out.ended[oid] = new

    def _on_trade(self, t: Any, out: Applied) -> None:
        f = xt_fill(t)
        if record_fills(self.db, [f], self.account, self.source):
            out.fills.append(f)
            have, _ = self._status(f.order_id)
            if have is not None and have not in FINAL:
                got = int(self.db.scalar("select coalesce(sum(qty), 0) from ops.trades where order_id = ?", [f.order_id]))
                want = int(self.db.scalar("select qty from ops.orders where order_id = ?", [f.order_id]) or 0)
                new = "filled" if got >= want else "partial"
                mark_order(self.db, f.order_id, new, got)
                audit.record(self.db, "live_order", {"account": self.account, "order_id": f.order_id, "status": new,
                                                     "filled_qty": got, "by": f"fill {f.trade_id}"})
                if got >= want:
                    out.ended[f.order_id] = "filled"

    def _on_order_error(self, e: Any, out: Applied) -> None:
        oid = getattr(e, "order_remark", "") or ""
        why = f"order_error {e.error_id}: {e.error_msg}"
        have, _ = self._status(oid)
        if have is not None and have not in FINAL:
            mark_order(self.db, oid, "rejected", reason=why)
            out.ended[oid] = "rejected"
        audit.record(self.db, "live_order_error", {"account": self.account, "order_id": oid,
                                                   "broker_order_id": e.order_id, "error": why})

    def _on_cancel_error(self, e: Any, out: Applied) -> None:
        audit.record(self.db, "live_cancel_error", {"account": self.account, "broker_order_id": e.order_id,
                                                    "error": f"{e.error_id}: {e.error_msg}"})

    def _on_disconnected(self, _: Any, out: Applied) -> None:
        out.disconnected = True
        audit.record(self.db, "live_disconnected", {"account": self.account})

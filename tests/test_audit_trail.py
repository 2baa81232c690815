"""Orders and fills leave an audit row each time something new is recorded, and only then."""
from __future__ import annotations

import json
from datetime import date

from aquant.db import Database
from aquant.qmt.broker import Fill, OrderRequest
from aquant.qmt.records import record_fills, record_intents


def test_orders_and_fills_are_audited_once(any_db):
    with Database(any_db) as db:
        order = OrderRequest(code="600000.SH", side="buy", qty=100, signal_id="sig-1")
        record_intents(db, "paper", date(2024, 1, 2), [order])
        record_intents(db, "paper", date(2024, 1, 2), [OrderRequest(code="600000.SH", side="buy", qty=100,
                                                                     signal_id="sig-1")])
        fill = Fill(order_id=order.order_id, code="600000.SH", side="buy", price=10.0, qty=100, fee=5.0,
                    trade_date=date(2024, 1, 3), trade_id="t-1")
        assert record_fills(db, [fill], "paper", "test") == 1
        assert record_fills(db, [fill], "paper", "test") == 0
        rows = db.query("select action, detail from ops.audit_log order by \"at\"")
        assert [r[0] for r in rows] == ["order", "fill"]
        assert json.loads(rows[0][1])["order_ids"] == [order.order_id]
        assert json.loads(rows[1][1])["trade_ids"] == ["t-1"]

"""Paper trading writes intents before execution and never duplicates an order on restart."""
from __future__ import annotations

import pandas as pd
import pytest

from aquant.db import Database
from aquant.qmt import paper
from aquant.qmt.paper import run_paper

from test_qmt_backtest import load_market, market


def _days(m):
    return sorted(m["stg_daily_quote"].trade_date.unique())


def test_paper_restart_never_duplicates_an_order(any_db, monkeypatch):
    m = market()
    days = _days(m)
    # the calendar of the hand-built market: next session = next row date
    monkeypatch.setattr(paper, "next_session", lambda d, db=None: next(x for x in days if x > pd.Timestamp(d)).date())
    with Database(any_db) as db:
        load_market(db, m)
        r2 = run_paper(db, days[2].date())  # signals s0, s1 on days[2] -> intents for days[3]
        assert r2.new_intents == 2
        orders = db.query_df("select * from ops.orders order by order_id")
        assert set(orders.status) == {"pending"} and set(orders.signal_id) == {"s0", "s1"}
        assert set(orders.order_id) == {"paper:s0:buy", "paper:s1:buy"}
        assert db.scalar("select count(*) from ops.trades") == 0  # written before any execution

        r3 = run_paper(db, days[3].date())
        assert r3.filled == 2
        again = run_paper(db, days[3].date())  # restart of the same day
        assert again.already_done
        trades = db.query_df("select * from ops.trades")
        assert len(trades) == 2 and set(trades.order_id) == {"paper:s0:buy", "paper:s1:buy"}
        assert set(db.query_df("select status from ops.orders where signal_id in ('s0','s1') and side = 'buy' "
                               "and order_type = 'market'").status) == {"filled"}
        for d in days[4:8]:
            run_paper(db, d.date())
        assert db.scalar("select count(*) from ops.trades") == db.scalar(
            "select count(distinct trade_id) from ops.trades")
        # a standing stop is recorded each day, under its own dated id
        assert db.scalar("select count(*) from ops.orders where order_type = 'stop'") >= 8


def test_paper_crash_mid_day_leaves_no_partial_record(duck, monkeypatch):
    m = market()
    days = _days(m)
    monkeypatch.setattr(paper, "next_session", lambda d, db=None: next(x for x in days if x > pd.Timestamp(d)).date())
    with Database(duck) as db:
        load_market(db, m)
        run_paper(db, days[2].date())
        boom = RuntimeError("crash while writing")

        def crash(*a, **k):
            raise boom
        monkeypatch.setattr(paper, "record_intents", crash)
        with pytest.raises(RuntimeError):
            run_paper(db, days[3].date())
        assert db.scalar("select count(*) from ops.trades") == 0
        assert set(db.query_df("select status from ops.orders").status) == {"pending"}
        monkeypatch.undo()
        monkeypatch.setattr(paper, "next_session",
                            lambda d, db=None: next(x for x in days if x > pd.Timestamp(d)).date())
        assert run_paper(db, days[3].date()).filled == 2
        assert db.scalar("select count(*) from ops.trades") == 2


def test_paper_on_a_day_without_quotes_says_what_to_do(duck):
    m = market()
    with Database(duck) as db:
        load_market(db, m)
        with pytest.raises(ValueError, match="no quotes for 2023-01-01"):
            run_paper(db, "2023-01-01")


def test_paper_sends_intents_in_the_decisions_order(any_db):
    """Intents come back sells first, then buys in the decision's order (best ranked first), as the
    backtest executes them, not in order_id order: "paper:s10:buy" sorts before "paper:s9:buy", so
    by id the worse-ranked s10 would spend the cash first. A warehouse whose ops.orders predates
    `seq` gets the column; its old rows (seq null) come after the new ones."""
    from datetime import date

    from aquant.qmt.broker import OrderRequest
    from aquant.qmt.records import record_intents

    day = date(2024, 1, 3)
    decision = [OrderRequest("600001.SH", "sell", 100, signal_id="s2"),
                OrderRequest("600002.SH", "buy", 100, signal_id="s9"),  # ranked first by decide
                OrderRequest("600003.SH", "buy", 100, signal_id="s10"),
                OrderRequest("600004.SH", "sell", 100, "stop", 9.5, "stop", "s3")]
    with Database(any_db) as db:
        record_intents(db, "paper", day, decision)
        plan = paper._plan(db, "paper", day)
        assert [o.signal_id for o in plan.orders] == ["s2", "s9", "s10"]
        assert [o.signal_id for o in plan.standing] == ["s3"]

        old = date(2024, 1, 4)  # a warehouse from before seq: the column is added, old rows last
        db.execute("alter table ops.orders drop column seq")
        db.execute("insert into ops.orders (order_id, signal_id, account, code, side, qty, status, trade_date, "
                   "order_type, reason) values ('paper:s1:buy', 's1', 'paper', '600005.SH', 'buy', 100, "
                   "'pending', ?, 'market', 'signal')", [old])
        record_intents(db, "paper", old, [OrderRequest("600006.SH", "buy", 100, signal_id="s8")])
        assert [o.signal_id for o in paper._plan(db, "paper", old).orders] == ["s8", "s1"]

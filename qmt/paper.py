"""Paper trading: the backtest's strategy and SimBroker, one day per run, on the written record.

`run_paper(db, D)` executes the intents recorded on the previous run at D's open, records fills,
decides D+1's intents from D's signals and writes them to ops.orders, then saves the account.
All of a day's writes happen in one transaction, and a day already done is not redone, so a
restart (or running the same day twice) never executes or records an order twice.

Corporate actions: a run applies every event whose ex-date is after the previous run's day and
not after its own (an ex-date on a weekend, a holiday or a session without a run is applied on
the next run, to the holdings saved at the previous close). The window is bounded by the saved
state's as_of, which is written in the same transaction as the state, so each event is applied
exactly once, also across restarts.
"""
from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import date

import pandas as pd

from aquant import relations, trading_calendar
from aquant.db import Database

from . import data
from .backtest import execute_day, make_broker, split_params
from .broker import OrderRequest
from .corporate_actions import schedule
from .records import mark_order, now, record_fills, record_intents
from .strategy import Decision, StrategyParams, StrategyState, decide
from .tables import ORDERS, PAPER_STATE, TRADES, ensure_current


@dataclass
class PaperReport:
    day: date
    already_done: bool = False
    executed: int = 0
    filled: int = 0
    rejected: int = 0
    new_intents: int = 0
    skipped: int = 0
    equity: float = 0.0
    cash: float = 0.0
    notes: list[str] = field(default_factory=list)


def next_session(day: date, db: Database | None = None) -> date:
    """Next SSE session after `day`, from raw.trade_calendar, else exchange_calendars XSHG.

    Raises aquant.trading_calendar.CalendarGap when neither reaches: never a weekday guess
    (2027-01-01 is a weekday and a holiday).
    """
    return trading_calendar.next_session(db, day)


def _load_state(db: Database, account: str, day: date) -> tuple[dict | None, StrategyState, date | None]:
    """The account after the last run before `day`: broker snapshot, strategy state, its as_of."""
    row = db.query("select state, as_of from ops.paper_state where account = ? and as_of < ? "
                   "order by as_of desc limit 1", [account, day])
    if not row:
        return None, StrategyState(), None
    st = json.loads(row[0][0])
    return st["broker"], StrategyState.from_json(json.dumps(st["strategy"])), pd.Timestamp(row[0][1]).date()


def _events(db: Database, src: data.Sources, last_run: date | None, day: date) -> pd.DataFrame:
    """Corporate actions to apply on this run: ex-date in (last run, day], scheduled on `day`.

    Without a previous run the account holds nothing, so nothing is entitled. The schedule is
    the one corporate_actions.schedule gives the backtest, on the sessions this account sees.
    """
    if last_run is None:
        return schedule(None, [day])
    ev = data.load_dividends(db, (pd.Timestamp(last_run) + pd.Timedelta(days=1)).date(), day, src)
    return schedule(ev, [pd.Timestamp(last_run), pd.Timestamp(day)])


def _plan(db: Database, account: str, day: date) -> Decision:
    """Recorded, unsent intents for `day`, as orders (rows are the source of truth, not memory), in
    the decision's order (`seq`: sells, then buys best first, as the backtest executes them; by
    order_id the buys ran in the order of their signal ids, so with cash short a worse-ranked buy
    could take the cash of a better one)."""
    df = db.query_df("select order_id, signal_id, code, side, qty, price, order_type, reason from ops.orders "
                     "where account = ? and trade_date = ? and status = 'pending' order by seq nulls last, order_id",
                     [account, day])
    plan = Decision()
    for r in df.itertuples(index=False):
        o = OrderRequest(r.code, r.side, int(r.qty), r.order_type, None if pd.isna(r.price) else float(r.price),
                         r.reason, None if pd.isna(r.signal_id) else r.signal_id, r.order_id)
        (plan.orders if r.order_type == "market" else plan.standing).append(o)
    plan.orders.sort(key=lambda o: o.side != "sell")  # stable: the decision's order within each side
    return plan


def run_paper(db: Database, day: date | str, params: StrategyParams | dict | None = None,
              account: str = "paper") -> PaperReport:
    day = pd.Timestamp(day).date()
    p, book = split_params(params)
    src = data.Sources(p.staging_schema, p.signals_schema)
    ensure_current(db, ORDERS, TRADES, PAPER_STATE)  # ops.orders.seq on a warehouse from before it
    rep = PaperReport(day)
    if db.scalar("select count(*) from ops.paper_state where account = ? and as_of = ?", [account, day]):
        rep.already_done = True
        rep.notes.append(f"{day} already processed for account {account}; nothing sent twice")
        return rep
    quotes = data.load_quotes(db, day, day, src)
    if quotes.empty:
        where = relations.locate(db, "stg_daily_quote", schemas=src.schemas)
        raise ValueError(f"no quotes for {day} in {where}; expected a trading day "
                         f"with loaded data — run `aquant ingest` + `aquant build` first")
    snap, state, last_run = _load_state(db, account, day)
    info = data.load_stock_info(db, src, as_of=day)  # the day's ST flag and industry, also in a replay
    broker = book.apply(make_broker(p, info))
    if snap:
        broker.restore(snap)
    plan = _plan(db, account, day)
    stale = db.query("select order_id from ops.orders where account = ? and trade_date < ? and status = 'pending'",
                     [account, day])
    divs = _events(db, src, last_run, day)
    execute_day(broker, state, pd.Timestamp(day), quotes, divs, plan)
    eq = broker.end_day()

    by_order: dict[str, list] = {}
    for e in broker.log:
        by_order.setdefault(e.order_id, []).append(e)
    signals = data.load_signals(db, day, day, src)
    targets = data.load_targets(db, day, day, src) if p.use_targets else pd.DataFrame()
    industries = {c: i for c, i in zip(info["code"], info["industry_l1"]) if isinstance(i, str)}
    codes = set(broker.positions()) | set(signals["code"]) | set(targets.get("code", []))
    closes = broker.marks(codes)
    mret = float((quotes["close"] / quotes["pre_close"] - 1).mean())
    nxt = next_session(day, db)
    decision = decide(pd.Timestamp(day), broker.positions(), broker.cash(), closes, signals, targets,
                      industries, state, p, broker.rules, mret)

    with db.transaction():
        for (oid,) in stale:
            mark_order(db, oid, "expired", reason="not executed on its trade date")
        for o in plan.orders + plan.standing:
            entries = by_order.get(o.order_id, [])
            filled = sum(e.qty for e in entries if e.status == "filled")
            rej = [e for e in entries if e.status == "rejected"]
            if not entries:  # standing order not triggered, or position already gone
                mark_order(db, o.order_id, "cancelled", 0)  # not triggered
                continue
            rep.executed += 1
            status = "filled" if filled and not rej else "partial" if filled else "rejected"
            rep.filled += status != "rejected"
            rep.rejected += status == "rejected"
            mark_order(db, o.order_id, status, filled, reason=rej[0].reason if rej else None)
        record_fills(db, broker.fills(), account, "paper")
        # intents for the next session, written before they are "sent" (executed next run)
        rep.new_intents = len(record_intents(db, account, nxt, decision.orders + decision.standing,
                                             decision.skipped))
        rep.skipped = len(decision.skipped)
        state_json = json.dumps({"broker": broker.snapshot(), "strategy": json.loads(state.to_json())})
        db.append(PAPER_STATE, pd.DataFrame([{"account": account, "as_of": pd.Timestamp(day),
                                              "state": state_json, "updated_at": now()}]))
    rep.equity, rep.cash = eq, broker.cash()
    return rep

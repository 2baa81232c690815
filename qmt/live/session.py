"""One live trading day: reconcile before the open, decide at the open, watch stops intraday,
write every order and fill as it happens, reconcile after the close, summarise, exit code.

The same loop runs against miniQMT (XtBroker over xttrader, XtFeed over xtdata) and against the
simulated exchange (simxt: the same interfaces, a simulated clock). Restart safety comes from the
written record: intents and stop orders are rows in ops.orders before they are sent (ids derived
from account, signal/stock, purpose and day), reconcile_on_start matches the broker's orders by
remark and loads every fill the broker has, so a restart neither sends twice nor loses a fill.
Exit codes: 0 clean, 1 failed (could not connect / error), 2 reconcile differences, 3 killed.
"""
from __future__ import annotations

import json
import logging
from dataclasses import asdict, dataclass, field
from datetime import date, datetime
from typing import Any, Callable, Sequence

import pandas as pd

from aquant import audit
from aquant.db import Database
from aquant.notify import outbox
from aquant.notify.events import Event

from ..broker import OrderRequest
from ..knobs import dbt_var
from ..paper import next_session
from ..records import mark_order, now, reconcile_on_start, record_intents, send_pending
from ..rules import RuleBook, board_of
from ..tables import ORDERS, TRADES, ensure_current
from . import safety
from .clock import to_bj, to_utc
from .decide import Intent, decide_open, protected_price
from .feed import XtFeed
from .intents import previous_session, signals_for
from .knobs import LiveKnobs
from .tables import ALL as LIVE_TABLES, LIVE_SESSION, LIVE_STOPS, LIVE_VOLUME_RATIO
from .volume_ratio import ratio_at, reference_curve
from .watch import Levels, crossed
from .writeback import FINAL, WriteBack

log = logging.getLogger("aquant.live")

EXIT_OK, EXIT_FAILED, EXIT_DIFFS, EXIT_KILLED = 0, 1, 2, 3
STOP_REASONS = ("stop", "target", "trail")


@dataclass
class Summary:
    account: str
    day: date
    broker: str
    status: str = "running"
    exit_code: int = EXIT_OK
    orders_sent: int = 0
    fills: int = 0
    skipped: list[str] = field(default_factory=list)
    stops_fired: list[str] = field(default_factory=list)
    refused: list[str] = field(default_factory=list)
    reconcile_start: list[str] = field(default_factory=list)
    reconcile_end: list[str] = field(default_factory=list)
    reconnects: list[str] = field(default_factory=list)
    last_minute: str = ""

    def line(self) -> str:
        return (f"live {self.day} [{self.account}, {self.broker}]: {self.status}, {self.orders_sent} order(s) sent, "
                f"{self.fills} fill(s), {len(self.skipped)} skipped, {len(self.stops_fired)} stop(s) fired, "
                f"{len(self.refused)} refused, exit {self.exit_code}")


def _purpose_sql() -> str:
    """A stop order's reason is its purpose, maybe followed by ': why it ended' (the order's history)."""
    return " or ".join("reason = ? or reason like ?" for _ in STOP_REASONS)


def _purpose_args() -> list[str]:
    return [a for k in STOP_REASONS for a in (k, f"{k}: %")]


class LiveSession:
    """Runs `day` for `account`. `connect()` returns a connected XtBroker (raises ConnectionError);
    `xtdata` is the xtdata module (or SimXtData); `exchange` is the SimExchange when simulating."""

    def __init__(self, db: Database, account: str, day: date, connect: Callable[[], Any], xtdata: Any, clock: Any,
                 knobs: LiveKnobs, broker_name: str = "xt", dry_run: bool = False, exchange: Any = None,
                 channels: Sequence[Any] = ()):
        self.db, self.account, self.day = db, account, pd.Timestamp(day).date()
        self.connect, self.clock, self.k = connect, clock, knobs
        self.feed = XtFeed(xtdata)
        self.exchange, self.dry_run, self.channels = exchange, dry_run, list(channels)
        self.rules = RuleBook()
        self.s = Summary(account, self.day, broker_name)
        self.wb = WriteBack(db, account)
        self.broker: Any = None
        self.backoff = safety.Backoff(knobs.reconnect_backoff_seconds)
        self.levels: dict[str, Levels] = {}
        self.intents: dict[str, Intent] = {}
        self.hist: dict[str, pd.DataFrame] = {}
        self.sent_at: dict[str, datetime] = {}
        self._vr_now: dict[str, float] = {}
        self._vr_rows: list[dict] = []
        self.curves: dict[str, tuple[pd.Series, int]] = {}
        self._all_intents: list[Intent] = []

    # -- record helpers ---------------------------------------------------------------------
    def _progress(self, status: str | None = None) -> None:
        """The session's row: written whole when the status changes, else only its last minute."""
        s = self.s
        if status is None:
            self.db.execute("update ops.live_session set last_minute = ?, orders_sent = ?, fills = ? where account = ? "
                            "and trade_date = ?", [s.last_minute, s.orders_sent, s.fills, self.account, self.day])
            return
        s.status = status
        row = {"account": self.account, "trade_date": pd.Timestamp(self.day), "broker": s.broker,
               "started_at": self._started, "ended_at": now() if s.status != "running" else None,
               "status": s.status, "exit_code": s.exit_code, "orders_sent": s.orders_sent, "fills": s.fills,
               "skipped": len(s.skipped), "stops_fired": len(s.stops_fired), "last_minute": s.last_minute,
               "summary": json.dumps(asdict(s), default=str, ensure_ascii=False)}
        self.db.upsert(LIVE_SESSION, pd.DataFrame([row]))

    def _alert(self, key: str, code: str, kind: str, line: str) -> None:
        """A stop or a reconcile difference: ops.alerts_log on every configured channel (the
        `console` channel, the session's log, when none is), then delivered at once."""
        ev = Event(f"live:{key}", self.day, "offense", code, kind, line)
        log.warning(line)
        chans = self.channels or []
        if not chans:
            outbox.queue(self.db, [ev], "console")
            ids = [outbox.alert_id(outbox.event_key(ev.signal_id, "console"))]
            outbox.mark(self.db, ids, None)
            return
        from aquant.notify.runner import deliver  # noqa: PLC0415 - only when a channel is configured

        for ch in chans:
            outbox.queue(self.db, [ev], ch.name)
            deliver(self.db, ch)

    # -- phases ------------------------------------------------------------------------------
    def _connect(self) -> bool:
        try:
            self.broker = self.connect()
        except (ConnectionError, OSError) as exc:
            self.backoff.failed(self.clock.now)
            self.s.reconnects.append(f"{self.clock.now:%H:%M:%S} connect failed: {exc}")
            return False
        self.backoff.reset()
        return True

    def _reconcile(self, into: list[str]) -> None:
        notes = reconcile_on_start(self.db, self.broker, self.account)
        got = self.wb.apply([("order", o) for o in self.broker.orders()])  # statuses whose callbacks were lost
        for oid in got.ended:
            for lv in self.levels.values():
                if lv.working == oid:
                    lv.working = None
        into.extend(notes)
        for n in notes:
            if "fill(s) from the broker" not in n and "marked sent" not in n:
                self._alert(f"recon:{self.day}:{n[:60]}", n.split(":")[0], "reconcile", f"[对账 reconcile] {n}")

    def _load_intents(self) -> None:
        """Intents for the day recorded after the last close; planned from qmt_signals when none are."""
        prev = previous_session(self.db, self.day)
        sig = signals_for(self.db, prev) if prev else pd.DataFrame()
        have = self.db.scalar("select count(*) from ops.orders where account = ? and trade_date = ?",
                              [self.account, self.day])
        if not have and not sig.empty:
            orders = []
            for r in sig.itertuples(index=False):
                if r.side == "buy":
                    ref, w = float(r.ref_price or 0), float(r.target_weight or 0)
                    qty = self.rules.buy_qty(w * self.k.capital / ref, board_of(r.code), self.day) if ref > 0 else 0
                    if qty <= 0:
                        continue
                else:
                    qty = 0
                orders.append(OrderRequest(r.code, r.side, qty, reason="signal", signal_id=r.signal_id))
            record_intents(self.db, self.account, self.day, orders)
        by_sig = {r.signal_id: r for r in sig.itertuples(index=False)} if not sig.empty else {}
        rows = self.db.query_df("select order_id, signal_id, code, side, qty, reason from ops.orders where account = ? "
                                "and trade_date = ? and status = 'pending' and order_type = 'market' order by "
                                "side desc, seq nulls last, order_id", [self.account, self.day])

        def f(v: object) -> float | None:
            return None if v is None or pd.isna(v) else float(v)

        for r in rows.itertuples(index=False):
            s = by_sig.get(r.signal_id)
            self.intents[r.order_id] = Intent(r.order_id, r.signal_id, r.code, r.side, int(r.qty),
                                              f(getattr(s, "take_profit", None)), f(getattr(s, "stop_loss", None)),
                                              f(getattr(s, "ref_price", None)), r.reason or "signal")

    def _expire_unsent_stops(self) -> None:
        """A stop order recorded but not sent before a crash (and not found at the broker by
        reconcile) is dropped: the stop re-decides on the next quote, with a new id."""
        marks = ", ".join("?" * len(STOP_REASONS))
        for oid, purpose in self.db.query(f"select order_id, reason from ops.orders where account = ? "
                                          f"and trade_date = ? and status = 'pending' and reason in ({marks})",
                                          [self.account, self.day, *STOP_REASONS]):
            mark_order(self.db, oid, "expired", reason=f"{purpose}: recorded but not sent before a restart; re-decided")

    def _load_levels(self) -> None:
        pos = self.broker.positions()
        self.db.ensure_table(LIVE_STOPS)
        stored = {r[0]: r[1:] for r in self.db.query("select code, stop_loss, take_profit, high_water, signal_id "
                                                     "from ops.live_stops where account = ?", [self.account])}
        sl_pct, tp_pct = float(dbt_var("stop_loss_pct")), float(dbt_var("take_profit_pct"))
        for code, p in pos.items():
            if code in stored:
                sl, tp, hw, sid = stored[code]
            else:  # no record of the buy's signal: the strategy's percentages from the cost
                sl, tp, hw, sid = p.cost * (1 - sl_pct), p.cost * (1 + tp_pct), p.cost, None
            self.levels[code] = Levels(code, sl, tp, float(hw or p.cost), self.k.trailing_stop_pct, sid)
        # stop orders already working or done today (a restart): keep the count, disarm while working
        for oid, code, status, created in self.db.query(
                f"select order_id, code, status, created_at from ops.orders where account = ? and trade_date = ? and "
                f"({_purpose_sql()}) order by created_at", [self.account, self.day, *_purpose_args()]):
            lv = self.levels.get(code)
            if lv is not None:
                lv.fired += 1
                if status not in FINAL:
                    lv.working = oid
                    self.sent_at[oid] = to_bj(pd.Timestamp(created).to_pydatetime())  # its timeout still runs

    def _save_levels(self) -> None:
        held = self.broker.positions() if self.broker is not None else {}
        for it in self._all_intents:
            if it.side == "buy" and it.code in held and it.code not in self.levels:
                self.levels[it.code] = Levels(it.code, it.stop_loss, it.take_profit, held[it.code].cost,
                                              self.k.trailing_stop_pct, it.signal_id)
        rows = [{"account": self.account, "code": c, "stop_loss": lv.stop_loss, "take_profit": lv.take_profit,
                 "high_water": lv.high_water, "signal_id": lv.signal_id, "updated_at": now()}
                for c, lv in self.levels.items() if c in held]
        self.db.execute("delete from ops.live_stops where account = ?", [self.account])
        if rows:
            self.db.upsert(LIVE_STOPS, pd.DataFrame(rows))

    def _send(self, o: OrderRequest, at: datetime) -> tuple[bool, str | None, bool]:
        """Check the safety rules, then send a recorded intent: (sent, why not, worth retrying).

        Stale data and a lost link are transient (the intent waits for the next tick); the kill
        switch and the daily caps are not."""
        why = safety.kill_switch(self.k.kill_path())
        why = why or safety.over_cap(self.db, self.account, self.day, float(o.price or 0) * o.qty,
                                     self.k.max_orders_per_day, self.k.max_order_value_per_day)
        transient = False
        if not why:
            why = "broker disconnected" if self.broker is None else safety.stale(
                self.feed.quote(o.code), at, self.k.stale_after_seconds)
            transient = why is not None
        if why:
            self.s.refused.append(f"{at:%H:%M} {o.order_id}: {why}")
            audit.record(self.db, "live_refused", {"account": self.account, "order_id": o.order_id, "why": why})
            return False, why, transient
        if self.dry_run:
            self.s.refused.append(f"{o.order_id}: dry run, not sent ({o.side} {o.qty} {o.code} @ {o.price})")
            return False, "dry run", False
        res = send_pending(self.db, self.broker, self.account, self.day, [o])
        if res and res[0].status == "sent":
            self.s.orders_sent += 1
            self.sent_at[o.order_id] = at
            return True, None, False
        return False, (res[0].reason if res else "not pending"), False

    def _open(self, at: datetime) -> None:
        """Decide every pending intent at the current price; sells first (they free cash)."""
        pos = self.broker.positions()
        todo = sorted(self.intents.values(), key=lambda i: (i.side != "sell", i.order_id))
        for it in todo:
            q = self.feed.quote(it.code)
            if q is None:
                continue  # no price yet: decided at the next tick
            pre, down, up = self.feed.limits(it.code)
            d = decide_open(it, q, down, up, pos.get(it.code).sellable if it.code in pos else 0, self.day,
                            self.k.max_open_gap_pct, self.k.price_protect_pct, self.rules)
            if d.order is None:
                if not self.dry_run:
                    mark_order(self.db, it.order_id, "skipped", reason=f"{it.reason}: {d.skip}")
                self.s.skipped.append(f"{it.order_id}: {d.skip}")
                audit.record(self.db, "live_skip", {"account": self.account, "order_id": it.order_id, "why": d.skip})
                del self.intents[it.order_id]
                continue
            self.db.execute("update ops.orders set order_type = 'limit', price = ?, qty = ? where order_id = ?",
                            [d.order.price, d.order.qty, it.order_id])
            ok, why, transient = self._send(d.order, at)
            if ok or not transient:
                del self.intents[it.order_id]
            if why and not transient and not self.dry_run:
                mark_order(self.db, it.order_id, "skipped", reason=f"{it.reason}: refused: {why}")
                self.s.skipped.append(f"{it.order_id}: refused: {why}")

    def _watch(self, at: datetime) -> None:
        pos = self.broker.positions()
        highs = {c: lv.high_water for c, lv in self.levels.items()}
        for code, lv in self.levels.items():
            q = self.feed.quote(code)
            p = pos.get(code)
            if q is None or p is None or p.qty <= 0:
                continue
            hit = crossed(lv, q)
            if hit is None or not lv.armed:
                continue
            kind, why = hit
            if p.sellable <= 0:
                continue  # T+1 or frozen by a working order: nothing to sell now
            if safety.stale(q, at, self.k.stale_after_seconds):
                continue  # a stop is never fired on an old price; the next fresh quote decides
            pre, down, up = self.feed.limits(code)

            price = protected_price("sell", q.last, self.k.price_protect_pct, down, up)
            note = f" at limit-down {down:.2f}: queued, may not fill" if q.last <= down else ""
            qty = self.rules.sell_qty(p.sellable, p.sellable, board_of(code), self.day)
            lv.fired += 1
            oid = f"{self.account}:{code}:sell:{kind}:{self.day:%Y%m%d}#{lv.fired}"
            o = OrderRequest(code, "sell", qty, "limit", price, kind, lv.signal_id, oid)
            vr = self._vr_now.get(code)
            line = (f"[止损 {kind}] {code} {why}{note}; sell {qty} @ {price:.2f} at {at:%H:%M} Beijing"
                    + (f", 分时量比 {vr:.2f}" if vr is not None else ""))
            if not self.dry_run:
                record_intents(self.db, self.account, self.day, [o])
                self.db.execute("update ops.orders set created_at = ? where order_id = ? and status = 'pending'",
                                [to_utc(at), oid])
            self.s.stops_fired.append(line)
            self._alert(oid, code, "stop", line)
            ok, why, _ = self._send(o, at)
            if ok:
                lv.working = oid
            else:
                lv.working = f"halted: {why}"  # kill switch or daily cap: this stop stays down today
                if not self.dry_run:
                    mark_order(self.db, oid, "expired", reason=f"{kind}: refused: {why}")
        for c, lv in self.levels.items():
            if highs.get(c) != lv.high_water:  # the trailing stop's anchor survives a restart
                self.db.execute("update ops.live_stops set high_water = ?, updated_at = ? where account = ? "
                                "and code = ?", [lv.high_water, now(), self.account, c])

    def _timeouts(self, at: datetime) -> None:
        """Working stop orders older than order_timeout_minutes are cancelled (the stop then re-arms)."""
        for code, lv in self.levels.items():
            t0 = self.sent_at.get(lv.working or "")
            if lv.working and self.db.scalar("select price from ops.orders where order_id = ?",
                                             [lv.working]) == self.feed.limits(code)[1]:
                continue  # queued at limit-down: cancelling would only lose its place in the queue
            if lv.working and t0 and (at - t0).total_seconds() >= self.k.order_timeout_minutes * 60:
                if not self.broker.cancel(lv.working):
                    self.sent_at.pop(lv.working, None)

    def _volume_ratio(self, at: datetime) -> None:
        """分時量比 of every watched stock at `at`; rows are buffered and written every 10 minutes."""
        for code in self.feed.codes:
            if code not in self.curves:
                start = (pd.Timestamp(self.day) - pd.Timedelta(days=self.k.volume_ratio_days * 3 + 10)).date()
                bars = self.feed.minute_bars(code, start, pd.Timestamp(self.day) - pd.Timedelta(seconds=1))
                self.curves[code] = reference_curve(bars, self.day, self.k.volume_ratio_days)
            q = self.feed.quote(code)
            if q is None:
                continue
            curve, n = self.curves[code]
            ref, vr = ratio_at(curve, at, q.volume)
            if vr is not None:
                self._vr_now[code] = vr
            self._vr_rows.append({"trade_date": pd.Timestamp(self.day), "code": code, "minute": f"{at:%H:%M}",
                                  "ts": to_utc(at), "cum_volume": q.volume, "ref_volume": ref, "volume_ratio": vr,
                                  "days": n})
        if len(self._vr_rows) and (at.minute % 10 == 0 or at.hour == 15):
            self._flush_vr()

    def _flush_vr(self) -> None:
        if self._vr_rows:
            self.db.upsert(LIVE_VOLUME_RATIO, pd.DataFrame(self._vr_rows))
            self._vr_rows = []

    def _drain(self) -> None:
        if self.broker is None:
            return
        got = self.wb.apply(self.broker.events())
        self.s.fills += len(got.fills)
        for f in got.fills:
            if f.side == "buy":
                self._levels_from_buy(f)
        for oid, status in got.ended.items():
            for lv in self.levels.values():
                if lv.working == oid:
                    lv.working = None  # re-armed: fires again for what is left at the next crossing
        if got.disconnected:
            self.s.reconnects.append(f"{self.clock.now:%H:%M:%S} on_disconnected")
            self.broker = None
            self.backoff.reset()

    def _levels_from_buy(self, f: Any) -> None:
        sid = self.db.scalar("select signal_id from ops.orders where order_id = ?", [f.order_id])
        it = next((i for i in self._all_intents if i.order_id == f.order_id), None)
        if f.code not in self.levels:
            self.levels[f.code] = Levels(f.code, it.stop_loss if it else None, it.take_profit if it else None,
                                         f.price, self.k.trailing_stop_pct, sid)
        self._save_levels()

    # -- the day -------------------------------------------------------------------------------
    def run(self) -> Summary:
        ensure_current(self.db, ORDERS, TRADES, *LIVE_TABLES)  # ops.orders.seq on an older warehouse
        outbox.ensure(self.db)
        prev = self.db.query("select started_at from ops.live_session where account = ? and trade_date = ?",
                             [self.account, self.day])
        self._started = prev[0][0] if prev else now()
        audit.record(self.db, "live_start", {"account": self.account, "date": self.day, "broker": self.s.broker,
                                             "dry_run": self.dry_run, "restart": bool(prev)})
        self._progress("running")
        if not self._connect():
            self.s.exit_code = EXIT_FAILED
            self._progress("failed")
            return self.s
        self._reconcile(self.s.reconcile_start)
        self._expire_unsent_stops()
        self._load_intents()
        self._all_intents = list(self.intents.values())
        self._load_levels()
        self.feed.subscribe(sorted({i.code for i in self.intents.values()} | set(self.levels)))
        killed = None
        for at in self.clock:
            if self.exchange is not None:
                self.exchange.advance(at)
            self.s.last_minute = f"{at:%H:%M}"
            if self.broker is None:
                if self.backoff.due(self.clock.now) and self._connect():
                    self.s.reconnects.append(f"{at:%H:%M:%S} reconnected")
                    self._reconcile(self.s.reconcile_start)
                    self.feed.subscribe(list(self.levels))
                if self.broker is None:
                    self._progress()
                    continue
            self._drain()
            if self.broker is None:
                self._progress()
                continue
            killed = safety.kill_switch(self.k.kill_path())
            if killed:
                break
            if self.intents:
                self._open(at)
            if at.hour * 60 + at.minute > 9 * 60 + 30:
                self._volume_ratio(at)
                self._watch(at)
                self._timeouts(at)
            self._drain()
            self._progress()
        return self._close(killed)

    def _close(self, killed: str | None) -> Summary:
        self._flush_vr()
        if self.broker is not None:
            marks = ", ".join("?" * 2)
            for oid, purpose in self.db.query(f"select order_id, reason from ops.orders where account = ? and "
                                              f"trade_date = ? and status in ({marks})",
                                              [self.account, self.day, "sent", "partial"]):
                mark_order(self.db, oid, "expired", reason=f"{purpose}: " + (
                    "kill switch: cancelled" if killed else "day ended with the order unfilled (remainder expired)"))
                self.broker.cancel(oid)
        if self.exchange is not None and not killed:
            self.exchange.close_day()
        self._drain()
        if self.broker is None and self._connect():
            pass
        if self.broker is not None:
            self._reconcile(self.s.reconcile_end)
            self._save_levels()
            self.s.fills = int(self.db.scalar("select count(*) from ops.trades where account = ? and "
                                              "cast(traded_at as date) = ?", [self.account, self.day]))
        # never decided (no price all day); a kill leaves them pending
        for oid in list(self.intents) if not killed else []:
            mark_order(self.db, oid, "skipped", reason=f"{self.intents[oid].reason}: no quote during the session")
            self.s.skipped.append(f"{oid}: no quote during the session")
        diffs = [n for n in self.s.reconcile_end if "fill(s) from the broker" not in n and "marked sent" not in n]
        if killed:
            self.s.exit_code, status = EXIT_KILLED, "killed"
            self.s.refused.append(killed)
        elif self.broker is None:
            self.s.exit_code, status = EXIT_FAILED, "failed"
        else:
            self.s.exit_code, status = (EXIT_DIFFS if diffs else EXIT_OK), "done"
        self._progress(status)
        audit.record(self.db, "live_end", {"account": self.account, "date": self.day, "status": status,
                                           "exit_code": self.s.exit_code, "orders_sent": self.s.orders_sent,
                                           "fills": self.s.fills, "stops": len(self.s.stops_fired)})
        return self.s


def next_day(db: Database, day: date) -> date:
    return next_session(day, db)

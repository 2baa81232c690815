"""CSV hand-off to a QMT terminal: export the day's order intents, import the fills QMT wrote.

For accounts where only the QMT GUI runs (no miniQMT/xtquant), the standalone script
`qmt_strategy_script.py` reads the exported CSV inside QMT and writes fills back to a CSV.
Intents are recorded in ops.orders (status 'exported') before the CSV exists.
"""
from __future__ import annotations

import csv
from datetime import date
from pathlib import Path

import pandas as pd

from aquant.db import Database

from . import data
from .broker import Fill, OrderRequest
from .paper import next_session
from .records import existing, mark_order, record_fills, record_intents
from .rules import RuleBook, board_of
from .tables import ORDERS, TRADES

CSV_COLS = ["order_id", "signal_id", "code", "side", "qty", "price_type", "price", "target_weight", "ref_price",
            "reason", "take_profit", "stop_loss", "trailing_pct", "protect_pct"]
FILL_COLS = ["trade_id", "order_id", "code", "side", "price", "qty", "fee", "traded_at"]


def orders_csv_name(day: date) -> str:
    return f"qmt_orders_{pd.Timestamp(day):%Y%m%d}.csv"


def export_qmt(db: Database, day: date | str, out_dir: str | Path, account: str = "qmt",
               capital: float = 1_000_000.0, src: data.Sources = data.Sources()) -> Path:
    """Write intents from `day`'s qmt_signals (for the next session) to out_dir; returns the file.

    Buy qty = target_weight x capital / ref_price in valid lots; sell qty 0 means "all sellable"
    (QMT knows the position, we may not). Re-exporting the same day reuses the same order_ids.
    """
    day = pd.Timestamp(day).date()
    nxt = next_session(day, db)
    sig = data.load_qmt_signals(db, day, src)
    rules, orders, weights, refs, levels = RuleBook(), [], {}, {}, {}
    for r in sig.itertuples(index=False):
        if r.side == "buy":
            ref = float(r.ref_price) if pd.notna(r.ref_price) else 0.0
            w = float(r.target_weight) if pd.notna(r.target_weight) else 0.0
            qty = rules.buy_qty(w * capital / ref, board_of(r.code), nxt) if ref > 0 else 0
            if qty <= 0:
                continue
        else:
            qty = 0
        o = OrderRequest(r.code, r.side, qty, reason="signal", signal_id=r.signal_id)
        orders.append(o)
        weights[r.signal_id] = r.target_weight
        refs[r.signal_id] = r.ref_price
        levels[r.signal_id] = (r.take_profit, r.stop_loss)
    with db.transaction():
        record_intents(db, account, nxt, orders, status="exported")
        df = db.query_df("select order_id, signal_id, code, side, qty, price, reason from ops.orders "
                         "where account = ? and trade_date = ? and status in ('pending', 'exported') "
                         "and order_type = 'market' order by side desc, order_id", [account, nxt])
        for oid in df["order_id"]:
            mark_order(db, oid, "exported")
    from .live.knobs import LiveKnobs  # noqa: PLC0415 - the script's stop knobs are the live session's

    k = LiveKnobs.load()
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    path = out / orders_csv_name(nxt)
    with path.open("w", newline="", encoding="utf-8") as f:
        w = csv.writer(f)
        w.writerow(CSV_COLS)
        for r in df.itertuples(index=False):
            tp, sl = (("" if pd.isna(v) else v) for v in levels.get(r.signal_id, (None, None)))
            w.writerow([r.order_id, r.signal_id or "", r.code, r.side, int(r.qty), "latest", "",
                        weights.get(r.signal_id, ""), refs.get(r.signal_id, ""), r.reason or "", tp, sl,
                        k.trailing_stop_pct, k.price_protect_pct])
    return path


def import_fills(db: Database, csv_path: str | Path, account: str = "qmt") -> int:
    """Load a fills CSV written by the QMT script into ops.trades (idempotent by trade_id)."""
    p = Path(csv_path)
    if not p.exists():
        raise FileNotFoundError(f"fills file {p} not found; expected the CSV the QMT script writes "
                                f"(qmt_fills_YYYYMMDD.csv)")
    df = pd.read_csv(p, dtype={"trade_id": str, "order_id": str, "code": str})
    missing = [c for c in FILL_COLS if c not in df.columns]
    if missing:
        raise ValueError(f"{p}: missing column(s) {missing}; expected header {','.join(FILL_COLS)}")
    fills = [Fill(r.order_id, r.code, r.side, float(r.price), int(r.qty), float(r.fee), pd.Timestamp(r.traded_at),
                  "", r.trade_id) for r in df.itertuples(index=False)]
    db.ensure_table(ORDERS)
    db.ensure_table(TRADES)
    with db.transaction():
        n = record_fills(db, fills, account, "qmt_csv")
        known = existing(db, sorted(set(df["order_id"])))
        for oid in known:
            got = int(db.scalar("select coalesce(sum(qty), 0) from ops.trades where order_id = ?", [oid]))
            want = int(db.scalar("select qty from ops.orders where order_id = ?", [oid]) or 0)
            mark_order(db, oid, "filled" if want == 0 or got >= want else "partial", got)
    return n

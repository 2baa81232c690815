"""Which signals are worth telling a person about, and how each reads as one line.

Kinds: `alert` (stable-layer alerts), `stop` (sell signals from a stop rule), `sell` (every sell),
`buy` (new buy signals; off unless configured, they can be many).
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from typing import Any, Sequence

import pandas as pd

from aquant.db import Database

KINDS = ("alert", "stop", "sell", "buy")
DEFAULT_KINDS = ("alert", "stop")

# SQL predicate per kind, on signals aliased `g`.
_WHERE = {
    "alert": "(g.layer = 'stable' and g.kind = 'alert')",
    "stop": "(g.kind = 'sell' and lower(coalesce(g.rule, '')) like '%stop%')",
    "sell": "(g.kind = 'sell')",
    "buy": "(g.kind = 'buy')",
}


@dataclass(frozen=True)
class Event:
    """One signal to announce; `signal_id` + channel makes the event key."""

    signal_id: str
    trade_date: date
    layer: str
    code: str
    kind: str
    line: str


def _relation(db: Database, name: str, home: str) -> str | None:
    rows = db.query("select table_schema from information_schema.tables where table_name = ?", [name])
    schemas = [r[0] for r in rows]
    if not schemas:
        return None
    return f'"{home if home in schemas else sorted(schemas)[0]}"."{name}"'


def _num(v: Any, fmt: str = "{:.2f}") -> str | None:
    return None if v is None or pd.isna(v) else fmt.format(float(v))


def describe(row: dict[str, Any]) -> str:
    """One line a person can act on: what, which stock, why, and the price levels."""
    label = {"alert": "稳健预警 alert", "buy": "买入 buy", "sell": "卖出 sell"}.get(row["kind"], row["kind"])
    if row["kind"] == "sell" and "stop" in str(row.get("rule") or "").lower():
        label = "止损 stop"
    parts = [f"[{label}] {row['code']} {row.get('name') or ''}".rstrip(), str(row.get("rule") or "")]
    levels = [f"{k} {v}" for k, v in (("close", _num(row.get("close"))), ("TP", _num(row.get("take_profit"))),
                                       ("SL", _num(row.get("stop_loss")))) if v]
    if row["kind"] == "alert" and _num(row.get("metric_value"), "{:.4g}"):
        levels = [f"value {_num(row.get('metric_value'), '{:.4g}')} vs threshold {_num(row.get('threshold'), '{:.4g}')}"]
    if levels:
        parts.append(", ".join(levels))
    if row.get("reason"):
        parts.append(str(row["reason"]))
    return " · ".join(p for p in parts if p) + f" ({pd.Timestamp(row['trade_date']).date()})"


def collect(db: Database, since: date | None, kinds: Sequence[str] = DEFAULT_KINDS) -> list[Event]:
    """Signals of the chosen kinds on or after `since` (None: the latest signal day only)."""
    bad = sorted(set(kinds) - set(KINDS))
    if bad:
        raise ValueError(f"unknown event kind(s) {', '.join(bad)}; choose from {', '.join(KINDS)}")
    sg = _relation(db, "signals", "signals")
    if sg is None or not kinds:
        return []
    if since is None:
        since = db.scalar(f"select max(trade_date) from {sg}")
        if since is None:
            return []
    cols = {r[0] for r in db.query("select column_name from information_schema.columns where table_name = 'signals'")}
    extra = ", ".join(f"g.{c}" for c in ("metric_value", "threshold") if c in cols)
    si = _relation(db, "stg_stock_info", "staging")
    name = "i.name" if si else "cast(null as varchar) as name"
    join = f"left join {si} i on i.code = g.code" if si else ""
    df = db.query_df(f"select g.signal_id, g.trade_date, g.layer, g.code, g.kind, g.rule, g.close, g.take_profit, "
                     f"g.stop_loss, g.reason, {name}{', ' + extra if extra else ''} from {sg} g {join} "
                     f"where g.trade_date >= ? and ({' or '.join(_WHERE[k] for k in kinds)}) "
                     f"order by g.trade_date, g.kind, g.priority, g.code", [since])
    return [Event(str(r["signal_id"]), pd.Timestamp(r["trade_date"]).date(), str(r["layer"]), str(r["code"]),
                  str(r["kind"]), describe(r)) for r in df.to_dict("records")]

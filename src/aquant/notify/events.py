"""Which signals are worth telling a person about, and how each reads as one line.

Kinds: `alert` (stable-layer alerts), `stop` (sell signals from a stop rule), `sell` (every sell),
`buy` (new buy signals; off unless configured, they can be many).
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any, Sequence

import pandas as pd

from aquant.db import Database

KINDS = ("alert", "stop", "sell", "buy")
DEFAULT_KINDS = ("alert", "stop")
LOOKBACK_DAYS = 7  # calendar days before the latest signal day that still count as news

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


def sources(db: Database) -> list[str]:
    """Where signals live: `signals` (both layers) and, while the stable layer is built beside it,
    `stable_alerts`. Rows are deduplicated by signal_id, so a union in `signals` is fine too."""
    return [r for r in (_relation(db, "signals", "signals"), _relation(db, "stable_alerts", "signals")) if r]


def _columns(db: Database, rel: str) -> set[str]:
    schema, name = (p.strip('"') for p in rel.split("."))
    return {r[0] for r in db.query("select column_name from information_schema.columns "
                                   "where table_schema = ? and table_name = ?", [schema, name])}


def collect(db: Database, since: date | None, kinds: Sequence[str] = DEFAULT_KINDS,
            lookback_days: int = LOOKBACK_DAYS) -> tuple[date | None, list[Event]]:
    """Signals of the chosen kinds on or after `since`; returns (since used, events).

    Without `since`: the `lookback_days` calendar days up to the latest signal day. Whatever was
    already sent is filtered out later by its event key, so the window only has to be wide enough
    for signals that appear late (a report announced after the fact) and narrow enough that a first
    run does not announce years of history.
    """
    bad = sorted(set(kinds) - set(KINDS))
    if bad:
        raise ValueError(f"unknown event kind(s) {', '.join(bad)}; choose from {', '.join(KINDS)}")
    rels = sources(db)
    if not rels or not kinds:
        return since, []
    pred = " or ".join(_WHERE[k] for k in kinds)
    if since is None:
        days = [db.scalar(f"select max(g.trade_date) from {r} g where {pred}") for r in rels]
        days = [pd.Timestamp(d).date() for d in days if d is not None]
        if not days:
            return None, []
        since = max(days) - timedelta(days=lookback_days)
    si = _relation(db, "stg_stock_info", "staging")
    frames = []
    for rel in rels:
        cols = _columns(db, rel)
        opt = "".join(f", g.{c}" if c in cols else f", cast(null as double precision) as {c}"
                      for c in ("close", "take_profit", "stop_loss", "metric_value", "threshold"))
        name = "i.name" if si else "cast(null as varchar) as name"
        join = f"left join {si} i on i.code = g.code" if si else ""
        frames.append(db.query_df(f"select g.signal_id, g.trade_date, g.layer, g.code, g.kind, g.rule, g.priority, "
                                  f"g.reason, {name}{opt} from {rel} g {join} "
                                  f"where g.trade_date >= ? and ({pred})", [since]))
    df = pd.concat([f for f in frames if len(f)], ignore_index=True) if any(len(f) for f in frames) else frames[0]
    df = df.drop_duplicates("signal_id").sort_values(["trade_date", "kind", "priority", "code", "signal_id"])
    return since, [Event(str(r["signal_id"]), pd.Timestamp(r["trade_date"]).date(), str(r["layer"]), str(r["code"]),
                         str(r["kind"]), describe(r)) for r in df.to_dict("records")]

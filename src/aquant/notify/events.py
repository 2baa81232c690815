"""Which signals are worth telling a person about, and how each reads as one line.

Kinds: `alert` (stable-layer alerts), `stop` (sell signals from a stop rule), `sell` (every sell),
`buy` (new buy signals; off unless configured, they can be many).
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any, Sequence

import pandas as pd

from aquant import relations
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


# What a line needs from `signals` (both layers; the stable alerts are unioned into it by dbt).
COLUMNS = ["signal_id", "trade_date", "layer", "code", "kind", "rule", "priority", "reason", "close", "take_profit",
           "stop_loss", "metric_value", "threshold"]


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
        levels = [f"value {_num(row.get('metric_value'), '{:.4g}')} "
                  f"vs threshold {_num(row.get('threshold'), '{:.4g}')}"]
    if levels:
        parts.append(", ".join(levels))
    if row.get("reason"):
        parts.append(str(row["reason"]))
    return " · ".join(p for p in parts if p) + f" ({pd.Timestamp(row['trade_date']).date()})"


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
    if not kinds or not relations.exists(db, "signals"):
        return since, []
    sg = relations.locate(db, "signals", COLUMNS)
    pred = " or ".join(_WHERE[k] for k in kinds)
    if since is None:
        last = db.scalar(f"select max(g.trade_date) from {sg} g where {pred}")
        if last is None:
            return None, []
        since = pd.Timestamp(last).date() - timedelta(days=lookback_days)
    si = relations.locate(db, "stg_stock_info", ["code", "name"]) if relations.exists(db, "stg_stock_info") else None
    name = "i.name" if si else "cast(null as varchar) as name"
    join = f"left join {si} i on i.code = g.code" if si else ""
    df = db.query_df(f"select {', '.join('g.' + c for c in COLUMNS)}, {name} from {sg} g {join} "
                     f"where g.trade_date >= ? and ({pred})", [since])
    df = df.sort_values(["trade_date", "kind", "priority", "code", "signal_id"])
    return since, [Event(str(r["signal_id"]), pd.Timestamp(r["trade_date"]).date(), str(r["layer"]), str(r["code"]),
                         str(r["kind"]), describe(r)) for r in df.to_dict("records")]

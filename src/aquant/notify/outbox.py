"""ops.alerts_log as an outbox: a row is written *before* sending, then marked with the result.

So a failed delivery stays `delivered = false` and is retried by the next run (never lost), and
the row's key is derived from the event key (signal id + channel), so the same event can never be
queued, and therefore sent, twice.
"""
from __future__ import annotations

import hashlib
from datetime import datetime, timezone
from typing import Sequence

import pandas as pd

from aquant.db import Database
from aquant.schema import Table

from .events import Event

ALERTS_LOG = Table("ops", "alerts_log", {
    "alert_id": "VARCHAR", "created_at": "TIMESTAMP", "layer": "VARCHAR", "code": "VARCHAR", "kind": "VARCHAR",
    "message": "VARCHAR", "channel": "VARCHAR", "delivered": "BOOLEAN", "attempts": "INTEGER",
    "last_error": "VARCHAR", "event_key": "VARCHAR", "delivered_at": "TIMESTAMP"}, ("alert_id",), audit_cols=(),
    doc="One row per event and channel: what was (or is still to be) sent, and the delivery result.")


def now() -> datetime:
    return datetime.now(timezone.utc).replace(tzinfo=None)


def event_key(signal_id: str, channel: str) -> str:
    return f"{signal_id}:{channel}"


def alert_id(key: str) -> str:
    """Derived from the event key, so the primary key itself forbids a second row for it."""
    return hashlib.sha1(key.encode("utf-8")).hexdigest()[:20]


def ensure(db: Database) -> None:
    db.ensure_table(ALERTS_LOG)


def queue(db: Database, events: Sequence[Event], channel: str) -> int:
    """Write a pending row for every event not yet known on this channel; returns how many are new."""
    known = {r[0] for r in db.query(f"select event_key from {ALERTS_LOG.fqn} where channel = ?", [channel])}
    new = [e for e in events if event_key(e.signal_id, channel) not in known]
    at = now()
    with db.transaction():
        for e in new:
            key = event_key(e.signal_id, channel)
            db.execute(f"insert into {ALERTS_LOG.fqn} (alert_id, created_at, layer, code, kind, message, channel, "
                       f"delivered, attempts, last_error, event_key, delivered_at) "
                       f"values (?, ?, ?, ?, ?, ?, ?, false, 0, null, ?, null) on conflict (alert_id) do nothing",
                       [alert_id(key), at, e.layer, e.code, e.kind, e.line, channel, key])
    return len(new)


def pending(db: Database, channel: str) -> pd.DataFrame:
    """Rows of this channel still to deliver: new ones and earlier failures, oldest first."""
    return db.query_df(f"select alert_id, event_key, kind, code, message, attempts from {ALERTS_LOG.fqn} "
                       f"where channel = ? and not delivered order by created_at, event_key", [channel])


def mark(db: Database, alert_ids: Sequence[str], error: str | None) -> None:
    """Record one delivery attempt for these rows: delivered when `error` is None."""
    if not alert_ids:
        return
    marks = ", ".join("?" for _ in alert_ids)
    if error is None:
        db.execute(f"update {ALERTS_LOG.fqn} set delivered = true, attempts = attempts + 1, last_error = null, "
                   f"delivered_at = ? where alert_id in ({marks})", [now(), *alert_ids])
    else:
        db.execute(f"update {ALERTS_LOG.fqn} set attempts = attempts + 1, last_error = ? "
                   f"where alert_id in ({marks})", [error[:1000], *alert_ids])

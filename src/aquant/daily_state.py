"""ops.daily_run: per trading day, source and step, whether `aquant daily` finished that step.

Why a table and not just the audit log: a resumed run must answer "which steps of today are
already done?" with one keyed lookup, and an operator must see at a glance which step of which
day failed. A step is written `running` before it starts and `ok`/`partial`/`failed`/`skipped`
when it ends, so a killed process leaves `running` behind, which the next run treats as not done.
"""
from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import date, datetime, timezone
from typing import Any

import pandas as pd

from .db import Database
from .schema import Table

DAILY_RUN = Table("ops", "daily_run", {
    "run_date": "DATE", "source": "VARCHAR", "step": "VARCHAR", "status": "VARCHAR", "started_at": "TIMESTAMP",
    "finished_at": "TIMESTAMP", "attempts": "INTEGER", "detail": "VARCHAR"}, ("run_date", "source", "step"),
    audit_cols=(),
    doc="One row per trading day, source and step of `aquant daily`; status running/ok/partial/failed/skipped, "
        "detail is JSON text (rows, timings, dbt invocation id, error).")

# A step in one of these states needs no re-run on the same day (unless its input changed).
DONE = ("ok", "skipped")


@dataclass
class StepRecord:
    """The stored state of one step of one day."""

    step: str
    status: str
    attempts: int
    detail: dict[str, Any]


def _now() -> datetime:
    return datetime.now(timezone.utc).replace(tzinfo=None)


def _dumps(detail: dict[str, Any]) -> str:
    return json.dumps(detail, default=str, ensure_ascii=False, sort_keys=True)


def load(db: Database, run_date: date, source: str) -> dict[str, StepRecord]:
    """Every recorded step of (run_date, source), by step name."""
    db.ensure_table(DAILY_RUN)
    rows = db.query("select step, status, attempts, detail from ops.daily_run where run_date = ? and source = ?",
                    [run_date, source])
    return {s: StepRecord(s, st, int(a or 0), json.loads(d or "{}")) for s, st, a, d in rows}


def start(db: Database, run_date: date, source: str, step: str, attempts: int) -> datetime:
    """Mark the step `running` (so a crash mid-step is visible and re-run next time)."""
    t = _now()
    _write(db, run_date, source, step, "running", t, None, attempts, {})
    return t


def finish(db: Database, run_date: date, source: str, step: str, status: str, started_at: datetime,
           attempts: int, detail: dict[str, Any]) -> None:
    """Store the step's outcome and what it did."""
    _write(db, run_date, source, step, status, started_at, _now(), attempts, detail)


def _write(db: Database, run_date: date, source: str, step: str, status: str, started_at: datetime | None,
           finished_at: datetime | None, attempts: int, detail: dict[str, Any]) -> None:
    frame = pd.DataFrame([{"run_date": run_date, "source": source, "step": step, "status": status,
                           "started_at": started_at, "finished_at": finished_at, "attempts": attempts,
                           "detail": _dumps(detail)}])
    frame["started_at"] = pd.to_datetime(frame["started_at"])
    frame["finished_at"] = pd.to_datetime(frame["finished_at"])
    with db.transaction():
        db.upsert(DAILY_RUN, frame)

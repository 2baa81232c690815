"""The audit trail: every key action (ingest, build, backtest, order, notification, decision)
writes one row to ops.audit_log, so "who did what, when, with which parameters" has an answer."""
from __future__ import annotations

import getpass
import json
import os
import uuid
from datetime import date, datetime, timezone
from typing import Any

import pandas as pd

from .db import Database
from .schema import OPS_TABLES


def actor() -> str:
    """Who is acting: AQUANT_ACTOR if set (cron, Meltano, the app), else the OS user."""
    env = os.environ.get("AQUANT_ACTOR")
    if env:
        return env
    try:
        return getpass.getuser()
    except (KeyError, OSError):
        return "unknown"


def _default(o: Any) -> str:
    if isinstance(o, (date, datetime)):
        return o.isoformat()
    return str(o)


def record(db: Database, action: str, detail: dict[str, Any] | None = None, who: str | None = None) -> str:
    """Append one audit event and return its id. Never raises on odd detail values."""
    t = OPS_TABLES["audit_log"]
    event_id = uuid.uuid4().hex
    row = {"event_id": event_id, "at": datetime.now(timezone.utc).replace(tzinfo=None), "actor": who or actor(),
           "action": action, "detail": json.dumps(detail or {}, default=_default, ensure_ascii=False, sort_keys=True)}
    db.append(t, pd.DataFrame([row]))
    return event_id

"""The day's intents: the signals of the previous session, as qmt_signals shapes them.

qmt_signals holds the latest signal day only (what the QMT terminal needs tonight); a replay of
an earlier day (`aquant live --broker sim --date D` on the sample market) reads the same day's
offense signals from `signals` and gives each buy the per-stock cap as its weight, as
qmt_signals does for a stock outside the rotation's targets.
"""
from __future__ import annotations

from datetime import date

import pandas as pd

from aquant.db import Database
from aquant.relations import NotBuilt

from .. import data
from ..knobs import dbt_var


def signals_for(db: Database, day: date) -> pd.DataFrame:
    """Order intents from the offense signals of `day` (columns of data.QMT_SIGNAL_COLS)."""
    try:
        q = data.load_qmt_signals(db, day)
    except NotBuilt:
        q = pd.DataFrame(columns=data.QMT_SIGNAL_COLS)
    if not q.empty:
        return q
    try:
        s = data.load_signals(db, day, day)
    except NotBuilt:
        return q
    s = s[s["kind"].isin(["buy", "sell"])]
    cap = float(dbt_var("max_weight_stock"))
    return pd.DataFrame({"signal_id": s["signal_id"], "trade_date": s["trade_date"], "code": s["code"],
                         "side": s["kind"], "target_weight": [cap if k == "buy" else 0.0 for k in s["kind"]],
                         "ref_price": s["close"], "take_profit": s["take_profit"], "stop_loss": s["stop_loss"],
                         "priority": s["priority"], "reason": s["reason"]}).reset_index(drop=True)


def previous_session(db: Database, day: date) -> date | None:
    """The session before `day` that has daily bars (the signals' day)."""
    try:
        q = data.load_quotes(db, pd.Timestamp(day).date() - pd.Timedelta(days=20), day)
    except NotBuilt:
        return None
    days = sorted(d for d in pd.to_datetime(q["trade_date"]).dt.date.unique() if d < pd.Timestamp(day).date())
    return days[-1] if days else None

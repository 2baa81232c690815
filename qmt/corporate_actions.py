"""When a corporate action (cash dividend, bonus issue) takes effect in our books.

Why a module of its own: the backtest, paper trading and reconciliation must agree on the
session an event applies on, or their positions and cash drift apart. About half of the ex-dates
in tushare's `dividend` table fall on a weekend or holiday (150 of the sample market's 296), so
"apply on the ex-date" silently drops them.

Rule (SSE/SZSE and CSDC practice for 除权除息; article numbers not checked here): entitlement
belongs to the holders registered at the close of the record date (股权登记日), which is the last
session before the ex-date; the ex-date price adjustment and the shares/cash reach the account on the
first session on or after the ex-date. An ex-date that is not a session is therefore applied on
the next session, to the holdings at the close of the last session before it.
"""
from __future__ import annotations

from decimal import ROUND_FLOOR, Decimal
from typing import Iterable

import numpy as np
import pandas as pd

SCHEDULE_COLS = ("record_date", "apply_date")


def schedule(events: pd.DataFrame | None, sessions: Iterable) -> pd.DataFrame:
    """The events with two added columns, one row per event that applies within `sessions`.

    record_date: the last session before ex_date (entitlement = holders at its close; NaT when
        the ex-date is on or before the first known session).
    apply_date: the first session on or after ex_date. Events whose ex-date is after the last
        known session are dropped: they apply on a session not yet known.

    `sessions` are trading days (any order, duplicates allowed). The one function the backtest,
    paper trading and reconciliation use, so the three cannot disagree.
    """
    cols = [*(events.columns if events is not None else ["code", "ex_date"]), *SCHEDULE_COLS]
    if events is None or events.empty:
        return pd.DataFrame(columns=cols)
    s = np.unique(pd.DatetimeIndex(pd.to_datetime(list(sessions))).normalize().to_numpy("datetime64[ns]"))
    if len(s) == 0:
        return pd.DataFrame(columns=cols)
    ex = pd.to_datetime(events["ex_date"]).to_numpy("datetime64[ns]")
    i = np.searchsorted(s, ex, side="left")  # first session >= ex_date
    ok = (i < len(s)) & ~pd.isna(ex)
    out = events.loc[ok].copy()
    i = i[ok]
    out["apply_date"] = pd.DatetimeIndex(s[i])
    out["record_date"] = pd.DatetimeIndex([s[k - 1] if k > 0 else np.datetime64("NaT") for k in i])
    return out.sort_values(["apply_date", "code"], kind="stable").reset_index(drop=True)


def bonus_shares(qty: int, ratio: float) -> int:
    """Shares issued on `qty` held at a bonus ratio (送转股 per share), fractions dropped.

    Exact in decimals (0.3 x 1000 is 300, not 299.99999...); CSDC allocates fractional shares
    among holders by size of the fraction (零碎股), which a single account cannot reproduce, so
    the fraction is dropped (conservative).
    """
    if qty <= 0 or not ratio or ratio != ratio:
        return 0
    return int((Decimal(qty) * Decimal(repr(float(ratio)))).to_integral_value(ROUND_FLOOR))


def money(x: float | Decimal | int) -> Decimal:
    """A per-share or total amount as an exact decimal (float text, not its binary expansion)."""
    return x if isinstance(x, Decimal) else Decimal(repr(float(x))) if isinstance(x, float) else Decimal(x)

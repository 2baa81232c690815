"""分时量比 (intraday volume ratio): the day's cumulative volume up to minute m over the mean
cumulative volume up to the same minute of the previous N sessions.

Kept apart from the daily `volume_ratio` of factor_technical (whole-day volume over the mean of
N previous days): intraday the day is not over, so it is compared minute for minute. The
reference curve is built once before the open from minute bars (no bar of the day itself is in
it: no look-ahead); the day's side is the quote's cumulative volume, so each minute costs a lookup.
"""
from __future__ import annotations

from datetime import date, datetime

import pandas as pd


def reference_curve(bars: pd.DataFrame, day: date, days: int) -> tuple[pd.Series, int]:
    """(mean cumulative volume by time of day 'HH:MM', number of days used) from 1-minute bars
    (columns ts Beijing, volume) of the `days` sessions before `day`."""
    if bars.empty:
        return pd.Series(dtype=float), 0
    b = bars[bars["ts"] < pd.Timestamp(day)].copy()
    b["d"] = b["ts"].dt.normalize()
    keep = sorted(b["d"].unique())[-days:]
    b = b[b["d"].isin(keep)].sort_values("ts")
    if b.empty:
        return pd.Series(dtype=float), 0
    b["cum"] = b.groupby("d")["volume"].cumsum()
    b["hm"] = b["ts"].dt.strftime("%H:%M")
    wide = b.pivot_table(index="hm", columns="d", values="cum", aggfunc="last").sort_index().ffill()
    return wide.mean(axis=1), len(keep)


def ratio_at(curve: pd.Series, at: datetime, cum_today: float) -> tuple[float, float | None]:
    """(reference volume, ratio) at `at`: the last reference minute at or before `at`'s time of day."""
    if curve.empty:
        return 0.0, None
    hm = f"{at:%H:%M}"
    ref = curve[curve.index <= hm]
    if ref.empty or not ref.iloc[-1] > 0:
        return 0.0, None
    r = float(ref.iloc[-1])
    return r, cum_today / r

"""Chip distribution (筹码分布, CYQ) derived from a stock's own bars and turnover.

Upstream (Eastmoney via akshare `stock_cyq_em`) only serves the last ~210 bars, so history must
be derived. This is the same published method: each day the chips held decay by
(1 - turnover rate) and the day's turnover is spread as a triangle over [low, high] peaking at
the day's average price. Prices are back-adjusted internally (so splits do not tear the
distribution) and converted back to the day's unadjusted prices in the output.

Vectorised across stocks: the loop runs over days only (2,500 steps for ten years), each step
a (stocks x buckets) array operation.
"""
from __future__ import annotations

import numpy as np
import pandas as pd

N_BUCKETS = 400  # over a x64 price range: about 1 % per bucket
SPAN = 8.0


def _quantile_price(cum: np.ndarray, grid: np.ndarray, q: float) -> np.ndarray:
    """Price at which the cumulative chip share first reaches q (per row)."""
    idx = np.argmax(cum >= q - 1e-12, axis=1)
    return grid[np.arange(grid.shape[0]), idx]


def derive_chips(bars: pd.DataFrame, buckets: int = N_BUCKETS) -> pd.DataFrame:
    """Chip summary per (code, trade_date) from daily bars.

    `bars` needs code, trade_date, high, low, close, volume, amount, turnover_rate (fraction)
    and adj_factor. Returns profit_ratio, avg_cost, cost_90/70 low/high and concentrations,
    with costs in each day's unadjusted prices.
    """
    need = ["code", "trade_date", "high", "low", "close", "volume", "amount", "turnover_rate", "adj_factor"]
    missing = [c for c in need if c not in bars.columns]
    if missing:
        raise ValueError(f"derive_chips: missing columns {missing}")
    if bars.empty:
        return pd.DataFrame(columns=["code", "trade_date", "profit_ratio", "avg_cost", "cost_90_low",
                                     "cost_90_high", "concentration_90", "cost_70_low", "cost_70_high",
                                     "concentration_70"])
    df = bars.sort_values(["trade_date", "code"])
    codes = np.sort(df["code"].unique())
    dates = np.sort(df["trade_date"].unique())
    ci = pd.Index(codes).get_indexer(df["code"])
    di = pd.Index(dates).get_indexer(df["trade_date"])
    shape = (len(dates), len(codes))

    def mat(col: str) -> np.ndarray:
        m = np.full(shape, np.nan)
        m[di, ci] = df[col].to_numpy(dtype="float64")
        return m

    adj = mat("adj_factor")
    hi, lo, cl = mat("high") * adj, mat("low") * adj, mat("close") * adj
    vol, amt = mat("volume"), mat("amount")
    avg = np.where(vol > 0, amt / np.where(vol > 0, vol, 1) * adj, (hi + lo + cl) / 3)
    tr = np.clip(np.nan_to_num(mat("turnover_rate")), 0, 1)
    # One log-spaced price grid per stock, fixed by its first bar (x1/8 .. x8 of the first adjusted
    # close), so adding days never moves the grid and history stays byte-identical.
    first = np.array([cl[np.isfinite(cl[:, k]), k][0] if np.isfinite(cl[:, k]).any() else 1.0
                      for k in range(len(codes))])
    pmin, pmax = first / SPAN, first * SPAN
    frac = (np.arange(buckets) + 0.5) / buckets
    grid = np.exp(np.log(pmin)[:, None] + (np.log(pmax) - np.log(pmin))[:, None] * frac[None, :])
    hi, lo = np.clip(hi, pmin, pmax), np.clip(lo, pmin, pmax)
    avg = np.clip(avg, lo, hi)
    chips = np.zeros((len(codes), buckets))
    out = {k: np.full(shape, np.nan) for k in ["profit_ratio", "avg_cost", "c90l", "c90h", "c70l", "c70h"]}
    for d in range(len(dates)):
        live = np.isfinite(cl[d])
        if not live.any():
            continue
        h, low, a = hi[d][:, None], lo[d][:, None], avg[d][:, None]
        span_lo = np.maximum(a - low, 1e-9)
        span_hi = np.maximum(h - a, 1e-9)
        tri = np.where(grid <= a, (grid - low) / span_lo, (h - grid) / span_hi)
        tri = np.where((grid >= low) & (grid <= h), np.clip(tri, 0, None), 0.0)
        tot = tri.sum(axis=1, keepdims=True)
        # A one-price day (sealed limit) puts all its chips in the nearest bucket.
        near = np.abs(np.log(grid) - np.log(np.where(np.isfinite(a), a, 1.0))).argmin(axis=1)
        point = np.zeros_like(tri)
        point[np.arange(len(codes)), near] = 1.0
        tri = np.where(tot > 0, tri / np.where(tot > 0, tot, 1), point)
        t = np.where(live, tr[d], 0.0)[:, None]
        first = live & (chips.sum(axis=1) == 0)
        t = np.where(first[:, None], 1.0, t)
        chips = np.where(live[:, None], chips * (1 - t) + tri * t, chips)
        total = chips.sum(axis=1, keepdims=True)
        dist = chips / np.where(total > 0, total, 1)
        cum = np.cumsum(dist, axis=1)
        out["profit_ratio"][d] = np.where(live, (dist * (grid <= cl[d][:, None])).sum(axis=1), np.nan)
        out["avg_cost"][d] = np.where(live, (dist * grid).sum(axis=1), np.nan)
        for name, q in [("c90l", 0.05), ("c90h", 0.95), ("c70l", 0.15), ("c70h", 0.85)]:
            out[name][d] = np.where(live, _quantile_price(cum, grid, q), np.nan)
    rows = (di, ci)
    a = adj[rows]
    res = pd.DataFrame({
        "code": codes[ci], "trade_date": dates[di],
        "profit_ratio": np.round(out["profit_ratio"][rows], 6),
        "avg_cost": np.round(out["avg_cost"][rows] / a, 4),
        "cost_90_low": np.round(out["c90l"][rows] / a, 4), "cost_90_high": np.round(out["c90h"][rows] / a, 4),
        "cost_70_low": np.round(out["c70l"][rows] / a, 4), "cost_70_high": np.round(out["c70h"][rows] / a, 4),
    })
    res["concentration_90"] = np.round((res.cost_90_high - res.cost_90_low) / (res.cost_90_high + res.cost_90_low), 6)
    res["concentration_70"] = np.round((res.cost_70_high - res.cost_70_low) / (res.cost_70_high + res.cost_70_low), 6)
    return res.sort_values(["code", "trade_date"]).reset_index(drop=True)

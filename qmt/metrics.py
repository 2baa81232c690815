"""Performance metrics of a daily equity curve, defined as empyrical defines them.

Annual factor 252 and risk-free 0, so numbers agree with empyrical (pinned by a test) while the
backtest does not depend on it at run time.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

ANNUAL = 252


@dataclass(frozen=True)
class Metrics:
    total_return: float
    annual_return: float
    volatility: float
    sharpe: float
    max_drawdown: float  # negative fraction, as empyrical
    calmar: float


def _nan() -> float:
    return float("nan")


def compute(returns: pd.Series | np.ndarray) -> Metrics:
    """Metrics of simple daily returns (first day's return relative to the initial capital)."""
    r = np.asarray(returns, dtype=float)
    r = r[~np.isnan(r)]
    if len(r) == 0:
        return Metrics(0.0, 0.0, _nan(), _nan(), 0.0, _nan())
    growth = np.cumprod(1 + r)
    total = float(growth[-1] - 1)
    years = len(r) / ANNUAL
    annual = float(growth[-1] ** (1 / years) - 1) if growth[-1] > 0 else -1.0
    std = float(np.std(r, ddof=1)) if len(r) > 1 else _nan()
    vol = std * np.sqrt(ANNUAL) if std == std else _nan()
    sharpe = float(np.mean(r) / std * np.sqrt(ANNUAL)) if std and std == std else _nan()
    # As empyrical: the curve starts at the initial capital (growth 1.0), so a first-day loss is a
    # drawdown from it (-10 %, -10 %, +5 % is -19 %, not -10 %).
    curve = np.concatenate(([1.0], growth))
    mdd = float(min(np.min(curve / np.maximum.accumulate(curve) - 1), 0.0))
    calmar = annual / abs(mdd) if mdd < 0 else _nan()
    return Metrics(total, annual, float(vol), sharpe, mdd, float(calmar))


def drawdown(equity: pd.Series, initial: float | None = None) -> pd.Series:
    """Drawdown (<= 0) of an equity curve from its running peak.

    With `initial` (the starting capital) the peak starts there: a curve that opens below its
    capital is already in drawdown on its first day, as empyrical counts it.
    """
    peak = equity.cummax()
    if initial is not None:
        peak = peak.clip(lower=float(initial))
    return equity / peak - 1


def turnover(traded_value: float, mean_equity: float, n_days: int) -> float:
    """Annualised turnover: buys plus sells traded value over mean equity, per year of sessions.

    Two-way (a full round trip of the whole book counts 2), so it reads as "the book's value
    traded N times a year"; the `turnover` column kept from before is the one-way half of it.
    """
    years = n_days / ANNUAL
    return float(traded_value / mean_equity / years) if years and mean_equity else _nan()


def cost_drag(fees: float, initial_capital: float, n_days: int) -> float:
    """Annualised cost drag: all fees (commission, stamp duty, transfer fee) over the initial capital,
    per year of sessions; what trading costs the strategy each year as a fraction of its money."""
    years = n_days / ANNUAL
    return float(fees / initial_capital / years) if years and initial_capital else _nan()

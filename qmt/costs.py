"""Trading costs: commission with a minimum, dated stamp duty (sells only), transfer fee, slippage.

Kept apart from the broker so the backtest, paper trading and reports price a trade the same way.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date

import pandas as pd

from .rules import RuleBook


@dataclass(frozen=True)
class Fee:
    """The costs of one fill, in CNY."""

    commission: float
    stamp: float
    transfer: float

    @property
    def total(self) -> float:
        return round(self.commission + self.stamp + self.transfer, 2)


@dataclass(frozen=True)
class CostModel:
    """Commission `commission_rate` of value with `commission_min` CNY minimum per fill;
    slippage a fraction of price (buys pay more, sells get less)."""

    commission_rate: float = 0.00025
    commission_min: float = 5.0
    slippage: float = 0.0
    rules: RuleBook = field(default_factory=RuleBook)

    def fee(self, side: str, price: float, qty: int, day: date | pd.Timestamp) -> Fee:
        value = price * qty
        if qty <= 0:
            return Fee(0.0, 0.0, 0.0)
        commission = round(max(value * self.commission_rate, self.commission_min), 2)
        stamp = round(value * self.rules.stamp_rate(day), 2) if side == "sell" else 0.0
        transfer = round(value * self.rules.transfer_rate(day), 2)
        return Fee(commission, stamp, transfer)

    def slipped(self, side: str, price: float, low: float = 0.0, high: float = float("inf")) -> float:
        """Price after slippage, rounded to the cent and kept inside [low, high] (the bar or limits)."""
        from .rules import round_price

        p = price * (1 + self.slippage) if side == "buy" else price * (1 - self.slippage)
        return min(max(round_price(p), low), high)

"""Trading costs: commission with a minimum, dated stamp duty and transfer fee, slippage.

Kept apart from the broker so the backtest, paper trading and reports price a trade the same way.

Money is exact: the traded value is price (read as the decimal it was written as, see
`rules.price_decimal`) x shares in Decimal, each fee is that value x its rate rounded half up to
the cent (as brokers' statements show it), and the commission minimum applies per fill. The
`Fee` fields are floats of those cent amounts (the broker's ledger is float CNY); `cents` gives
the exact integer total.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from decimal import ROUND_HALF_UP, Decimal

import pandas as pd

from .rules import CENT, RuleBook, price_decimal

FACE_VALUE = Decimal("1")  # CNY per A share; the pre-2015 SSE transfer fee was charged on it


def _cents(x: Decimal) -> Decimal:
    return x.quantize(CENT, rounding=ROUND_HALF_UP)


@dataclass(frozen=True)
class Fee:
    """The costs of one fill, in CNY (each a whole number of cents)."""

    commission: float
    stamp: float
    transfer: float

    @property
    def cents(self) -> int:
        return sum(int(round(x * 100)) for x in (self.commission, self.stamp, self.transfer))

    @property
    def total(self) -> float:
        return self.cents / 100


@dataclass(frozen=True)
class CostModel:
    """Commission `commission_rate` of value with `commission_min` CNY minimum per fill;
    slippage a fraction of price (buys pay more, sells get less)."""

    commission_rate: float = 0.00025
    commission_min: float = 5.0
    slippage: float = 0.0
    rules: RuleBook = field(default_factory=RuleBook)

    def fee(self, side: str, price: float, qty: int, day: date | pd.Timestamp, code: str | None = None) -> Fee:
        """Costs of selling or buying `qty` shares at `price` on `day`.

        `code` (e.g. 600000.SH) picks the exchange's transfer fee, which differed before
        2015-08-01; without it the SSE's is used.
        """
        if qty <= 0:
            return Fee(0.0, 0.0, 0.0)
        value = price_decimal(price) * int(qty)
        commission = max(_cents(value * Decimal(str(self.commission_rate))), Decimal(str(self.commission_min)))
        stamp = Decimal(0)
        srule = self.rules.stamp_rule(day)
        if srule is not None and (side == "sell" or srule.sides == "both"):
            stamp = _cents(value * Decimal(str(self.rules.stamp_rate(day))))
        exchange = code.rpartition(".")[2].upper() if code and "." in code else "SH"
        trule = self.rules.transfer_rule(day, exchange)
        transfer = Decimal(0)
        if trule is not None:
            rate = Decimal(str(self.rules.transfer_rate(day, exchange)))
            base = FACE_VALUE * int(qty) if trule.basis == "face" else value
            transfer = _cents(base * rate)
        return Fee(float(commission), float(stamp), float(transfer))

    def slipped(self, side: str, price: float, low: float = 0.0, high: float = float("inf")) -> float:
        """Price after slippage, rounded half up to the cent in exact decimals, kept inside
        [low, high] (the bar or limits)."""
        s = Decimal(str(self.slippage))
        p = price_decimal(price) * (1 + s if side == "buy" else 1 - s)
        return min(max(float(_cents(p)), low), high)

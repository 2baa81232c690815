"""The open (结合现价判断): each intent recorded after the last close, against the current price.

A buy is skipped when it opens at limit-up (no fill but at the worst price), above its
take-profit (the trade's upside is already gone) or more than `max_open_gap_pct` above the
signal's close (chasing); a sell needs shares sellable today (T+1). What is sent is a limit
order `price_protect_pct` through the current price, clamped to the day's limits: never a bare
market order, which at a limit would fill at any price. Quantities follow the board's lot rule.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from decimal import Decimal

from ..broker import OrderRequest
from ..rules import RuleBook, board_of, price_decimal, round_price
from .feed import Quote


@dataclass
class Intent:
    """One recorded, unsent order intent and what its signal said."""

    order_id: str
    signal_id: str | None
    code: str
    side: str
    qty: int
    take_profit: float | None = None
    stop_loss: float | None = None
    signal_close: float | None = None
    reason: str = "signal"


@dataclass
class OpenDecision:
    intent: Intent
    order: OrderRequest | None
    skip: str | None = None


def protected_price(side: str, last: float, pct: float, down: float, up: float) -> float:
    """Limit price `pct` through `last` (buys above, sells below), to the cent, within [down, up]."""
    k = Decimal(1) + Decimal(str(pct)) if side == "buy" else Decimal(1) - Decimal(str(pct))
    return min(max(round_price(price_decimal(last) * k), down), up)


def decide_open(it: Intent, q: Quote, down: float, up: float, sellable: int, day: date, max_gap: float,
                protect: float, rules: RuleBook | None = None) -> OpenDecision:
    """The order to send for `it` at the current quote, or the reason it is skipped."""
    rules = rules or RuleBook()
    board = board_of(it.code)
    if it.side == "buy":
        if q.last >= up:
            return OpenDecision(it, None, f"skip: at limit-up {up:.2f} (current {q.last:.2f})")
        if it.take_profit and q.last >= it.take_profit:
            return OpenDecision(it, None, f"skip: opens at {q.last:.2f}, at or above its take-profit {it.take_profit:.2f}")
        if it.signal_close and q.last > it.signal_close * (1 + max_gap):
            return OpenDecision(it, None, f"skip: opens at {q.last:.2f}, more than {max_gap:.1%} above the "
                                          f"signal's close {it.signal_close:.2f}")
        qty = rules.buy_qty(it.qty, board, day)
        if qty <= 0:
            return OpenDecision(it, None, f"skip: {it.qty} shares is below one lot of {board}")
    else:
        want = it.qty if it.qty > 0 else sellable
        qty = rules.sell_qty(want, sellable, board, day)
        if qty <= 0:
            return OpenDecision(it, None, f"skip: no sellable shares of {it.code} today (T+1; held but bought today, "
                                          f"or not held)")
    price = protected_price(it.side, q.last, protect, down, up)
    o = OrderRequest(it.code, it.side, int(qty), "limit", price, it.reason, it.signal_id, it.order_id)
    return OpenDecision(it, o)

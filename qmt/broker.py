"""The broker interface one strategy uses unchanged on SimBroker, XtBroker and the QMT hand-off.

Records crossing modules are dataclasses; the interface is a Protocol so a broker needs no base
class (the xtquant wrapper and the simulator share nothing but these verbs).
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Protocol, runtime_checkable

SIDES = ("buy", "sell")
# How an order executes: at the next open, or as a standing stop/target/limit within the bar.
ORDER_TYPES = ("market", "limit", "stop", "target")


@dataclass
class OrderRequest:
    """An order intent. `order_id` is ours (deterministic from the signal), not the broker's."""

    code: str
    side: str
    qty: int
    order_type: str = "market"
    price: float | None = None  # limit / stop / target trigger price (unadjusted CNY)
    reason: str = "signal"      # signal / stop / target / rotation / risk
    signal_id: str | None = None
    order_id: str = ""

    def __post_init__(self) -> None:
        if self.side not in SIDES:
            raise ValueError(f"order side must be one of {SIDES}, got {self.side!r}")
        if self.order_type not in ORDER_TYPES:
            raise ValueError(f"order_type must be one of {ORDER_TYPES}, got {self.order_type!r}")
        if self.order_type != "market" and not self.price:
            raise ValueError(f"a {self.order_type} order for {self.code} needs a price")


@dataclass
class Fill:
    """One execution: real unadjusted price, shares, all costs."""

    order_id: str
    code: str
    side: str
    price: float
    qty: int
    fee: float
    trade_date: object = None
    reason: str = ""
    trade_id: str = ""
    pnl: float = 0.0  # realised P&L of a sell against average cost (for win rate)


@dataclass
class OrderResult:
    """What happened to an order: filled (maybe partly) and/or rejected with a reason."""

    order_id: str
    code: str
    side: str
    requested: int
    filled: int = 0
    rejected: int = 0
    status: str = "rejected"  # filled / partial / rejected / untriggered / sent / pending
    reason: str = ""           # why (part of) it was rejected
    fills: list[Fill] = field(default_factory=list)
    broker_order_id: str = ""


@dataclass
class Position:
    """Holding of one stock; `sellable` excludes shares bought today (T+1)."""

    code: str
    qty: int
    sellable: int
    cost: float = 0.0  # average cost per share incl. buy fees (CNY)


@runtime_checkable
class Broker(Protocol):
    """What a strategy needs from a broker."""

    def submit(self, order: OrderRequest) -> OrderResult: ...

    def cancel(self, order_id: str) -> bool: ...

    def positions(self) -> dict[str, Position]: ...

    def cash(self) -> float: ...

    def fills(self) -> list[Fill]: ...

"""Intraday stops and targets on held stocks, from real-time quotes.

A stop is a level, not an order at the exchange (xttrader has no standing stop order): each
quote is compared with the stop-loss, the take-profit and the trailing stop (a fraction below
the highest price seen while held), and a crossing fires one protected limit sell of the
sellable shares. While that order is working the stop is disarmed; when it ends with shares
left (partly filled then cancelled at its timeout, rejected, or expired) the stop re-arms and
fires again for the rest at the next crossing quote. An order queued at limit-down is left
working (the session does not time it out): cancelling and re-sending would only lose its place
in the queue of a sealed board; it expires at the close if nothing trades.
"""
from __future__ import annotations

from dataclasses import dataclass

from .feed import Quote


@dataclass
class Levels:
    """The levels of one holding; high_water is the highest price seen while held."""

    code: str
    stop_loss: float | None
    take_profit: float | None
    high_water: float
    trailing_pct: float = 0.0
    signal_id: str | None = None
    working: str | None = None  # our order_id of the stop order in the market, if any
    fired: int = 0               # orders this stop sent today (their ids carry the count)

    @property
    def armed(self) -> bool:
        return self.working is None

    @property
    def trail_level(self) -> float | None:
        return self.high_water * (1 - self.trailing_pct) if self.trailing_pct > 0 and self.high_water else None


def crossed(lv: Levels, q: Quote) -> tuple[str, str] | None:
    """(kind, why) when `q` crosses a level of `lv`; the high-water mark moves first.

    Only the last price counts (the tick's `lastPrice`): a level touched between two quotes and
    left again is not a crossing the session could have traded.
    """
    lv.high_water = max(lv.high_water or 0.0, q.last)
    if lv.stop_loss and q.last <= lv.stop_loss:
        return "stop", f"last {q.last:.2f} <= stop-loss {lv.stop_loss:.2f}"
    if lv.take_profit and q.last >= lv.take_profit:
        return "target", f"last {q.last:.2f} >= take-profit {lv.take_profit:.2f}"
    t = lv.trail_level
    if t and q.last <= t:
        return "trail", f"last {q.last:.2f} <= trailing stop {t:.2f} ({lv.trailing_pct:.0%} below high {lv.high_water:.2f})"
    return None

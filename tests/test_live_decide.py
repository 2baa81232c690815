"""The open's decision per intent (aquant.qmt.live.decide), on hand-built quotes."""
from __future__ import annotations

from datetime import date, datetime

from aquant.qmt.live.decide import Intent, decide_open, protected_price
from aquant.qmt.live.feed import Quote

DAY = date(2024, 6, 17)


def _q(last: float) -> Quote:
    return Quote("600000.SH", datetime(2024, 6, 17, 9, 25), last, last, last, 10.0)


def test_no_buy_when_opening_more_than_the_gap_above_the_signal_close():
    it = Intent("a:s:buy", "s", "600000.SH", "buy", 1000, take_profit=12.0, stop_loss=9.0, signal_close=10.0)
    assert decide_open(it, _q(10.31), 9.0, 11.0, 0, DAY, 0.03, 0.01).skip.startswith("skip: opens at 10.31, more than 3.0%")
    d = decide_open(it, _q(10.30), 9.0, 11.0, 0, DAY, 0.03, 0.01)
    assert d.order is not None and (d.order.order_type, d.order.price, d.order.qty) == ("limit", 10.40, 1000)


def test_protected_price_stays_inside_the_days_limits():
    assert protected_price("buy", 10.95, 0.01, 9.0, 11.0) == 11.0   # 11.0595 clamped to limit-up
    assert protected_price("sell", 9.05, 0.01, 9.0, 11.0) == 9.0    # 8.9595 clamped to limit-down
    assert protected_price("sell", 9.49, 0.01, 9.0, 11.0) == 9.40   # 9.3951 half up to the cent


def test_sell_takes_only_sellable_shares_and_skips_without_them():
    it = Intent("a:s:sell", "s", "600000.SH", "sell", 0)
    assert "no sellable shares" in decide_open(it, _q(10.0), 9.0, 11.0, 0, DAY, 0.03, 0.01).skip
    assert decide_open(it, _q(10.0), 9.0, 11.0, 350, DAY, 0.03, 0.01).order.qty == 350  # the odd lot goes whole


def test_buy_below_one_lot_is_skipped():
    it = Intent("a:s:buy", "s", "600000.SH", "buy", 99, signal_close=10.0)
    assert "below one lot" in decide_open(it, _q(10.0), 9.0, 11.0, 0, DAY, 0.03, 0.01).skip

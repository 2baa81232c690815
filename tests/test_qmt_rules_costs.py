"""Dated costs to the cent (issue 13, item 9): stamp duty, transfer fee, commission minimum, and
the BSE / NEEQ select-layer rules before 2021-11-15. Each dated value is pinned on both sides
of its change date; the expected amounts are worked out by hand in the comments."""
from __future__ import annotations

from datetime import date, timedelta

import pytest

from aquant.qmt.costs import CostModel
from aquant.qmt.rules import RuleBook

C = CostModel()
PRICE, QTY = 10.0, 10_000  # value 100,000 CNY


def _eve(d: date) -> date:
    return d - timedelta(days=1)


# (change date, sell-side stamp before, after; buy-side stamp before, after) on 100,000 CNY
STAMP = [
    (date(1991, 10, 10), 0.0, 300.0, 0.0, 300.0),
    (date(1997, 5, 12), 300.0, 500.0, 300.0, 500.0),
    (date(1998, 6, 12), 500.0, 400.0, 500.0, 400.0),
    (date(2001, 11, 16), 400.0, 200.0, 400.0, 200.0),
    (date(2005, 1, 24), 200.0, 100.0, 200.0, 100.0),
    (date(2007, 5, 30), 100.0, 300.0, 100.0, 300.0),
    (date(2008, 4, 24), 300.0, 100.0, 300.0, 100.0),
    (date(2008, 9, 19), 100.0, 100.0, 100.0, 0.0),   # buyers stop paying
    (date(2023, 8, 28), 100.0, 50.0, 0.0, 0.0),
]


@pytest.mark.parametrize("day,sell0,sell1,buy0,buy1", STAMP)
def test_stamp_duty_on_both_sides_of_each_change(day, sell0, sell1, buy0, buy1):
    assert C.fee("sell", PRICE, QTY, _eve(day), "600000.SH").stamp == sell0
    assert C.fee("sell", PRICE, QTY, day, "600000.SH").stamp == sell1
    assert C.fee("buy", PRICE, QTY, _eve(day), "600000.SH").stamp == buy0
    assert C.fee("buy", PRICE, QTY, day, "600000.SH").stamp == buy1


def test_transfer_fee_history():
    d0, d1, d2 = date(2015, 7, 31), date(2015, 8, 1), date(2022, 4, 29)
    # SSE before 2015-08-01: 0.3 per mille of face value = 0.0003 CNY/share -> 10,000 shares = 3.00,
    # whatever the price
    assert C.fee("buy", PRICE, QTY, d0, "600000.SH").transfer == 3.0
    assert C.fee("sell", 50.0, QTY, d0, "600000.SH").transfer == 3.0
    # SZSE before: 0.0255 per mille of value: 100,000 x 0.0000255 = 2.55
    assert C.fee("buy", PRICE, QTY, d0, "000001.SZ").transfer == 2.55
    # from 2015-08-01: 0.02 per mille of value on both exchanges: 2.00
    for code in ("600000.SH", "000001.SZ", "830799.BJ"):
        assert C.fee("buy", PRICE, QTY, d1, code).transfer == 2.0
        assert C.fee("sell", PRICE, QTY, _eve(d2), code).transfer == 2.0
        assert C.fee("sell", PRICE, QTY, d2, code).transfer == 1.0   # halved from 2022-04-29
    # without a code the SSE's rule is used
    assert C.fee("buy", PRICE, QTY, d0).transfer == 3.0


def test_fees_round_half_up_to_the_cent_exactly():
    # commission 20,020 x 0.025 % = 5.005 -> 5.01 (float arithmetic gives 5.00499.. -> 5.00)
    assert C.fee("buy", 20.02, 1_000, date(2024, 1, 2), "600000.SH").commission == 5.01
    # stamp 10,010 x 0.05 % = 5.005 -> 5.01
    assert C.fee("sell", 10.01, 1_000, date(2024, 1, 2), "600000.SH").stamp == 5.01
    # commission minimum 5 CNY per fill
    f = C.fee("buy", 1.65, 100, date(2024, 1, 2), "600000.SH")
    assert f.commission == 5.0 and f.transfer == 0.0 and f.cents == 500 and f.total == 5.0
    # total is the exact sum of the cent amounts
    f = C.fee("sell", 10.01, 1_000, date(2024, 1, 2), "600000.SH")
    assert f.transfer == 0.1 and f.cents == 500 + 501 + 10 and f.total == 10.11  # transfer 10,010 x 0.001 %


def test_slippage_rounds_half_up_in_exact_decimals():
    # 10.00 x 1.0005 = 10.005 -> 10.01 (the float product 10.004999.. rounded to 10.00)
    assert CostModel(slippage=0.0005).slipped("buy", 10.0) == 10.01
    assert CostModel(slippage=0.0005).slipped("sell", 10.0) == 10.0   # 9.995 -> 10.00 (half up)


def test_bse_rules_before_2021_11_15_are_the_select_layers():
    rb = RuleBook()
    assert rb.limit_pct("bse", False, date(2020, 7, 24)) is None          # no select layer yet
    assert rb.limit_pct("bse", False, date(2020, 7, 27)) == 0.30          # NEEQ select layer
    assert rb.limit_pct("bse", False, date(2021, 11, 15)) == 0.30         # BSE
    assert rb.limit_prices(10.0, "bse", False, date(2021, 1, 4)) == (7.0, 13.0)
    lot = rb.lot("bse", date(2021, 1, 4))
    assert (lot.min_qty, lot.step) == (100, 1)
    assert rb.buy_qty(151, "bse", date(2021, 1, 4)) == 151

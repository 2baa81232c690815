"""Exact limit prices and new-listing limits (issue 13, items 1 and 2).

The oracle is integer arithmetic written here, independent of qmt/rules.py: a price of c cents
with a limit of p percent gives c * (100 ± p) / 100 cents, rounded half up by integer division
((n + 50) // 100) — the exchanges' "四舍五入" to the 0.01 CNY tick.
"""
from __future__ import annotations

from datetime import date
from decimal import ROUND_HALF_UP, Decimal

import pandas as pd
import pytest

from aquant.qmt.broker import OrderRequest
from aquant.qmt.costs import CostModel
from aquant.qmt.rules import RuleBook, sessions_since_listing
from aquant.qmt.sim_broker import SimBroker

DAY = date(2024, 1, 2)
# (board, is_st, percent) in force on DAY, and ChiNext before its 2020-08-24 reform
CASES = [("main", False, 10), ("main", True, 5), ("chinext", False, 20), ("chinext", True, 20),
         ("star", False, 20), ("star", True, 20), ("bse", False, 30), ("bse", True, 30)]
OLD_CHINEXT = [("chinext", False, 10), ("chinext", True, 5)]


def oracle(cents: int, pct: int) -> tuple[int, int]:
    """(down, up) limit in cents by integer arithmetic, half up."""
    return (cents * (100 - pct) + 50) // 100, (cents * (100 + pct) + 50) // 100


@pytest.mark.parametrize("board,st,pct", CASES + OLD_CHINEXT)
def test_every_price_level_matches_the_integer_oracle(board, st, pct):
    day = DAY if (board, st, pct) not in OLD_CHINEXT else date(2020, 8, 21)
    rb = RuleBook()
    bad = []
    for c in range(1, 20_001):  # 0.01 .. 200.00
        down, up = rb.limit_prices(c / 100, board, st, day)  # prices arrive as floats
        want = oracle(c, pct)
        if (round(down * 100), round(up * 100)) != want or down != want[0] / 100 or up != want[1] / 100:
            bad.append((c, down, up, want))
    assert not bad, f"{len(bad)} levels differ, e.g. {bad[:3]}"


def _float_rounding(x: float) -> int:
    """Cents of the pre-fix method: round the float product half up (what qmt/rules.py did)."""
    return int(Decimal(repr(x)).quantize(Decimal("0.01"), rounding=ROUND_HALF_UP) * 100)


@pytest.mark.parametrize("pct,n_down,n_up", [(10, 115, 0), (5, 305, 38), (20, 0, 0), (30, 839, 132)])
def test_the_grid_holds_the_float_traps_the_issue_counted(pct, n_down, n_up):
    """Issue 13 counted 115 main-board limit-down levels, 343 ST and 971 BSE levels over
    0.01-200.00 where the float product rounds a cent off; the oracle grid above covers them."""
    f = pct / 100
    down = sum(_float_rounding(c / 100 * (1 - f)) != oracle(c, pct)[0] for c in range(1, 20_001))
    up = sum(_float_rounding(c / 100 * (1 + f)) != oracle(c, pct)[1] for c in range(1, 20_001))
    assert (down, up) == (n_down, n_up)
    rb = RuleBook()
    assert rb.limit_prices(1.65, "main", False, DAY)[0] == 1.49      # 1.65 x 0.9 = 1.485 -> 1.49
    assert rb.limit_prices(10.05, "main", False, DAY) == (9.05, 11.06)


def _bars(code: str, **kw) -> pd.DataFrame:
    row = {"code": code, "open": 10.0, "high": 10.5, "low": 9.8, "close": 10.2, "pre_close": 10.0,
           "volume": 1_000_000, **kw}
    return pd.DataFrame([row])


def test_sell_at_a_sealed_exact_limit_down_does_not_fill():
    """pre_close 1.65: the limit-down is 1.49 (float rounding gave 1.48, letting the sell fill)."""
    b = SimBroker(1_000_000, CostModel(), volume_share=0.25)
    b.start_day(pd.Timestamp("2024-03-04"), _bars("600000.SH", open=1.65, high=1.7, low=1.6, close=1.65,
                                                  pre_close=1.6))
    assert b.submit(OrderRequest("600000.SH", "buy", 10_000)).filled == 10_000
    b.start_day(pd.Timestamp("2024-03-05"), _bars("600000.SH", open=1.49, high=1.49, low=1.49, close=1.49,
                                                  pre_close=1.65))
    res = b.submit(OrderRequest("600000.SH", "sell", 10_000))
    assert res.status == "rejected" and "limit down 1.49" in res.reason
    assert b.positions()["600000.SH"].qty == 10_000


def test_buy_at_a_sealed_exact_limit_up_does_not_fill():
    """A BSE level where float rounding puts limit-up a cent low; the open is sealed at the exact one."""
    c = next(c for c in range(100, 20_001) if _float_rounding(c / 100 * 1.3) < oracle(c, 30)[1])
    up = oracle(c, 30)[1] / 100
    b = SimBroker(10_000_000, CostModel(), volume_share=0.25)
    b.start_day(pd.Timestamp("2024-03-04"), _bars("830999.BJ", open=up, high=up, low=up, close=up, pre_close=c / 100))
    res = b.submit(OrderRequest("830999.BJ", "buy", 1_000))
    assert res.status == "rejected" and f"limit up {up:.2f}" in res.reason


# -- new listings ------------------------------------------------------------------------------
def test_sessions_since_listing_counts_exchange_sessions():
    assert sessions_since_listing(date(2024, 1, 2), date(2024, 1, 2)) == 1
    # Spring Festival 2024: SSE closed 2024-02-09 .. 2024-02-18
    assert sessions_since_listing(date(2024, 2, 7), date(2024, 2, 21)) == 5
    assert sessions_since_listing(date(2024, 2, 7), date(2024, 2, 22)) == 6
    assert sessions_since_listing(None, date(2024, 1, 2)) is None
    assert sessions_since_listing(date(2024, 1, 3), date(2024, 1, 2)) is None


@pytest.mark.parametrize("board,list_day,free", [
    ("star", date(2019, 7, 22), 5), ("star", date(2024, 1, 2), 5),
    ("chinext", date(2020, 8, 24), 5), ("main", date(2023, 4, 10), 5),
    ("bse", date(2021, 11, 15), 1), ("bse", date(2024, 1, 2), 1), ("bse", date(2020, 7, 27), 1),
])
def test_no_limit_on_the_first_sessions_then_the_boards_own(board, list_day, free):
    rb = RuleBook()
    assert rb.limit_prices(10.0, board, False, list_day, listed_session=free, list_date=list_day) == (0.0, float("inf"))
    down, up = rb.limit_prices(10.0, board, False, list_day, listed_session=free + 1, list_date=list_day)
    pct = rb.limit_pct(board, False, list_day)
    assert (down, up) == (oracle(1000, round(pct * 100))[0] / 100, oracle(1000, round(pct * 100))[1] / 100)


def test_main_board_first_day_bounds_before_the_registration_reform():
    rb = RuleBook()
    d = date(2022, 6, 1)
    assert rb.limit_prices(10.0, "main", False, d, listed_session=1, list_date=d) == (6.4, 14.4)
    assert rb.limit_prices(10.0, "chinext", False, date(2019, 6, 3), listed_session=1) == (6.4, 14.4)
    assert rb.limit_prices(10.0, "main", False, d, listed_session=2, list_date=d) == (9.0, 11.0)
    # ChiNext listed the session before its reform: listing-day band, then ±10 % (the old width)
    assert rb.limit_prices(10.0, "chinext", False, date(2020, 8, 21), listed_session=1) == (6.4, 14.4)
    assert rb.limit_prices(10.0, "chinext", False, date(2020, 8, 21), listed_session=2,
                           list_date=date(2020, 8, 20)) == (9.0, 11.0)
    assert rb.limit_prices(10.0, "chinext", False, date(2020, 8, 28), listed_session=5,
                           list_date=date(2020, 8, 24)) == (0.0, float("inf"))
    # listed on Friday 2023-04-07 under the old rule: its 2nd session (2023-04-10) is limited
    assert rb.limit_prices(10.0, "main", False, date(2023, 4, 10), listed_session=2,
                           list_date=date(2023, 4, 7)) == (9.0, 11.0)
    # before 2014 the listing day had no hard limit
    assert rb.limit_prices(10.0, "main", False, date(2010, 6, 1), listed_session=1) == (0.0, float("inf"))
    # the old signature is unchanged: without a session number the stock is long listed
    assert rb.limit_prices(10.0, "star", False, d) == (8.0, 12.0)


def test_simbroker_buys_a_star_ipo_on_its_second_session_above_20_percent():
    """Was capped at ±20 %: the 2nd session of a STAR listing has no limit."""
    b = SimBroker(1_000_000, CostModel(), volume_share=0.25)
    b.set_info(pd.DataFrame({"code": ["688999.SH"], "board": ["star"], "is_st": [False],
                             "list_date": [date(2024, 1, 2)]}))
    b.start_day(pd.Timestamp("2024-01-03"), _bars("688999.SH", open=13.0, high=14.0, low=12.5, close=13.5))
    res = b.submit(OrderRequest("688999.SH", "buy", 1_000))
    assert res.status == "filled" and res.fills[0].price == 13.0
    # its 6th session is limited again (a restarted broker, as in paper trading)
    b2 = SimBroker(1_000_000, CostModel(), volume_share=0.25)
    b2.set_info(pd.DataFrame({"code": ["688999.SH"], "board": ["star"], "is_st": [False],
                              "list_date": [pd.Timestamp("2024-01-02")]}))
    b2.start_day(pd.Timestamp("2024-01-09"), _bars("688999.SH", open=12.0, high=12.0, low=12.0, close=12.0))
    assert "limit up 12.00" in b2.submit(OrderRequest("688999.SH", "buy", 1_000)).reason


def test_simbroker_main_board_ipo_day_bounds_in_2022():
    b = SimBroker(1_000_000, CostModel(), volume_share=0.25)
    b.set_info(pd.DataFrame({"code": ["603999.SH"], "board": ["main"], "is_st": [False],
                             "list_date": [date(2022, 6, 1)]}))
    b.start_day(pd.Timestamp("2022-06-01"), _bars("603999.SH", open=13.0, high=14.4, low=12.0, close=14.4))
    assert b.submit(OrderRequest("603999.SH", "buy", 1_000)).status == "filled"  # +30 %: inside +44 %
    b.start_day(pd.Timestamp("2022-06-01"), _bars("603999.SH", open=14.4, high=14.4, low=14.4, close=14.4))
    assert "limit up 14.40" in b.submit(OrderRequest("603999.SH", "buy", 1_000)).reason


def test_main_board_st_width_is_10_percent_from_2026_07_06():
    """SSE/SZSE Trading Rules (2026 revision): ST/*ST on the main board ±10 % from 2026-07-06."""
    rb = RuleBook()
    assert rb.limit_pct("main", True, date(2026, 7, 3)) == 0.05
    assert rb.limit_pct("main", True, date(2026, 7, 6)) == 0.10
    assert rb.limit_prices(10.0, "main", True, date(2026, 7, 6)) == (9.0, 11.0)
    assert rb.limit_pct("chinext", True, date(2026, 7, 6)) == 0.20  # ChiNext ST unchanged


def test_listing_day_band_dates_differ_by_exchange():
    """SSE bounded the listing day from 2013-12-13, SZSE (ChiNext too) only from 2014-06-13."""
    rb = RuleBook()

    def day1(board: str, exch: str, d: date) -> tuple[float, float]:
        return rb.limit_prices(10.0, board, False, d, listed_session=1, list_date=d, exchange=exch)

    unlimited = (0.0, float("inf"))
    assert day1("main", "SH", date(2013, 12, 12)) == unlimited
    assert day1("main", "SH", date(2014, 1, 17)) == (6.4, 14.4)
    assert day1("main", "SZ", date(2014, 1, 17)) == unlimited
    assert day1("chinext", "SZ", date(2014, 1, 21)) == unlimited
    assert day1("main", "SZ", date(2014, 6, 13)) == (6.4, 14.4)
    assert day1("chinext", "SZ", date(2014, 6, 13)) == (6.4, 14.4)


def test_one_tick_floor_for_very_low_prices():
    """|limit - pre_close| below one tick -> pre_close ± 0.01 (SZSE from 2011-02-28, SSE from
    2023-04-10); the SZSE's own example: pre_close 0.04 at 10 % gives 0.03 / 0.05."""
    rb = RuleBook()
    assert rb.limit_prices(0.04, "main", False, date(2012, 1, 4), exchange="SZ") == (0.03, 0.05)
    assert rb.limit_prices(0.04, "main", False, date(2011, 2, 25), exchange="SZ") == (0.04, 0.04)
    assert rb.limit_prices(0.04, "main", False, date(2023, 4, 7), exchange="SH") == (0.04, 0.04)
    assert rb.limit_prices(0.04, "main", False, date(2023, 4, 10), exchange="SH") == (0.03, 0.05)
    assert rb.limit_prices(0.09, "main", True, date(2024, 1, 2), exchange="SH") == (0.08, 0.10)
    assert rb.limit_prices(0.05, "main", False, date(2024, 1, 2), exchange="SH") == (0.04, 0.06)  # 0.055 -> 0.06
    # every level: the floor only ever widens a limit that rounded onto pre_close
    for c in range(1, 2_001):
        down, up = rb.limit_prices(c / 100, "main", True, date(2024, 1, 2), exchange="SZ")
        o_down, o_up = oracle(c, 5)
        assert round(down * 100) == (o_down if o_down < c else c - 1)
        assert round(up * 100) == (o_up if o_up > c else c + 1)


def test_simbroker_sells_a_penny_stock_above_the_one_tick_floor():
    b = SimBroker(1_000_000, CostModel(commission_min=0.0), volume_share=0.25)
    b.start_day(pd.Timestamp("2024-03-04"), _bars("000999.SZ", open=0.05, high=0.05, low=0.04, close=0.04,
                                                  pre_close=0.05, volume=1e8))
    assert b.submit(OrderRequest("000999.SZ", "buy", 100_000)).filled == 100_000
    # pre_close 0.04: limit-down is 0.03, so an open at 0.04 is not sealed (it was 0.04 by rounding)
    b.start_day(pd.Timestamp("2024-03-05"), _bars("000999.SZ", open=0.04, high=0.04, low=0.04, close=0.04,
                                                  pre_close=0.04, volume=1e8))
    assert b.submit(OrderRequest("000999.SZ", "sell", 100_000)).status == "filled"

"""A-share rules on SimBroker with hand-built bars: each test pins one behaviour."""
from __future__ import annotations

from datetime import date

import pandas as pd
import pytest

from aquant.qmt.broker import Broker, OrderRequest
from aquant.qmt.costs import CostModel
from aquant.qmt.rules import RuleBook, board_of
from aquant.qmt.sim_broker import SimBroker

D1, D2 = pd.Timestamp("2024-03-04"), pd.Timestamp("2024-03-05")


def bars(*rows: dict) -> pd.DataFrame:
    base = {"open": 10.0, "high": 10.5, "low": 9.8, "close": 10.2, "pre_close": 10.0, "volume": 1_000_000}
    return pd.DataFrame([{**base, **r} for r in rows])


def broker(cash: float = 1_000_000, **kw) -> SimBroker:
    return SimBroker(cash, CostModel(kw.pop("commission_rate", 0.00025), kw.pop("commission_min", 5.0)), **kw)


def buy(code: str, qty: int, **kw) -> OrderRequest:
    return OrderRequest(code, "buy", qty, **kw)


def sell(code: str, qty: int, **kw) -> OrderRequest:
    return OrderRequest(code, "sell", qty, **kw)


def test_simbroker_satisfies_broker_protocol():
    assert isinstance(broker(), Broker)


def test_board_of_code():
    assert [board_of(c) for c in ("600000.SH", "688001.SH", "689009.SH", "000001.SZ", "300750.SZ",
                                  "301001.SZ", "430047.BJ", "830799.BJ")] == \
        ["main", "star", "star", "main", "chinext", "chinext", "bse", "bse"]
    with pytest.raises(ValueError, match="6 digits"):
        board_of("600000")


def test_limit_table_is_dated():
    rb = RuleBook()
    assert rb.limit_pct("chinext", False, date(2020, 8, 21)) == 0.10
    assert rb.limit_pct("chinext", False, date(2020, 8, 24)) == 0.20
    assert rb.limit_pct("main", True, date(2025, 12, 1)) == 0.05  # the 2025 draft is not in force
    assert rb.limit_pct("star", False, date(2024, 1, 2)) == 0.20
    assert rb.limit_pct("bse", False, date(2024, 1, 2)) == 0.30
    assert rb.limit_prices(10.05, "main", False, date(2024, 1, 2)) == (9.05, 11.06)  # half up


def test_no_buy_when_opening_at_limit_up():
    b = broker()
    b.start_day(D1, bars({"code": "600000.SH", "open": 11.0, "high": 11.0, "low": 10.6}))
    res = b.submit(buy("600000.SH", 1000))
    assert res.status == "rejected" and "limit up" in res.reason
    assert b.positions() == {} and b.cash() == 1_000_000


def test_buy_at_open_below_limit_up_fills_at_open_not_close():
    b = broker()
    b.start_day(D1, bars({"code": "600000.SH", "open": 10.9, "high": 11.0, "close": 11.0}))
    res = b.submit(buy("600000.SH", 1000))
    assert res.status == "filled" and res.fills[0].price == 10.9


def test_no_sell_when_opening_at_limit_down():
    b = broker()
    b.start_day(D1, bars({"code": "600000.SH"}))
    b.submit(buy("600000.SH", 1000))
    b.start_day(D2, bars({"code": "600000.SH", "open": 9.18, "low": 9.18, "high": 9.5, "pre_close": 10.2}))
    res = b.submit(sell("600000.SH", 1000))
    assert res.status == "rejected" and "limit down" in res.reason


def test_st_stock_limit_is_five_percent():
    b = broker()
    b.info["600001.SH"] = ("main", True)
    b.start_day(D1, bars({"code": "600001.SH", "open": 10.5, "high": 10.5}))
    assert "limit up 10.50" in b.submit(buy("600001.SH", 100)).reason


def test_suspended_stock_does_not_trade():
    b = broker()
    b.start_day(D1, bars({"code": "600000.SH"}, {"code": "000001.SZ", "volume": 0}))
    assert "suspended" in b.submit(buy("000001.SZ", 100)).reason
    assert "suspended" in b.submit(buy("000002.SZ", 100)).reason  # no row at all


def test_t_plus_1_sell_attempt_rejected_same_day():
    b = broker()
    b.start_day(D1, bars({"code": "600000.SH"}))
    b.submit(buy("600000.SH", 1000))
    res = b.submit(sell("600000.SH", 1000))
    assert res.status == "rejected" and "T+1" in res.reason
    b.start_day(D2, bars({"code": "600000.SH"}))
    assert b.positions()["600000.SH"].sellable == 1000
    assert b.submit(sell("600000.SH", 1000)).status == "filled"


def test_sale_cash_usable_same_day():
    b = broker(cash=20_000)
    b.start_day(D1, bars({"code": "600000.SH"}))
    b.submit(buy("600000.SH", 1900))
    b.start_day(D2, bars({"code": "600000.SH"}, {"code": "000001.SZ"}))
    assert b.submit(buy("000001.SZ", 1000)).status == "rejected"  # not enough cash yet
    b.submit(sell("600000.SH", 1900))
    assert b.submit(buy("000001.SZ", 1000)).status == "filled"


def test_main_board_buy_rounds_down_to_lots():
    b = broker()
    b.start_day(D1, bars({"code": "600000.SH"}))
    res = b.submit(buy("600000.SH", 250))
    assert res.filled == 200 and res.rejected == 50 and "lot" in res.reason
    assert b.submit(buy("600000.SH", 99)).status == "rejected"


def test_odd_lots_only_when_selling_whole_remainder():
    b = broker()
    b.start_day(D1, bars({"code": "600000.SH"}, {"code": "000001.SZ"}))
    b.submit(buy("600000.SH", 1000))
    b.apply_corporate_actions(pd.DataFrame({"code": ["600000.SH"], "cash_div_per_share": [0.0],
                                            "bonus_ratio": [0.0]}))
    b._hold["600000.SH"].qty = 1050  # e.g. after bonus shares: 50 odd shares
    b.start_day(D2, bars({"code": "600000.SH"}))
    assert b.submit(sell("600000.SH", 30)).status == "rejected"  # odd lot, not the remainder
    assert b.submit(sell("600000.SH", 150)).filled == 100        # lot steps
    assert b.submit(sell("600000.SH", 950)).filled == 950         # whole remainder incl. 50 odd


def test_star_buy_needs_200_then_steps_of_1():
    b = broker()
    b.start_day(D1, bars({"code": "688001.SH"}))
    res = b.submit(buy("688001.SH", 199))
    assert res.status == "rejected" and "lot" in res.reason
    assert b.submit(buy("688001.SH", 201)).filled == 201


def test_bse_buy_needs_100_then_steps_of_1():
    b = broker()
    b.start_day(D1, bars({"code": "430047.BJ"}))
    assert b.submit(buy("430047.BJ", 99)).status == "rejected"
    assert b.submit(buy("430047.BJ", 101)).filled == 101


def test_fee_minimum_5_cny():
    c = CostModel()
    assert c.fee("buy", 10.0, 100, D1).commission == 5.0              # 0.25 CNY by rate
    assert c.fee("buy", 10.0, 100_000, D1).commission == 250.0        # 0.025 % above the minimum
    assert CostModel(commission_min=0.0).fee("buy", 10.0, 100, D1).commission == 0.25


def test_stamp_duty_before_and_after_2023_08_28():
    c = CostModel()
    assert c.fee("sell", 10.0, 10_000, date(2023, 8, 25)).stamp == 100.0
    assert c.fee("sell", 10.0, 10_000, date(2023, 8, 28)).stamp == 50.0
    assert c.fee("buy", 10.0, 10_000, date(2023, 8, 25)).stamp == 0.0   # sells only
    assert c.fee("buy", 10.0, 10_000, D1).transfer == 1.0              # 0.001 % both sides
    assert c.fee("sell", 10.0, 10_000, D1).transfer == 1.0


def test_fill_fee_includes_all_costs():
    b = broker()
    b.start_day(D1, bars({"code": "600000.SH"}))
    f = b.submit(buy("600000.SH", 10_000)).fills[0]
    assert f.fee == 25.0 + 1.0
    assert b.cash() == 1_000_000 - 100_000 - 26.0


def test_volume_cap_fills_at_most_share_of_bar_volume():
    b = broker(volume_share=0.25)
    b.start_day(D1, bars({"code": "600000.SH", "volume": 10_000}))
    res = b.submit(buy("600000.SH", 5_000))
    assert res.filled == 2_500 and res.rejected == 2_500 and "volume cap" in res.reason
    assert [e.status for e in b.log] == ["filled", "rejected"]
    assert b.submit(buy("600000.SH", 100)).status == "rejected"  # budget used up today


def test_volume_cap_default_is_a_conservative_share_of_the_days_volume():
    """The open is judged against the whole day's volume, so the default share is small (5 %)."""
    from aquant.qmt.backtest import make_broker
    from aquant.qmt.strategy import StrategyParams

    assert StrategyParams().volume_share == 0.05 and make_broker(StrategyParams()).volume_share == 0.05
    b = broker()
    b.start_day(D1, bars({"code": "600000.SH", "volume": 10_000}))
    res = b.submit(buy("600000.SH", 5_000))
    assert res.filled == 500 and "volume cap 5%" in res.reason


def test_insufficient_cash_buys_what_it_can():
    b = broker(cash=5_000)
    b.start_day(D1, bars({"code": "600000.SH"}))
    res = b.submit(buy("600000.SH", 1000))
    assert res.filled == 400 and "cash" in res.reason and b.cash() >= 0


def _held(code: str = "600000.SH") -> SimBroker:
    b = broker()
    b.start_day(D1, bars({"code": code}))
    b.submit(buy(code, 1000))
    return b


def test_stop_inside_bar_fills_at_stop_price():
    b = _held()
    b.start_day(D2, bars({"code": "600000.SH", "open": 10.0, "low": 9.3, "pre_close": 10.2}))
    res = b.submit(sell("600000.SH", 1000, order_type="stop", price=9.5, reason="stop"))
    assert res.fills[0].price == 9.5


def test_gap_through_a_stop_fills_at_open():
    b = _held()
    b.start_day(D2, bars({"code": "600000.SH", "open": 9.4, "high": 9.6, "low": 9.3, "pre_close": 10.2}))
    res = b.submit(sell("600000.SH", 1000, order_type="stop", price=9.5, reason="stop"))
    assert res.fills[0].price == 9.4


def test_target_gap_up_fills_at_open_and_untouched_target_waits():
    b = _held()
    b.start_day(D2, bars({"code": "600000.SH", "open": 11.0, "high": 11.2, "pre_close": 10.2}))
    assert b.submit(sell("600000.SH", 500, order_type="target", price=12.0)).status == "untriggered"
    assert b.submit(sell("600000.SH", 500, order_type="target", price=10.8)).fills[0].price == 11.0
    assert b.log[-1].reason == "signal"


def test_dividend_and_bonus_shares_adjust_cash_and_positions():
    b = _held()
    cash0 = b.cash()
    b.start_day(D2, bars({"code": "600000.SH", "pre_close": 7.69}))
    acts = b.apply_corporate_actions(pd.DataFrame({"code": ["600000.SH"], "cash_div_per_share": [0.5],
                                                   "bonus_ratio": [0.3]}))
    assert acts[0].cash == 500.0 and acts[0].bonus_shares == 300
    assert b.cash() == cash0 + 500.0
    pos = b.positions()["600000.SH"]
    assert pos.qty == 1300 and pos.sellable == 1000  # bonus shares sellable from the next day
    assert b.submit(sell("600000.SH", 1300)).filled == 1000


def test_slippage_moves_price_against_the_trader_within_the_bar():
    b = SimBroker(1_000_000, CostModel(slippage=0.01))
    b.start_day(D1, bars({"code": "600000.SH", "open": 10.0, "high": 10.05}))
    assert b.submit(buy("600000.SH", 100)).fills[0].price == 10.05  # 10.10 capped at the bar high

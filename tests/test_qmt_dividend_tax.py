"""Dividend income tax by holding period, withheld at the sale, FIFO by lot (issue 13, item 9).

Rule rows and their sources: qmt/rules.py, section "Dividend income tax". Holding period per
Caishui [2012] No. 85: from the acquisition day to the day before the sale, in calendar months
("bought 05-12, one month is 05-12 .. 06-11"), so a sale on 06-12 is still within one month.
"""
from __future__ import annotations

from datetime import date
from decimal import Decimal

import pandas as pd
import pytest

from aquant.qmt.broker import OrderRequest
from aquant.qmt.costs import CostModel
from aquant.qmt.rules import dividend_tax_rule
from aquant.qmt.sim_broker import SimBroker

CODE = "600000.SH"


@pytest.mark.parametrize("acquired, sold, rate", [
    ("2024-05-12", "2024-05-13", "0.20"),
    ("2024-05-12", "2024-06-12", "0.20"),   # held 05-12 .. 06-11: exactly one month
    ("2024-05-12", "2024-06-13", "0.10"),   # one month and a day
    ("2024-05-12", "2025-05-12", "0.10"),   # held 2024-05-12 .. 2025-05-11: exactly one year
    ("2024-05-12", "2025-05-13", "0"),      # over a year: exempt since 2015-09-08
    ("2024-01-31", "2024-02-29", "0.20"),   # month end: one month from 01-31 ends with February
    ("2024-01-31", "2024-03-01", "0.10"),
    ("2023-02-28", "2024-02-28", "0.10"),
    ("2023-02-28", "2024-02-29", "0"),
])
def test_rate_bands_since_2015(acquired, sold, rate):
    assert dividend_tax_rule(date(2024, 5, 1)).rate(date.fromisoformat(acquired), date.fromisoformat(sold)) \
        == Decimal(rate)


@pytest.mark.parametrize("record, short, mid, long_", [
    ("2004-12-31", "0.20", "0.20", "0.20"),  # before Caishui [2005] 102: 20 % of the whole dividend
    ("2005-06-12", "0.20", "0.20", "0.20"),
    ("2005-06-13", "0.10", "0.10", "0.10"),  # [2005] 102: counted at 50 %
    ("2012-12-31", "0.10", "0.10", "0.10"),
    ("2013-01-01", "0.20", "0.10", "0.05"),  # [2012] 85: 100 / 50 / 25 % counted
    ("2015-09-07", "0.20", "0.10", "0.05"),
    ("2015-09-08", "0.20", "0.10", "0"),     # [2015] 101: over a year exempt
])
def test_regime_by_record_date(record, short, mid, long_):
    rule = dividend_tax_rule(date.fromisoformat(record))
    a = date(2000, 1, 10)
    assert [rule.rate(a, s) for s in (date(2000, 2, 1), date(2000, 6, 1), date(2001, 6, 1))] == \
        [Decimal(short), Decimal(mid), Decimal(long_)]
    assert rule.beyond == Decimal(long_)  # what the company withholds when it pays


def _bars(price: float = 10.0) -> pd.DataFrame:
    return pd.DataFrame({"code": [CODE], "open": [price], "high": [price], "low": [price], "close": [price],
                         "pre_close": [price], "volume": [1e8]})


def _day(b: SimBroker, d: str) -> None:
    b.start_day(pd.Timestamp(d), _bars())


def _div(b: SimBroker, cash_ps: float, record: str, bonus: float = 0.0):
    return b.apply_corporate_actions(pd.DataFrame({"code": [CODE], "cash_div_per_share": [cash_ps],
                                                   "bonus_ratio": [bonus], "record_date": [pd.Timestamp(record)]}))


def _trade(b: SimBroker, side: str, qty: int):
    res = b.submit(OrderRequest(CODE, side, qty))
    assert res.filled == qty
    return b.log[-1]


def _costs(b: SimBroker, side: str, qty: int) -> float:
    return b.costs.fee(side, 10.0, qty, b.day).total


def test_dividend_credited_gross_and_taxed_at_the_sale_by_holding_period():
    b = SimBroker(1_000_000, CostModel())
    _day(b, "2024-05-13")
    _trade(b, "buy", 1000)
    _day(b, "2024-05-21")
    cash0 = b.cash()
    acts = _div(b, 0.5, "2024-05-20")
    assert acts[0].cash == 500.0 and acts[0].withheld == 0.0 and b.cash() == cash0 + 500.0
    _day(b, "2024-06-13")  # acquired 05-13: within one month up to a sale on 06-13 -> 20 %
    e = _trade(b, "sell", 400)
    assert e.tax == 40.0 and e.fee == pytest.approx(_costs(b, "sell", 400) + 40.0, abs=1e-9)
    _day(b, "2024-06-14")  # one month and a day -> 10 %
    cash1 = b.cash()
    e = _trade(b, "sell", 600)
    assert e.tax == 30.0
    assert b.cash() == pytest.approx(cash1 + 6000.0 - _costs(b, "sell", 600) - 30.0, abs=1e-9)
    assert b._cash_c == round(b.cash() * 100) and isinstance(b._cash_c, int)


def test_fifo_lots_each_with_its_own_holding_period():
    b = SimBroker(1_000_000, CostModel())
    _day(b, "2024-01-02")
    _trade(b, "buy", 1000)
    _day(b, "2024-01-22")
    _trade(b, "buy", 1000)
    _day(b, "2024-01-25")
    _div(b, 0.1, "2024-01-24")
    _day(b, "2024-02-05")
    # FIFO: 1000 from 01-02 (> 1 month: 10 % of 100) + 500 from 01-22 (<= 1 month: 20 % of 50)
    assert _trade(b, "sell", 1500).tax == 20.0
    _day(b, "2025-01-23")  # the rest, acquired 2024-01-22, held over a year: exempt
    assert _trade(b, "sell", 500).tax == 0.0


def test_before_2015_five_percent_is_withheld_at_payment_and_the_rest_at_the_sale():
    b = SimBroker(1_000_000, CostModel())
    _day(b, "2014-03-03")
    _trade(b, "buy", 2000)
    _day(b, "2014-06-11")
    cash0 = b.cash()
    acts = _div(b, 0.2, "2014-06-10")
    assert acts[0].withheld == 20.0 and b.cash() == cash0 + 380.0  # 400 gross, 5 % withheld
    _day(b, "2014-06-20")  # 3 months held: 10 % due, 5 % already paid
    assert _trade(b, "sell", 1000).tax == 10.0
    _day(b, "2015-03-04")  # over a year: 5 % is the whole tax, nothing more
    assert _trade(b, "sell", 1000).tax == 0.0


def test_tax_survives_a_paper_restart_and_can_be_switched_off():
    b = SimBroker(1_000_000, CostModel())
    _day(b, "2024-05-13")
    _trade(b, "buy", 1000)
    _day(b, "2024-05-21")
    _div(b, 0.5, "2024-05-20", bonus=0.3)
    snap = b.snapshot()
    b2 = SimBroker(1, CostModel())
    b2.restore(snap)
    assert b2.cash() == b.cash() and b2.positions()[CODE].qty == 1300
    _day(b2, "2024-06-03")
    # the dividend base is spread over the lot incl. its bonus shares: 1300 sold carry all 500 -> 20 %
    assert _trade(b2, "sell", 1300).tax == 100.0
    off = SimBroker(1_000_000, CostModel(), dividend_tax=False)
    off.restore(snap)
    _day(off, "2024-06-03")
    assert _trade(off, "sell", 1300).tax == 0.0

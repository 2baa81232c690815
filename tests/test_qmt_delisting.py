"""A held stock that is delisted is closed, not valued at its last close forever (issue 13, item 8).

Hand-built: market()'s 300750.SZ (bought by signal s1 on the 4th session) is delisted on the
16th session: its last bar is the 15th, stg_stock_info carries delist_date. Rule and source:
docs/qmt.md, "Delisting"; knob `delisting` = last_close (default) | zero.
"""
from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from aquant.db import Database
from aquant.qmt import paper, reconcile as recon_mod
from aquant.qmt.backtest import simulate
from aquant.qmt.paper import run_paper

from test_qmt_backtest import CODES, load_market, market

GONE = CODES[2]


def _delisted_market():
    m = market()
    days = sorted(m["stg_daily_quote"].trade_date.unique())
    delist = days[15]
    q = m["stg_daily_quote"]
    m["stg_daily_quote"] = q[~((q.code == GONE) & (q.trade_date >= delist))].reset_index(drop=True)
    m["stg_stock_info"] = m["stg_stock_info"].assign(
        delist_date=[delist if c == GONE else pd.NaT for c in m["stg_stock_info"].code])
    m["stg_dividend"] = m["stg_dividend"].iloc[:0]
    last_close = float(q[(q.code == GONE) & (q.trade_date == days[14])].close.iloc[0])
    return m, days, delist, last_close


def _run(m, **kw):
    sig = m["signals"][m["signals"].layer == "offense"]
    return simulate(m["stg_daily_quote"], m["stg_stock_info"], sig, m["portfolio_targets"], m["stg_dividend"],
                    {"slippage": 0.0005, "use_targets": False, **kw})


def _held(log, code, before):
    f = log[(log.status == "filled") & (log.code == code) & (log.trade_date < before)]
    return int((np.where(f.side == "buy", 1, -1) * f.qty).sum())


@pytest.mark.parametrize("rule", ["last_close", "zero"])
def test_backtest_closes_a_delisted_holding(rule):
    m, days, delist, last_close = _delisted_market()
    res = _run(m, delisting=rule)
    held = _held(res.log, GONE, delist)
    assert held > 0, "the test needs the stock held into its delisting"
    d = res.log[res.log.reason == "delisted"]
    assert len(d) == 1 and d.code.iloc[0] == GONE and d.trade_date.iloc[0] == delist and d.qty.iloc[0] == held
    assert d.price.iloc[0] == (last_close if rule == "last_close" else 0.0)
    assert _held(res.log, GONE, days[-1] + pd.Timedelta(days=1)) == 0  # nothing left in the book
    assert (d.fee.iloc[0] > 0) == (rule == "last_close")  # a write-off pays no trading costs


def test_last_close_credits_the_proceeds_zero_writes_the_holding_off():
    m, days, delist, last_close = _delisted_market()
    a, z = _run(m, delisting="last_close"), _run(m, delisting="zero")
    pd.testing.assert_frame_equal(a.log[a.log.trade_date < delist], z.log[z.log.trade_date < delist])
    held = _held(a.log, GONE, delist)
    d = a.log[a.log.reason == "delisted"].iloc[0]
    ca, cz = (r.equity.set_index("trade_date").loc[delist, "cash"] for r in (a, z))
    assert ca - cz == pytest.approx(held * last_close - d.fee, abs=1e-6)
    # valued at its last close up to the day before in both
    ea, ez = (r.equity.set_index("trade_date").loc[days[14], "equity"] for r in (a, z))
    assert ea == ez


def test_zero_write_down_is_the_conservative_end():
    m, *_ = _delisted_market()
    a, b = _run(m, delisting="last_close"), _run(m, delisting="zero")
    assert b.summary["final_equity"] < a.summary["final_equity"]


def test_unknown_delisting_rule_is_refused():
    m, *_ = _delisted_market()
    with pytest.raises(ValueError, match="delisting must be one of"):
        _run(m, delisting="keep")


def test_paper_closes_a_delisted_holding_once_and_reconciles(duck, monkeypatch):
    m, days, delist, last_close = _delisted_market()
    nxt = lambda d, db=None: next(x for x in days if x > pd.Timestamp(d)).date()  # noqa: E731
    monkeypatch.setattr(paper, "next_session", nxt)
    monkeypatch.setattr(recon_mod, "next_session", nxt)
    with Database(duck) as db:
        load_market(db, m)
        for d in [x for x in days if x <= delist + pd.Timedelta(days=3)]:
            run_paper(db, d.date(), {"use_targets": False})
        t = db.query_df("select * from ops.trades where code = ? and order_id like 'delist-%'", [GONE])
        assert len(t) == 1 and t.price.iloc[0] == last_close
        assert pd.Timestamp(t.traded_at.iloc[0]).normalize() == delist
        st = json.loads(db.scalar("select state from ops.paper_state where as_of = ?", [delist.date()]))
        assert GONE not in st["broker"]["holdings"]
        assert [x for x in recon_mod.reconcile(db, days[14].date()) if x.kind == "position_mismatch"] == []

"""No look-ahead: inputs dated after day D never change a factor, score, signal or target on or
before D.

The sample market is built twice into two DuckDB files: once as generated, once with every row
dated after D perturbed (prices, volumes and adj_factor of quotes, some bars dropped, fund flows,
industry flows, chip rows, financial reports and dividends announced after D, plus a restatement
of an earlier period announced after D), margin/short/northbound values of D itself (published the
next morning), today's ST flags, names and industries in raw.stock_info, and an ST period and an
industry change starting after D. Every row dated on or before D must be identical.

The original build also carries the point-in-time checks: a stock that turns ST later is not
excluded before, an ST period sets the broker's limit width only inside it, a reclassified stock
counts in its new industry's median and flow from its start date, ETF margin rows are quarantined,
missing list dates are defaulted, ex-dates on non-trading days are booked on the next session.
"""
from __future__ import annotations

from datetime import date

import numpy as np
import pandas as pd
import pytest

from aquant.db import Database
from aquant.extract.sample import SampleConfig

from conftest import duck_settings
from test_offense_support import DEFAULTS, assert_frames_close, build, load_tables, read, sample_tables

CFG = SampleConfig(n_stocks=12, start=date(2021, 1, 4), end=date(2023, 12, 29))
D = date(2023, 6, 14)  # a Wednesday: the week's rebalance day lies after D


def perturb(frames: dict[str, pd.DataFrame]) -> dict[str, pd.DataFrame]:
    out = {k: v.copy() for k, v in frames.items()}
    cut = pd.Timestamp(D)

    def after(df: pd.DataFrame, col: str) -> pd.Series:
        return pd.to_datetime(df[col]) > cut

    q = out["daily_quote"]
    m = after(q, "trade_date")
    f = np.where(np.arange(len(q)) % 2 == 0, 1.06, 0.95)
    for c in ["open", "high", "low", "close", "pre_close"]:
        q.loc[m, c] = (q.loc[m, c] * f[m]).round(2)
    q.loc[m, "high"] = q.loc[m, ["open", "high", "low", "close"]].max(axis=1)
    q.loc[m, "low"] = q.loc[m, ["open", "high", "low", "close"]].min(axis=1)
    q.loc[m, ["volume", "amount"]] *= 1.7
    q.loc[m, "adj_factor"] *= 1.1           # as if an ex-date fell after D
    q.loc[m, "pe_ttm"] *= 0.8
    q.loc[m, "pb"] *= 1.3
    out["daily_quote"] = q[~(m & (np.arange(len(q)) % 11 == 0))]   # and some suspensions
    ff = out["funds_flow"]
    m = after(ff, "trade_date")
    ff.loc[m, "main_net_inflow"] *= -1
    # Availability: margin, short and northbound values of D are published the next morning, so
    # those of D itself must not move anything dated D either.
    m_avail = pd.to_datetime(ff["trade_date"]) >= cut
    ff.loc[m_avail, ["short_balance", "north_hold_shares"]] *= 3
    ff.loc[m_avail, "margin_balance"] *= 0.5
    # Point-in-time reference data: today's values (raw.stock_info) and changes that start after D
    # (a stock turning ST, another moving industry) must not move anything dated on or before D.
    info = out["stock_info"]
    info["is_st"] = ~info["is_st"].astype(bool)
    info["industry_l1"] = list(info["industry_l1"].iloc[::-1])
    info["name"] = "*ST" + info["name"]
    nh, ih = out["stock_name_history"], out["stock_industry_history"]
    plain = nh.groupby("code")["is_st"].any()
    code_st = sorted(plain[~plain].index)[-1]
    code_move = sorted(ih.code.unique())[0]
    after_d = (cut + pd.Timedelta(days=1)).date()
    out["stock_name_history"] = pd.concat([nh, pd.DataFrame([{
        "code": code_st, "start_date": after_d, "name": "*ST" + code_st, "is_st": True, "change_reason": "*ST"}])],
        ignore_index=True)
    other = sorted(set(ih.industry_l1) - set(ih.loc[ih.code == code_move, "industry_l1"]))[0]
    out["stock_industry_history"] = pd.concat([ih, pd.DataFrame([{
        "code": code_move, "taxonomy": "sw2021", "start_date": after_d, "industry_l1": other,
        "industry_l2": other}])], ignore_index=True)
    ind = out["industry_flow"]
    ind.loc[after(ind, "trade_date"), "net_inflow"] *= -2
    ch = out["chip_distribution"]
    m = after(ch, "trade_date")
    ch.loc[m, "profit_ratio"] = 1 - ch.loc[m, "profit_ratio"]
    ch.loc[m, "concentration_90"] *= 2
    out["chip_distribution"] = ch[~(m & (np.arange(len(ch)) % 7 == 0))]
    fin = out["finance_data"]
    m = after(fin, "ann_date")
    fin.loc[m, ["net_profit", "roe", "eps"]] *= -1
    fin.loc[m, "net_profit_yoy"] = -0.9
    early = fin[pd.to_datetime(fin["ann_date"]) <= cut].tail(3).copy()
    early["ann_date"] = (cut + pd.Timedelta(days=5)).date()   # restated after D
    early["net_profit_yoy"] = -0.95
    out["finance_restated"] = pd.concat([out["finance_restated"], early], ignore_index=True)
    div = out["dividend"]
    m = after(div, "ann_date")
    div.loc[m, "payout_ratio"] *= 0.1
    div.loc[m, "cash_div_per_share"] *= 0.1
    return out


@pytest.fixture(scope="module")
def pair(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("offense_lookahead")
    frames = sample_tables(CFG)
    out = []
    for name, fr in [("original", frames), ("perturbed", perturb(frames))]:
        settings = duck_settings(tmp / f"{name}.duckdb")
        with Database(settings) as db:
            load_tables(db, fr)
        build(settings, tmp / f"target_{name}", vars_=DEFAULTS)
        out.append(settings)
    return out


def test_the_perturbation_changed_the_days_after_d(pair):
    a, b = (read(s, "select sum(technical_score) as t, sum(composite_score) as c from signals.factor_scores "
                    "where trade_date > ?", [D]) for s in pair)
    assert abs(a["c"][0] - b["c"][0]) > 1


@pytest.mark.parametrize("table,key,date_col", [
    ("intermediate.int_macd__recursed", ["code", "trade_date"], "trade_date"),
    ("factors.factor_technical", ["code", "trade_date"], "trade_date"),
    ("factors.factor_valuation", ["code", "trade_date"], "trade_date"),
    ("factors.factor_industry_flow", ["industry_l1", "trade_date"], "trade_date"),
    ("factors.factor_fund_flow", ["code", "trade_date"], "trade_date"),
    ("factors.factor_chip", ["code", "trade_date"], "trade_date"),
    ("signals.factor_scores", ["code", "trade_date"], "trade_date"),
    ("signals.portfolio_targets", ["rebalance_date", "code"], "rebalance_date"),
])
def test_rows_on_or_before_d_are_unchanged(pair, table, key, date_col):
    a, b = (read(s, f"select * from {table} where {date_col} <= ?", [D]) for s in pair)
    assert len(a) > 0
    assert_frames_close(a, b, key, 1e-12, f"{table} <= {D}")


def test_offense_signals_on_or_before_d_are_unchanged(pair):
    a, b = (read(s, "select * from signals.signals where layer = 'offense' and trade_date <= ?", [D]) for s in pair)
    assert (a.kind == "buy").sum() > 20 and (a.kind == "sell").sum() > 20
    assert_frames_close(a, b, ["signal_id"], 1e-12, f"offense signals <= {D}")


def test_stable_alerts_on_or_before_d_are_unchanged(pair):
    a, b = (read(s, "select * from signals.signals where layer = 'stable' and trade_date <= ?", [D]) for s in pair)
    assert_frames_close(a, b, ["signal_id"], 1e-12, f"stable alerts <= {D}")


# -- point-in-time reference data on the original build ---------------------------------------
def _market():
    from aquant.extract.sample import SampleMarket

    return SampleMarket(CFG)


def _change_day(history: pd.DataFrame, code: str, nth: int = 1) -> pd.Timestamp:
    return pd.Timestamp(sorted(history.loc[history.code == code, "start_date"])[nth])


def test_a_stock_that_turns_st_later_is_not_excluded_before(pair):
    m = _market()
    code = m.info.code[m.st_later]
    start = _change_day(m.name_history, code)
    assert bool(m.stock_info().set_index("code").loc[code, "is_st"]), "today's flag says ST (the hazard)"
    s = read(pair[0], "select trade_date, is_st, buy_eligible from signals.factor_scores where code = ?", [code])
    s["trade_date"] = pd.to_datetime(s["trade_date"])
    before, after_ = s[s.trade_date < start], s[s.trade_date >= start]
    assert len(before) > 100 and len(after_) > 100
    assert not before.is_st.any() and before.buy_eligible.any()
    assert after_.is_st.all() and not after_.buy_eligible.any()


def test_the_limit_width_of_a_day_follows_that_days_st_flag(pair):
    from aquant.qmt import data
    from aquant.qmt.backtest import execute_day, make_broker
    from aquant.qmt.strategy import Decision, StrategyParams, StrategyState

    m = _market()
    code = m.info.code[m.st_period]
    st_from, st_to = _change_day(m.name_history, code, 1), _change_day(m.name_history, code, 2)
    days = read(pair[0], "select trade_date, pre_close from staging.stg_daily_quote where code = ? "
                         "order by trade_date", [code])
    days["trade_date"] = pd.to_datetime(days["trade_date"])
    with Database(pair[0]) as db:
        info = data.load_stock_info(db)
        assert not bool(info.set_index("code").loc[code, "is_st"]), "today's flag says not ST"
        broker = make_broker(StrategyParams(), info)
        seen = set()
        for label, day in [("before", days.trade_date[days.trade_date < st_from].iloc[-1]),
                           ("inside", days.trade_date[days.trade_date >= st_from].iloc[0]),
                           ("inside", days.trade_date[days.trade_date < st_to].iloc[-1]),
                           ("after", days.trade_date[days.trade_date >= st_to].iloc[0])]:
            bars = data.load_quotes(db, day.date(), day.date())
            execute_day(broker, StrategyState(), day, bars, None, Decision())
            pre = float(days.loc[days.trade_date == day, "pre_close"].iloc[0])
            _, up = broker.limits(code, pre)
            width = 0.05 if label == "inside" else 0.10
            assert up == pytest.approx(round(pre * (1 + width) + 1e-9, 2), abs=0.0051), (label, day, pre, up)
            seen.add(label)
            # a replay of that day (reconcile, paper) reads the same state
            as_of = data.load_stock_info(db, as_of=day.date()).set_index("code")
            assert bool(as_of.loc[code, "is_st"]) == (label == "inside")
    assert seen == {"before", "inside", "after"}


def test_a_reclassified_stock_moves_industry_on_its_start_date(pair):
    m = _market()
    code = m.info.code[m.reclass]
    start = _change_day(m.industry_history, code)
    old_l1, new_l1 = m.industry_history.loc[m.industry_history.code == code, "industry_l1"].tolist()
    for table in ["factors.factor_valuation", "factors.factor_fund_flow", "signals.factor_scores"]:
        s = read(pair[0], f"select trade_date, industry_l1 from {table} where code = ?", [code])
        s["trade_date"] = pd.to_datetime(s["trade_date"])
        assert set(s.loc[s.trade_date < start, "industry_l1"]) == {old_l1}, table
        assert set(s.loc[s.trade_date >= start, "industry_l1"]) == {new_l1}, table
    # The median and the flow of the new industry count it from that day: recompute both from the
    # raw frames with each stock's industry of the day.
    frames = sample_tables(CFG)
    hist = frames["stock_industry_history"][["code", "start_date", "industry_l1"]].copy()
    hist["start_date"] = pd.to_datetime(hist["start_date"])
    q = frames["daily_quote"][["code", "trade_date", "pe_ttm", "amount"]].copy()
    q["trade_date"] = pd.to_datetime(q["trade_date"])
    q = pd.merge_asof(q.sort_values("trade_date"), hist.sort_values("start_date"), left_on="trade_date",
                      right_on="start_date", by="code")
    ff = frames["funds_flow"][["code", "trade_date", "main_net_inflow"]].copy()
    ff["trade_date"] = pd.to_datetime(ff["trade_date"])
    q = q.merge(ff, on=["code", "trade_date"])
    days = sorted(q.trade_date[q.trade_date >= start].unique())[:3]
    got = read(pair[0], "select industry_l1, trade_date, net_inflow, amount from factors.factor_industry_flow "
                        "where industry_l1 in (?, ?)", [old_l1, new_l1])
    got["trade_date"] = pd.to_datetime(got["trade_date"])
    got = got.set_index(["industry_l1", "trade_date"])
    med = read(pair[0], "select trade_date, industry_pe_median from factors.factor_valuation where code = ?", [code])
    med["trade_date"] = pd.to_datetime(med["trade_date"])
    med = med.set_index("trade_date")["industry_pe_median"]
    for d in days:
        day = q[q.trade_date == d]
        assert code in set(day.loc[day.industry_l1 == new_l1, "code"])
        for l1 in (old_l1, new_l1):
            members = day[day.industry_l1 == l1]
            assert got.loc[(l1, d), "net_inflow"] == pytest.approx(members.main_net_inflow.sum(), abs=0.01)
            assert got.loc[(l1, d), "amount"] == pytest.approx(members.amount.sum(), abs=0.01)
        pos = day[(day.industry_l1 == new_l1) & (day.pe_ttm > 0)]
        if len(pos):
            assert med[d] == pytest.approx(pos.pe_ttm.median(), rel=1e-12)


def test_etf_margin_rows_are_quarantined_and_not_staged(pair):
    n_raw = read(pair[0], "select count(*) as n from raw.funds_flow where code in ('510050.SH', '159915.SZ')")
    q = read(pair[0], "select count(*) as n from staging.quarantine where source_table = 'funds_flow'")
    staged = read(pair[0], "select count(*) as n from staging.stg_funds_flow where code in ('510050.SH', '159915.SZ')")
    assert n_raw.n[0] > 500 and q.n[0] == n_raw.n[0] and staged.n[0] == 0


def test_missing_list_dates_are_defaulted_not_fatal(pair):
    m = _market()
    missing = m.stock_info().loc[lambda d: d.list_date.isna(), "code"].tolist()
    assert missing
    got = read(pair[0], "select code, list_date, list_date_source from staging.stg_stock_info")
    got = got.set_index("code")
    for code in missing:
        assert got.loc[code, "list_date_source"] == "name_history"
        assert pd.Timestamp(got.loc[code, "list_date"]) == pd.Timestamp(m.info.set_index("code").loc[code, "list_date"])
    s = read(pair[0], "select count(*) as n from signals.factor_scores where buy_eligible is null")
    assert s.n[0] == 0


def test_ex_dates_on_non_trading_days_reach_the_broker_on_the_next_session(pair):
    from aquant.qmt import data

    div = read(pair[0], "select ex_date, ex_trade_date from staging.stg_dividend")
    cal = set(pd.to_datetime(read(pair[0], "select trade_date from staging.stg_trade_calendar").trade_date))
    inside = pd.to_datetime(div.ex_date).between(pd.Timestamp(CFG.start), pd.Timestamp(CFG.end) - pd.Timedelta(days=10))
    off = div[~pd.to_datetime(div.ex_date).isin(cal) & inside]
    assert len(off) > 5, "the sample has ex-dates on non-trading days"
    assert pd.to_datetime(off.ex_trade_date).isin(cal).all()
    assert (pd.to_datetime(off.ex_trade_date) > pd.to_datetime(off.ex_date)).all()
    assert (pd.to_datetime(off.ex_trade_date) - pd.to_datetime(off.ex_date)).max() < pd.Timedelta(days=15)
    with Database(pair[0]) as db:
        acts = data.load_dividends(db, CFG.start, CFG.end)
    assert len(acts) == ((pd.to_datetime(div.ex_trade_date) >= pd.Timestamp(CFG.start))
                         & (pd.to_datetime(div.ex_trade_date) <= pd.Timestamp(CFG.end))).sum()
    assert pd.to_datetime(acts.ex_date).isin(cal).all()

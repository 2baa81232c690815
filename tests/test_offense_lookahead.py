"""No look-ahead: inputs dated after day D never change a factor, score, signal or target on or
before D.

The sample market is built twice into two DuckDB files: once as generated, once with every row
dated after D perturbed (prices, volumes and adj_factor of quotes, some bars dropped, fund flows,
industry flows, chip rows, financial reports and dividends announced after D, plus a restatement
of an earlier period announced after D). Every row dated on or before D must be identical.
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
    ff.loc[m, ["short_balance", "north_hold_shares"]] *= 3
    ff.loc[m, "margin_balance"] *= 0.5
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
    ("factors.factor_macd", ["code", "trade_date"], "trade_date"),
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

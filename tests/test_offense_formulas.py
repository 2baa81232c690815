"""Offense-layer formulas on a hand-made market: one stock per case, one dbt build.

90 real SSE sessions (2023-01-03 .. 2023-05-19). The composite is pinned to the technical score
(weights 0/0/1/0 via --vars) so the buy/sell cases are readable from the price path alone; the
valuation, fund-flow and chip factors are still built and checked against pandas restatements.

  600101.SH  rise, dip, +2.5 %/day             -> golden-cross buy, take_profit
  600102.SH  rise, dip, +3 % x4, -4 %/day      -> buy, stop_loss
  600103.SH  rise, dip, +3 % x4, -0.5 %/day    -> buy, score_decay (chip rows missing bars 40-49)
  600104.SH  rise, dip, +0.9 %/day, one -1 % day, volume +8 %/day -> buy, a second cross while the
             buy is open (dropped), time_exit after max_hold_days = 10 bars
  000101.SZ  limit-up (+10 %, close = high) on 3x volume on bar 52 -> breakout, score 10
  000102.SZ  the same limit-up on 1.3x volume                     -> no breakout
  000103.SZ  suspended bars 30-34 (no rows)
  300101.SZ  loss-maker (PE < 0), ChiNext +20 % limit-up on bar 41
  300102.SZ  listed on the first session (IPO): first days, eligibility
  600199.SH  the only stock of 综合; no chip rows at all
"""
from __future__ import annotations

from datetime import date

import numpy as np
import pandas as pd
import pytest

from aquant.db import Database
from aquant.extract.sample import sessions
from aquant.qmt.knobs import dbt_vars

from conftest import duck_settings
from test_offense_support import (
    DEFAULTS,
    assert_frames_close,
    build_selected,
    copy_duck,
    expected_offense,
    load_tables,
    read,
    reference_macd,
)

DAYS = sessions(date(2023, 1, 3), date(2023, 5, 19))
N = len(DAYS)
TP, SL, DECAY, TIME = "600101.SH", "600102.SH", "600103.SH", "600104.SH"
BRK, NOBRK, SUSP = "000101.SZ", "000102.SZ", "000103.SZ"
LOSS, NEW, SOLO = "300101.SZ", "300102.SZ", "600199.SH"
SUSP_BARS = list(range(30, 35))
DECAY_NO_CHIPS = list(range(40, 50))
BREAK_DAY = 52
INDUSTRY = {TP: "电子", SL: "电子", DECAY: "电子", TIME: "电子", BRK: "银行", NOBRK: "银行", SUSP: "银行",
            LOSS: "医药生物", NEW: "医药生物", SOLO: "综合"}
# The sub-weights and points of the factor scores, as dbt_project.yml sets them: one home, which the
# oracles below read too (a changed default changes the models and these expectations together).
SUB_WEIGHTS = {k: v for k, v in dbt_vars().items()
               if k.startswith(("valuation_weight_", "loss_valuation_pb_weight", "industry_weight_", "chip_weight_",
                                "technical_points_"))}
VARS = {**DEFAULTS, **SUB_WEIGHTS, "weight_industry": 0, "weight_valuation": 0, "weight_technical": 1, "weight_chip": 0,
        "max_hold_days": 10, "valuation_window": 20, "valuation_min_history": 10, "loss_valuation_cap": 3,
        "flow_window": 5, "short_pressure_penalty": 2, "chip_inflow_window": 10, "chip_concentration_ref": 0.30}
ATR_VARS = {**VARS, "stop_mode": "atr"}


def _steps(segments: list[tuple[int, float]]) -> np.ndarray:
    f = np.concatenate([np.full(n, g) for n, g in segments])[:N - 1]
    return 20 * np.cumprod(np.concatenate([[1.0], f]))


def _paths() -> dict[str, tuple[np.ndarray, np.ndarray]]:
    i = np.arange(N)
    base = [(45, 1.002), (3, 0.985)]
    vol = 1e6 * (1 + 0.04 * np.sin(i * 2.3))   # volume ratio stays within 0.9-1.1
    growing = vol.copy()
    growing[48:] *= 1.08 ** np.arange(N - 48)
    surge, mild = vol.copy(), vol.copy()
    surge[BREAK_DAY] *= 3
    mild[BREAK_DAY] *= 1.3
    brk = _steps([(BREAK_DAY - 3, 1.002), (2, 0.985), (1, 1.10), (60, 1.001)])
    p = {
        TP: (_steps(base + [(60, 1.025)]), vol),
        SL: (_steps(base + [(4, 1.03), (6, 0.96), (60, 0.999)]), vol),
        DECAY: (_steps(base + [(4, 1.03), (60, 0.995)]), vol),
        TIME: (_steps(base + [(8, 1.009), (1, 0.99), (60, 1.009)]), growing),
        BRK: (brk, surge), NOBRK: (brk, mild),
        SUSP: (_steps([(89, 1.001)]) * (1 + 0.01 * np.sin(i / 3)), vol),
        LOSS: (_steps([(40, 0.999), (1, 1.2), (60, 1.0015)]), vol),
        NEW: (_steps([(89, 1.003)]) * (1 + 0.01 * np.sin(i / 4)), vol),
        SOLO: (_steps([(89, 0.9995)]) * (1 + 0.01 * np.sin(i / 5)), vol),
    }
    return {k: (np.round(c, 2), np.round(v, -2)) for k, (c, v) in p.items()}


def market() -> dict[str, pd.DataFrame]:
    cal_days = pd.date_range("2023-01-01", "2023-05-31", freq="D")
    calendar = pd.DataFrame({"trade_date": cal_days.date, "is_open": cal_days.isin(DAYS)})
    codes = list(INDUSTRY)
    info = pd.DataFrame({"code": codes, "name": [f"S{k}" for k in range(len(codes))],
                         "exchange": [c[-2:] for c in codes],
                         "board": ["chinext" if c.startswith("300") else "main" for c in codes],
                         "industry_l1": [INDUSTRY[c] for c in codes], "industry_l2": "x",
                         "list_date": [DAYS[0].date() if c == NEW else date(2010, 1, 4) for c in codes],
                         "is_st": False, "total_shares": 1.2e8, "float_shares": 1e8})
    quotes, flows, chips = [], [], []
    for k, (code, (close, vol)) in enumerate(_paths().items()):
        pre = np.concatenate([[close[0]], close[:-1]])
        for i in range(N):
            if code == SUSP and i in SUSP_BARS:
                continue
            c, pc = close[i], pre[i]
            if code == SUSP and i == SUSP_BARS[-1] + 1:
                pc = close[SUSP_BARS[0] - 1]
            limit_up = c >= round(pc * 1.1, 2) - 1e-9
            high = c if limit_up else round(max(c, pc) * 1.003, 2)
            low = round(min(c, pc) * 0.997, 2)
            pe = {LOSS: -8.0, SOLO: round(12 + np.sin(i / 4), 1)}.get(
                code, round((6 if INDUSTRY[code] == "银行" else 15) + k + 3 * np.sin(i / 3 + k), 1))
            if code == TP and i % 17 == 5:
                pe = None          # no PE that day: not a valid bar for the percentile
            if code == TP and i % 23 == 7:
                pe = 0.0           # PE 0: not valid either, and loss-making that day
            quotes.append({"code": code, "trade_date": DAYS[i].date(), "open": pc if low <= pc <= high else c,
                           "high": high, "low": low, "close": c, "pre_close": pc, "volume": vol[i],
                           "amount": round(vol[i] * c, 2), "turnover_rate": vol[i] / 1e8, "adj_factor": 1.0,
                           "pe_ttm": pe, "pb": round(1.5 + 0.5 * np.sin(i / 5 + k), 2),
                           "total_mv": c * 1.2e8, "circ_mv": c * 1e8})
            shortable = INDUSTRY[code] in ("电子", "银行")
            flows.append({"code": code, "trade_date": DAYS[i].date(),
                          "north_hold_shares": 1e7 + 1e5 * i * (k % 3) if INDUSTRY[code] == "银行" else None,
                          "margin_balance": 1e8 * (1 + 0.01 * i * ((k % 2) * 2 - 1) + 0.1 * k) if shortable else None,
                          "short_balance": (k + 1) * 1e6 * (1 + 0.5 * np.sin(i / 6 + k)) if shortable else None,
                          "main_net_inflow": round(vol[i] * c * 0.05 * np.sin(i / 4 + k), 2)})
            if code != SOLO and not (code == DECAY and i in DECAY_NO_CHIPS):
                w = 0.05 + 0.03 * k
                chips.append({"code": code, "trade_date": DAYS[i].date(),
                              "profit_ratio": float(np.clip(0.5 + 0.4 * np.sin(i / 7 + k), 0, 1)),
                              "avg_cost": round(c * 0.95, 3), "cost_90_low": round(c * (1 - w), 3),
                              "cost_90_high": round(c * (1 + w), 3), "concentration_90": w})
    ind_flow = []
    for ind, (net, amt) in {"电子": (5e7, 1e9), "银行": (1e7, 1e9), "医药生物": (-2e7, 8e8), "综合": (0.0, 2e8),
                            "计算机": (2e7, 5e8)}.items():
        for i in range(N):
            n = 3e7 if ind == "银行" and i >= 50 else net
            ind_flow.append({"industry_l1": ind, "trade_date": DAYS[i].date(), "net_inflow": n,
                             "amount": amt * (1 + 0.1 * np.sin(i))})
    return {"trade_calendar": calendar, "stock_info": info, "daily_quote": pd.DataFrame(quotes),
            "funds_flow": pd.DataFrame(flows), "industry_flow": pd.DataFrame(ind_flow),
            "chip_distribution": pd.DataFrame(chips)}


@pytest.fixture(scope="module")
def built(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("offense_formulas")
    settings = duck_settings(tmp / "warehouse.duckdb")
    with Database(settings) as db:
        load_tables(db, market(), "test")
    build_selected(settings, tmp / "target", ["+signals", "+portfolio_targets"], vars_=VARS)
    return settings


@pytest.fixture(scope="module")
def atr_built(built, tmp_path_factory):
    tmp = tmp_path_factory.mktemp("offense_formulas_atr")
    settings = copy_duck(built, tmp / "warehouse.duckdb")
    build_selected(settings, tmp / "target", ["int_offense_signals__chained"], vars_=ATR_VARS)
    return settings


def _tech(settings) -> pd.DataFrame:
    bars = read(settings, "select code, trade_date, high, close, volume from raw.daily_quote")
    t = read(settings, "select * from factors.factor_technical")
    return bars.merge(t, on=["code", "trade_date"], suffixes=("", "_t")).sort_values(["code", "trade_date"]) \
        .reset_index(drop=True)


def _day(code: str, i: int) -> pd.Timestamp:
    return pd.Timestamp(DAYS[i])


# -- technical ------------------------------------------------------------------------------
def test_volume_ratio_is_volume_over_mean_of_previous_five_bars(built):
    t = _tech(built)
    prev = t.groupby("code")["volume"].transform(lambda s: s.shift(1).rolling(5).mean())
    np.testing.assert_allclose(t["volume_ratio"].astype(float), t["volume"] / prev, rtol=1e-12, equal_nan=True)
    first = t.groupby("code").head(5)
    assert first["volume_ratio"].isna().all(), "a stock's first five bars have no volume ratio"
    assert t.groupby("code").nth(5)["volume_ratio"].notna().all()


def test_breakout_needs_a_new_high_on_expanding_volume(built):
    t = _tech(built).set_index(["code", "trade_date"])
    d = _day(BRK, BREAK_DAY)
    b, nb = t.loc[(BRK, d)], t.loc[(NOBRK, d)]
    assert b.close == nb.close and b.volume_ratio == pytest.approx(3, rel=0.1)
    assert b.is_breakout and not nb.is_breakout
    assert nb.volume_ratio == pytest.approx(1.3, rel=0.1)
    # the rule on every row: close above the previous 20 bars' high, volume ratio >= 1.5
    t = t.reset_index()
    prev_high = t.groupby("code")["high"].transform(lambda s: s.shift(1).rolling(20).max())
    want = (t["close"] > prev_high) & (t["volume_ratio"] >= 1.5)
    assert (t["is_breakout"] == want.fillna(False)).all()
    assert not t.groupby("code").head(20)["is_breakout"].any(), "no breakout without 20 earlier bars"


def test_limit_up_days_flow_through_staging(built):
    q = read(built, "select * from staging.stg_daily_quote").set_index(["code", "trade_date"])
    assert read(built, "select count(*) as n from intermediate.int_daily_quote__checked "
                       "where reason is not null")["n"][0] == 0
    up = q.loc[(BRK, _day(BRK, BREAK_DAY))]
    assert up.close == up.high == round(up.pre_close * 1.10, 2)
    chinext = q.loc[(LOSS, _day(LOSS, 41))]
    assert chinext.close == round(chinext.pre_close * 1.2, 2)


def test_technical_score_on_the_hand_checked_breakout_day(built):
    """000101.SZ on bar 52: dif crosses above dea (golden cross +2, dif > dea +2), the histogram
    rises (+1.5), dif stays above 0 after the uptrend (+1.5), volume ratio 3 (+1 active, +1 surge),
    breakout (+1): 10. 000102.SZ the same day on 1.3x volume: no surge point, no breakout: 8."""
    t = _tech(built).set_index(["code", "trade_date"])
    d = _day(BRK, BREAK_DAY)
    b = t.loc[(BRK, d)]
    assert b.golden_cross and b.dif > b.dea and b.dif > 0 and b.macd_rising and b.is_breakout
    assert b.technical_score == 10
    assert t.loc[(NOBRK, d)].technical_score == 8
    assert t["technical_score"].between(0, 10).all()


def test_macd_and_cross_flags_follow_the_terminal_convention(built):
    t = _tech(built)
    parts = []
    for code, g in t.groupby("code"):
        ref = reference_macd(g["close"].reset_index(drop=True))
        ref.index = g.index
        parts.append(ref)
    ref = pd.concat(parts).loc[t.index]
    np.testing.assert_allclose(t[["dif", "dea", "macd"]].to_numpy(), ref.to_numpy(), atol=1e-9)
    g = t.groupby("code")
    eps = dbt_vars()["macd_cross_epsilon"]  # closer than this counts as equal
    golden = (t.dif - t.dea > eps) & (g["dif"].shift() - g["dea"].shift() <= eps)
    dead = (t.dea - t.dif > eps) & (g["dea"].shift() - g["dif"].shift() <= eps)
    assert (t.golden_cross == golden).all() and (t.dead_cross == dead).all()
    assert golden.sum() >= 5 and dead.sum() >= 5


def test_first_days_of_a_listing(built):
    s = read(built, "select * from signals.factor_scores where code = ? order by trade_date", [NEW])
    t = _tech(built)
    t = t[t.code == NEW]
    assert t["volume_ratio"].head(5).isna().all() and not t["is_breakout"].head(20).any()
    listed = pd.Timestamp(DAYS[0])
    want = (s["bar_seq"] > 35) & (s["trade_date"] >= listed + pd.Timedelta(days=60))
    assert (s["buy_eligible"] == want).all()
    assert not s["buy_eligible"].head(35).any() and s["buy_eligible"].iloc[-1]
    sig = read(built, "select trade_date from intermediate.int_offense_signals__chained "
                      "where code = ? and kind = 'buy'", [NEW])
    assert (sig["trade_date"] >= listed + pd.Timedelta(days=60)).all()


def test_suspension_gap_is_skipped_and_windows_count_bars(built):
    t = _tech(built)
    t = t[t.code == SUSP].reset_index(drop=True)
    assert not set(pd.DatetimeIndex([DAYS[i] for i in SUSP_BARS])) & set(t["trade_date"])
    assert (t["bar_seq"] == np.arange(1, len(t) + 1)).all()
    k = SUSP_BARS[0]            # first bar after the gap has row index k
    assert t["trade_date"][k] == DAYS[SUSP_BARS[-1] + 1]
    assert t["volume_ratio"][k] == pytest.approx(t["volume"][k] / t["volume"][k - 5:k].mean(), rel=1e-12)


# -- valuation --------------------------------------------------------------------------------
def test_valuation_percentiles_equal_pandas_rolling_rank(built):
    q = read(built, "select code, trade_date, pe_ttm, pb from raw.daily_quote")
    v = read(built, "select * from factors.factor_valuation").merge(q, on=["code", "trade_date"], suffixes=("", "_q"))
    w, mn = VARS["valuation_window"], VARS["valuation_min_history"]
    for col, pct in [("pe_ttm", "pe_pct"), ("pb", "pb_pct")]:
        valid = q[q[col] > 0].sort_values(["code", "trade_date"])
        r = valid.groupby("code")[col].transform(lambda s: s.rolling(w, min_periods=mn).rank(method="min"))
        n = valid.groupby("code")[col].transform(lambda s: s.rolling(w, min_periods=mn).count())
        valid = valid.assign(want=(r - 1) / (n - 1))
        m = v.merge(valid[["code", "trade_date", "want"]], on=["code", "trade_date"], how="left")
        np.testing.assert_allclose(m[pct].astype(float), m["want"].astype(float), atol=1e-12, equal_nan=True,
                                   err_msg=pct)
    assert v["pe_pct"].notna().sum() > 300


def _valuation_want(v: pd.DataFrame, knobs: dict) -> tuple[np.ndarray, np.ndarray]:
    """valuation_score restated: industry cheapness and the weighted score (knobs: the dbt vars)."""
    med = v[v.pe_ttm > 0].groupby(["industry_l1", "trade_date"])["pe_ttm"].median().rename("med")
    v = v.merge(med, left_on=["industry_l1", "trade_date"], right_index=True, how="left")
    rel = np.where(v.pe_ttm > 0, v.pe_ttm / v.med, np.nan)
    cheap = np.where(np.isnan(rel), 0.5, np.clip((np.log(2) - np.log(rel)) / np.log(4), 0, 1))
    pe_pct, pb_pct = v.pe_pct.astype(float).fillna(0.5), v.pb_pct.astype(float).fillna(0.5)
    loss = ~(v.pe_ttm > 0)
    want = np.where(loss,
                    np.minimum(10 * knobs["loss_valuation_pb_weight"] * (1 - pb_pct), knobs["loss_valuation_cap"]),
                    10 * (knobs["valuation_weight_pe"] * (1 - pe_pct) + knobs["valuation_weight_pb"] * (1 - pb_pct)
                          + knobs["valuation_weight_industry"] * cheap))
    return cheap, want


def test_valuation_score_composition(built):
    v = read(built, "select * from factors.factor_valuation")
    cheap, want = _valuation_want(v, VARS)
    assert (v["is_loss_making"] == ~(v.pe_ttm > 0)).all()
    np.testing.assert_allclose(v["industry_cheapness"], cheap, atol=1e-12)
    np.testing.assert_allclose(v["valuation_score"], want, atol=1e-12)


def test_a_changed_valuation_sub_weight_var_changes_the_built_scores(built, tmp_path):
    """The sub-weights are dbt vars, not literals: a build with other values scores by them."""
    knobs = {**VARS, "valuation_weight_pe": 0.6, "valuation_weight_pb": 0.0, "valuation_weight_industry": 0.4}
    settings = copy_duck(built, tmp_path / "warehouse.duckdb")
    build_selected(settings, tmp_path / "target", ["factor_valuation"], vars_=knobs, full_refresh=True)
    before = read(built, "select * from factors.factor_valuation")
    v = read(settings, "select * from factors.factor_valuation")
    _, want = _valuation_want(v, knobs)
    np.testing.assert_allclose(v["valuation_score"], want, atol=1e-12)
    changed = before.merge(v, on=["code", "trade_date"], suffixes=("_old", "_new"))
    assert (abs(changed["valuation_score_old"] - changed["valuation_score_new"]) > 1e-6).sum() > 100


def test_loss_maker_is_flagged_and_capped(built):
    v = read(built, "select * from factors.factor_valuation where code = ?", [LOSS])
    assert v["is_loss_making"].all() and v["pe_pct"].isna().all()
    assert (v["valuation_score"] <= VARS["loss_valuation_cap"]).all()
    assert v["pe_vs_industry"].isna().all()


def test_single_stock_industry_is_its_own_median(built):
    v = read(built, "select * from factors.factor_valuation where code = ?", [SOLO])
    assert (v["pe_vs_industry"] == 1).all() and (v["industry_pe_count"] == 1).all()
    assert (v["industry_cheapness"] == 0.5).all()


# -- fund flow ----------------------------------------------------------------------------------
def _cross_rank(x: pd.Series, by: pd.Series) -> pd.Series:
    """percent_rank among the non-null values of the same day; 0.5 when null or alone."""
    n = x.groupby(by).transform("count")
    r = x.groupby(by).rank(method="min")
    return ((r - 1) / (n - 1)).where(x.notna() & (n >= 2), 0.5)


def _cents_sum(x: pd.Series) -> float:
    """Exact sum in integer cents (what macros/exact_sum.sql computes); NaN when all missing."""
    x = x.dropna()
    return float(np.round(x * 100).astype("int64").sum()) / 100 if len(x) else np.nan


def _expected_industry_flow(settings) -> pd.DataFrame:
    # Industry flow = the members' stock-level main-force inflow and turnover (members with a flow
    # that day), one taxonomy with the stocks' industry; raw.industry_flow is not read
    # (docs/sources.md). Margin and northbound values enter one session later (availability).
    ff = read(settings, "select code, trade_date, north_hold_shares, margin_balance, main_net_inflow "
                        "from raw.funds_flow")
    q = read(settings, "select code, trade_date, close, circ_mv, amount from raw.daily_quote")
    info = read(settings, "select code, industry_l1 from raw.stock_info")
    s = ff.merge(q, on=["code", "trade_date"]).merge(info, on="code").sort_values(["code", "trade_date"])
    s["flow_amount"] = s["amount"].where(s["main_net_inflow"].notna())
    f = s.groupby(["industry_l1", "trade_date"]).agg(
        net_inflow=("main_net_inflow", _cents_sum), amount=("flow_amount", _cents_sum)).reset_index()
    f = f[f["net_inflow"].notna()].sort_values(["industry_l1", "trade_date"]).reset_index(drop=True)
    # window sums in integer cents, as the model takes them
    f["net_c"] = np.round(f["net_inflow"] * 100).astype("int64")
    f["amt_c"] = np.round(f["amount"] * 100).astype("int64")
    g = f.groupby("industry_l1")
    n = VARS["flow_window"]
    f["net_inflow_n"] = g["net_c"].transform(lambda s: s.rolling(n, min_periods=1).sum()) / 100
    amount_n = g["amt_c"].transform(lambda s: s.rolling(n, min_periods=1).sum()) / 100
    days = g["amt_c"].transform(lambda s: s.rolling(n, min_periods=1).count())
    prev = g["net_c"].transform(lambda s: s.shift(n).rolling(n, min_periods=1).sum()) / 100
    f["inflow_ratio"] = (f["net_inflow_n"] / amount_n).where((days == n) & (amount_n > 0))
    f["inflow_change"] = ((f["net_inflow_n"] - prev) / prev.abs()).where(prev.notna() & (prev != 0))
    gs = s.groupby("code")
    s["margin_avail"] = gs["margin_balance"].shift(1)     # D's margin is out the next morning
    s["north_avail"] = gs["north_hold_shares"].shift(1)
    gs = s.groupby("code")
    s["margin_prev"] = gs["margin_avail"].shift(n)
    s["north_change"] = (s["north_avail"] - gs["north_avail"].shift(n)) * s["close"]
    ok = s["margin_prev"] > 0
    s["m_now"], s["m_prev"] = s["margin_avail"].where(ok), s["margin_prev"].where(ok)
    agg = s.groupby(["industry_l1", "trade_date"]).agg(
        nc=("north_change", lambda x: x.sum(min_count=1)), mv=("circ_mv", "sum"),
        mn=("m_now", lambda x: x.sum(min_count=1)), mp=("m_prev", lambda x: x.sum(min_count=1))).reset_index()
    agg["north_ratio"] = agg["nc"] / agg["mv"].where(agg["mv"] != 0)
    agg["margin_change"] = agg["mn"] / agg["mp"].where(agg["mp"] != 0) - 1
    f = f.merge(agg[["industry_l1", "trade_date", "north_ratio", "margin_change"]], on=["industry_l1", "trade_date"],
                how="left")
    r = {c: _cross_rank(f[c], f["trade_date"])
         for c in ["inflow_ratio", "inflow_change", "north_ratio", "margin_change"]}
    f["industry_score"] = 10 * (VARS["industry_weight_inflow_ratio"] * r["inflow_ratio"]
                                + VARS["industry_weight_inflow_change"] * r["inflow_change"]
                                + VARS["industry_weight_north"] * r["north_ratio"]
                                + VARS["industry_weight_margin"] * r["margin_change"])
    f = f.sort_values(["trade_date", "industry_score", "industry_l1"], ascending=[True, False, True])
    f["industry_rank"] = f.groupby("trade_date").cumcount() + 1
    return f


def test_industry_flow_scores_ranks_and_inflow_change(built):
    got = read(built, "select * from factors.factor_industry_flow")
    want = _expected_industry_flow(built)
    cols = ["industry_l1", "trade_date", "net_inflow_n", "inflow_ratio", "inflow_change", "north_ratio",
            "margin_change", "industry_score", "industry_rank"]
    assert_frames_close(got[cols], want[cols], ["industry_l1", "trade_date"], 1e-9, "factor_industry_flow")
    # Taxonomy stated by hand: 银行's flow on bar 54 is the sum of its three members' own main-force
    # inflow that day (BRK, NOBRK; SUSP trades again), never raw.industry_flow (which says 3e7).
    ff = read(built, "select code, trade_date, main_net_inflow from raw.funds_flow where trade_date = ?",
              [DAYS[54].date()]).set_index("code")["main_net_inflow"]
    row = got[(got.industry_l1 == "银行") & (got.trade_date == pd.Timestamp(DAYS[54]))].iloc[0]
    assert row.net_inflow == pytest.approx(ff[BRK] + ff[NOBRK] + ff[SUSP], abs=0.005)
    assert row.net_inflow != pytest.approx(3e7)
    assert "计算机" not in set(got.industry_l1)   # raw.industry_flow has it; no stock belongs to it
    # ordering: on each day rank 1 carries the highest score
    for d, g in got.groupby("trade_date"):
        assert list(g.sort_values("industry_rank")["industry_score"]) == sorted(g["industry_score"], reverse=True)


def test_short_pressure_penalty(built):
    ind = _expected_industry_flow(built)[["industry_l1", "trade_date", "industry_score"]]
    q = read(built, "select code, trade_date, circ_mv from raw.daily_quote")
    ff = read(built, "select code, trade_date, short_balance from raw.funds_flow")
    # D's short balance is published the next morning: D uses the previous session's
    prev_session = dict(zip(DAYS[1:], DAYS[:-1]))
    q["avail_date"] = q["trade_date"].map(prev_session)
    ff = ff.rename(columns={"trade_date": "avail_date"})
    info = read(built, "select code, industry_l1 from raw.stock_info")
    s = q.merge(info, on="code").merge(ff, on=["code", "avail_date"], how="left")
    s["short_pressure"] = s["short_balance"] / s["circ_mv"]
    s["short_penalty"] = np.where(s["short_pressure"].isna(), 0.0,
                                  VARS["short_pressure_penalty"] * _cross_rank(s["short_pressure"], s["trade_date"]))
    s = s.merge(ind, on=["industry_l1", "trade_date"], how="left")
    s["want"] = np.maximum(s["industry_score"].fillna(5) - s["short_penalty"], 0)
    got = read(built, "select * from factors.factor_fund_flow").merge(s, on=["code", "trade_date"],
                                                                      suffixes=("", "_w"))
    np.testing.assert_allclose(got["short_penalty"], got["short_penalty_w"], atol=1e-12)
    np.testing.assert_allclose(got["industry_score"], got["want"], atol=1e-9)
    day = got[got.trade_date == pd.Timestamp(DAYS[60])]
    shortable = day[day.short_pressure.notna()]
    assert shortable.loc[shortable.short_pressure.idxmax(), "short_penalty"] == pytest.approx(2.0)
    assert shortable.loc[shortable.short_pressure.idxmin(), "short_penalty"] == 0
    assert (day[day.short_pressure.isna()]["short_penalty"] == 0).all()


# -- chips --------------------------------------------------------------------------------------
def test_chip_score_and_its_fallback_without_chip_rows(built):
    q = read(built, "select code, trade_date, amount from raw.daily_quote")
    ff = read(built, "select code, trade_date, main_net_inflow from raw.funds_flow")
    ch = read(built, "select code, trade_date, profit_ratio, concentration_90 from raw.chip_distribution")
    s = q.merge(ff, on=["code", "trade_date"], how="left").sort_values(["code", "trade_date"])
    n = VARS["chip_inflow_window"]
    g = s.groupby("code")
    pos = (s["main_net_inflow"] > 0).astype(float)
    persist = pos.groupby(s["code"]).transform(lambda x: x.rolling(n, min_periods=1).sum()) \
        / g["main_net_inflow"].transform(lambda x: x.rolling(n, min_periods=1).count())
    ratio = g["main_net_inflow"].transform(lambda x: x.rolling(n, min_periods=1).sum()) \
        / g["amount"].transform(lambda x: x.rolling(n, min_periods=1).sum())
    s = s.assign(persist=persist, ratio=ratio).merge(ch, on=["code", "trade_date"], how="left")
    conc = (1 - np.clip(s["concentration_90"] / VARS["chip_concentration_ref"], 0, 1)).fillna(0.5)
    mf = 0.5 * s["persist"] + 0.5 * np.clip(0.5 + 5 * s["ratio"], 0, 1)
    s["want"] = 10 * (VARS["chip_weight_profit"] * s["profit_ratio"].fillna(0.5)
                      + VARS["chip_weight_concentration"] * conc + VARS["chip_weight_main_force"] * mf)
    got = read(built, "select * from factors.factor_chip").merge(s[["code", "trade_date", "want"]],
                                                                on=["code", "trade_date"])
    np.testing.assert_allclose(got["chip_score"], got["want"], atol=1e-9)
    missing = got[got.chip_data_missing]
    assert set(missing.code) == {SOLO, DECAY}
    assert len(missing[missing.code == DECAY]) == len(DECAY_NO_CHIPS)
    assert missing["profit_ratio"].isna().all() and missing["chip_score"].between(0, 10).all()


# -- signals ------------------------------------------------------------------------------------
def _signals(settings) -> pd.DataFrame:
    return read(settings, "select signal_id, trade_date, code, kind, rule, composite_score, close, take_profit, "
                          "stop_loss, priority, entry_signal_id from intermediate.int_offense_signals__chained")


def _reference(settings, v) -> pd.DataFrame:
    scores = read(settings, "select * from signals.factor_scores")
    quotes = read(settings, "select code, trade_date, high, low, pre_close, adj_factor from staging.stg_daily_quote")
    return expected_offense(scores, quotes, v)


def test_composite_follows_the_weights(built):
    s = read(built, "select composite_score, technical_score from signals.factor_scores")
    assert (s["composite_score"] == s["technical_score"]).all()


def test_each_sell_rule_fires_on_its_stock(built):
    sig = _signals(built)
    sells = sig[sig.kind == "sell"].sort_values("trade_date").groupby("code")["rule"].first()
    assert sells[TP] == "take_profit" and sells[SL] == "stop_loss"
    assert sells[DECAY] == "score_decay" and sells[TIME] == "time_exit"
    assert_frames_close(sig, _reference(built, VARS), ["signal_id"], 1e-9, "int_offense_signals__chained")


def test_time_exit_after_max_hold_days_bars(built):
    sig = _signals(built)
    buy = sig[(sig.code == TIME) & (sig.kind == "buy")].sort_values("trade_date").iloc[0]
    sell = sig[sig.entry_signal_id == buy.signal_id].iloc[0]
    i = list(DAYS).index(buy.trade_date)
    assert sell.trade_date == DAYS[i + VARS["max_hold_days"]]


def test_score_decay_needs_exit_days_bars_below_exit_threshold(built):
    sig = _signals(built)
    sell = sig[(sig.code == DECAY) & (sig.rule == "score_decay")].sort_values("trade_date").iloc[0]
    s = read(built, "select trade_date, composite_score from signals.factor_scores where code = ? "
                    "order by trade_date", [DECAY])
    k = s.index[s.trade_date == sell.trade_date][0]
    assert (s["composite_score"][k - 2:k + 1] < VARS["exit_threshold"]).all()
    assert not (s["composite_score"][k - 3:k] < VARS["exit_threshold"]).all(), "it should have fired a bar earlier"


def test_no_second_buy_while_a_buy_is_open(built):
    sig = _signals(built)
    s = read(built, "select trade_date, composite_score from signals.factor_scores where code = ? "
                    "order by trade_date", [TIME])
    crossing = s[(s.composite_score >= 5) & (s.composite_score.shift() < 5)]["trade_date"]
    buy = sig[(sig.code == TIME) & (sig.kind == "buy")].sort_values("trade_date").iloc[0]
    sell = sig[sig.entry_signal_id == buy.signal_id].iloc[0]
    inside = crossing[(crossing > buy.trade_date) & (crossing <= sell.trade_date)]
    assert len(inside) >= 1, "the path was built with a second cross inside the open trade"
    assert not sig[(sig.code == TIME) & (sig.kind == "buy")]["trade_date"].isin(inside).any()


def test_sells_carry_their_buy_and_pct_levels(built):
    sig = _signals(built)
    buys = sig[sig.kind == "buy"].set_index("signal_id")
    for _, s in sig[sig.kind == "sell"].iterrows():
        b = buys.loc[s.entry_signal_id]
        assert s.code == b.code and s.take_profit == b.take_profit and s.stop_loss == b.stop_loss
    np.testing.assert_allclose(buys["take_profit"], buys["close"] * 1.15, rtol=1e-12)
    np.testing.assert_allclose(buys["stop_loss"], buys["close"] * 0.92, rtol=1e-12)


def test_atr_mode_levels(atr_built):
    sig = _signals(atr_built)
    bars = read(atr_built, "select code, trade_date, high, low, pre_close, close from raw.daily_quote") \
        .sort_values(["code", "trade_date"])
    tr = np.maximum.reduce([bars.high - bars.low, (bars.high - bars.pre_close).abs(),
                            (bars.low - bars.pre_close).abs()])
    bars["atr"] = pd.Series(tr, index=bars.index).groupby(bars["code"]).transform(
        lambda x: x.rolling(ATR_VARS["atr_window"], min_periods=1).mean())
    buys = sig[sig.kind == "buy"].merge(bars[["code", "trade_date", "atr"]], on=["code", "trade_date"])
    assert len(buys) >= 4
    np.testing.assert_allclose(buys["take_profit"], buys["close"] + 3 * buys["atr"], rtol=1e-12)
    np.testing.assert_allclose(buys["stop_loss"], np.maximum(buys["close"] - 2 * buys["atr"], 0.01), rtol=1e-12)
    assert_frames_close(sig, _reference(atr_built, ATR_VARS), ["signal_id"], 1e-9, "int_offense_signals__chained (atr)")

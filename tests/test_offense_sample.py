"""Offense layer on the sample market: MACD against TA-Lib, the factor rules, signals, knobs, PostgreSQL.

The sample market (12 stocks, 2021-01-04 .. 2023-12-29: ex-dates, suspensions, an IPO, ST
stocks, limit days) is loaded through the real ingest path into a DuckDB file and built once
with every model (`dbt build`, tests included). Knob tests rebuild only the signal models on a
byte copy of that file with other `--vars`; the PostgreSQL test builds the same market on the
real server. Every expected value is computed here (TA-Lib, pandas) or stated from the rule.
"""
from __future__ import annotations

from datetime import date

import numpy as np
import pandas as pd
import pytest

from aquant.db import Database
from aquant.extract.ingest_sample import ingest_sample
from aquant.extract.sample import SampleConfig
from aquant.qmt.knobs import dbt_vars

from conftest import create_pg_database, drop_pg_database, duck_settings, pg_settings
from test_offense_support import (
    DEFAULTS,
    assert_frames_close,
    build,
    build_selected,
    copy_duck,
    expected_offense,
    expected_targets,
    read,
)

CFG = SampleConfig(n_stocks=12, start=date(2021, 1, 4), end=date(2023, 12, 29))
WARMUP = 250
KNOBS = {**DEFAULTS, "buy_threshold": 6, "max_weight_stock": 0.05, "max_weight_industry": 0.08}
SIGNAL_COLS = ("signal_id, trade_date, code, kind, rule, composite_score, close, take_profit, stop_loss, "
               "priority, entry_signal_id")


@pytest.fixture(scope="module")
def sample_duck(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("offense_sample")
    settings = duck_settings(tmp / "warehouse.duckdb")
    with Database(settings) as db:
        ingest_sample(db, CFG, progress=False)
    build(settings, tmp / "target", vars_=DEFAULTS)
    return settings


@pytest.fixture(scope="module")
def knob_duck(sample_duck, tmp_path_factory):
    """The same market, signal models rebuilt with a higher buy threshold and tighter caps."""
    tmp = tmp_path_factory.mktemp("offense_knobs")
    settings = copy_duck(sample_duck, tmp / "warehouse.duckdb")
    build_selected(settings, tmp / "target", ["int_offense_signals__chained+", "portfolio_targets+"], vars_=KNOBS)
    return settings


def _bars(settings) -> pd.DataFrame:
    return read(settings, "select code, trade_date, high, low, close, pre_close, volume, adj_factor "
                          "from raw.daily_quote order by code, trade_date")


def _scores(settings) -> pd.DataFrame:
    return read(settings, "select * from signals.factor_scores order by code, trade_date")


# -- MACD -------------------------------------------------------------------------------------
def test_every_clean_bar_has_one_technical_row(sample_duck):
    bars = _bars(sample_duck)
    tech = read(sample_duck, "select code, trade_date, bar_seq from factors.factor_technical order by code, trade_date")
    quarantined = read(sample_duck, "select count(*) as n from staging.quarantine where source_table = 'daily_quote'")
    assert quarantined.n[0] == 0, "the sample market has no bad bars; every raw bar must flow on"
    pd.testing.assert_frame_equal(bars[["code", "trade_date"]], tech[["code", "trade_date"]])
    # bar_seq counts bars (1, 2, 3, ...) per stock, suspended days have none
    expected_seq = tech.groupby("code").cumcount() + 1
    assert (tech["bar_seq"] == expected_seq).all()


def test_macd_matches_talib_after_warmup(sample_duck):
    """TA-Lib MACD(12, 26, 9) of the back-adjusted close (close x adj_factor), divided by the day's
    adj_factor, is MACD on the forward-adjusted series as of that day. TA-Lib seeds its EMAs with an
    SMA and we with the first close; the difference decays, so compare after 250 bars. TA-Lib's
    macdhist is dif - dea; ours is macd = 2 x (dif - dea)."""
    import talib

    bars = _bars(sample_duck)
    tech = read(sample_duck, "select code, trade_date, dif, dea, macd from factors.factor_technical")
    merged = bars.merge(tech, on=["code", "trade_date"], validate="1:1")
    compared = 0
    for code, g in merged.groupby("code"):
        g = g.sort_values("trade_date").reset_index(drop=True)
        if len(g) <= WARMUP:
            continue
        hfq = (g["close"] * g["adj_factor"]).to_numpy(float)
        dif, dea, hist = talib.MACD(hfq, fastperiod=12, slowperiod=26, signalperiod=9)
        adj = g["adj_factor"].to_numpy(float)
        sl = slice(WARMUP, None)
        np.testing.assert_allclose(g["dif"].to_numpy()[sl], (dif / adj)[sl], rtol=0, atol=1e-6, err_msg=code)
        np.testing.assert_allclose(g["dea"].to_numpy()[sl], (dea / adj)[sl], rtol=0, atol=1e-6, err_msg=code)
        np.testing.assert_allclose(g["macd"].to_numpy()[sl], (2 * hist / adj)[sl], rtol=0, atol=1e-6, err_msg=code)
        compared += len(g) - WARMUP
    assert compared > 3000


def test_macd_on_a_stock_without_ex_dates_is_talib_on_the_plain_close(sample_duck):
    """Where adj_factor is constant over the window, forward-adjusted = unadjusted close."""
    import talib

    bars = _bars(sample_duck)
    const = bars.groupby("code")["adj_factor"].nunique()
    code = sorted(const[const == 1].index)[0]
    g = bars[bars.code == code].merge(read(sample_duck, "select code, trade_date, dif, dea, macd "
                                                        "from factors.factor_technical where code = ?", [code]),
                                      on=["code", "trade_date"]).sort_values("trade_date")
    dif, dea, hist = talib.MACD(g["close"].to_numpy(float), 12, 26, 9)
    np.testing.assert_allclose(g["dif"].to_numpy()[WARMUP:], dif[WARMUP:], atol=1e-6)
    np.testing.assert_allclose(g["dea"].to_numpy()[WARMUP:], dea[WARMUP:], atol=1e-6)
    np.testing.assert_allclose(g["macd"].to_numpy()[WARMUP:], 2 * hist[WARMUP:], atol=1e-6)


def test_suspended_day_is_skipped_by_the_ema(sample_duck):
    """A suspended day has no bar: no factor row, and the EMA steps straight from the last bar to
    the next one (one recursion step), not through a carried-forward price."""
    bars = _bars(sample_duck)
    cal = read(sample_duck, "select trade_date from raw.trade_calendar where is_open order by trade_date")["trade_date"]
    macd = read(sample_duck, "select code, trade_date, bar_seq, ema_fast_hfq, ema_slow_hfq "
                             "from intermediate.int_macd__recursed")
    gaps = []
    for code, g in bars.groupby("code"):
        days = cal[(cal >= g.trade_date.min()) & (cal <= g.trade_date.max())]
        missing = sorted(set(days) - set(g.trade_date))
        gaps += [(code, d) for d in missing]
    assert gaps, "the sample market is expected to contain suspensions"
    code, day = gaps[0]
    m = macd[macd.code == code].sort_values("trade_date").reset_index(drop=True)
    assert day not in set(m.trade_date)
    after = m.index[m.trade_date > day][0]
    prev, cur = m.loc[after - 1], m.loc[after]
    assert cur.bar_seq == prev.bar_seq + 1
    b = bars[(bars.code == code)].set_index("trade_date")
    hfq = b.loc[cur.trade_date, "close"] * b.loc[cur.trade_date, "adj_factor"]
    a = 2 / 13
    assert cur.ema_fast_hfq == pytest.approx(a * hfq + (1 - a) * prev.ema_fast_hfq, abs=1e-9)
    # Carrying the last price through the suspended days would give another value.
    n_missing = len([d for c, d in gaps if c == code and prev.trade_date < d < cur.trade_date])
    carried = prev.ema_fast_hfq
    last_hfq = b.loc[prev.trade_date, "close"] * b.loc[prev.trade_date, "adj_factor"]
    for _ in range(n_missing):
        carried = a * last_hfq + (1 - a) * carried
    carried = a * hfq + (1 - a) * carried
    assert abs(carried - cur.ema_fast_hfq) > 1e-6


# -- technical flags and the composite ---------------------------------------------------------
def test_technical_flags_and_score_follow_the_rules(sample_duck):
    """volume_ratio = volume / mean(previous 5 bars); breakout = close_hfq above the previous 20
    bars' high_hfq on a volume ratio >= 1.5; crosses of dif over dea; score composition (0-10)."""
    bars = _bars(sample_duck)
    tech = read(sample_duck, "select * from factors.factor_technical")
    df = bars.merge(tech, on=["code", "trade_date"], suffixes=("", "_t")).sort_values(["code", "trade_date"])
    g = df.groupby("code", sort=False)
    prev_mean = g["volume"].transform(lambda s: s.shift(1).rolling(5, min_periods=5).mean())
    vr = df["volume"] / prev_mean
    np.testing.assert_allclose(df["volume_ratio"].astype(float), vr.where(prev_mean > 0), rtol=1e-12, equal_nan=True)
    hfq = df["close"] * df["adj_factor"]
    prev_high = (df["high"] * df["adj_factor"]).groupby(df["code"]).transform(
        lambda s: s.shift(1).rolling(20, min_periods=20).max())
    breakout = (hfq > prev_high) & (vr >= 1.5)
    assert (df["is_breakout"] == breakout.fillna(False)).all()
    # every comparison of dif, dea and macd goes through macd_cross_epsilon (closer = equal)
    eps = dbt_vars()["macd_cross_epsilon"]
    prev_dif, prev_dea, prev_macd = (g[c].shift(1) for c in ("dif", "dea", "macd"))
    golden = (df["dif"] - df["dea"] > eps) & (prev_dif - prev_dea <= eps)
    dead = (df["dea"] - df["dif"] > eps) & (prev_dea - prev_dif <= eps)
    assert (df["golden_cross"] == golden).all() and (df["dead_cross"] == dead).all()
    recent = golden.astype(int).groupby(df["code"]).transform(lambda s: s.rolling(3, min_periods=1).max()) == 1
    rising = df["macd"] - prev_macd > eps
    pts = {k.removeprefix("technical_points_"): v for k, v in dbt_vars().items() if k.startswith("technical_points_")}
    score = (pts["dif_above_dea"] * (df["dif"] - df["dea"] > eps) + pts["golden_cross"] * recent
             + pts["macd_rising"] * rising + pts["dif_positive"] * (df["dif"] > eps)
             + pts["volume_active"] * (vr >= 1.2) + pts["volume_surge"] * (vr >= 2.0)
             + pts["breakout"] * breakout.fillna(False))
    np.testing.assert_allclose(df["technical_score"], score, atol=1e-12)
    assert df["technical_score"].between(0, 10).all()
    # close_adj: the forward-adjusted close as of its own day is the day's close
    assert (df["close_adj"] == df["close"]).all()
    assert df["golden_cross"].sum() > 20 and df["is_breakout"].sum() > 5


def test_composite_is_the_weighted_mean_and_eligibility_follows_the_rule(sample_duck):
    s = _scores(sample_duck)
    # The rule uses the ST flag of each day (raw.stock_name_history), never today's raw.stock_info
    # flag, and a list date the source left empty defaults to the first name period's start.
    hist = read(sample_duck, "select code, start_date, is_st as is_st_info from raw.stock_name_history")
    hist["start_date"] = pd.to_datetime(hist["start_date"])
    info = read(sample_duck, "select code, list_date from raw.stock_info")
    first = hist.groupby("code")["start_date"].min()
    info["list_date"] = pd.to_datetime(info["list_date"]).fillna(info["code"].map(first))
    s["trade_date"] = pd.to_datetime(s["trade_date"])
    s = pd.merge_asof(s.sort_values("trade_date"), hist.sort_values("start_date"), left_on="trade_date",
                      right_on="start_date", by="code").merge(info, on="code")
    parts = s[["industry_score", "valuation_score", "technical_score", "chip_score"]]
    np.testing.assert_allclose(s["composite_score"], parts.mean(axis=1), atol=1e-12)
    for c in ["composite_score", *parts.columns]:
        assert s[c].between(0, 10).all(), c
    eligible = (~s["is_st_info"].astype(bool)) & (s["trade_date"] >= s["list_date"] + pd.Timedelta(days=60)) \
        & (s["bar_seq"] > 26 + 9)
    assert (s["buy_eligible"] == eligible).all()
    assert s["buy_eligible"].any() and not s["buy_eligible"].all()


# -- signals and rotation ---------------------------------------------------------------------
def _offense(settings) -> pd.DataFrame:
    return read(settings, f"select {SIGNAL_COLS} from intermediate.int_offense_signals__chained")


def _quotes(settings) -> pd.DataFrame:
    return read(settings, "select code, trade_date, high, low, pre_close, adj_factor from staging.stg_daily_quote")


def test_offense_signals_follow_the_rules(sample_duck):
    got = _offense(sample_duck)
    want = expected_offense(_scores(sample_duck), _quotes(sample_duck), DEFAULTS)
    assert_frames_close(got, want, ["signal_id"], 1e-9, "int_offense_signals__chained")
    assert set(got["rule"]) >= {"composite_buy", "stop_loss", "take_profit", "score_decay"}


def test_sells_name_their_buy_and_trades_never_overlap(sample_duck):
    sig = _offense(sample_duck)
    buys = sig[sig.kind == "buy"].set_index("signal_id")
    sells = sig[sig.kind == "sell"]
    assert sells["entry_signal_id"].isin(buys.index).all()
    assert sells["entry_signal_id"].is_unique
    for _, s in sells.iterrows():
        b = buys.loc[s.entry_signal_id]
        assert b.code == s.code and b.trade_date < s.trade_date
        # the sell carries its buy's levels: pct arithmetic on the buy's close
        assert s.take_profit == pytest.approx(b.close * 1.15, rel=1e-12)
        assert s.stop_loss == pytest.approx(b.close * 0.92, rel=1e-12)
    for code, g in sig.sort_values(["trade_date", "kind"]).groupby("code"):
        kinds = g["kind"].tolist()
        assert all(k != n for k, n in zip(kinds, kinds[1:])), f"{code}: overlapping buys {kinds}"
        assert kinds[0] == "buy"


def test_signals_table_unions_both_layers(sample_duck):
    sig = read(sample_duck, "select layer, kind, count(*) as n from signals.signals group by 1, 2")
    n = {(r.layer, r.kind): r.n for r in sig.itertuples()}
    off = _offense(sample_duck)
    assert n[("offense", "buy")] == (off.kind == "buy").sum()
    assert n[("offense", "sell")] == (off.kind == "sell").sum()
    assert n.get(("stable", "alert"), 0) > 0


def test_portfolio_targets_follow_the_rotation_rule(sample_duck):
    got = read(sample_duck, "select rebalance_date, code, industry_l1, target_weight from signals.portfolio_targets")
    want = expected_targets(_scores(sample_duck), read(sample_duck, "select * from factors.factor_industry_flow"),
                            read(sample_duck, "select trade_date from staging.stg_trade_calendar"), DEFAULTS)
    assert len(want) > 50
    assert_frames_close(got, want, ["rebalance_date", "code"], 1e-12, "portfolio_targets")


def test_raising_buy_threshold_fires_fewer_and_higher_buys(sample_duck, knob_duck):
    base, raised = _offense(sample_duck), _offense(knob_duck)
    buys = raised[raised.kind == "buy"]
    assert (buys["composite_score"] >= KNOBS["buy_threshold"]).all()
    assert len(buys) < (base.kind == "buy").sum()
    assert (base[base.kind == "buy"]["composite_score"] < KNOBS["buy_threshold"]).any()
    want = expected_offense(_scores(knob_duck), _quotes(knob_duck), KNOBS)
    assert_frames_close(raised, want, ["signal_id"], 1e-9, "int_offense_signals__chained (buy_threshold 6)")


def test_weight_caps_bound_portfolio_targets(sample_duck, knob_duck):
    got = read(knob_duck, "select rebalance_date, code, industry_l1, target_weight from signals.portfolio_targets")
    assert (got["target_weight"] <= KNOBS["max_weight_stock"] + 1e-12).all()
    per_industry = got.groupby(["rebalance_date", "industry_l1"])["target_weight"].sum()
    assert (per_industry <= KNOBS["max_weight_industry"] + 1e-12).all()
    assert (per_industry > KNOBS["max_weight_industry"] - 1e-12).any(), "the industry cap never bound"
    want = expected_targets(_scores(knob_duck), read(knob_duck, "select * from factors.factor_industry_flow"),
                            read(knob_duck, "select trade_date from staging.stg_trade_calendar"), KNOBS)
    assert_frames_close(got, want, ["rebalance_date", "code"], 1e-12, "portfolio_targets (tight caps)")
    base = read(sample_duck, "select rebalance_date, code, target_weight from signals.portfolio_targets")
    assert base["target_weight"].max() > KNOBS["max_weight_stock"]


def test_qmt_signals_are_the_latest_days_offense_orders(knob_duck):
    q = read(knob_duck, "select * from signals.qmt_signals")
    latest = read(knob_duck, "select max(trade_date) as d from signals.factor_scores")["d"][0]
    sig = read(knob_duck, "select signal_id, kind from signals.signals where layer = 'offense' and trade_date = ?",
               [latest.date()])
    assert sorted(q["signal_id"]) == sorted(sig["signal_id"])
    assert (q.loc[q.side == "sell", "target_weight"] == 0).all()
    assert (q.loc[q.side == "buy", "target_weight"] <= KNOBS["max_weight_stock"] + 1e-12).all()


# -- PostgreSQL ------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def sample_pg(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("offense_pg")
    name = create_pg_database("aquant_offense")
    try:
        settings = pg_settings(name)
        with Database(settings) as db:
            ingest_sample(db, CFG, progress=False)
        build(settings, tmp / "target", vars_=DEFAULTS)
        yield settings
    finally:
        drop_pg_database(name)


def _normalise(df: pd.DataFrame) -> pd.DataFrame:
    df = df.copy()
    for c in df.columns:
        if df[c].dtype == object and df[c].map(lambda x: x.__class__.__name__ == "Decimal").any():
            df[c] = df[c].astype(float)
    return df


@pytest.mark.parametrize("table,key", [("signals.factor_scores", ["code", "trade_date"]),
                                       ("signals.signals", ["signal_id"]),
                                       ("signals.portfolio_targets", ["rebalance_date", "code"])])
def test_postgres_build_equals_duckdb(sample_duck, sample_pg, table, key):
    duck = _normalise(read(sample_duck, f"select * from {table}"))
    pg = _normalise(read(sample_pg, f"select * from {table}"))[list(duck.columns)]
    assert len(duck) > 0
    if table == "signals.signals":
        assert set(duck["signal_id"]) == set(pg["signal_id"])
    assert_frames_close(pg, duck, key, 1e-6, f"{table} postgres vs duckdb")

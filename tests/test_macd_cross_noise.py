"""No crossing decision of factor_technical rests on the EMA's rounding noise (issue 15).

DuckDB computes int_macd__recursed by recursion, PostgreSQL (and Spark) in closed form
(macros/ema_closed_form.sql); the two differ by ~1e-14. A flat price makes dif = dea = macd = 0 in
exact arithmetic, so each engine's rounding alone would decide `dif > dea`, the golden and dead
crosses, the rising histogram and `dif > 0` (tests/test_spine.py once found 2 of 2,821 technical
scores 5.5 points apart between the engines). factor_technical compares through
macd_cross_epsilon instead. A hand-made market of flat prices (a stagnant stock, a new listing
that opens flat, a stock that moves and then stays limit-locked) is built on both engines: the raw
numbers differ between them at the noise level, and every flag and score must not.
"""
from __future__ import annotations

from datetime import date

import numpy as np
import pandas as pd
import pytest

from aquant.db import Database
from aquant.extract.sample import sessions

from conftest import create_pg_database, drop_pg_database, duck_settings, pg_settings
from test_offense_support import DEFAULTS, build_selected, load_tables, read

pytestmark = [pytest.mark.postgres, pytest.mark.slow]

DAYS = sessions(date(2023, 1, 3), date(2023, 9, 28))
N = len(DAYS)
# flat from the first bar to the last, at prices whose EMA steps round (a x + (1 - a) x != x)
FLAT = {"600201.SH": 7.31, "600202.SH": 13.57, "600203.SH": 88.88, "600204.SH": 1234.56, "000201.SZ": 3.33}
LISTED_FLAT, LOCKED = "300201.SZ", "600205.SH"
FLAT_OPEN_BARS = 12       # the new listing trades flat for its first bars, then moves
LOCK_FROM = 40            # LOCKED moves until this bar, then closes at the same price every day
VARS = {**DEFAULTS, "macd_cross_epsilon": 1e-9}


def _closes() -> dict[str, np.ndarray]:
    i = np.arange(N)
    out = {code: np.full(N, p) for code, p in FLAT.items()}
    wave = 1 + 0.03 * np.sin(i / 5) + 0.002 * i
    out[LISTED_FLAT] = np.round(np.where(i < FLAT_OPEN_BARS, 21.7, 21.7 * wave), 2)
    out[LOCKED] = np.round(np.where(i < LOCK_FROM, 9.9 * wave, 9.9 * wave[LOCK_FROM - 1]), 2)
    return out


def market() -> dict[str, pd.DataFrame]:
    cal_days = pd.date_range(DAYS[0], DAYS[-1], freq="D")
    calendar = pd.DataFrame({"trade_date": cal_days.date, "is_open": cal_days.isin(DAYS)})
    closes = _closes()
    codes = list(closes)
    info = pd.DataFrame({"code": codes, "name": [f"F{k}" for k in range(len(codes))],
                         "exchange": [c[-2:] for c in codes],
                         "board": ["chinext" if c.startswith("300") else "main" for c in codes],
                         "industry_l1": "银行", "industry_l2": "x",
                         "list_date": [DAYS[0].date() if c == LISTED_FLAT else date(2010, 1, 4) for c in codes],
                         "is_st": False, "total_shares": 1.2e8, "float_shares": 1e8})
    rows = []
    for code, close in closes.items():
        pre = np.concatenate([[close[0]], close[:-1]])
        for i in range(N):
            c, pc = float(close[i]), float(pre[i])
            rows.append({"code": code, "trade_date": DAYS[i].date(), "open": pc, "high": max(c, pc),
                         "low": min(c, pc), "close": c, "pre_close": pc, "volume": 1e6, "amount": 1e6 * c,
                         "turnover_rate": 1.0, "adj_factor": 1.0, "pe_ttm": 10.0, "pb": 1.0,
                         "total_mv": c * 1.2e8, "circ_mv": c * 1e8})
    return {"trade_calendar": calendar, "stock_info": info, "daily_quote": pd.DataFrame(rows)}


@pytest.fixture(scope="module")
def engines(tmp_path_factory):
    """factor_technical of the same market on DuckDB (recursion) and PostgreSQL (closed form)."""
    tmp = tmp_path_factory.mktemp("macd_noise")
    duck = duck_settings(tmp / "w.duckdb")
    with Database(duck) as db:
        load_tables(db, market(), "test")
    build_selected(duck, tmp / "t_duck", ["+factor_technical"], vars_=VARS)
    name = create_pg_database("aquant_macd_noise")
    try:
        pg = pg_settings(name)
        with Database(pg) as db:
            load_tables(db, market(), "test")
        build_selected(pg, tmp / "t_pg", ["+factor_technical"], vars_=VARS)
        q = "select * from factors.factor_technical order by code, trade_date"
        yield read(duck, q), read(pg, q)
    finally:
        drop_pg_database(name)


def _flat_rows(t: pd.DataFrame) -> pd.Series:
    """Rows whose MACD is 0 in exact arithmetic: the flat stocks, the flat opening, the locked tail
    once its EMAs have converged (LOCKED's first flat bars still carry the earlier moves)."""
    bar = t.groupby("code").cumcount()
    return (t["code"].isin(list(FLAT)) | ((t["code"] == LISTED_FLAT) & (bar < FLAT_OPEN_BARS)))


def test_the_engines_differ_at_the_noise_level_where_macd_is_zero(engines):
    """The premise: both engines give ~0 there, but not the same bits, and the bare comparisons
    `dif > dea`, `dif > 0` would disagree between them on some rows."""
    duck, pg = engines
    assert len(duck) == len(pg) == N * (len(FLAT) + 2)
    flat = _flat_rows(duck)
    for t in (duck, pg):
        assert t.loc[flat, ["dif", "dea", "macd"]].abs().to_numpy().max() < 1e-12
    bare = [(t["dif"] > t["dea"]) | (t["dif"] > 0) | (t["dif"] < t["dea"]) for t in (duck, pg)]
    assert (bare[0] != bare[1])[flat].any(), "no noise to decide on: the market no longer tests anything"


@pytest.mark.parametrize("column", ["golden_cross", "dead_cross", "macd_rising", "is_breakout", "technical_score"])
def test_flags_and_scores_are_identical_on_both_engines(engines, column):
    duck, pg = engines
    assert (duck[["code", "trade_date"]] == pg[["code", "trade_date"]]).all().all()
    a, b = duck[column], pg[column]
    if column == "technical_score":
        a, b = a.astype(float), b.astype(float)
    bad = duck.loc[a != b, ["code", "trade_date"]]
    assert bad.empty, (f"{column} differs between DuckDB and PostgreSQL on {len(bad)} rows, "
                       f"e.g. {bad.head(3).to_dict('records')}")


def test_a_flat_price_earns_no_macd_points_and_no_cross(engines):
    """Constant volume gives volume ratio 1 (no volume points), so a flat row scores 0."""
    for t in engines:
        flat = t[_flat_rows(t)]
        assert not flat[["golden_cross", "dead_cross", "macd_rising"]].any().any()
        assert (flat["technical_score"].astype(float) == 0).all()
    # the moves themselves still cross: the test market is not flat everywhere
    duck = engines[0]
    assert duck.loc[duck["code"] == LISTED_FLAT, "golden_cross"].any()
    assert duck.loc[duck["code"] == LOCKED, "dead_cross"].any()

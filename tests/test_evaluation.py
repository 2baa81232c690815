"""Factor evaluation layer (models/evaluation) on the sample market, against alphalens.

The sample market (12 stocks, 2021-01-04 .. 2023-12-29: ex-dates, suspensions, an IPO, ST
stocks, limit days) is loaded through the real loader up to D, built (`+eval_*`), then the last
ten sessions are loaded and the same selection builds incrementally, as a daily run would. That
incremental database is what every cross-check reads; a byte copy rebuilt with --full-refresh must
equal it, and a PostgreSQL build of the whole market must equal the full DuckDB build.

References (alphalens-reloaded 0.5.1, whose source is what the docstrings below restate):
- forward returns: alphalens.utils.compute_forward_returns on the back-adjusted closes laid on the
  exchange calendar (prices.ffill().pct_change(h).shift(-h): a suspended stock is carried at its
  last close, as our eval_forward_returns documents);
- rank IC: alphalens.performance.factor_information_coefficient (scipy.stats.spearmanr per date);
- quantile returns: alphalens.performance.mean_return_by_quantile(by_date=True, demeaned=False);
- turnover: alphalens.performance.quantile_turnover(period=h);
- quantile buckets: pandas rank(method='average') and the documented ceil(Q x rank / n) (alphalens
  buckets with pd.qcut, which cannot place tied discrete scores; ours keeps ties together);
- summaries: pandas mean / std(ddof=1) of the daily tables.
"""
from __future__ import annotations

from datetime import date
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from alphalens import performance as al_perf, utils as al_utils

from aquant.db import Database
from aquant.extract.sample import SampleConfig

from conftest import create_pg_database, drop_pg_database, duck_settings, pg_settings
from test_offense_support import (
    DEFAULTS,
    assert_frames_close,
    build_selected,
    copy_duck,
    load_tables,
    read,
    sample_tables,
)

CFG = SampleConfig(n_stocks=12, start=date(2021, 1, 4), end=date(2023, 12, 29))
D = date(2023, 12, 15)  # the first build stops here; the incremental one adds 2023-12-18 .. 12-29
# Pinned so a change of the project's defaults does not silently change what these tests prove.
EVAL_VARS = {"eval_horizons": [1, 5, 20], "eval_quantiles": 5, "eval_min_stocks": 5, "eval_eligible_only": True,
             "eval_factors": ["industry_score", "valuation_score", "technical_score", "chip_score", "composite_score"]}
VARS = {**DEFAULTS, **EVAL_VARS}
HORIZONS, Q = EVAL_VARS["eval_horizons"], EVAL_VARS["eval_quantiles"]
SELECT = ["+eval_factor_summary", "+eval_quantile_summary"]
TABLES = {"eval_forward_returns": ["code", "trade_date", "horizon"],
          "eval_factor_quantiles": ["code", "trade_date", "factor"],
          "eval_ic_daily": ["trade_date", "factor", "horizon"],
          "eval_quantile_returns_daily": ["trade_date", "factor", "horizon", "quantile"],
          "eval_turnover_daily": ["trade_date", "factor", "horizon", "quantile"],
          "eval_factor_summary": ["factor", "horizon"],
          "eval_quantile_summary": ["factor", "horizon", "quantile"]}


def assert_evaluation_tests_passed(target: Path) -> None:
    """The evaluation layer's data tests only warn in dbt (research must not stop the daily job's
    export), so a build that exits 0 is not enough: every one of them must have passed."""
    import json

    results = json.loads((target / "run_results.json").read_text())["results"]
    ev = [r for r in results if r["unique_id"].startswith("test.") and "eval_" in r["unique_id"]]
    assert len(ev) > 50, f"only {len(ev)} evaluation data tests ran"
    bad = [(r["unique_id"], r["status"], r.get("message")) for r in ev if r["status"] != "pass"]
    assert not bad, bad


@pytest.fixture(scope="module")
def builds(tmp_path_factory):
    """(incremental, full-refresh) DuckDB builds of the same market."""
    tmp = tmp_path_factory.mktemp("evaluation")
    inc = duck_settings(tmp / "incremental.duckdb")
    with Database(inc) as db:
        load_tables(db, sample_tables(CFG, until=D))
    build_selected(inc, tmp / "t1", SELECT, vars_=VARS)
    with Database(inc) as db:
        load_tables(db, sample_tables(CFG))
    build_selected(inc, tmp / "t2", SELECT, vars_=VARS)
    full = copy_duck(inc, tmp / "full.duckdb")
    build_selected(full, tmp / "t3", SELECT, vars_=VARS, full_refresh=True)
    for t in ("t1", "t2", "t3"):
        assert_evaluation_tests_passed(tmp / t)
    return inc, full


@pytest.fixture(scope="module")
def duck(builds):
    return builds[0]


def _ev(settings, table: str) -> pd.DataFrame:
    return read(settings, f"select * from evaluation.{table}")


@pytest.fixture(scope="module")
def tables(duck) -> dict[str, pd.DataFrame]:
    return {t: _ev(duck, t) for t in TABLES}


@pytest.fixture(scope="module")
def prices(duck) -> pd.DataFrame:
    """Back-adjusted closes, one column per stock, one row per exchange session up to the last bar."""
    bars = read(duck, "select code, trade_date, close_hfq from staging.stg_daily_quote_base")
    sessions = read(duck, "select trade_date from staging.stg_trade_calendar where trade_date <= "
                          "(select max(trade_date) from staging.stg_daily_quote_base) order by trade_date")
    wide = bars.pivot(index="trade_date", columns="code", values="close_hfq")
    return wide.reindex(pd.DatetimeIndex(sessions["trade_date"], name="date"))


def _factor_data(tables: dict[str, pd.DataFrame], factor: str) -> pd.DataFrame:
    """alphalens' factor_data layout: (date, asset) -> '1D', '5D', '20D', factor, factor_quantile, from
    our tables (a horizon whose exit session is not loaded yet is NaN, as in alphalens)."""
    q = tables["eval_factor_quantiles"].query("factor == @factor")
    f = tables["eval_forward_returns"].pivot(index=["trade_date", "code"], columns="horizon", values="fwd_return")
    f.columns = [f"{h}D" for h in f.columns]
    m = q.merge(f.reset_index(), on=["code", "trade_date"], how="left")
    fd = m[[f"{h}D" for h in HORIZONS]].assign(factor=m["score"].to_numpy(),
                                                factor_quantile=m["quantile"].astype(int).to_numpy())
    fd.index = pd.MultiIndex.from_arrays([m["trade_date"], m["code"]], names=["date", "asset"])
    return fd.sort_index()


@pytest.fixture(scope="module")
def alphalens_ic(tables) -> dict[str, pd.DataFrame]:
    """factor -> alphalens' daily IC, one column per horizon."""
    return {f: al_perf.factor_information_coefficient(_factor_data(tables, f)) for f in EVAL_VARS["eval_factors"]}


@pytest.fixture(scope="module")
def alphalens_quantile_returns(tables) -> dict[str, pd.DataFrame]:
    """factor -> alphalens' mean return by quantile and date, one column per horizon."""
    return {f: al_perf.mean_return_by_quantile(_factor_data(tables, f), by_date=True, demeaned=False)[0]
            for f in EVAL_VARS["eval_factors"]}


# -- the builds ------------------------------------------------------------------------------
def test_second_build_added_the_new_days_for_every_horizon(tables):
    fwd = tables["eval_forward_returns"]
    last = fwd.groupby("horizon")["exit_date"].max()
    assert (last == pd.Timestamp(CFG.end)).all(), last  # every horizon reaches the last loaded session
    ic = tables["eval_ic_daily"]
    assert (ic.trade_date > pd.Timestamp(D)).any()


@pytest.mark.parametrize("table", list(TABLES))
def test_incremental_equals_full_refresh(builds, table):
    inc, full = builds
    a, b = _ev(inc, table), _ev(full, table)
    assert len(a) >= len(EVAL_VARS["eval_factors"]) * len(HORIZONS)
    assert_frames_close(a, b[list(a.columns)], TABLES[table], 1e-9, f"{table} incremental vs full")


# -- forward returns -----------------------------------------------------------------------------
def test_forward_returns_equal_alphalens_compute_forward_returns(tables, prices):
    fwd = tables["eval_forward_returns"]
    bars = prices.stack().dropna().rename("close").reset_index()  # columns date, code, close
    factor = pd.Series(1.0, index=pd.MultiIndex.from_arrays([bars["date"], bars["code"]], names=["date", "asset"]))
    ref = al_utils.compute_forward_returns(factor, prices, periods=tuple(HORIZONS))
    assert len(ref.columns) == len(HORIZONS)
    for col, h in zip(ref.columns, HORIZONS):
        r = ref[col].dropna().rename("ref").reset_index()
        ours = fwd.query("horizon == @h")[["trade_date", "code", "fwd_return"]]
        m = r.merge(ours, left_on=["date", "asset"], right_on=["trade_date", "code"], how="outer", indicator=True)
        assert (m["_merge"] == "both").all(), f"h={h}: rows only on one side: {m[m._merge != 'both'].head()}"
        assert np.allclose(m["fwd_return"], m["ref"], rtol=0, atol=1e-12), f"h={h}"


def test_a_suspended_exit_is_carried_at_the_last_close(tables, duck):
    fwd = tables["eval_forward_returns"]
    susp = fwd[fwd.exit_suspended]
    assert len(susp) > 10, "the sample market has suspensions; some exit session must fall in one"
    bars = read(duck, "select code, trade_date, close_hfq from staging.stg_daily_quote_base")
    have = set(zip(bars.code, bars.trade_date))
    for row in susp.sample(10, random_state=1).itertuples():
        assert (row.code, row.exit_date) not in have  # no bar on the exit session
        own = bars[(bars.code == row.code) & (bars.trade_date < row.exit_date)]
        last = own.loc[own.trade_date.idxmax()]
        assert last.trade_date == row.exit_bar_date
        assert row.fwd_return == pytest.approx(last.close_hfq / row.entry_close_hfq - 1, abs=1e-12)


# -- quantile buckets ----------------------------------------------------------------------------
def test_buckets_are_the_average_rank_rule_on_buy_eligible_rows(tables, duck):
    scores = read(duck, "select * from signals.factor_scores where buy_eligible")
    got = tables["eval_factor_quantiles"]
    for factor in EVAL_VARS["eval_factors"]:
        s = scores[["code", "trade_date", factor]].dropna().rename(columns={factor: "score"})
        n = s.groupby("trade_date")["score"].transform("size")
        s = s[n >= EVAL_VARS["eval_min_stocks"]].copy()
        rank = s.groupby("trade_date")["score"].rank(method="average")
        s["expected"] = np.ceil(Q * rank / s.groupby("trade_date")["score"].transform("size")).astype(int)
        g = got.query("factor == @factor").merge(s, on=["code", "trade_date"], how="outer", indicator=True)
        assert (g["_merge"] == "both").all(), factor
        assert (g["quantile"] == g["expected"]).all(), factor
        assert (g["score_x"] == g["score_y"]).all(), factor
    # tied scores share a bucket, so the top bucket really holds the highest scores
    top = got[got["quantile"] == Q].groupby(["trade_date", "factor"])["score"].min()
    rest = got[got["quantile"] < Q].groupby(["trade_date", "factor"])["score"].max()
    both = pd.concat([top, rest], axis=1, keys=["top_min", "rest_max"]).dropna()
    assert (both.top_min > both.rest_max).all()


# -- IC, quantile returns, turnover against alphalens -------------------------------------------
def _assert_ic_equals(ic: pd.DataFrame, factor: str, ref: pd.Series, min_days: int = 600) -> None:
    """Our daily rank_ic of one factor and horizon against alphalens' column for it."""
    ours = ic.query("factor == @factor").set_index("trade_date")["rank_ic"].sort_index()
    ref = ref[ref.index.isin(ours.index) | ref.notna()]  # alphalens keeps the days with no return yet as NaN
    assert list(ours.index) == list(ref.index), factor
    assert (ours.isna().to_numpy() == ref.isna().to_numpy()).all(), factor  # null where spearmanr is undefined
    assert np.allclose(ours.dropna(), ref.dropna(), rtol=0, atol=1e-9), factor
    assert ours.notna().sum() > min_days


@pytest.mark.parametrize("horizon", HORIZONS)
def test_rank_ic_equals_alphalens(tables, alphalens_ic, horizon):
    ic = tables["eval_ic_daily"].query("horizon == @horizon")
    for factor in EVAL_VARS["eval_factors"]:
        _assert_ic_equals(ic, factor, alphalens_ic[factor][f"{horizon}D"])


# eval_ic_daily ranks the returns once per day over every stock in some factor's universe and
# re-ranks only a factor whose universe that day is smaller (its exact path). The sample's five
# scores are non-null for the same stocks, so this rebuild also evaluates a score blanked on every
# third bar of each stock: its universe is a strict part of the day's stocks on most days.
PARTIAL = "case when bar_seq % 3 <> 0 then technical_score end"


@pytest.fixture(scope="module")
def partial_tables(builds, tmp_path_factory) -> dict[str, pd.DataFrame]:
    tmp = tmp_path_factory.mktemp("partial")
    db = copy_duck(builds[1], tmp / "partial.duckdb")
    build_selected(db, tmp / "target", ["eval_factor_quantiles", "eval_forward_returns", "eval_ic_daily"],
                   vars_={**VARS, "eval_factors": ["composite_score", PARTIAL]}, full_refresh=True)
    return {t: _ev(db, t) for t in ("eval_factor_quantiles", "eval_forward_returns", "eval_ic_daily")}


@pytest.mark.parametrize("horizon", HORIZONS)
def test_rank_ic_of_a_factor_with_a_smaller_universe_equals_alphalens(partial_tables, horizon):
    n = partial_tables["eval_factor_quantiles"].groupby(["trade_date", "factor"]).size().unstack()
    # the exact path on most days (on the others, every third bar of all 12 stocks falls together)
    assert (n[PARTIAL] < n["composite_score"]).mean() > 0.5
    ic = partial_tables["eval_ic_daily"].query("horizon == @horizon")
    for factor in ["composite_score", PARTIAL]:
        ref = al_perf.factor_information_coefficient(_factor_data(partial_tables, factor))[f"{horizon}D"]
        _assert_ic_equals(ic, factor, ref, min_days=400)


@pytest.mark.parametrize("horizon", HORIZONS)
def test_quantile_returns_equal_alphalens(tables, alphalens_quantile_returns, horizon):
    qr = tables["eval_quantile_returns_daily"].query("horizon == @horizon")
    for factor in EVAL_VARS["eval_factors"]:
        ref = alphalens_quantile_returns[factor][f"{horizon}D"].dropna().rename("ref").reset_index()
        m = qr.query("factor == @factor").merge(ref, left_on=["quantile", "trade_date"],
                                                right_on=["factor_quantile", "date"], how="outer", indicator=True)
        assert (m["_merge"] == "both").all(), factor
        assert np.allclose(m["mean_return"], m["ref"], rtol=0, atol=1e-12), factor


def _sessions(prices: pd.DataFrame) -> pd.Series:
    return pd.Series(np.arange(len(prices.index)), index=prices.index)


@pytest.mark.parametrize("horizon", HORIZONS)
def test_turnover_is_the_share_of_new_bucket_members(tables, prices, horizon):
    """pandas restatement over every row: members of (factor, bucket) on t absent from it on the
    session t - h, over members on t; only days whose session t - h has buckets of the factor."""
    session = _sessions(prices)
    tq = tables["eval_factor_quantiles"].assign(s=lambda d: session[d.trade_date].to_numpy())
    prev = tq[["code", "factor", "quantile", "s"]].assign(s=lambda d: d.s + horizon, was=1)
    m = tq.merge(prev, on=["code", "factor", "quantile", "s"], how="left")
    days_before = set(zip(tq.factor, tq.s + horizon))
    m = m[[(f, s) in days_before for f, s in zip(m.factor, m.s)]]
    ref = (m.assign(new=m.was.isna()).groupby(["trade_date", "factor", "quantile"])
           .agg(ref=("new", "mean"), n=("new", "size")).reset_index())
    ours = tables["eval_turnover_daily"].query("horizon == @horizon")
    j = ours.merge(ref, on=["trade_date", "factor", "quantile"], how="outer", indicator=True)
    assert (j["_merge"] == "both").all()
    assert (j.n_stocks == j.n).all()
    assert np.allclose(j.turnover, j.ref, rtol=0, atol=1e-12)


@pytest.mark.parametrize("horizon", HORIZONS)
def test_turnover_equals_alphalens_quantile_turnover(tables, prices, horizon):
    """alphalens shifts by h observed dates of the bucket; where those are the h previous sessions
    (the bucket was not empty on any session between, which with 12 stocks and tied scores is
    most but not all days) the two definitions coincide and must agree."""
    session = _sessions(prices)
    tq = tables["eval_factor_quantiles"]
    ours = tables["eval_turnover_daily"].query("horizon == @horizon")
    compared = 0
    for factor in EVAL_VARS["eval_factors"]:
        f = tq.query("factor == @factor")
        qf = pd.Series(f["quantile"].to_numpy(), index=pd.MultiIndex.from_arrays(
            [f["trade_date"], f["code"]], names=["date", "asset"])).sort_index()
        for q in range(1, Q + 1):
            ref = al_perf.quantile_turnover(qf, q, period=horizon)
            dates = pd.DatetimeIndex(qf[qf == q].index.get_level_values("date").unique()).sort_values()
            prev = pd.Series(dates, index=dates).shift(horizon)
            aligned = prev.dropna()
            aligned = aligned[session[aligned.index].to_numpy() - session[aligned.to_numpy()].to_numpy() == horizon]
            o = ours.query("factor == @factor and quantile == @q").set_index("trade_date")["turnover"]
            common = aligned.index.intersection(o.index)
            assert np.allclose(o[common], ref[common], rtol=0, atol=1e-12), (factor, q)
            compared += len(common)
    assert compared > 0.75 * len(ours), f"compared {compared} of {len(ours)} turnover rows"


# -- summaries -----------------------------------------------------------------------------------
def test_factor_summary_is_the_documented_statistics(tables):
    ic, qr, to = tables["eval_ic_daily"], tables["eval_quantile_returns_daily"], tables["eval_turnover_daily"]
    summary = tables["eval_factor_summary"].set_index(["factor", "horizon"])
    assert len(summary) == len(EVAL_VARS["eval_factors"]) * len(HORIZONS)
    for (factor, h), row in summary.iterrows():
        x = ic.query("factor == @factor and horizon == @h")["rank_ic"].dropna()
        assert row.n_days == len(x)
        assert row.ic_mean == pytest.approx(x.mean(), abs=1e-12)
        assert row.ic_std == pytest.approx(x.std(ddof=1), abs=1e-12)
        assert row.icir == pytest.approx(x.mean() / x.std(ddof=1), abs=1e-9)
        assert row.ic_t_stat == pytest.approx(x.mean() / x.std(ddof=1) * np.sqrt(len(x)), abs=1e-9)
        assert row.ic_positive_share == pytest.approx((x > 0).mean(), abs=1e-12)
        w = qr.query("factor == @factor and horizon == @h").pivot(index="trade_date", columns="quantile",
                                                                  values="mean_return")
        spread = (w[Q] - w[1]).dropna()
        assert row.spread_mean == pytest.approx(spread.mean(), abs=1e-12)
        t = to.query("factor == @factor and horizon == @h")
        assert row.top_turnover == pytest.approx(t[t["quantile"] == Q].turnover.mean(), abs=1e-12)
        assert row.bottom_turnover == pytest.approx(t[t["quantile"] == 1].turnover.mean(), abs=1e-12)


def test_quantile_summary_is_the_mean_of_daily_bucket_returns(tables):
    qr = tables["eval_quantile_returns_daily"]
    ref = qr.groupby(["factor", "horizon", "quantile"]).agg(mean_return=("mean_return", "mean"),
                                                            n_days=("mean_return", "size"),
                                                            first_date=("trade_date", "min"))
    got = tables["eval_quantile_summary"].set_index(["factor", "horizon", "quantile"]).sort_index()
    assert list(got.index) == list(ref.index)
    assert np.allclose(got.mean_return, ref.mean_return, rtol=0, atol=1e-12)
    assert (got.n_days == ref.n_days).all() and (got.first_date == ref.first_date).all()


# -- PostgreSQL ----------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def pg(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("evaluation_pg")
    name = create_pg_database("aquant_eval")
    try:
        settings = pg_settings(name)
        with Database(settings) as db:
            load_tables(db, sample_tables(CFG))
        build_selected(settings, tmp / "target", SELECT, vars_=VARS)
        assert_evaluation_tests_passed(tmp / "target")
        yield settings
    finally:
        drop_pg_database(name)


def _float(df: pd.DataFrame) -> pd.DataFrame:
    for c in df.columns:
        if df[c].dtype == object and df[c].map(lambda x: x.__class__.__name__ == "Decimal").any():
            df[c] = df[c].astype(float)
    return df


@pytest.mark.parametrize("table", list(TABLES))
def test_postgres_build_equals_duckdb(builds, pg, table):
    full = builds[1]
    a = _float(_ev(full, table))
    b = _float(_ev(pg, table))[list(a.columns)]
    assert len(a) >= len(EVAL_VARS["eval_factors"]) * len(HORIZONS)
    assert_frames_close(b, a, TABLES[table], 1e-9, f"{table} postgres vs duckdb")


# -- the Research page on this build (Streamlit AppTest; the browser test is in test_app_browser.py)
def test_research_page_draws_this_build_with_the_periods(duck, tables, monkeypatch):
    import json as _json

    from streamlit.testing.v1 import AppTest

    monkeypatch.setenv("AQUANT_DB", str(duck.duckdb_path))
    monkeypatch.setenv("AQUANT_TARGET", "duckdb")
    monkeypatch.delenv("AQUANT_APP_USERS", raising=False)
    at = AppTest.from_file(str(Path(__file__).resolve().parents[1] / "app" / "main.py"), default_timeout=60)
    at.run()
    at.switch_page("views/research.py").run()
    assert not at.exception, [e.message for e in at.exception]
    figs = [_json.loads(c.proto.spec) for c in at.get("plotly_chart")]
    titles = [f["layout"]["title"]["text"] for f in figs]
    s = tables["eval_factor_summary"]
    period = f"{s.first_date.min().date()} → {s.last_date.max().date()}"
    assert len(figs) == 3 and any(t.startswith("IC decay") and period in t for t in titles), titles
    ic5 = tables["eval_ic_daily"].query("factor == 'composite_score' and horizon == 5")
    ic_title = next(t for t in titles if t.startswith("Rank IC over time"))
    assert f"{ic5.trade_date.min().date()} → {ic5.trade_date.max().date()}" in ic_title  # default: composite, 5
    decay = next(f for f in figs if f["layout"]["title"]["text"].startswith("IC decay"))
    comp = next(t for t in decay["data"] if t["name"] == "Composite")
    want = s.query("factor == 'composite_score'").sort_values("horizon").ic_mean.tolist()
    assert np.allclose(_plotly_array(comp["y"]), want, atol=1e-12)
    # the sweep section follows the factor figures on the same page (no sweep in this build yet)
    assert "Parameter sweep" in [h.value for h in at.subheader]
    assert any("No sweep recorded yet" in i.value for i in at.info)


def _plotly_array(v) -> np.ndarray:
    """Plotly >= 6 sends numeric arrays as {'dtype', 'bdata' (base64)}; older ones as lists."""
    import base64

    if isinstance(v, dict):
        return np.frombuffer(base64.b64decode(v["bdata"]), dtype=v["dtype"])
    return np.asarray(v, dtype=float)

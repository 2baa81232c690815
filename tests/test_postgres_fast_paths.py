"""PostgreSQL's non-quadratic paths give DuckDB's numbers (issue 15).

- int_macd__recursed on PostgreSQL is the closed-form EMA (macros/ema_closed_form.sql), not the
  recursive CTE DuckDB runs; built to day D and then continued incrementally on PostgreSQL, it must
  equal a DuckDB full build of the same sample market within 1e-9 (the incremental run continues
  each stock's stored EMA state), and factor_technical on top of it must give the same crosses,
  flags and scores exactly: its comparisons go through macd_cross_epsilon, so the ~1e-14 between
  the two EMAs decides nothing (tests/test_macd_cross_noise.py makes that noise on purpose).
- int_offense_signals__chained on PostgreSQL walks each stock's chain with a running aggregate
  (udf.offense_chain_step) and finds exits and next entries with equijoins and a running min
  (macros/offense_chain.sql); built to day D then continued, it must equal DuckDB's full build.
- postgres__rolling_percent_rank keeps a bit string of each frame's value ranks with a moving
  aggregate (udf.rank_bits, created by the on-run-start hook) and counts the set bits below the
  current value's rank, instead of a band self-join or a framed array_agg; factor_valuation (with
  a window short enough to slide on the sample) must equal DuckDB's framed percent_rank, and on a
  hand-made table with ties, short partitions and a window that slides, the macro must equal an
  independent Python percent_rank.
"""
from __future__ import annotations

import json
from datetime import date
from pathlib import Path

import duckdb
import pytest

from aquant.db import Database
from aquant.dbt_runner import run_dbt
from aquant.extract.sample import SampleConfig

from conftest import create_pg_database, drop_pg_database, duck_settings, pg_settings
from test_offense_support import DEFAULTS, assert_frames_close, build_selected, load_tables, read, sample_tables

pytestmark = [pytest.mark.postgres, pytest.mark.slow]

CFG = SampleConfig(n_stocks=12, start=date(2021, 1, 4), end=date(2023, 7, 14))
D = date(2023, 6, 30)
# valuation_window 120 < the ~620 bars per stock, so the percent-rank frame slides; min 30 exercises
# the null for short histories.
VARS = {**DEFAULTS, "valuation_window": 120, "valuation_min_history": 30}
SELECT = ["+factor_valuation", "+factor_technical", "+int_offense_signals__chained"]
TABLES = {"intermediate.int_macd__recursed": ["code", "trade_date"],
          "factors.factor_technical": ["code", "trade_date"],
          "factors.factor_valuation": ["code", "trade_date"],
          # upstream of the chain, continued on PostgreSQL with their new-days filters on both
          # sides of each join (macros/incremental_lookback.sql, new_days_only)
          "factors.factor_chip": ["code", "trade_date"],
          "factors.factor_fund_flow": ["code", "trade_date"],
          "signals.factor_scores": ["code", "trade_date"],
          "intermediate.int_offense_signals__chained": ["signal_id"]}


@pytest.fixture(scope="module")
def builds(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("pg_fast")
    duck = duck_settings(tmp / "full.duckdb")
    with Database(duck) as db:
        load_tables(db, sample_tables(CFG))
    build_selected(duck, tmp / "t_duck", SELECT, vars_=VARS)
    name = create_pg_database("aquant_pgfast")
    try:
        pg = pg_settings(name)
        with Database(pg) as db:
            load_tables(db, sample_tables(CFG, until=D))
        build_selected(pg, tmp / "t_pg1", SELECT, vars_=VARS)
        with Database(pg) as db:
            load_tables(db, sample_tables(CFG))
        build_selected(pg, tmp / "t_pg2", SELECT, vars_=VARS)
        yield pg, duck
    finally:
        drop_pg_database(name)


@pytest.mark.parametrize("table", list(TABLES))
def test_postgres_incremental_equals_duckdb_full(builds, table):
    pg, duck = builds
    a, b = read(pg, f"select * from {table}"), read(duck, f"select * from {table}")
    later = read(pg, f"select count(distinct trade_date) as n from {table} where trade_date > ?", [D])
    if table.endswith("chained"):  # signals: a few a day, and both kinds
        assert later["n"][0] >= 1 and len(a) > 100 and set(a["kind"]) == {"buy", "sell"}
    else:
        assert later["n"][0] == 10  # the incremental run added 2023-07-03 .. 2023-07-14
        assert len(a) > 5000
    assert_frames_close(a[list(b.columns)], b, TABLES[table], 1e-9, f"{table} postgres incremental vs duckdb full")


# -- the macro alone, with ties -------------------------------------------------------------------
ROWS = ([("A", i, v) for i, v in enumerate([5, 5, 3, 5, 1, 1, 7, 5, 5, 2, 2, 2, 9, 0, 5], start=1)]
        + [("B", 1, 4.0)]                                 # one row: below every min_rows
        + [("C", i, 2.5) for i in range(1, 6)]            # all equal: pct 0
        + [("D", 1, 3.0), ("D", 2, 1.0), ("D", 3, 3.0)])  # shorter than the window
WINDOW, MIN_ROWS = 4, 3


def _reference() -> dict[tuple[str, int], float | None]:
    """percent_rank over the last WINDOW rows: smaller values / (frame rows - 1), null below MIN_ROWS."""
    out = {}
    for code in sorted({r[0] for r in ROWS}):
        vals = [(d, v) for c, d, v in ROWS if c == code]
        for k, (d, v) in enumerate(vals):
            frame = [x for _, x in vals[max(0, k - WINDOW + 1):k + 1]]
            out[(code, d)] = (sum(x < v for x in frame) / (len(frame) - 1)) if len(frame) >= max(MIN_ROWS, 2) else None
    return out


def _compiled(settings, tmp: Path, sql: str | None = None) -> str:
    sql = sql or f"{{{{ rolling_percent_rank('t', 'code', 'd', 'v', {WINDOW}, {MIN_ROWS}) }}}}"
    res = run_dbt(settings, ["compile", "--inline", sql], quiet=True, target_path=str(tmp))
    assert res.returncode == 0
    return json.loads((tmp / "run_results.json").read_text())["results"][0]["compiled_code"]


def test_rolling_percent_rank_with_ties_matches_python_on_both_engines(tmp_path):
    want = _reference()
    assert any(v is None for v in want.values()) and 0 < sum(v == 0 for v in want.values())
    duck_sql = _compiled(duck_settings(tmp_path / "c.duckdb"), tmp_path / "t_duck")
    assert "percent_rank" in duck_sql
    con = duckdb.connect()
    con.execute("create table t (code varchar, d integer, v double)")
    con.executemany("insert into t values (?, ?, ?)", ROWS)
    duck_got = {(c, d): p for c, d, p in con.execute(duck_sql).fetchall()}
    name = create_pg_database("aquant_pgfast_rank")
    try:
        pg = pg_settings(name)
        pg_sql = _compiled(pg, tmp_path / "t_pg")
        assert "rank_bits" in pg_sql
        with Database(pg) as db:
            # what the on-run-start hook runs (`dbt compile` runs no hooks)
            db.execute(_compiled(pg, tmp_path / "t_udf", "{{ create_udfs() }}"))
            db.execute("create table t (code varchar, d integer, v double precision)")
            for r in ROWS:
                db.execute("insert into t values (?, ?, ?)", list(r))
            pg_got = {(c, d): p for c, d, p in db.query(pg_sql)}
    finally:
        drop_pg_database(name)
    assert duck_got.keys() == pg_got.keys() == want.keys()
    for k, v in want.items():
        assert (pg_got[k] is None) == (v is None) == (duck_got[k] is None), k
        if v is not None:
            assert pg_got[k] == pytest.approx(v, abs=1e-15) and duck_got[k] == pytest.approx(v, abs=1e-15), k


# -- the offense macros alone: exits shared by two trades, a candidate on an exit bar, open trades --
CANDIDATES = [("A", s) for s in (1, 3, 5, 8, 9, 12)] + [("B", 2)] + [("C", 2), ("C", 4)]
EXITS = [("A", 1, 5), ("A", 3, 5), ("A", 5, 7), ("A", 9, 11), ("A", 12, 15), ("C", 2, 3), ("C", 4, 6)]
# first candidate after each exit (a candidate on the exit bar itself is not after it)
WANT_TRADES = {("A", 1): 8, ("A", 3): 8, ("A", 5): 8, ("A", 8): None, ("A", 9): 12, ("A", 12): None,
               ("B", 2): None, ("C", 2): 4, ("C", 4): None}
WANT_CHAIN = {("A", 1), ("A", 8), ("B", 2), ("C", 2), ("C", 4)}
OFFENSE_SQL = ("with recursive trades as ({{ offense_trades('candidates', 'exit_hits') }}), "
               "chain (code, entry_seq, next_entry_seq) as ({{ offense_chain('trades', 'candidates') }}) "
               "select t.code, t.entry_seq, t.next_entry_seq, ch.entry_seq is not null as taken "
               "from trades as t left join chain as ch on ch.code = t.code and ch.entry_seq = t.entry_seq")
OFFENSE_DDL = ["create table candidates (code varchar, entry_seq bigint)",
               "create table exit_hits (code varchar, entry_seq bigint, bar_seq bigint, trade_date date, "
               "close double precision, composite_score double precision, exit_rule varchar, hit_rank bigint)"]


def _offense_rows(run) -> tuple[dict, set]:  # noqa: ANN001 - run(sql) -> rows
    rows = run()
    return {(c, e): n for c, e, n, _ in rows}, {(c, e) for c, e, _, taken in rows if taken}


def test_offense_trades_and_chain_match_on_both_engines(tmp_path):
    duck_sql = _compiled(duck_settings(tmp_path / "o.duckdb"), tmp_path / "o_duck", OFFENSE_SQL)
    con = duckdb.connect()
    for ddl in OFFENSE_DDL:
        con.execute(ddl)
    con.executemany("insert into candidates values (?, ?)", CANDIDATES)
    con.executemany("insert into exit_hits values (?, ?, ?, date '2024-01-02', 1.0, 50.0, 'time_exit', 1)", EXITS)
    duck_trades, duck_chain = _offense_rows(lambda: con.execute(duck_sql).fetchall())
    name = create_pg_database("aquant_pgfast_offense")
    try:
        pg = pg_settings(name)
        pg_sql = _compiled(pg, tmp_path / "o_pg", OFFENSE_SQL)
        assert "offense_chain_step" in pg_sql and "from chain" not in pg_sql
        with Database(pg) as db:
            db.execute(_compiled(pg, tmp_path / "o_udf", "{{ create_udfs() }}"))
            for ddl in OFFENSE_DDL:
                db.execute(ddl)
            for r in CANDIDATES:
                db.execute("insert into candidates values (?, ?)", list(r))
            for r in EXITS:
                db.execute("insert into exit_hits values (?, ?, ?, date '2024-01-02', 1.0, 50.0, 'time_exit', 1)",
                           list(r))
            pg_trades, pg_chain = _offense_rows(lambda: db.query(pg_sql))
    finally:
        drop_pg_database(name)
    assert duck_trades == pg_trades == WANT_TRADES
    assert duck_chain == pg_chain == WANT_CHAIN

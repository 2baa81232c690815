"""PostgreSQL's non-quadratic paths give DuckDB's numbers (issue 15).

- int_macd__recursed on PostgreSQL is the closed-form EMA (macros/ema_closed_form.sql), not the
  recursive CTE DuckDB runs; built to day D and then continued incrementally on PostgreSQL, it must
  equal a DuckDB full build of the same sample market within 1e-9 (the incremental run continues
  each stock's stored EMA state).
"""
from __future__ import annotations

from datetime import date

import pytest

from aquant.db import Database
from aquant.extract.sample import SampleConfig

from conftest import create_pg_database, drop_pg_database, duck_settings, pg_settings
from test_offense_support import DEFAULTS, assert_frames_close, build_selected, load_tables, read, sample_tables

pytestmark = [pytest.mark.postgres, pytest.mark.slow]

CFG = SampleConfig(n_stocks=12, start=date(2021, 1, 4), end=date(2023, 7, 14))
D = date(2023, 6, 30)
VARS = DEFAULTS
SELECT = ["+int_macd__recursed"]
TABLES = {"intermediate.int_macd__recursed": ["code", "trade_date"]}


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
    assert later["n"][0] == 10  # the incremental run added 2023-07-03 .. 2023-07-14
    assert len(a) > 5000
    assert_frames_close(a[list(b.columns)], b, TABLES[table], 1e-9, f"{table} postgres incremental vs duckdb full")

"""Shared fixtures: a real DuckDB file per test, a real PostgreSQL database per test session.

PostgreSQL tests use a database of their own (created here, dropped afterwards) on the server
at 127.0.0.1:5432 that every development and CI machine runs; when it is down they fail loudly
rather than skip, because CI must prove both targets.
"""
from __future__ import annotations

import os
import uuid
from pathlib import Path

import pytest

from aquant.config import Settings

ROOT = Path(__file__).resolve().parents[1]
PG = {"host": os.environ.get("AQUANT_TEST_PGHOST", "127.0.0.1"), "port": "5432", "user": "postgres",
      "password": "", "dbname": "postgres"}


def pytest_configure(config) -> None:
    """Under pytest-xdist (scripts/test.sh runs two workers) each worker builds into its own dbt
    target folder: a shared target/ would let one worker's build read another's run_results.json."""
    worker = os.environ.get("PYTEST_XDIST_WORKER")
    if worker:
        os.environ["AQUANT_DBT_TARGET_PATH"] = str(ROOT / "target" / f"xdist-{worker}")


def duck_settings(path: Path) -> Settings:
    return Settings(target="duckdb", duckdb_path=path, pg=dict(PG))


def _pg_admin():
    """Admin connection. Without a server: skip on a user's machine, fail in CI (CI=true) or when
    AQUANT_REQUIRE_PG=1, because CI must prove both targets."""
    import psycopg2

    try:
        con = psycopg2.connect(host=PG["host"], port=PG["port"], user=PG["user"], dbname="postgres",
                               connect_timeout=5)
    except psycopg2.OperationalError as exc:
        if os.environ.get("CI") or os.environ.get("AQUANT_REQUIRE_PG"):
            raise
        pytest.skip(f"no PostgreSQL server at {PG['host']}:5432 ({str(exc).strip()})")
    con.autocommit = True
    return con


def create_pg_database(prefix: str = "aquant_test") -> str:
    name = f"{prefix}_{uuid.uuid4().hex[:10]}"
    con = _pg_admin()
    with con.cursor() as cur:
        cur.execute(f'CREATE DATABASE "{name}"')
    con.close()
    return name


def drop_pg_database(name: str) -> None:
    con = _pg_admin()
    with con.cursor() as cur:
        cur.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    con.close()


def pg_settings(dbname: str) -> Settings:
    return Settings(target="postgres", duckdb_path=Path("/nonexistent.duckdb"), pg={**PG, "dbname": dbname})


@pytest.fixture(autouse=True)
def _backups_in_tmp(tmp_path: Path, monkeypatch) -> None:
    """Snapshots of ops.* (aquant backup, the daily job) go to the test's tmp dir, never data/."""
    monkeypatch.setenv("AQUANT_BACKUP_DIR", str(tmp_path / "backups"))


@pytest.fixture
def duck(tmp_path: Path) -> Settings:
    """Settings pointing at a fresh DuckDB file."""
    return duck_settings(tmp_path / "warehouse.duckdb")


@pytest.fixture
def pg_db():
    """Settings pointing at a fresh PostgreSQL database, dropped after the test."""
    name = create_pg_database()
    try:
        yield pg_settings(name)
    finally:
        drop_pg_database(name)


@pytest.fixture(params=["duckdb", "postgres"])
def any_db(request, tmp_path: Path):
    """The same test on both targets."""
    if request.param == "duckdb":
        yield duck_settings(tmp_path / "warehouse.duckdb")
    else:
        name = create_pg_database()
        try:
            yield pg_settings(name)
        finally:
            drop_pg_database(name)

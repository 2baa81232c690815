"""Shared fixtures: a real DuckDB file per test, a real PostgreSQL database per test session.

PostgreSQL tests use a database of their own (created here, dropped afterwards) on the server
at 127.0.0.1:5432 that every development and CI machine runs; when it is down they fail loudly
rather than skip, because CI must prove both targets.
"""
from __future__ import annotations

import json
import os
import uuid
from collections import defaultdict
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


# Seconds each test module took in the last recorded full run, summed over its tests (setup, call,
# teardown). Only the order of the parallel run depends on it: longest modules start first, so the
# two workers finish close together instead of one starting the slowest module last. Refresh it
# with `AQUANT_RECORD_TEST_SECONDS=1 bash scripts/test.sh`; a module not in it counts as slow.
MODULE_SECONDS = Path(__file__).with_name("module_seconds.json")
_UNKNOWN_MODULE_SECONDS = 600.0
_seconds_run: defaultdict[str, float] = defaultdict(float)


def _module(nodeid: str) -> str:
    return nodeid.split("::", 1)[0]


@pytest.hookimpl(tryfirst=True)
def pytest_collection_modifyitems(config, items) -> None:
    """Longest module first (a stable sort: tests keep their order inside a module). scripts/test.sh
    hands whole modules to the workers in this order (--dist loadfile --no-loadscope-reorder), so a
    module's shared fixtures, e.g. one dbt build per module, are built once."""
    if getattr(config.option, "dist", "no") == "no":
        return
    known = json.loads(MODULE_SECONDS.read_text(encoding="utf-8")) if MODULE_SECONDS.exists() else {}
    items.sort(key=lambda item: -known.get(_module(item.nodeid), _UNKNOWN_MODULE_SECONDS))


def pytest_runtest_logreport(report) -> None:
    """Adds up each module's seconds (on the controller under xdist: it sees every worker's reports)."""
    _seconds_run[_module(report.nodeid)] += report.duration


def pytest_sessionfinish(session, exitstatus) -> None:
    """With AQUANT_RECORD_TEST_SECONDS=1, a full run rewrites MODULE_SECONDS (the controller only)."""
    if os.environ.get("AQUANT_RECORD_TEST_SECONDS") != "1" or os.environ.get("PYTEST_XDIST_WORKER"):
        return
    ordered = dict(sorted(((m, round(s, 1)) for m, s in _seconds_run.items()), key=lambda kv: -kv[1]))
    MODULE_SECONDS.write_text(json.dumps(ordered, indent=1) + "\n", encoding="utf-8")


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

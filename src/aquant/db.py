"""The one small layer through which Python reaches the database (DuckDB or PostgreSQL).

SQL that shapes data lives in dbt models; here are only the generic verbs the loaders and
operational writers need: create a managed table, upsert a frame on its natural key, run a
query into a DataFrame. Every engine gets the same SQL (`?` placeholders are translated); on
Spark the verbs are emulated on Parquet tables (aquant.spark_db).
"""
from __future__ import annotations

import logging
import os
import re
import sys
import tempfile
import time
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any, Iterator, Sequence

import pandas as pd

from .config import Settings, load_settings, pg_options
from .schema import Table, create_sql, q, sql_type, versions_table


@dataclass
class UpsertResult:
    """How many rows an upsert inserted and how many existing rows it changed."""

    inserted: int = 0
    updated: int = 0

    @property
    def changed(self) -> int:
        return self.inserted + self.updated


_Q = re.compile(r"\?")
log = logging.getLogger("aquant.db")

WAIT_ENV = "AQUANT_DB_WAIT"
WAIT_DEFAULT = 300.0  # seconds: longer than a full-market dbt build holds the file (bench/RESULTS.md)


class DatabaseBusy(ConnectionError):
    """Another process held the DuckDB file for longer than AQUANT_DB_WAIT seconds."""


def lock_wait_seconds() -> float:
    raw = os.environ.get(WAIT_ENV)
    try:
        return WAIT_DEFAULT if raw is None else max(0.0, float(raw))
    except ValueError:
        raise ValueError(f"{WAIT_ENV} must be a number of seconds, got {raw!r}") from None


def _is_lock_conflict(exc: BaseException) -> bool:
    return "Could not set lock" in str(exc) or "Conflicting lock" in str(exc)


def connect_duckdb(path, wait: float | None = None):
    """Open a DuckDB file, waiting while another process holds it (a build, a writer, a reader).

    A DuckDB file admits one process at a time once any process holds it for writing, and a
    second process cannot even open it read-only. Every aquant process opens it briefly (a query,
    one write transaction) except dbt during a build, so waiting is the right answer to a lock:
    the wait is announced once on stderr, and only a wait longer than AQUANT_DB_WAIT is an error.

    The connection gets the DuckDB settings dbt gets (memory_limit, threads, ...; profiles.yml,
    AQUANT_DUCKDB_*), so a loader or a backtest stays inside the same memory budget as a build.
    """
    import duckdb

    from .config import duckdb_settings

    limit = lock_wait_seconds() if wait is None else wait
    deadline = time.monotonic() + limit
    delay, told = 0.05, False
    while True:
        try:
            con = duckdb.connect(str(path))
            for key, value in duckdb_settings().items():
                # DuckDB refuses to move temp_directory once used, even to the same place
                if key == "temp_directory" and con.execute("select current_setting('temp_directory')").fetchall() \
                        == [(value,)]:
                    continue
                con.execute(f"SET {key} = '{value.replace(chr(39), chr(39) * 2)}'")
            return con
        except duckdb.IOException as exc:
            if not _is_lock_conflict(exc):
                raise
            holder = re.search(r"\(PID (\d+)\)", str(exc))
            if time.monotonic() >= deadline:
                raise DatabaseBusy(f"{path} stayed in use by another process "
                                   f"(PID {holder.group(1) if holder else '?'}) "
                                   f"for {limit:.0f} s; is a build or another aquant command still running? "
                                   f"Raise {WAIT_ENV} to wait longer") from exc
            if not told:
                msg = (f"waiting for {path}: in use by another process (PID {holder.group(1) if holder else '?'}, "
                       f"e.g. a build); retrying for up to {limit:.0f} s")
                log.info(msg)
                print(f"aquant: {msg}", file=sys.stderr, flush=True)
                told = True
            time.sleep(delay)
            delay = min(delay * 2, 1.0)


class Database:
    """A connection to the configured warehouse."""

    def __init__(self, settings: Settings | None = None):
        self.settings = settings or load_settings()
        self.kind = self.settings.target
        self.spark = None
        if self.kind == "duckdb":
            self.settings.duckdb_path.parent.mkdir(parents=True, exist_ok=True)
            self.con = connect_duckdb(self.settings.duckdb_path)
        elif self.kind == "spark":
            # One SparkSession per process, shared with in-process dbt (aquant.spark_session).
            from .spark_db import SparkBackend
            from .spark_session import get_session

            self.spark = SparkBackend(get_session(self.settings.spark_dir))
            self.con = None
        else:
            import psycopg2

            pg = self.settings.pg
            try:
                self.con = psycopg2.connect(host=pg["host"], port=pg["port"], user=pg["user"],
                                            password=pg.get("password") or None, dbname=pg["dbname"],
                                            connect_timeout=10, options=pg_options())
            except psycopg2.OperationalError as exc:
                raise ConnectionError(f"cannot reach PostgreSQL at {self.settings.describe()}: "
                                      f"{str(exc).strip()}; check PG* / AQUANT_PG_URL") from exc
            self.con.autocommit = True
        self._ensured: set[str] = set()

    # -- basics -------------------------------------------------------------------------
    def close(self) -> None:
        # Spark: the session lives as long as the process (its JVM start costs seconds).
        if self.con is not None:
            self.con.close()

    def __enter__(self) -> "Database":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _sql(self, sql: str) -> str:
        return sql if self.kind == "duckdb" else _Q.sub("%s", sql.replace("%", "%%"))

    def execute(self, sql: str, params: Sequence[Any] | None = None) -> None:
        if self.spark is not None:
            return self.spark.execute(sql, params)
        if self.kind == "duckdb":
            self.con.execute(sql, params or [])
        else:
            with self.con.cursor() as cur:
                cur.execute(self._sql(sql), params or None)

    def query(self, sql: str, params: Sequence[Any] | None = None) -> list[tuple]:
        if self.spark is not None:
            return self.spark.query(sql, params)
        if self.kind == "duckdb":
            return self.con.execute(sql, params or []).fetchall()
        with self.con.cursor() as cur:
            cur.execute(self._sql(sql), params or None)
            return cur.fetchall() if cur.description else []

    def query_df(self, sql: str, params: Sequence[Any] | None = None) -> pd.DataFrame:
        if self.spark is not None:
            return self.spark.query_df(sql, params)
        if self.kind == "duckdb":
            return self.con.execute(sql, params or []).df()
        with self.con.cursor() as cur:
            cur.execute(self._sql(sql), params or None)
            cols = [d[0] for d in cur.description]
            return pd.DataFrame(cur.fetchall(), columns=cols)

    def scalar(self, sql: str, params: Sequence[Any] | None = None) -> Any:
        rows = self.query(sql, params)
        return rows[0][0] if rows else None

    @contextmanager
    def transaction(self) -> Iterator[None]:
        """All or nothing: a failed load leaves no half-written rows (not on Spark: aquant.spark_db)."""
        if self.spark is not None:
            with self.spark.transaction():
                yield
            return
        if self.kind == "duckdb":
            self.con.execute("BEGIN TRANSACTION")
            try:
                yield
            except BaseException:
                self.con.execute("ROLLBACK")
                raise
            self.con.execute("COMMIT")
        else:
            self.con.autocommit = False
            try:
                yield
            except BaseException:
                self.con.rollback()
                raise
            else:
                self.con.commit()
            finally:
                self.con.autocommit = True

    def table_exists(self, schema: str, name: str) -> bool:
        if self.spark is not None:
            return self.spark.table_exists(schema, name)
        return bool(self.scalar("select count(*) from information_schema.tables where table_schema = ? "
                                "and table_name = ?", [schema, name]))

    def ensure_table(self, t: Table) -> None:
        """Create the table (and its schema, and its versions table) if missing."""
        if t.fqn in self._ensured:
            return
        if self.spark is not None:
            self.spark.ensure_table(t)
            self._ensured.add(t.fqn)
            return
        self.execute(f"CREATE SCHEMA IF NOT EXISTS {t.schema}")
        self.execute(create_sql(t, self.kind))
        if t.versioned:
            self.execute(create_sql(versions_table(t), self.kind))
        if self.kind == "postgres" and "loaded_at" in t.columns:
            # The incremental staging models select the rows loaded since their last build
            # (macros/incremental_lookback.sql, incremental_loaded_after): one day's rows through
            # this index instead of a scan of the whole raw table each day. DuckDB prunes by zone maps.
            self.execute(f"CREATE INDEX IF NOT EXISTS {t.name}_loaded_at_idx ON {t.fqn} ({q('loaded_at')})")
        self._ensured.add(t.fqn)

    # -- bulk upsert ----------------------------------------------------------------------
    def _stage(self, t: Table, df: pd.DataFrame) -> str:
        """Put the frame where SQL can see it; returns the relation name."""
        cols = list(t.columns)
        if self.kind == "duckdb":
            self.con.register("_staged_frame", df[cols])
            self.con.execute("CREATE OR REPLACE TEMP TABLE _staged AS SELECT * FROM _staged_frame")
            self.con.unregister("_staged_frame")
            return "_staged"
        coldefs = ", ".join(f"{q(c)} {sql_type(typ, self.kind)}" for c, typ in t.columns.items())
        with self.con.cursor() as cur, tempfile.TemporaryDirectory(prefix="aquant_stage_") as tmp:
            cur.execute("DROP TABLE IF EXISTS _staged")
            cur.execute(f"CREATE TEMP TABLE _staged ({coldefs})")
            csv = os.path.join(tmp, "staged.csv")
            _frame_to_csv(df[cols], csv)
            with open(csv, encoding="utf-8") as fh:
                cur.copy_expert(f"COPY _staged ({', '.join(q(c) for c in cols)}) FROM STDIN "
                                f"WITH (FORMAT csv, NULL '\\N', ENCODING 'UTF8')", fh)
        return "_staged"

    def upsert(self, t: Table, df: pd.DataFrame) -> UpsertResult:
        """Insert new keys; update existing keys only where a value really differs.

        Rows whose values are unchanged keep their `loaded_at`, so re-loading the same range
        changes nothing. For versioned tables the superseded row is copied to `<name>_versions`.
        """
        self.ensure_table(t)
        if df.empty:
            return UpsertResult()
        if self.spark is not None:
            return UpsertResult(*self.spark.upsert(t, df))
        staged = self._stage(t, df)
        key = ", ".join(q(k) for k in t.key)
        on = " and ".join(f"t.{q(k)} = s.{q(k)}" for k in t.key)
        vals = t.value_cols
        tgt = f"({', '.join('t.' + q(c) for c in vals)})"
        src = f"({', '.join('s.' + q(c) for c in vals)})"
        inserted = self.scalar(f"select count(*) from {staged} s where not exists "
                               f"(select 1 from {t.fqn} t where {on})")
        updated = self.scalar(f"select count(*) from {staged} s join {t.fqn} t on {on} "
                              f"where {tgt} is distinct from {src}") if vals else 0
        if t.versioned and updated:
            vt = versions_table(t)
            self.execute(f"insert into {vt.fqn} select t.* from {t.fqn} t join {staged} s on {on} "
                         f"where t.ann_date is distinct from s.ann_date "
                         f"and {tgt} is distinct from {src} on conflict do nothing")
        cols = ", ".join(q(c) for c in t.columns)
        if vals:
            sets = ", ".join(f"{q(c)} = excluded.{q(c)}" for c in [*vals, *t.audit_cols])
            tgt_now = f"({', '.join(f'{t.name}.{q(c)}' for c in vals)})"
            exc = f"({', '.join('excluded.' + q(c) for c in vals)})"
            action = f"do update set {sets} where {tgt_now} is distinct from {exc}"
        else:
            action = "do nothing"
        self.execute(f"insert into {t.fqn} ({cols}) select {cols} from {staged} on conflict ({key}) {action}")
        self.execute(f"drop table if exists {staged}")
        return UpsertResult(int(inserted or 0), int(updated or 0))

    def append(self, t: Table, df: pd.DataFrame) -> int:
        """Plain insert for operational tables whose rows are never rewritten."""
        self.ensure_table(t)
        if df.empty:
            return 0
        if self.spark is not None:
            return self.spark.append(t, df)
        staged = self._stage(t, df)
        cols = ", ".join(q(c) for c in t.columns)
        self.execute(f"insert into {t.fqn} ({cols}) select {cols} from {staged}")
        self.execute(f"drop table if exists {staged}")
        return len(df)


def _frame_to_csv(df: pd.DataFrame, path: str) -> None:
    """Write `df` as CSV for PostgreSQL's COPY (no header, NULL as \\N), with DuckDB's writer.

    pandas' to_csv formats floats one by one in Python: 61 % of the loader's time on PostgreSQL
    (28.6 of 46.8 s for 576,505 daily bars, profiled). DuckDB writes the same text (shortest
    round-trip floats, NaN as NULL like pandas' na_rep, ISO dates and timestamps) in C++, and
    quotes a string that reads "\\N" so it stays a string (pandas wrote it bare: a NULL).
    """
    import duckdb

    con = duckdb.connect()
    try:
        con.register("frame", df)
        con.execute(f"COPY (SELECT * FROM frame) TO '{path}' (HEADER false, NULLSTR '\\N')")
    finally:
        con.close()


def connect(settings: Settings | None = None) -> Database:
    """Open the configured warehouse (DuckDB file by default)."""
    return Database(settings)

"""The Spark side of aquant.db.Database: the same generic verbs on Parquet tables in a Spark warehouse.

Plain Parquet tables (no Delta/Iceberg: their jars come from Maven at runtime, and this project
installs offline from package registries only) have no UPDATE, DELETE, MERGE or transactions. So:
- `upsert` reads the month partitions the frame touches, merges in pandas with the same rules as
  the SQL engines (insert new keys, replace a row only where a value differs, keep `loaded_at` of
  unchanged rows, copy superseded versions), and rewrites only those partitions (dynamic partition
  overwrite). Nothing is written when nothing changed, so a re-load is a no-op.
- `delete from T where P` and `update T set ... where P` (the few the ops writers use) become a
  rewrite of the table from a materialised `select` of the rows to keep / the new values.
- `transaction()` gives no atomicity: a load interrupted between two partition rewrites leaves
  the first one written (each rewrite alone is replaced whole). docs/scaling.md says what Delta
  or Iceberg change.
Parameters (`?`) are inlined as SQL literals; identifiers quoted "like_this" become `like_this`.
Tables with a trade date (or a minute timestamp) are partitioned by its month, `trade_month`
('YYYY-MM'), an extra last column on this target only.
"""
from __future__ import annotations

import datetime as dt
import math
import re
from contextlib import contextmanager
from decimal import Decimal
from typing import Any, Iterator, Sequence

import pandas as pd

from .schema import Table, versions_table

PARTITION_COL = "trade_month"
# The column whose month partitions a table (only tables that grow by the day).
PARTITION_SOURCE = {"daily_quote": "trade_date", "minute_quote": "ts", "funds_flow": "trade_date",
                    "industry_flow": "trade_date", "chip_distribution": "trade_date"}

_SPARK_TYPES = {"VARCHAR": "STRING", "DOUBLE": "DOUBLE", "BIGINT": "BIGINT", "INTEGER": "INT", "DATE": "DATE",
                "TIMESTAMP": "TIMESTAMP", "BOOLEAN": "BOOLEAN"}


def partition_source(t: Table) -> str | None:
    return PARTITION_SOURCE.get(t.name) if t.schema == "raw" else None


def spark_type(typ: str) -> str:
    return _SPARK_TYPES.get(typ.upper(), typ)


def create_sql_spark(t: Table) -> str:
    cols = [f"`{c}` {spark_type(typ)}" for c, typ in t.columns.items()]
    part = partition_source(t)
    if part:
        cols.append(f"`{PARTITION_COL}` STRING")
    return (f"CREATE TABLE IF NOT EXISTS {t.fqn} ({', '.join(cols)}) USING parquet"
            + (f" PARTITIONED BY (`{PARTITION_COL}`)" if part else ""))


def literal(v: Any) -> str:
    """A Python value as a Spark SQL literal."""
    if v is None or (isinstance(v, float) and math.isnan(v)) or v is pd.NaT:
        return "NULL"
    if isinstance(v, bool):
        return "TRUE" if v else "FALSE"
    if isinstance(v, (int, Decimal)):
        return str(v)
    if isinstance(v, float):
        return repr(v) + "D" if math.isfinite(v) else f"double('{v}')"
    if isinstance(v, pd.Timestamp):
        v = v.to_pydatetime()
    if isinstance(v, dt.datetime):
        return f"TIMESTAMP '{v.replace(tzinfo=None).isoformat(sep=' ')}'"
    if isinstance(v, dt.date):
        return f"DATE '{v.isoformat()}'"
    s = str(v).replace("\\", "\\\\").replace("'", "\\'")
    return f"'{s}'"


_STRING = re.compile(r"('(?:[^'\\]|\\.|'')*')")


def translate(sql: str, params: Sequence[Any] | None = None) -> str:
    """Inline `?` parameters and turn "ident" quoting into `ident`, outside string literals."""
    params = list(params or [])
    parts = _STRING.split(sql)
    out = []
    it = iter(params)
    for i, part in enumerate(parts):
        if i % 2 == 1:  # a string literal: untouched
            out.append(part)
            continue
        part = re.sub(r'"([A-Za-z_][A-Za-z0-9_]*)"', r"`\1`", part)
        part = re.sub(r"\?", lambda _m: literal(next(it)), part)
        out.append(part)
    return "".join(out)


_DELETE = re.compile(r"^\s*delete\s+from\s+([\w.`]+)(?:\s+as\s+\w+)?(?:\s+where\s+(.*))?$", re.I | re.S)
_UPDATE = re.compile(r"^\s*update\s+([\w.`]+)\s+set\s+(.*?)\s+where\s+(.*)$", re.I | re.S)
_INFO = re.compile(r"information_schema\.(tables|views|columns)", re.I)


def _split_top(s: str) -> list[str]:
    """Split `a = 1, b = f(x, y)` on top-level commas."""
    out, depth, cur, quote = [], 0, [], False
    for ch in s:
        if ch == "'":
            quote = not quote
        elif not quote and ch == "(":
            depth += 1
        elif not quote and ch == ")":
            depth -= 1
        if ch == "," and depth == 0 and not quote:
            out.append("".join(cur))
            cur = []
        else:
            cur.append(ch)
    out.append("".join(cur))
    return [x.strip() for x in out if x.strip()]


class SparkBackend:
    """Generic verbs of aquant.db.Database on a SparkSession."""

    def __init__(self, session):
        self.spark = session

    # -- SQL ------------------------------------------------------------------------------
    def _info_views(self, sql: str) -> str:
        """information_schema.* (which Spark lacks) as temp views built from the catalog."""
        if not _INFO.search(sql):
            return sql
        tables, cols = [], []
        # The callers ask about one table (`table_schema = '..' and table_name = '..'`): list only it.
        want_schema = re.search(r"table_schema\s*=\s*'(\w+)'", sql)
        want_name = re.search(r"table_name\s*=\s*'(\w+)'", sql)
        for db in self.spark.catalog.listDatabases():
            if want_schema and db.name != want_schema.group(1):
                continue
            for tb in self.spark.catalog.listTables(db.name):
                if tb.isTemporary or (want_name and tb.name != want_name.group(1)):
                    continue
                kind = "VIEW" if tb.tableType == "VIEW" else "BASE TABLE"
                tables.append((db.name, tb.name, kind))
                if "columns" in sql.lower():
                    for j, c in enumerate(self.spark.catalog.listColumns(f"{db.name}.{tb.name}"), 1):
                        cols.append((db.name, tb.name, c.name, j, c.dataType))
        tschema = "table_schema string, table_name string, table_type string"
        self.spark.createDataFrame(tables, tschema).createOrReplaceTempView("_is_tables")
        self.spark.sql("select * from _is_tables where table_type = 'VIEW'").createOrReplaceTempView("_is_views")
        cschema = "table_schema string, table_name string, column_name string, ordinal_position int, data_type string"
        self.spark.createDataFrame(cols, cschema).createOrReplaceTempView("_is_columns")
        return _INFO.sub(lambda m: f"_is_{m.group(1).lower()}", sql)

    def sql(self, sql: str, params: Sequence[Any] | None = None):
        """Run one statement (DML emulated as above); returns a DataFrame or None."""
        text = translate(sql, params)
        m = _DELETE.match(text)
        if m:
            table, cond = m.group(1), m.group(2)
            keep = f"select * from {table}" + (f" where not coalesce(({cond}), false)" if cond else " where false")
            self._rewrite(table, keep)
            return None
        m = _UPDATE.match(text)
        if m:
            table, sets, cond = m.groups()
            assign = {}
            for a in _split_top(sets):
                col, expr = a.split("=", 1)
                assign[col.strip().strip("`")] = expr.strip()
            cols = self.spark.table(table).columns
            sel = ", ".join(f"case when coalesce(({cond}), false) then ({assign[c]}) else `{c}` end as `{c}`"
                            if c in assign else f"`{c}`" for c in cols)
            self._rewrite(table, f"select {sel} from {table}")
            return None
        return self.spark.sql(self._info_views(text))

    def _rewrite(self, table: str, select: str) -> None:
        """Replace a table's rows by `select` over it (materialised first: Spark will not overwrite
        a table a running query reads)."""
        df = self.spark.sql(select)
        pdf = df.toPandas()
        new = self.spark.createDataFrame(pdf, df.schema) if len(pdf) else self.spark.createDataFrame([], df.schema)
        parts = self._partition_cols(table)
        if parts:
            # every partition, including now-empty ones: static full overwrite
            self.spark.conf.set("spark.sql.sources.partitionOverwriteMode", "static")
            try:
                new.write.insertInto(table, overwrite=True)
            finally:
                self.spark.conf.set("spark.sql.sources.partitionOverwriteMode", "dynamic")
        else:
            new.write.insertInto(table, overwrite=True)

    def _partition_cols(self, table: str) -> list[str]:
        return [c.name for c in self.spark.catalog.listColumns(table.replace("`", "")) if c.isPartition]

    def execute(self, sql: str, params: Sequence[Any] | None = None) -> None:
        df = self.sql(sql, params)
        if df is not None:
            df.collect()

    def query(self, sql: str, params: Sequence[Any] | None = None) -> list[tuple]:
        df = self.sql(sql, params)
        return [] if df is None else [tuple(r) for r in df.collect()]

    def query_df(self, sql: str, params: Sequence[Any] | None = None) -> pd.DataFrame:
        df = self.sql(sql, params)
        if df is None:
            return pd.DataFrame()
        out = df.toPandas()
        # DuckDB hands DATE columns to pandas as datetime64; the Python side expects the same.
        for f in df.schema.fields:
            if f.dataType.simpleString() == "date":
                out[f.name] = pd.to_datetime(out[f.name])
        return out

    @contextmanager
    def transaction(self) -> Iterator[None]:
        """No atomicity on plain Parquet (module docstring); kept so callers read the same."""
        yield

    def table_exists(self, schema: str, name: str) -> bool:
        return bool(self.spark.catalog.tableExists(f"{schema}.{name}"))

    def ensure_table(self, t: Table) -> None:
        versions_ok = not t.versioned or self.table_exists(t.schema, f"{t.name}_versions")
        if self.table_exists(t.schema, t.name) and versions_ok:
            return  # a metastore lookup; CREATE ... IF NOT EXISTS costs a parse and a metastore round trip more
        self.spark.sql(f"CREATE DATABASE IF NOT EXISTS {t.schema}")
        self.spark.sql(create_sql_spark(t))
        if t.versioned:
            self.spark.sql(create_sql_spark(versions_table(t)))

    # -- writing frames --------------------------------------------------------------------
    def _spark_frame(self, t: Table, df: pd.DataFrame):
        """The frame in the table's column order and Spark types (plus its partition column)."""
        part = partition_source(t)
        out = df[list(t.columns)].copy()
        for c, typ in t.columns.items():
            typ = typ.upper()
            if typ == "DATE":
                out[c] = pd.to_datetime(out[c]).dt.date.astype(object).where(out[c].notna(), None)
            elif typ == "TIMESTAMP":
                out[c] = pd.to_datetime(out[c])
            elif typ in ("DOUBLE",):
                out[c] = pd.to_numeric(out[c]).astype("float64")
            elif typ in ("BIGINT", "INTEGER"):
                out[c] = pd.to_numeric(out[c]).astype("Int64")
            elif typ == "BOOLEAN":
                out[c] = out[c].astype("boolean")
            else:
                out[c] = out[c].astype(object).where(out[c].notna(), None)
        ddl = [f"`{c}` {spark_type(typ)}" for c, typ in t.columns.items()]
        if part:
            out[PARTITION_COL] = pd.to_datetime(df[part]).dt.strftime("%Y-%m")
            ddl.append(f"`{PARTITION_COL}` STRING")
        return self.spark.createDataFrame(out, ", ".join(ddl))

    def append(self, t: Table, df: pd.DataFrame) -> int:
        if df.empty:
            return 0
        self._spark_frame(t, df).write.insertInto(t.fqn, overwrite=False)
        return len(df)

    def upsert(self, t: Table, df: pd.DataFrame) -> tuple[int, int]:
        """(inserted, updated); the rules of the SQL engines' `insert ... on conflict`."""
        if df.empty:
            return 0, 0
        part = partition_source(t)
        new = df[list(t.columns)].copy().reset_index(drop=True)
        if part:
            months = sorted(set(pd.to_datetime(new[part]).dt.strftime("%Y-%m")))
            where = f" where `{PARTITION_COL}` in ({', '.join(literal(m) for m in months)})"
        else:
            where = ""
        old = self.query_df(f"select {', '.join(f'`{c}`' for c in t.columns)} from {t.fqn}{where}")
        key = list(t.key)
        vals = t.value_cols
        for frame in (new, old):
            for c, typ in t.columns.items():
                if typ.upper() in ("DATE", "TIMESTAMP"):
                    frame[c] = pd.to_datetime(frame[c])
        new = new.drop_duplicates(subset=key, keep="last")
        merged = new.merge(old, on=key, how="left", suffixes=("", "__old"), indicator=True)
        is_new = merged["_merge"] == "left_only"
        differs = pd.Series(False, index=merged.index)
        for c in vals:
            a, b = merged[c], merged[f"{c}__old"]
            same = (a == b) | (a.isna() & b.isna())
            differs |= ~same.fillna(False).astype(bool)
        changed = ~is_new & differs
        inserted, updated = int(is_new.sum()), int(changed.sum()) if vals else 0
        if not inserted and not updated:
            return 0, 0
        if t.versioned and updated:
            superseded = merged[changed & (merged["ann_date"] != merged["ann_date__old"])]
            if len(superseded):
                prev = superseded[key + [f"{c}__old" for c in t.columns if c not in key]]
                prev.columns = key + [c for c in t.columns if c not in key]
                vt = versions_table(t)
                have = self.query_df(f"select {', '.join(vt.key)} from {vt.fqn}")
                for c in vt.key:
                    if t.columns[c].upper() == "DATE":
                        have[c] = pd.to_datetime(have[c])
                        prev[c] = pd.to_datetime(prev[c])
                prev = prev.merge(have, on=list(vt.key), how="left", indicator=True)
                prev = prev[prev["_merge"] == "left_only"].drop(columns="_merge")
                self.append(vt, prev)
        take = merged[is_new | changed][list(t.columns)]
        touched = set(map(tuple, take[key].itertuples(index=False)))
        keep_old = old[[k not in touched for k in map(tuple, old[key].itertuples(index=False))]]
        final = pd.concat([keep_old, take], ignore_index=True) if len(keep_old) else take
        sdf = self._spark_frame(t, final)
        # materialise before the overwrite: `old` was read from the same files
        sdf.write.insertInto(t.fqn, overwrite=True)
        return inserted, updated

"""The single door into the `raw` schema, shared by every source (sample, akshare, tushare, xtdata).

It checks a frame against the contract (columns present, keys not null, types castable),
stamps `source` and `loaded_at`, and upserts on the natural key inside one transaction, so a
load is idempotent and an interrupted one leaves nothing half-written.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime, timezone

import pandas as pd

from aquant.db import Database, UpsertResult
from aquant.schema import OPS_TABLES, RAW_TABLES, Table


class SchemaError(ValueError):
    """A frame does not have the shape the contract requires."""


@dataclass
class LoadReport:
    """Rows per table for one ingest run."""

    tables: dict[str, UpsertResult] = field(default_factory=dict)

    def add(self, table: str, res: UpsertResult) -> None:
        cur = self.tables.setdefault(table, UpsertResult())
        cur.inserted += res.inserted
        cur.updated += res.updated


_DATE = "DATE"
_TS = "TIMESTAMP"


def conform(table: str, df: pd.DataFrame, source: str, origin: str = "") -> pd.DataFrame:
    """Return `df` with exactly the table's columns and types, or raise SchemaError.

    `origin` names the upstream function, so an upstream rename is reported as
    "akshare.stock_zh_a_hist: expected columns [...], missing [...]".
    """
    if table not in RAW_TABLES:
        raise SchemaError(f"unknown raw table {table!r}; expected one of {sorted(RAW_TABLES)}")
    t: Table = RAW_TABLES[table]
    where = f"{origin or source} -> raw.{table}"
    required = [c for c in t.columns if c not in t.audit_cols]
    missing = [c for c in t.key if c not in df.columns]
    if missing:
        raise SchemaError(f"{where}: key columns {missing} missing; got columns {list(df.columns)}")
    out = pd.DataFrame(index=df.index)
    for col in required:
        typ = t.columns[col]
        s = df[col] if col in df.columns else pd.Series([None] * len(df), index=df.index, dtype="object")
        try:
            if typ == _DATE:
                s = pd.to_datetime(s, errors="raise").dt.date
            elif typ == _TS:
                s = pd.to_datetime(s, errors="raise", utc=True).dt.tz_localize(None)
            elif typ in ("DOUBLE", "BIGINT"):
                s = pd.to_numeric(s, errors="raise").astype("float64")
            elif typ == "BOOLEAN":
                s = s.astype("boolean")
            else:
                s = s.astype("string")
        except (ValueError, TypeError) as exc:
            raise SchemaError(f"{where}: column {col!r} is not castable to {typ}: {exc}") from exc
        out[col] = s
    nulls = [k for k in t.key if out[k].isna().any()]
    if nulls:
        raise SchemaError(f"{where}: null values in key columns {nulls}")
    out = out.drop_duplicates(subset=list(t.key), keep="last")
    out["source"] = source
    out["loaded_at"] = datetime.now(timezone.utc).replace(tzinfo=None)
    return out.reset_index(drop=True)


def load_frame(db: Database, table: str, df: pd.DataFrame, source: str, origin: str = "") -> UpsertResult:
    """Validate and upsert one frame into raw.<table>, atomically."""
    from .market_guard import check_market  # noqa: PLC0415 - market_guard imports this module

    frame = conform(table, df, source, origin)
    check_market(db, source)
    t = RAW_TABLES[table]
    db.ensure_table(t)
    with db.transaction():
        return db.upsert(t, frame)


def ensure_raw(db: Database) -> None:
    """Create every raw and ops table the loader manages (idempotent)."""
    for t in [*RAW_TABLES.values(), *OPS_TABLES.values()]:
        db.ensure_table(t)


def get_watermark(db: Database, source: str, table: str, unit: str = "*") -> date | None:
    """Last date successfully loaded for (source, table, unit), or None."""
    db.ensure_table(OPS_TABLES["ingest_state"])
    v = db.scalar("select watermark from ops.ingest_state where source = ? and table_name = ? and unit = ?",
                  [source, table, unit])
    if v is None:
        return None
    return v if isinstance(v, date) else pd.Timestamp(v).date()


def set_watermark(db: Database, source: str, table: str, unit: str, watermark: date | None,
                  rows: int, status: str = "ok") -> None:
    """Record progress for one unit of work (a stock, or '*' for a whole table)."""
    t = OPS_TABLES["ingest_state"]
    frame = pd.DataFrame([{"source": source, "table_name": table, "unit": unit, "watermark": watermark,
                           "status": status, "rows": rows,
                           "updated_at": datetime.now(timezone.utc).replace(tzinfo=None)}])
    db.upsert(t, frame)


def clear_watermarks(db: Database, source: str, tables: list[str] | None = None) -> None:
    """Forget progress (for --full-refresh)."""
    db.ensure_table(OPS_TABLES["ingest_state"])
    if tables:
        for tb in tables:
            db.execute("delete from ops.ingest_state where source = ? and table_name = ?", [source, tb])
    else:
        db.execute("delete from ops.ingest_state where source = ?", [source])

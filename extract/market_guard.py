"""A warehouse holds either the built-in sample market or real market data, never both.

Why: the sample market uses the real code space (its 000001.SZ is a made-up 安鑫电子) and raw
tables are keyed by (code, date) whatever the source, so loading the sample into a database that
holds akshare/tushare/xtdata rows would silently replace real quotes with invented ones (and the
other way round would mix real prices into a synthetic market). The loader is the single door
into `raw`, so the check lives there; `aquant ingest` and `aquant demo` run it up front to stop
before any work with a message that names a separate database to use.
"""
from __future__ import annotations

from aquant.db import Database
from aquant.schema import RAW_TABLES

from .loader import SchemaError

SAMPLE_SOURCES = frozenset({"sample"})
SAMPLE_DB_HINT = "AQUANT_DB=data/sample.duckdb"
REAL_DB_HINT = "AQUANT_DB=data/real.duckdb"


class MixedMarketError(SchemaError):
    """Sample rows would be written into a database of real data, or real rows into the sample."""


def kind_of(source: str) -> str:
    """'sample' for the built-in market, 'real' for every other source (derived ones included)."""
    return "sample" if source in SAMPLE_SOURCES else "real"


def _foreign_row(db: Database, kind: str) -> tuple[str, str] | None:
    """(table, source) of one raw row of the other kind, or None. One `limit 1` probe per table."""
    marks = ", ".join("?" for _ in SAMPLE_SOURCES)
    cond = f"source not in ({marks})" if kind == "sample" else f"source in ({marks})"
    for name, t in RAW_TABLES.items():
        if "source" not in t.columns or not db.table_exists("raw", name):
            continue
        rows = db.query(f"select source from {t.fqn} where {cond} limit 1", list(SAMPLE_SOURCES))
        if rows:
            return name, str(rows[0][0])
    return None


def check_market(db: Database, source: str) -> None:
    """Raise MixedMarketError when `source` is of the other kind than the rows already in raw.*.

    Checked once per Database object and kind (a network ingest loads thousands of frames).
    """
    kind = kind_of(source)
    seen: set[str] = db.__dict__.setdefault("_market_checked", set())
    if kind in seen:
        return
    found = _foreign_row(db, kind)
    if found:
        table, other = found
        where = db.settings.describe()
        if kind == "sample":
            raise MixedMarketError(
                f"{where} holds real market data (raw.{table} has rows from {other!r}); the sample market "
                f"reuses real stock codes with made-up prices and would overwrite them. Run the sample in "
                f"a database of its own, e.g. `{SAMPLE_DB_HINT} aquant demo`.")
        raise MixedMarketError(
            f"{where} holds the built-in sample market (raw.{table} has rows from {other!r}); loading "
            f"{source!r} rows into it would mix invented and real prices under the same codes. Load real "
            f"data into a database of its own, e.g. `{REAL_DB_HINT} aquant ingest --source {source}`, "
            f"or delete the sample database first.")
    seen.add(kind)

"""One Singer stream per raw table, its JSON schema derived from aquant's table definitions.

Deriving the schema from `aquant.schema.RAW_TABLES` (not writing it by hand) keeps the tap, the
loader and the dbt sources on one contract: a column added there appears here.
"""
from __future__ import annotations

import math
from datetime import date, datetime
from typing import Any, Iterable

import pandas as pd
from singer_sdk import Stream

from aquant.schema import RAW_TABLES, Table, versions_table

# Incremental replication: the date a row belongs to (reports: the day they became public).
REPLICATION_KEY = {"daily_quote": "trade_date", "funds_flow": "trade_date", "industry_flow": "trade_date",
                   "chip_distribution": "trade_date", "trade_calendar": "trade_date", "minute_quote": "ts",
                   "finance_data": "ann_date", "dividend": "ann_date"}

_JSON = {"VARCHAR": {"type": ["string", "null"]}, "DOUBLE": {"type": ["number", "null"]},
         "BIGINT": {"type": ["integer", "null"]}, "INTEGER": {"type": ["integer", "null"]},
         "BOOLEAN": {"type": ["boolean", "null"]},
         "DATE": {"type": ["string", "null"], "format": "date"},
         "TIMESTAMP": {"type": ["string", "null"], "format": "date-time"}}


def json_schema(t: Table) -> dict[str, Any]:
    """JSON schema of one raw table; key columns are required and not nullable."""
    props = {}
    for col, typ in t.columns.items():
        p = dict(_JSON[typ])
        if col in t.key:
            p["type"] = [x for x in p["type"] if x != "null"]
        props[col] = p
    return {"type": "object", "properties": props, "required": list(t.key)}


def _value(v: Any) -> Any:
    """JSON-ready: dates as ISO text, timestamps as UTC ISO text, NaN/NaT as null."""
    if v is None or v is pd.NaT:
        return None
    if isinstance(v, float) and math.isnan(v):
        return None
    if hasattr(v, "to_pydatetime"):
        v = v.to_pydatetime()
    if isinstance(v, datetime):
        return v.strftime("%Y-%m-%dT%H:%M:%S.%f") + "+00:00"
    if isinstance(v, date):
        return v.isoformat()
    if hasattr(v, "item"):  # numpy scalars
        return v.item()
    return None if v is pd.NA else v


class RawTableStream(Stream):
    """raw.<table> as a stream; primary key = the table's natural key."""

    def __init__(self, tap: Any, table: Table):
        self.table = table
        super().__init__(tap, schema=json_schema(table), name=table.name)
        self.primary_keys = list(table.key)
        self.replication_key = REPLICATION_KEY.get(table.name)

    def get_records(self, context: dict | None) -> Iterable[dict[str, Any]]:
        """Rows after the bookmark (whole days: a day is loaded complete or not at all)."""
        # The bookmark itself, not get_starting_replication_key_value(): the SDK may substitute
        # start_date, and `>` on that would drop the first day.
        since = self.get_context_state(context).get("replication_key_value") if self.replication_key else None
        since_d = date.fromisoformat(str(since)[:10]) if since else None
        df = self._tap.extraction.frame(self.name, since_d)
        if self.replication_key and since:
            col = df[self.replication_key].map(_value)
            df = df[col.notna() & (col > str(since))]
        cols = list(self.table.columns)
        for row in df[cols].itertuples(index=False, name=None):
            yield {c: _value(v) for c, v in zip(cols, row)}


def all_streams(tap: Any) -> list[RawTableStream]:
    """Streams in load order (calendar and stocks first, as `aquant ingest` loads them)."""
    order = ["trade_calendar", "stock_info", "stock_name_history", "stock_industry_history", "daily_quote",
             "minute_quote", "finance_data", "dividend", "funds_flow", "industry_flow", "chip_distribution"]
    streams = [RawTableStream(tap, RAW_TABLES[n]) for n in order]
    # Superseded report versions (restatements), which dbt's point-in-time models read. Full
    # table: a restatement supersedes a report whose ann_date is older than any bookmark.
    return [*streams, RawTableStream(tap, versions_table(RAW_TABLES["finance_data"]))]

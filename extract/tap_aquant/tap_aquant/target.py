"""`target-aquant`: a Singer loader that writes through aquant's own raw loader.

Why not target-duckdb: it stores dates as text and creates its own table shapes. Writing through
`aquant.extract.loader.load_frame` keeps the contract's types and natural keys, upserts
idempotently (unchanged rows keep their loaded_at) and works for DuckDB and PostgreSQL alike
(AQUANT_DB / AQUANT_TARGET / AQUANT_PG_URL pick the database, as for every aquant command).

Protocol: SCHEMA lines are noted, RECORD lines buffered per stream, and every STATE line is
emitted on stdout only after the buffered records before it are committed, so Meltano's stored
bookmark never runs ahead of the data.
"""
from __future__ import annotations

import json
import sys
from typing import IO, Any

import pandas as pd

from aquant.config import load_settings
from aquant.db import Database
from aquant.extract.loader import conform, ensure_raw, load_frame
from aquant.schema import RAW_TABLES, versions_table

VERSIONS = "finance_data_versions"

BATCH = 50_000


class Loader:
    """Buffers Singer records per stream and upserts them into raw.<stream>."""

    def __init__(self, db: Database, out: IO[str]):
        self.db, self.out = db, out
        self.buf: dict[str, list[dict[str, Any]]] = {}
        self.rows: dict[str, int] = {}

    def record(self, stream: str, rec: dict[str, Any]) -> None:
        if stream not in RAW_TABLES and stream != VERSIONS:
            raise ValueError(f"stream {stream!r} is not a raw table; expected one of {sorted(RAW_TABLES)}")
        self.buf.setdefault(stream, []).append(rec)
        if len(self.buf[stream]) >= BATCH:
            self.flush(stream)

    def flush(self, only: str | None = None) -> None:
        for stream in [only] if only else list(self.buf):
            recs = self.buf.pop(stream, [])
            if not recs:
                continue
            df = pd.DataFrame(recs)
            src = df["source"].fillna("singer") if "source" in df else pd.Series("singer", index=df.index)
            for source, part in df.groupby(src):
                res = (self._versions(part, str(source)) if stream == VERSIONS
                       else load_frame(self.db, stream, part, str(source), origin=f"singer.{stream}"))
                self.rows[stream] = self.rows.get(stream, 0) + res.changed

    def _versions(self, df: pd.DataFrame, source: str) -> Any:
        """Superseded reports go straight to raw.finance_data_versions (same columns as finance_data)."""
        t = versions_table(RAW_TABLES["finance_data"])
        frame = conform("finance_data", df, source, "singer.finance_data_versions")
        self.db.ensure_table(t)
        with self.db.transaction():
            return self.db.upsert(t, frame)

    def state(self, value: Any) -> None:
        self.flush()
        self.out.write(json.dumps(value) + "\n")
        self.out.flush()


def run(lines: IO[str], out: IO[str], db: Database) -> dict[str, int]:
    """Consume a Singer message stream; returns rows changed per table."""
    ensure_raw(db)
    loader = Loader(db, out)
    last_state = None
    for line in lines:
        line = line.strip()
        if not line:
            continue
        msg = json.loads(line)
        kind = msg.get("type")
        if kind == "RECORD":
            loader.record(msg["stream"], msg["record"])
        elif kind == "STATE":
            last_state = msg["value"]
            loader.state(last_state)
    loader.flush()
    return loader.rows


def main() -> None:
    """Entry point; `--config FILE` is accepted (Meltano passes one) but settings come from the env."""
    import argparse

    ap = argparse.ArgumentParser(prog="target-aquant", description=__doc__.splitlines()[0])
    ap.add_argument("--config", help="Singer config JSON (unused: AQUANT_DB / AQUANT_TARGET / AQUANT_PG_URL)")
    ap.add_argument("--about", action="store_true")
    args = ap.parse_args()
    if args.about:
        print(json.dumps({"name": "target-aquant", "capabilities": []}))
        return
    with Database(load_settings()) as db:
        rows = run(sys.stdin, sys.stdout, db)
    sys.stderr.write(f"target-aquant: rows changed {json.dumps(rows, sort_keys=True)} -> {db.settings.describe()}\n")


if __name__ == "__main__":
    main()

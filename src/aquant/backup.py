"""`aquant backup` / `aquant restore`: the books (ops.*) outside the warehouse file.

Why: ops.* (orders, trades, alert decisions, alerts_log, audit_log, paper state, backtests) is the
system of record -- no source can rebuild it -- yet it lives in the same DuckDB file a user
deletes to start over, and a rebuild tool run against the wrong database could damage it. A
backup is one folder per snapshot with a Parquet file per ops table and a manifest (rows per
table), written next to the warehouse but outside it, read in one transaction so the tables agree
with each other, and pruned to the newest N. The same code serves DuckDB and PostgreSQL (the ops
schema only; raw, staging and the models can be re-ingested and rebuilt).

Restore replaces the chosen tables' rows with the snapshot's in one transaction, after taking a
fresh backup of what it is about to replace, so a restore can itself be undone.
"""
from __future__ import annotations

import json
import os
import shutil
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path

import pandas as pd

from .config import Settings, data_dir
from .db import Database
from .schema import OPS_TABLES, Table

KEEP_DEFAULT = 14
MANIFEST = "manifest.json"


class BackupError(RuntimeError):
    """A backup folder is missing, incomplete or does not match the database; says which."""


def registered_tables() -> dict[str, Table]:
    """Every ops table the code defines, with its types (to recreate it on an empty database)."""
    from .alerts import ALERT_DECISIONS
    from .daily_state import DAILY_RUN
    from .notify.outbox import ALERTS_LOG
    from .qmt import tables as qt
    from .qmt.live import tables as lt

    known = {t.name: t for t in OPS_TABLES.values()}
    for t in (ALERT_DECISIONS, DAILY_RUN, ALERTS_LOG, qt.BACKTEST_RUN, qt.BACKTEST_LOG, qt.BACKTEST_EQUITY,
              qt.ORDERS, qt.TRADES, qt.PAPER_STATE, qt.RECONCILE_DIFF, qt.BACKTEST_SWEEP, *lt.ALL):
        known[t.name] = t
    return known


def backup_root(settings: Settings) -> Path:
    """AQUANT_BACKUP_DIR, else `backups/<file stem>/` beside the DuckDB file, else data/backups/pg-<db>/."""
    env = os.environ.get("AQUANT_BACKUP_DIR")
    if env:
        return Path(env).expanduser().resolve()
    if settings.is_postgres:
        return data_dir() / "backups" / f"pg-{settings.pg['dbname']}"
    return settings.duckdb_path.parent / "backups" / settings.duckdb_path.stem


def keep_count() -> int:
    raw = os.environ.get("AQUANT_BACKUP_KEEP", str(KEEP_DEFAULT))
    try:
        n = int(raw)
    except ValueError:
        raise BackupError(f"AQUANT_BACKUP_KEEP must be a whole number of backups to keep, got {raw!r}") from None
    if n < 1:
        raise BackupError(f"AQUANT_BACKUP_KEEP must be at least 1, got {n}")
    return n


def ops_tables(db: Database) -> list[str]:
    rows = db.query("select table_name from information_schema.tables where table_schema = 'ops' "
                    "and table_type in ('BASE TABLE', 'TABLE') order by table_name")
    return [r[0] for r in rows]


@dataclass
class Snapshot:
    """One backup folder and what its manifest says it holds."""

    path: Path
    created_at: str
    rows: dict[str, int]

    @classmethod
    def read(cls, path: Path) -> "Snapshot":
        m = path / MANIFEST
        if not m.is_file():
            raise BackupError(f"{path} is not an aquant backup (no {MANIFEST}); list them with `aquant backup --list`")
        meta = json.loads(m.read_text())
        return cls(path, meta["created_at"], {k: int(v) for k, v in meta["rows"].items()})


def backup(db: Database, root: Path | None = None, keep: int | None = None, label: str = "",
           prune_old: bool = True) -> Snapshot:
    """Write every ops table to a new snapshot folder (atomically: a temp folder renamed at the end),
    then keep only the newest `keep` snapshots (unless prune_old is False)."""
    root = root or backup_root(db.settings)
    root.mkdir(parents=True, exist_ok=True)
    stamp = datetime.now(timezone.utc).strftime("%Y%m%dT%H%M%S%fZ")
    final = root / f"ops-{stamp}{'-' + label if label else ''}"
    tmp = root / f".tmp-{final.name}"
    tmp.mkdir()
    rows: dict[str, int] = {}
    try:
        with db.transaction():  # one snapshot of all tables (DuckDB MVCC; PostgreSQL below)
            if db.kind == "postgres":
                db.execute("set transaction isolation level repeatable read")
            for name in ops_tables(db):
                df = db.query_df(f'select * from ops."{name}"')
                df.to_parquet(tmp / f"{name}.parquet", index=False)
                rows[name] = len(df)
        meta = {"created_at": stamp, "database": db.settings.describe(), "rows": rows}
        (tmp / MANIFEST).write_text(json.dumps(meta, indent=1, sort_keys=True))
        tmp.rename(final)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    if prune_old:
        prune(root, keep or keep_count())
    return Snapshot(final, stamp, rows)


def snapshots(root: Path) -> list[Snapshot]:
    """Complete snapshots under root, oldest first."""
    if not root.is_dir():
        return []
    return [Snapshot.read(p) for p in sorted(root.glob("ops-*")) if (p / MANIFEST).is_file()]


def prune(root: Path, keep: int) -> list[Path]:
    """Delete all but the newest `keep` snapshots; returns what was deleted."""
    old = [s.path for s in snapshots(root)][:-keep]
    for p in old:
        shutil.rmtree(p)
    return old


def restore(db: Database, path: Path, tables: list[str] | None = None) -> dict[str, int]:
    """Replace ops tables' rows with the snapshot's; returns rows restored per table.

    A backup of the current state (label 'pre-restore') is taken first, beside the snapshot, without
    pruning (which could delete the very snapshot being restored).
    """
    snap = Snapshot.read(path)
    names = tables or sorted(snap.rows)
    missing = [n for n in names if n not in snap.rows or not (path / f"{n}.parquet").is_file()]
    if missing:
        raise BackupError(f"{path} has no data for {missing}; it holds {sorted(snap.rows)}")
    known = registered_tables()
    unknown = [n for n in names if n not in known and not db.table_exists("ops", n)]
    if unknown and db.kind != "duckdb":
        raise BackupError(f"cannot recreate {unknown} on PostgreSQL: no definition in this version of aquant")
    backup(db, path.parent, label="pre-restore", prune_old=False)
    done: dict[str, int] = {}
    with db.transaction():
        for name in names:
            df = pd.read_parquet(path / f"{name}.parquet")
            if len(df) != snap.rows[name]:
                raise BackupError(f"{path / (name + '.parquet')} has {len(df)} rows, the manifest says "
                                  f"{snap.rows[name]}: the backup is damaged")
            t = known.get(name)
            if t is not None:
                extra = sorted(set(df.columns) - set(t.columns))
                if extra:
                    raise BackupError(f"{name}: the backup has columns {extra} this version of aquant does not "
                                      f"know; restore with the version that wrote it")
                df = df.reindex(columns=list(t.columns))  # columns added since the backup stay null
                db.ensure_table(t)
                db.execute(f"delete from {t.fqn}")
                db.append(t, df)
            elif db.table_exists("ops", name):
                db.execute(f'delete from ops."{name}"')
                db.con.register("_restore_frame", df)
                db.execute(f'insert into ops."{name}" select * from _restore_frame')
                db.con.unregister("_restore_frame")
            else:
                db.con.register("_restore_frame", df)
                db.execute(f'create table ops."{name}" as select * from _restore_frame')
                db.con.unregister("_restore_frame")
            done[name] = len(df)
    return done

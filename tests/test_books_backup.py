"""The books (ops.*) are the system of record (issue 19, part 2): rebuilds and reloads never change a
row they do not own, `aquant backup` snapshots every ops table outside the warehouse, and
`aquant restore` brings back every order and trade."""
from __future__ import annotations

import json
from datetime import datetime

import pandas as pd
import pytest
from click.testing import CliRunner

from aquant import backup as bk
from aquant.cli import main
from aquant.db import Database
from aquant.qmt.tables import ORDERS, TRADES

NOW = datetime(2024, 6, 14, 7, 30)


def _books(db: Database) -> None:
    """An order and a trade of a real account, written the way qmt/records.py writes them."""
    order = {c: None for c in ORDERS.columns}
    order.update(order_id="live:s1:buy", signal_id="s1", account="acct-1", code="600000.SH", side="buy",
                 price=7.10, qty=1000, status="filled", created_at=NOW)
    trade = {c: None for c in TRADES.columns}
    trade.update(trade_id="t-1", order_id="live:s1:buy", code="600000.SH", side="buy", price=7.09, qty=1000,
                 fee=5.0, traded_at=NOW)
    db.append(ORDERS, pd.DataFrame([order]))
    db.append(TRADES, pd.DataFrame([trade]))


def _rows(db: Database) -> dict[str, set[tuple]]:
    """Every row of every ops table, as comparable tuples of text."""
    return {t: set(db.query_df(f'select * from ops."{t}"').astype(str).itertuples(index=False, name=None))
            for t in bk.ops_tables(db)}


def _cli(monkeypatch, settings, *args: str):
    monkeypatch.setenv("AQUANT_DB", str(settings.duckdb_path))
    monkeypatch.setenv("AQUANT_TARGET", "duckdb")
    out = CliRunner().invoke(main, list(args))
    assert out.exit_code == 0, out.output
    return out


@pytest.mark.slow
def test_rebuilds_reloads_and_the_demo_never_change_a_book_row(duck, monkeypatch):
    _cli(monkeypatch, duck, "demo", "--stocks", "4")
    with Database(duck) as db:
        _books(db)
        before = _rows(db)
    assert before["orders"] and before["trades"] and before["backtest_log"] and before["audit_log"]
    _cli(monkeypatch, duck, "build", "--full-refresh")
    _cli(monkeypatch, duck, "ingest", "--source", "sample", "--stocks", "4", "--full-refresh", "--quiet")
    _cli(monkeypatch, duck, "demo", "--stocks", "4")
    with Database(duck) as db:
        after = _rows(db)
    # ops.ingest_state is the loader's own progress record (watermarks): `ingest --full-refresh`
    # owns it and rewrites it by design. Every other ops table must keep every row it had.
    for table, rows in before.items():
        if table == "ingest_state":
            continue
        assert rows <= after[table], \
            f"ops.{table}: rows changed or lost by a rebuild: {sorted(rows - after[table])[:3]}"


def test_backup_and_restore_bring_back_every_order_and_trade(any_db, tmp_path):
    root = tmp_path / "snapshots"
    with Database(any_db) as db:
        _books(db)
        orig = {t.fqn: db.query_df(f"select * from {t.fqn} order by 1") for t in (ORDERS, TRADES)}
        snap = bk.backup(db, root, keep=5)
        assert snap.rows["orders"] == 1 and snap.rows["trades"] == 1
        db.execute("delete from ops.trades")
        db.execute("drop table ops.orders")
        db.close()
    with Database(any_db) as db:
        done = bk.restore(db, snap.path, ["orders", "trades"])
        assert done == {"orders": 1, "trades": 1}
        for t, df in orig.items():
            pd.testing.assert_frame_equal(db.query_df(f"select * from {t} order by 1"), df)
    pre = [s for s in bk.snapshots(root) if s.path.name.endswith("pre-restore")]
    assert len(pre) == 1 and pre[0].rows["trades"] == 0  # what the restore replaced is kept too


def test_retention_keeps_the_newest_and_a_damaged_backup_is_refused(duck, tmp_path):
    root = tmp_path / "snapshots"
    with Database(duck) as db:
        _books(db)
        made = [bk.backup(db, root, keep=2) for _ in range(3)]
        assert [s.path for s in bk.snapshots(root)] == [m.path for m in made[1:]]
        manifest = made[-1].path / bk.MANIFEST
        meta = json.loads(manifest.read_text())
        meta["rows"]["orders"] = 7
        manifest.write_text(json.dumps(meta))
        with pytest.raises(bk.BackupError, match="damaged"):
            bk.restore(db, made[-1].path, ["orders"])
        assert db.scalar("select count(*) from ops.orders") == 1  # nothing replaced


def test_cli_backup_list_and_restore(duck, monkeypatch):
    with Database(duck) as db:
        _books(db)
    out = _cli(monkeypatch, duck, "backup")
    path = out.output.split(" (")[0].strip()
    assert "ops.trades" not in out.output and "rows in" in out.output
    assert "ops-" in _cli(monkeypatch, duck, "backup", "--list").output
    with Database(duck) as db:
        db.execute("delete from ops.orders")
    _cli(monkeypatch, duck, "restore", path, "--yes")
    with Database(duck) as db:
        assert db.scalar("select count(*) from ops.orders") == 1
        assert db.scalar("select count(*) from ops.audit_log where action in ('backup', 'restore')") == 2

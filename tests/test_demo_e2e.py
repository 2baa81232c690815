"""`aquant demo` end to end: the real CLI in a subprocess, into a DuckDB file of its own.

AQUANT_DB points the command at a temporary file; DBT_TARGET_PATH / DBT_LOG_PATH keep dbt's
artifacts out of the project's target/ so the run never collides with other builds.
"""
from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import duckdb
import pytest

ROOT = Path(__file__).resolve().parents[1]


@pytest.mark.slow
def test_aquant_demo_builds_signals_targets_and_a_backtest(tmp_path: Path):
    db = tmp_path / "demo.duckdb"
    env = {**os.environ, "AQUANT_DB": str(db), "DBT_TARGET_PATH": str(tmp_path / "target"),
           "DBT_LOG_PATH": str(tmp_path / "logs"), "AQUANT_TARGET": "duckdb"}
    exe = Path(sys.executable).parent / "aquant"
    proc = subprocess.run([str(exe), "demo"], cwd=ROOT, env=env, capture_output=True, text=True, timeout=900)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    assert db.exists()
    con = duckdb.connect(str(db), read_only=True)
    try:
        def n(sql: str) -> int:
            return con.execute(sql).fetchone()[0]

        assert n("select count(*) from signals.factor_scores") > 10_000
        assert n("select count(*) from signals.signals where layer = 'offense' and kind = 'buy'") > 0
        assert n("select count(*) from signals.signals where layer = 'offense' and kind = 'sell'") > 0
        assert n("select count(*) from signals.signals where layer = 'stable'") > 0
        assert n("select count(*) from signals.portfolio_targets") > 0
        assert n("select count(*) from signals.qmt_signals") > 0
        assert n("select count(*) from ops.backtest_run") == 1
        assert n("select count(*) from ops.backtest_log") > 0
        assert n("select count(*) from ops.orders where account = 'demo-paper'") > 0
        assert n("select count(*) from ops.trades where account = 'demo-paper'") > 0
        assert n("select count(*) from ops.audit_log where action = 'paper'") == 2
        latest = n("select max(trade_date) from signals.factor_scores")
        assert n(f"select count(*) from signals.qmt_signals where trade_date <> '{latest}'") == 0
    finally:
        con.close()
    assert "backtest" in proc.stdout and "qmt_signals" in proc.stdout
    assert "turnover" in proc.stdout and "cost drag" in proc.stdout  # issue 13: every backtest reports them

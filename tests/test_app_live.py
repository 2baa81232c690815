"""The Today page shows a live session's orders, fills and stops, from a real simulated day."""
from __future__ import annotations

from pathlib import Path

from streamlit.testing.v1 import AppTest

from aquant.db import Database
from test_live_session import ACCT, D, Faults, _carry, _market, _run

MAIN = str(Path(__file__).resolve().parents[1] / "app" / "main.py")


def test_today_shows_the_live_sessions_orders_fills_and_stops(duck, tmp_path, monkeypatch):
    with Database(duck) as db:
        _market(db)
        _carry(tmp_path / "sim")
        _run(db, tmp_path, Faults())
        orders = db.scalar("select count(*) from ops.orders where account = ? and trade_date = ?", [ACCT, D])
        fills = db.scalar("select count(*) from ops.trades where account = ? and cast(traded_at as date) = ?", [ACCT, D])
    monkeypatch.setenv("AQUANT_DB", str(duck.duckdb_path))
    monkeypatch.setenv("AQUANT_TARGET", "duckdb")
    at = AppTest.from_file(MAIN, default_timeout=60)
    at.run()
    assert not at.exception, [e.message for e in at.exception]
    assert at.title[0].value == "Today" and at.subheader[0].value == "Live session"
    assert any(f"{ACCT} (sim): **done** (exit 0)" in c.value for c in at.caption)
    frames = [d.value for d in at.dataframe]
    od = next(f for f in frames if "filled_qty" in f.columns)
    fl = next(f for f in frames if "trade_id" in f.columns)
    assert len(od) == orders and len(fl) == fills
    stops = [f for f in frames if "filled_qty" in f.columns][1]
    assert {r.split(":")[0] for r in stops.reason} == {"stop", "target"} and "600519.SH" in set(stops.code)
    lv = next(f for f in frames if "high" in f.columns)
    assert "601318.SH" not in set(lv.code) and "000001.SZ" in set(lv.code)  # sold out / bought today
    # no scores built in this database: the rest of the page says so
    assert any("factor_scores" in m.value for m in at.info), [m.value for m in at.info]

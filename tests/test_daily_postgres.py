"""`aquant daily` on PostgreSQL: D-1 -> D, and a second run the same day changes nothing."""
from __future__ import annotations

from datetime import date

import pytest

from aquant.daily import run_daily
from aquant.daily_steps import DailyOptions
from aquant.db import Database

pytestmark = [pytest.mark.postgres, pytest.mark.slow]


def test_daily_on_postgres_moves_to_day_and_is_idempotent(pg_db, tmp_path):
    def opt(day: date) -> DailyOptions:
        return DailyOptions(run_date=day, stocks=3, qmt_dir=tmp_path / "qmt", skip_notify=True,
                            target_path=str(tmp_path / "dbt_target"))

    assert run_daily(opt(date(2021, 3, 30)), pg_db).exit_code == 0
    res = run_daily(opt(date(2021, 3, 31)), pg_db)
    assert res.exit_code == 0, res.summary()
    with Database(pg_db) as db:
        assert db.scalar("select max(trade_date) from raw.daily_quote") == date(2021, 3, 31)
        assert db.scalar("select max(trade_date) from factors.factor_technical") == date(2021, 3, 31)
        snap = (db.scalar("select count(*) from raw.daily_quote"),
                str(db.scalar("select max(loaded_at) from raw.daily_quote")),
                db.query("select signal_id, composite_score from signals.signals order by signal_id"))
        states = dict(db.query("select step, status from ops.daily_run where run_date = ?", [date(2021, 3, 31)]))
    assert states == {"ingest": "ok", "build": "ok", "export": "ok"}
    again = run_daily(opt(date(2021, 3, 31)), pg_db)
    assert [s.status for s in again.steps][:3] == ["done", "done", "done"]
    with Database(pg_db) as db:
        assert snap == (db.scalar("select count(*) from raw.daily_quote"),
                        str(db.scalar("select max(loaded_at) from raw.daily_quote")),
                        db.query("select signal_id, composite_score from signals.signals order by signal_id"))

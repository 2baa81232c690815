"""`aquant daily` on the sample market: D-1 -> D, idempotent same-day re-runs, non-trading days,
failed steps that stop their dependents and a next run that resumes, audit and state rows.

One baseline database (the pipeline run for D-1) is built once per module and copied per test,
so each test pays for at most the dbt builds it is about.
"""
from __future__ import annotations

import hashlib
import json
import shutil
from dataclasses import replace
from datetime import date
from pathlib import Path

import pytest
from click.testing import CliRunner

from aquant import daily_steps
from aquant.cli import main
from aquant.daily import run_daily
from aquant.daily_steps import DailyOptions
from aquant.db import Database

from conftest import duck_settings

pytestmark = pytest.mark.slow

D_PREV, D = date(2021, 3, 30), date(2021, 3, 31)
SATURDAY = date(2021, 4, 3)
STOCKS = 4


def options(tmp: Path, day: date = D, **kw) -> DailyOptions:
    return DailyOptions(run_date=day, source="sample", stocks=STOCKS, qmt_dir=tmp / "qmt", skip_notify=True,
                        target_path=str(tmp / "dbt_target"), **kw)


def fingerprint(settings) -> dict:
    """Row counts of raw, the newest loaded_at, and a checksum of the signals table."""
    with Database(settings) as db:
        raw = {t: db.scalar(f"select count(*) from raw.{t}") for t in
               ("daily_quote", "funds_flow", "chip_distribution", "finance_data", "trade_calendar", "minute_quote")}
        loaded = str(db.scalar("select max(loaded_at) from raw.daily_quote"))
        sig = db.query_df("select signal_id, trade_date, code, kind, composite_score from signals.signals "
                          "order by signal_id")
    digest = hashlib.sha256(sig.to_csv(index=False).encode()).hexdigest()
    return {"raw": raw, "loaded_at": loaded, "signals": len(sig), "signals_sha": digest}


def steps(settings, day: date) -> dict[str, tuple[str, int]]:
    with Database(settings) as db:
        rows = db.query("select step, status, attempts from ops.daily_run where run_date = ?", [day])
    return {s: (st, a) for s, st, a in rows}


@pytest.fixture(scope="module")
def baseline(tmp_path_factory) -> Path:
    """A DuckDB file after `aquant daily` for D-1."""
    tmp = tmp_path_factory.mktemp("daily_base")
    settings = duck_settings(tmp / "warehouse.duckdb")
    res = run_daily(options(tmp, D_PREV), settings)
    assert res.exit_code == 0, res.summary()
    return tmp / "warehouse.duckdb"


@pytest.fixture
def at_prev(baseline: Path, tmp_path: Path):
    """A private copy of the D-1 database."""
    path = tmp_path / "warehouse.duckdb"
    shutil.copy(baseline, path)
    return duck_settings(path)


@pytest.fixture(scope="module")
def at_day(baseline: Path, tmp_path_factory):
    """The D-1 database moved to D by one `aquant daily` run (shared by the read-only checks)."""
    tmp = tmp_path_factory.mktemp("daily_day")
    shutil.copy(baseline, tmp / "warehouse.duckdb")
    settings = duck_settings(tmp / "warehouse.duckdb")
    before = fingerprint(settings)
    res = run_daily(options(tmp), settings)
    return settings, tmp, before, res


def test_daily_moves_the_database_from_previous_day_to_day(at_day):
    settings, tmp, before, res = at_day
    assert res.exit_code == 0, res.summary()
    assert [s.status for s in res.steps] == ["ok", "ok", "ok", "skipped"]
    with Database(settings) as db:
        assert db.scalar("select max(trade_date) from raw.daily_quote") == D
        assert db.scalar("select max(trade_date) from factors.factor_technical") == D
        assert db.scalar("select count(*) from raw.daily_quote where trade_date = ?", [D]) > 0
    after = fingerprint(settings)
    assert after["raw"]["daily_quote"] > before["raw"]["daily_quote"]
    assert steps(settings, D) == {"ingest": ("ok", 1), "build": ("ok", 1), "export": ("ok", 1)}
    assert (tmp / "qmt" / "qmt_orders_20210401.csv").exists()  # intents for the next session


def test_daily_audits_every_step_with_rows_timings_and_dbt_invocation(at_day):
    settings, *_ = at_day
    with Database(settings) as db:
        rows = db.query("select detail from ops.audit_log where action = 'daily_step'")
        final = db.query("select detail from ops.audit_log where action = 'daily'")
    details = [json.loads(r[0]) for r in rows if json.loads(r[0])["run_date"] == str(D)]
    by_step = {d["step"]: d for d in details}
    assert set(by_step) == {"ingest", "build", "export"}
    assert by_step["ingest"]["rows_added"]["daily_quote"] > 0
    assert by_step["build"]["invocation_id"] and by_step["build"]["statuses"]
    assert all("elapsed_s" in d for d in details)
    assert any(json.loads(r[0])["run_date"] == str(D) and json.loads(r[0])["status"] == "ok" for r in final)


def test_second_run_the_same_day_changes_nothing(at_day):
    settings, tmp, _, _ = at_day
    first = fingerprint(settings)
    res = run_daily(options(tmp), settings)
    assert res.exit_code == 0
    assert {s.step: s.status for s in res.steps if s.step != "notify"} == {
        "ingest": "done", "build": "done", "export": "done"}
    assert fingerprint(settings) == first


def test_forced_rerun_the_same_day_adds_no_raw_rows_and_same_signals(at_prev, tmp_path):
    run_daily(options(tmp_path), at_prev)
    first = fingerprint(at_prev)
    res = run_daily(options(tmp_path, force=True), at_prev)
    assert res.exit_code == 0, res.summary()
    assert [s.status for s in res.steps][:3] == ["ok", "ok", "ok"]
    assert fingerprint(at_prev) == first
    assert steps(at_prev, D)["build"] == ("ok", 2)


def test_non_trading_day_is_skipped_with_exit_code_0(at_prev, tmp_path, monkeypatch):
    before = fingerprint(at_prev)
    monkeypatch.setenv("AQUANT_DB", str(at_prev.duckdb_path))
    monkeypatch.setenv("AQUANT_TARGET", "duckdb")
    out = CliRunner().invoke(main, ["daily", "--date", SATURDAY.isoformat(), "--stocks", str(STOCKS),
                                    "--qmt-dir", str(tmp_path / "qmt"), "--skip-notify"])
    assert out.exit_code == 0, out.output
    assert "not a trading day" in out.output
    assert steps(at_prev, SATURDAY) == {}
    assert fingerprint(at_prev) == before


def test_bad_usage_exits_2(tmp_path, monkeypatch):
    monkeypatch.setenv("AQUANT_DB", str(tmp_path / "w.duckdb"))
    assert CliRunner().invoke(main, ["daily", "--date", "2021-13-01"]).exit_code == 2
    assert CliRunner().invoke(main, ["daily", "--dbt-vars", "[1]"]).exit_code == 2
    assert CliRunner().invoke(main, ["daily", "--source", "tushare", "--stocks", "3"]).exit_code == 2


def test_failed_build_stops_dependents_and_the_next_run_resumes(at_prev, tmp_path):
    bad = run_daily(options(tmp_path, dbt_vars={"macd_fast": "not-a-number"}), at_prev)
    assert bad.exit_code == 1
    assert {s.step: s.status for s in bad.steps} == {"ingest": "ok", "build": "failed", "export": "blocked",
                                                      "notify": "blocked"}
    assert steps(at_prev, D) == {"ingest": ("ok", 1), "build": ("failed", 1)}
    assert not (tmp_path / "qmt" / "qmt_orders_20210401.csv").exists()
    with Database(at_prev) as db:
        assert db.scalar("select max(trade_date) from factors.factor_technical") == D_PREV  # untouched
        fails = [json.loads(r[0]) for r in db.query("select detail from ops.audit_log where action = 'daily_step'")]
    assert any(f["step"] == "build" and f["status"] == "failed" and "dbt build failed" in f["error"] for f in fails)

    good = run_daily(options(tmp_path), at_prev)
    assert good.exit_code == 0, good.summary()
    assert {s.step: s.status for s in good.steps if s.step != "notify"} == {
        "ingest": "done", "build": "ok", "export": "ok"}
    assert steps(at_prev, D)["build"] == ("ok", 2)
    with Database(at_prev) as db:
        assert db.scalar("select max(trade_date) from factors.factor_technical") == D


def test_broken_ingest_exits_1_blocks_everything_and_is_retried(at_prev, tmp_path, monkeypatch):
    def broken(settings, opt):
        raise ConnectionError("upstream unreachable")

    monkeypatch.setitem(daily_steps.STEPS, "ingest", broken)
    monkeypatch.setenv("AQUANT_DB", str(at_prev.duckdb_path))
    monkeypatch.setenv("AQUANT_TARGET", "duckdb")
    before = fingerprint(at_prev)
    args = ["daily", "--date", D.isoformat(), "--stocks", str(STOCKS), "--qmt-dir", str(tmp_path / "qmt"),
            "--skip-notify", "--dbt-target-path", str(tmp_path / "dbt_target")]
    out = CliRunner().invoke(main, args)
    assert out.exit_code == 1, out.output
    assert "failed at ingest" in out.output
    assert steps(at_prev, D) == {"ingest": ("failed", 1)}
    assert fingerprint(at_prev) == before  # nothing half-written

    monkeypatch.undo()
    res = run_daily(replace(options(tmp_path)), at_prev)
    assert res.exit_code == 0, res.summary()
    assert steps(at_prev, D)["ingest"] == ("ok", 2)


def test_failure_is_notified_best_effort(at_prev, tmp_path, monkeypatch):
    sent = []

    class Fake:
        name = "fake"

        def send(self, message):
            sent.append(message)

    monkeypatch.setattr("aquant.notify.channels.configured", lambda *a, **k: [Fake()])
    monkeypatch.setitem(daily_steps.STEPS, "ingest", lambda s, o: (_ for _ in ()).throw(RuntimeError("boom")))
    opt = replace(options(tmp_path), skip_notify=False)
    res = run_daily(opt, at_prev)
    assert res.exit_code == 1
    assert len(sent) == 1 and "ingest failed" in sent[0].subject
    assert res.failed[0].detail["failure_notified"] == ["fake"]

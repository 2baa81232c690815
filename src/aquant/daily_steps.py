"""The four steps of `aquant daily` (ingest, build, export, notify) and the trading-day check.

Each step opens its own database connection and closes it before returning, because dbt (a
separate process) needs the DuckDB file unlocked while it builds. Each returns a `StepOutcome`
with what it did (rows, timings, dbt invocation id), or raises: the orchestrator in daily.py
turns an exception into a `failed` step, so a step never has to guess what its caller wants.
"""
from __future__ import annotations

import json
import time
from dataclasses import dataclass, field
from datetime import date, datetime, timezone
from pathlib import Path
from typing import Any

from .config import Settings
from .db import Database
from .schema import RAW_TABLES
from .trading_calendar import session_status


@dataclass
class DailyOptions:
    """Everything one `aquant daily` run needs; the CLI and the tests build one of these."""

    run_date: date
    source: str = "sample"
    stocks: int | None = None
    qmt_dir: Path = Path("data/qmt")
    account: str = "qmt"
    capital: float = 1_000_000.0
    skip_notify: bool = False
    force: bool = False
    dbt_vars: dict[str, Any] | None = None
    target_path: str | None = None
    verbose: bool = False


@dataclass
class StepOutcome:
    """How a step ended: `ok`, `partial` (usable but incomplete; re-run next time) or `skipped`."""

    status: str = "ok"
    detail: dict[str, Any] = field(default_factory=dict)


class StepFailed(RuntimeError):
    """A step ran and reported failure (dbt exit code, undelivered messages); detail says what."""

    def __init__(self, message: str, detail: dict[str, Any] | None = None):
        super().__init__(message)
        self.detail = detail or {}


# -- calendar -------------------------------------------------------------------------------
def trading_day(db: Database, day: date) -> tuple[bool, str]:
    """Is `day` an SSE session, and which calendar said so (aquant.trading_calendar).

    Raises CalendarGap when neither raw.trade_calendar nor the installed calendar knows the day:
    the job stops and says how to load the calendar, it never guesses a weekday.
    """
    return session_status(db, day)


# -- ingest ---------------------------------------------------------------------------------
def _raw_counts(db: Database) -> dict[str, int]:
    return {n: int(db.scalar(f"select count(*) from {t.fqn}")) for n, t in RAW_TABLES.items()
            if db.table_exists("raw", n)}


def _ingest_rows(db: Database, since: datetime) -> dict[str, Any]:
    """[inserted, updated] per table, as `aquant ingest` audited them. Updated rows on a sample
    run mean the sample rewrote history (see .cursorrules, Lessons), worth seeing in the log."""
    d = db.scalar('select detail from ops.audit_log where action = ? and "at" >= ? order by "at" desc limit 1',
                  ["ingest", since])
    return json.loads(d).get("rows", {}) if d else {}


def step_ingest(settings: Settings, opt: DailyOptions) -> StepOutcome:
    """Bring raw up to run_date: the sample market extended to that day, or a network source's
    incremental load (watermarks make it fetch only what is missing)."""
    with Database(settings) as db:
        before = _raw_counts(db)
        if opt.source == "sample":
            from .ingest import run as run_ingest

            t0 = datetime.now(timezone.utc).replace(tzinfo=None)
            run_ingest(db, source="sample", end=opt.run_date, stocks=opt.stocks, progress=opt.verbose)
            status, extra = "ok", {"rows": _ingest_rows(db, t0)}
        else:
            from .extract.runner import run_ingest as run_network

            s = run_network(db, opt.source, end=opt.run_date, progress=opt.verbose)
            if s.status not in ("ok", "partial"):
                raise StepFailed(f"ingest ended {s.status}", {"status": s.status})
            status = s.status
            extra = {"rows": {t: [r.inserted, r.updated] for t, r in s.tables.items()}, "failures": len(s.failures),
                     "failed_units": [f"{f.job}:{f.unit}" for f in s.failures[:20]],
                     "calls": s.calls, "ingest_event_id": s.event_id}
        after = _raw_counts(db)
        latest = db.scalar("select max(trade_date) from raw.daily_quote") if "daily_quote" in after else None
    added = {t: after[t] - before.get(t, 0) for t in after if after[t] != before.get(t, 0)}
    return StepOutcome(status, {"rows_added": added, "raw_rows": sum(after.values()),
                                "latest_quote": latest, **extra})


# -- build ----------------------------------------------------------------------------------
def _run_results(path: Path, since: float) -> dict[str, Any]:
    """Counts per status and the failing nodes from dbt's run_results.json, if this invocation
    wrote it (a compile error writes none, and a stale file would name the wrong run)."""
    if not path.exists() or path.stat().st_mtime < since:
        return {}
    data = json.loads(path.read_text())
    res = data.get("results", [])
    counts: dict[str, int] = {}
    for r in res:
        counts[r["status"]] = counts.get(r["status"], 0) + 1
    bad = [{"node": r["unique_id"], "status": r["status"], "message": (r.get("message") or "")[:300]}
           for r in res if r["status"] in ("error", "fail", "runtime error")]
    return {"statuses": counts, "failed_nodes": bad[:20], "dbt_elapsed_s": round(data.get("elapsed_time", 0), 2)}


def build_vars(opt: DailyOptions) -> dict[str, Any]:
    """The dbt vars of the daily build: `test_recent_days` from the knob daily_test_recent_days
    (dbt_project.yml), so the data tests read the days a one-day build writes, not every row of
    ten years; then the run's own --dbt-vars, which win (`{"test_recent_days": 0}` tests every row)."""
    from .qmt.knobs import dbt_vars

    days = dbt_vars().get("daily_test_recent_days")
    out: dict[str, Any] = {"test_recent_days": int(days)} if days else {}
    out.update(opt.dbt_vars or {})
    return out


def step_build(settings: Settings, opt: DailyOptions) -> StepOutcome:
    """`dbt build` of the whole project. Every model is incremental or small, so a one-day build
    writes the new day (and what it changes: a late report, an open trade's chain); tables are
    rebuilt because their input data changed, which `state:modified+` (a code-change selector)
    would not see. Data tests on the latest days only by default (build_vars)."""
    from .config import dbt_target_dir
    from .dbt_runner import run_dbt

    args = ["build"]
    vars_ = build_vars(opt)
    t0 = time.time()
    res = run_dbt(settings, args, vars_=vars_ or None, quiet=not opt.verbose, target_path=opt.target_path)
    rr = (Path(opt.target_path) if opt.target_path else dbt_target_dir()) / "run_results.json"
    counts = _run_results(rr, t0)
    detail = {"args": args, "vars": vars_ or None, "returncode": res.returncode,
              "invocation_id": res.invocation_id if counts else None, **counts}
    if res.returncode != 0:
        raise StepFailed(f"dbt build failed (exit {res.returncode})", detail)
    return StepOutcome("ok", detail)


# -- export ---------------------------------------------------------------------------------
def step_export(settings: Settings, opt: DailyOptions) -> StepOutcome:
    """Write the next session's order intents for QMT (same order ids if re-exported)."""
    from .qmt.handoff import export_qmt

    with Database(settings) as db:
        path = export_qmt(db, opt.run_date, opt.qmt_dir, opt.account, opt.capital)
    with open(path, encoding="utf-8") as f:
        n = sum(1 for _ in f) - 1
    return StepOutcome("ok", {"file": str(path), "orders": n, "account": opt.account})


# -- notify ---------------------------------------------------------------------------------
def step_notify(settings: Settings, opt: DailyOptions) -> StepOutcome:
    """Send new alerts/stops through the configured channels (the notifier's outbox dedups)."""
    from .notify.channels import configured
    from .notify.runner import run_notify

    channels = configured()
    if not channels:
        return StepOutcome("ok", {"channels": 0, "note": "no notification channel configured; nothing sent"})
    with Database(settings) as db:
        res = run_notify(db, channels)
    detail = {"events": res.events, "channels": {n: {"queued": c.queued, "delivered": c.delivered, "failed": c.failed}
                                                 for n, c in res.channels.items()}}
    if not res.ok:
        raise StepFailed("some notifications were not delivered (queued in ops.alerts_log)", detail)
    return StepOutcome("ok", detail)


def notify_failure(run_date: date, step: str, error: str) -> list[str]:
    """Best effort: tell every configured channel that a step failed. Returns the channels reached;
    never raises, because a broken mail server must not hide the original failure."""
    try:
        from .notify.channels import Message, configured

        text = (f"aquant daily {run_date}: step '{step}' failed.\n{error}\n\n"
                f"Steps that depend on it did not run. Fix the cause and run `aquant daily --date {run_date}` "
                f"again: finished steps are skipped.")
        msg = Message(subject=f"aquant daily {run_date}: {step} failed", text=text,
                      markdown=f"## aquant daily {run_date}\n> step **{step}** failed: {error}")
        reached = []
        for ch in configured():
            try:
                ch.send(msg)
                reached.append(ch.name)
            except Exception:  # noqa: BLE001 - best effort by design
                continue
        return reached
    except Exception:  # noqa: BLE001
        return []


STEPS = {"ingest": step_ingest, "build": step_build, "export": step_export, "notify": step_notify}
# Which steps must have succeeded (today) before a step may run.
NEEDS = {"ingest": [], "build": ["ingest"], "export": ["build"], "notify": ["build"]}

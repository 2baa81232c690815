"""`aquant daily`: the after-close pipeline, ingest -> dbt build -> QMT export -> notify.

Made for cron (and `meltano run daily`, which calls this same command): it skips non-trading
days, records each step per day in ops.daily_run and ops.audit_log, stops the steps that depend
on a failed one, and on the next run resumes where it stopped (finished steps are skipped).

Exit codes, so cron and Meltano can tell outcomes apart:
    0  every step ok, or already done today, or not a trading day (nothing to do)
    1  a step failed (dependents did not run; see ops.daily_run / `aquant audit`)
    2  bad usage (unknown option, malformed date or JSON)
"""
from __future__ import annotations

import json
import time
import traceback
from dataclasses import dataclass, field
from datetime import date, datetime
from pathlib import Path
from typing import Any

import click

from . import audit, backup, daily_state
from .clickparams import parse_date
from .config import ConfigError, Settings, load_settings
from .daily_steps import NEEDS, STEPS, DailyOptions, StepFailed, StepOutcome, notify_failure, trading_day
from .db import Database
from .trading_calendar import CalendarGap

EXIT_OK, EXIT_FAILED, EXIT_USAGE = 0, 1, 2
ORDER = ["ingest", "build", "export", "notify"]
SHANGHAI = "Asia/Shanghai"


@dataclass
class StepReport:
    """One step of one run, as printed and returned to tests."""

    step: str
    status: str  # ok | partial | failed | skipped | done (earlier run) | blocked
    seconds: float = 0.0
    detail: dict[str, Any] = field(default_factory=dict)


@dataclass
class DailyResult:
    """The outcome of `run_daily`; `exit_code` is what the command returns."""

    run_date: date
    source: str
    trading: bool
    calendar: str
    steps: list[StepReport] = field(default_factory=list)

    @property
    def failed(self) -> list[StepReport]:
        return [s for s in self.steps if s.status == "failed"]

    @property
    def exit_code(self) -> int:
        return EXIT_FAILED if self.failed else EXIT_OK

    def summary(self) -> str:
        if not self.trading:
            return f"{self.run_date} is not a trading day ({self.calendar}); nothing to do"
        lines = [f"aquant daily {self.run_date} source={self.source}"]
        for s in self.steps:
            note = s.detail.get("error") or s.detail.get("note") or ""
            lines.append(f"  {s.step:<7} {s.status:<8} {s.seconds:6.1f}s  {note}".rstrip())
        if self.failed:
            lines.append(f"failed at {self.failed[0].step}; fix the cause and run the same command again "
                         f"(finished steps are skipped)")
        return "\n".join(lines)


def shanghai_today() -> date:
    """Today's date on the exchange's clock: a UTC cron at 07:45 is already the afternoon in China."""
    from zoneinfo import ZoneInfo

    return datetime.now(ZoneInfo(SHANGHAI)).date()


def _audit(settings: Settings, action: str, detail: dict[str, Any]) -> None:
    with Database(settings) as db:
        audit.record(db, action, detail)


def _run_step(settings: Settings, opt: DailyOptions, step: str, attempts: int) -> StepReport:
    """Run one step with its state bookkeeping; an exception becomes a `failed` report."""
    with Database(settings) as db:
        started = daily_state.start(db, opt.run_date, opt.source, step, attempts)
    t0 = time.perf_counter()
    try:
        out: StepOutcome = STEPS[step](settings, opt)
        status, detail = out.status, dict(out.detail)
    except Exception as exc:  # noqa: BLE001 - any failure of a step is recorded, never swallowed silently
        status = "failed"
        detail = dict(exc.detail) if isinstance(exc, StepFailed) else {}
        detail["error"] = f"{type(exc).__name__}: {exc}"[:1000]
        if not isinstance(exc, StepFailed):
            detail["traceback"] = traceback.format_exc(limit=6)[-3000:]
    seconds = round(time.perf_counter() - t0, 2)
    detail["elapsed_s"] = seconds
    with Database(settings) as db:
        daily_state.finish(db, opt.run_date, opt.source, step, status, started, attempts, detail)
        audit.record(db, "daily_step", {"run_date": opt.run_date, "source": opt.source, "step": step,
                                        "status": status, "attempt": attempts, **detail})
    return StepReport(step, status, seconds, detail)


def run_daily(opt: DailyOptions, settings: Settings | None = None) -> DailyResult:
    """Run (or resume) the pipeline for `opt.run_date`. Never raises for a failing step."""
    settings = settings or load_settings()
    with Database(settings) as db:
        is_open, how = trading_day(db, opt.run_date)
        stored = {} if not is_open else daily_state.load(db, opt.run_date, opt.source)
    result = DailyResult(opt.run_date, opt.source, is_open, how)
    if not is_open:
        _audit(settings, "daily", {"run_date": opt.run_date, "source": opt.source, "status": "skipped",
                                   "reason": f"not a trading day ({how})"})
        return result
    # The books first: a snapshot of ops.* before any step writes (docs/backup.md).
    with Database(settings) as db:
        snap = backup.backup(db)
        audit.record(db, "backup", {"path": str(snap.path), "rows": snap.rows, "via": "daily",
                                    "run_date": opt.run_date})
    ran: set[str] = set()
    good: set[str] = set()  # usable outputs this run (ok, partial, or done earlier)
    for step in ORDER:
        needs = NEEDS[step]
        if any(n not in good for n in needs):
            result.steps.append(StepReport(step, "blocked", detail={"note": f"needs {', '.join(needs)}"}))
            continue
        prev = stored.get(step)
        upstream_ran = any(n in ran for n in needs)
        if step == "notify" and opt.skip_notify:
            result.steps.append(StepReport(step, "skipped", detail={"note": "--skip-notify"}))
            continue
        if prev and prev.status in daily_state.DONE and not opt.force and not upstream_ran:
            result.steps.append(StepReport(step, "done", detail={"note": "already done today"}))
            good.add(step)
            continue
        rep = _run_step(settings, opt, step, (prev.attempts if prev else 0) + 1)
        result.steps.append(rep)
        ran.add(step)
        if rep.status in ("ok", "partial"):
            good.add(step)
    if result.failed and not opt.skip_notify:
        first = result.failed[0]
        reached = notify_failure(opt.run_date, first.step, first.detail.get("error", "unknown error"))
        first.detail["failure_notified"] = reached
    _audit(settings, "daily", {"run_date": opt.run_date, "source": opt.source,
                               "status": "failed" if result.failed else "ok",
                               "steps": {s.step: s.status for s in result.steps},
                               "elapsed_s": round(sum(s.seconds for s in result.steps), 2)})
    return result


# -- command line ----------------------------------------------------------------------------
def _parse_vars(_ctx: click.Context, _param: click.Parameter, value: str | None) -> dict[str, Any] | None:
    if not value:
        return None
    try:
        v = json.loads(value)
    except json.JSONDecodeError:
        raise click.BadParameter(f"expected a JSON object like '{{\"buy_threshold\": 6}}', got {value!r}") from None
    if not isinstance(v, dict):
        raise click.BadParameter(f"expected a JSON object, got {type(v).__name__}")
    return v


SOURCES = ["sample", "akshare", "tushare", "xtdata"]


@click.command("daily")
@click.option("--source", type=click.Choice(SOURCES), default="sample", show_default=True, envvar="AQUANT_DAILY_SOURCE")
@click.option("--date", "run_date", callback=parse_date, envvar="AQUANT_DAILY_DATE",
              help="Trading day to process (YYYY-MM-DD) [default: today in Asia/Shanghai].")
@click.option("--stocks", type=int, default=None, envvar="AQUANT_DAILY_STOCKS",
              help="Sample source: number of stocks (default 60).")
@click.option("--qmt-dir", type=click.Path(file_okay=False), default=None,
              help="Folder the QMT hand-off CSV goes to [default: AQUANT_QMT_DIR or data/qmt under the project].")
@click.option("--account", default="qmt", show_default=True, help="Account the QMT intents are recorded for.")
@click.option("--capital", type=float, default=1_000_000.0, show_default=True, help="CNY for weight -> qty.")
@click.option("--skip-notify", is_flag=True, envvar="AQUANT_DAILY_SKIP_NOTIFY",
              help="Do not send notifications (neither signals nor failures).")
@click.option("--force", is_flag=True, help="Re-run every step even if it is already done for that day.")
@click.option("--dbt-vars", callback=_parse_vars, help="dbt vars as JSON for the build step.")
@click.option("--dbt-target-path", type=click.Path(file_okay=False), default=None, envvar="AQUANT_DBT_TARGET_PATH",
              help="dbt target/log folder [default: the project's target/]; keeps cron apart from a developer's "
                   "builds.")
@click.option("--verbose", "-v", is_flag=True, help="Show ingest progress and dbt's own output.")
def daily_cmd(source: str, run_date: date | None, stocks: int | None, qmt_dir: str | None, account: str,
              capital: float, skip_notify: bool, force: bool, dbt_vars: dict[str, Any] | None,
              dbt_target_path: str | None, verbose: bool) -> None:
    """After-close pipeline: ingest -> dbt build -> QMT export -> notify (resumable, cron-safe).

    Exit codes: 0 done / already done / not a trading day; 1 a step failed (the next run
    resumes from it); 2 bad usage. Options can also come from the environment (AQUANT_DAILY_SOURCE,
    AQUANT_DAILY_DATE, AQUANT_DAILY_STOCKS, AQUANT_DAILY_SKIP_NOTIFY=1, AQUANT_QMT_DIR, AQUANT_DBT_TARGET_PATH),
    which is how `meltano run daily` is configured.
    """
    import os

    from .config import data_dir

    try:
        settings = load_settings()
        folder = Path(qmt_dir or os.environ.get("AQUANT_QMT_DIR") or data_dir() / "qmt")
    except ConfigError as exc:
        raise click.UsageError(str(exc)) from exc
    if stocks is not None and source != "sample":
        raise click.UsageError("--stocks only applies to the sample source")
    opt = DailyOptions(run_date=run_date or shanghai_today(), source=source, stocks=stocks, qmt_dir=folder,
                       account=account, capital=capital, skip_notify=skip_notify, force=force, dbt_vars=dbt_vars,
                       target_path=dbt_target_path, verbose=verbose)
    try:
        result = run_daily(opt, settings)
    except (ConnectionError, CalendarGap) as exc:
        click.echo(f"error: {exc}", err=True)
        raise SystemExit(EXIT_FAILED) from exc
    click.echo(result.summary())
    raise SystemExit(result.exit_code)


COMMANDS = [daily_cmd]

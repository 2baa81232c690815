"""CLI commands of qmt/: backtest, export-qmt, import-fills, reconcile, paper.

The lead registers `COMMANDS` in aquant.cli. Each command opens `Database()` from the environment
(AQUANT_DB / AQUANT_TARGET) and prints a short summary; bad input is a one-line click error.
"""
from __future__ import annotations

import json
from datetime import datetime, timedelta
from pathlib import Path

import click

from aquant import audit
from aquant.config import ConfigError
from aquant.relations import RelationError


def _db():
    from aquant.db import Database

    try:
        return Database()
    except (ConfigError, ConnectionError) as exc:
        raise click.ClickException(str(exc)) from exc


def _params(text: str | None) -> dict:
    if not text:
        return {}
    try:
        p = json.loads(text)
    except json.JSONDecodeError as exc:
        raise click.UsageError(f"--params must be a JSON object, e.g. '{{\"buy_weight\": 0.1}}'; got {text!r}") from exc
    if not isinstance(p, dict):
        raise click.UsageError(f"--params must be a JSON object, got {type(p).__name__}")
    return p


def _fail(exc: Exception) -> click.ClickException:
    return click.ClickException(str(exc))


@click.command()
@click.option("--start", type=click.DateTime(["%Y-%m-%d"]), required=True, help="first trading day")
@click.option("--end", type=click.DateTime(["%Y-%m-%d"]), required=True, help="last trading day")
@click.option("--params", default=None, help="strategy parameters as JSON, e.g. '{\"slippage\": 0.001}'")
@click.option("--engine", type=click.Choice(["fast", "reference"]), default="fast", show_default=True,
              help="fast: integer-cent core; reference: the readable SimBroker (identical results)")
def backtest(start: datetime, end: datetime, params: str | None, engine: str) -> None:
    """Backtest the strategy over [start, end] and record it in ops.backtest_*."""
    from .backtest import run_backtest

    if end < start:
        raise click.UsageError(f"--end {end:%Y-%m-%d} is before --start {start:%Y-%m-%d}")
    p = _params(params)
    with _db() as db:
        try:
            run_id = run_backtest(db, start.date(), end.date(), p, engine=engine)
        except (ValueError, RelationError) as exc:
            raise _fail(exc) from exc
        r = db.query_df("select * from ops.backtest_run where run_id = ?", [run_id]).iloc[0]
        audit.record(db, "backtest", {"run_id": run_id, "start": start.date(), "end": end.date(), "params": p,
                                      "total_return": float(r.total_return), "trades": int(r.n_trades)})
    click.echo(f"backtest {run_id}: {start:%Y-%m-%d}..{end:%Y-%m-%d}  total {r.total_return:+.2%}  "
               f"annual {r.annual_return:+.2%}  sharpe {r.sharpe:.2f}  max drawdown {r.max_drawdown:.2%}  "
               f"benchmark {r.benchmark_return:+.2%}  trades {int(r.n_trades)}  "
               f"turnover {r.turnover_annual:.1f}x/yr  cost drag {r.cost_drag:.2%}/yr")


@click.command("export-qmt")
@click.option("--date", "day", type=click.DateTime(["%Y-%m-%d"]), required=True, help="signal date")
@click.option("--out", type=click.Path(file_okay=False), required=True, help="folder QMT reads")
@click.option("--account", default="qmt", show_default=True)
@click.option("--capital", type=float, default=1_000_000.0, show_default=True, help="CNY for weight -> qty")
def export_qmt(day: datetime, out: str, account: str, capital: float) -> None:
    """Write the next session's order intents as CSV for the QMT script."""
    from .handoff import export_qmt as run

    with _db() as db:
        try:
            path = run(db, day.date(), out, account, capital)
        except RelationError as exc:
            raise _fail(exc) from exc
        audit.record(db, "export_qmt", {"date": day.date(), "path": str(path), "account": account,
                                        "capital": capital})
    n = sum(1 for _ in open(path, encoding="utf-8")) - 1
    click.echo(f"exported {n} order(s) for signals of {day:%Y-%m-%d} to {path}")


@click.command("import-fills")
@click.argument("path", type=click.Path(dir_okay=False))
@click.option("--account", default="qmt", show_default=True)
def import_fills(path: str, account: str) -> None:
    """Load a fills CSV written by the QMT script into ops.trades."""
    from .handoff import import_fills as run

    if not Path(path).exists():
        raise click.UsageError(f"fills file {path} does not exist; expected qmt_fills_YYYYMMDD.csv from QMT")
    with _db() as db:
        try:
            n = run(db, path, account)
        except ValueError as exc:
            raise _fail(exc) from exc
    click.echo(f"imported {n} new fill(s) from {path}")


@click.command()
@click.option("--date", "day", type=click.DateTime(["%Y-%m-%d"]), required=True, help="signal date")
@click.option("--account", default=None, help="only this account (default: all)")
def reconcile(day: datetime, account: str | None) -> None:
    """Signals x orders x trades x quotes for one signal date; differences to ops.reconcile_diff."""
    from .reconcile import reconcile as run

    with _db() as db:
        try:
            diffs = run(db, day.date(), account)
        except RelationError as exc:
            raise _fail(exc) from exc
        audit.record(db, "reconcile", {"date": day.date(), "account": account, "differences": len(diffs)})
    for d in diffs:
        click.echo(f"  {d.kind:<22} {d.code or '':<10} {d.signal_id or d.order_id or d.trade_id or ''}: {d.detail}")
    click.echo(f"reconcile {day:%Y-%m-%d}: {len(diffs)} difference(s)" + (" — all traced" if not diffs else ""))


@click.command()
@click.option("--date", "day", type=click.DateTime(["%Y-%m-%d"]), required=True, help="trading day to process")
@click.option("--account", default="paper", show_default=True)
@click.option("--params", default=None, help="strategy parameters as JSON")
def paper(day: datetime, account: str, params: str | None) -> None:
    """Paper-trade one day: execute yesterday's intents at the open, decide tomorrow's."""
    from .paper import run_paper

    p = _params(params)
    with _db() as db:
        try:
            r = run_paper(db, day.date(), p, account)
        except (ValueError, RelationError) as exc:
            raise _fail(exc) from exc
        audit.record(db, "paper", {"date": day.date(), "account": account, "executed": r.executed,
                                   "new_intents": r.new_intents, "already_done": r.already_done})
    if r.already_done:
        click.echo(f"paper {day:%Y-%m-%d} [{account}]: already processed, nothing sent twice")
        return
    click.echo(f"paper {day:%Y-%m-%d} [{account}]: executed {r.executed} ({r.filled} filled, {r.rejected} rejected), "
               f"{r.new_intents} new intent(s), {r.skipped} skipped signal(s); equity {r.equity:,.2f} "
               f"cash {r.cash:,.2f}")


@click.command()
@click.option("--grid", required=True,
              help='knob -> list of values as JSON, e.g. \'{"buy_threshold": [5, 6, 7], "stop_loss_pct": [0.05, 0.08]}\'')
@click.option("--start", type=click.DateTime(["%Y-%m-%d"]), default=None, help="first day (default: first signal day)")
@click.option("--end", type=click.DateTime(["%Y-%m-%d"]), default=None, help="last day (default: last signal day)")
@click.option("--oos-start", type=click.DateTime(["%Y-%m-%d"]), default=None,
              help="first day of the out-of-sample period, reported beside the in-sample one")
@click.option("--params", default=None, help="strategy parameters every run shares, as JSON")
@click.option("--jobs", type=int, default=None, help="processes (default: one per core)")
@click.option("--engine", type=click.Choice(["fast", "reference"]), default="fast", show_default=True)
def sweep(grid: str, start: datetime | None, end: datetime | None, oos_start: datetime | None, params: str | None,
          jobs: int | None, engine: str) -> None:
    """Backtest every combination of a grid of knobs (in parallel), record and rank them."""
    from tabulate import tabulate
    from tqdm import tqdm

    from .sweep import SweepError, parse_grid, ranked_table, run_sweep, signal_range, steps

    p = _params(params)
    try:
        combos = parse_grid(grid)
    except SweepError as exc:
        raise click.UsageError(str(exc)) from exc
    with _db() as db:
        try:
            lo, hi = signal_range(db)
            s, e = (start.date() if start else lo), (end.date() if end else hi)
            n = steps(grid, oos_start.date() if oos_start else None)
            with tqdm(total=n, desc="sweep (builds + runs)", unit="step") as bar:
                res = run_sweep(db, grid, s, e, oos_start.date() if oos_start else None, p, jobs, engine, bar.update)
        except (ValueError, RelationError) as exc:
            raise _fail(exc) from exc
        audit.record(db, "sweep", {"sweep_id": res.sweep_id, "grid": json.loads(grid), "start": s, "end": e,
                                   "oos_start": oos_start.date() if oos_start else None, "runs": len(res.table)})
    t = ranked_table(res)
    pct = [c for c in t.columns if c.endswith(("total_return", "max_drawdown", "cost_drag"))]
    for c in pct:
        t[c] = t[c].map(lambda v: f"{v:+.2%}")
    click.echo(tabulate(t, headers="keys", tablefmt="github", showindex=False, floatfmt=".2f"))
    periods = f"in-sample {s}..{oos_start.date() - timedelta(days=1)}, out-of-sample (oos_) {oos_start.date()}..{e}" \
        if oos_start else f"{s}..{e}"
    click.echo(f"sweep {res.sweep_id}: {len(combos)} combination(s), {periods}; ranked by in-sample Sharpe; "
               f"runs in ops.backtest_run, table ops.backtest_sweep")


from .live.commands import live  # noqa: E402 - the live session's command lives beside its modules

COMMANDS = [backtest, sweep, export_qmt, import_fills, reconcile, paper, live]

"""`aquant demo`: the offline end-to-end run a newcomer starts with.

Loads the sample market exactly as `aquant ingest --source sample` does with its defaults,
builds every dbt model, runs the backtest, and prints what was built and what to do next.
"""
from __future__ import annotations

import time

import click
from tabulate import tabulate

from . import audit, relations
from .backup import registered_tables
from .config import load_settings
from .db import Database
from .dbt_runner import run_dbt
from .extract.market_guard import MixedMarketError
from .ingest import run as run_ingest

# What the summary counts: a raw table, the dbt models a reader starts from (found through
# aquant.relations), and the ops tables the backtest and paper run wrote.
SHOWN_RAW = ["daily_quote"]
SHOWN_MODELS = ["stg_daily_quote", "quarantine", "factor_technical", "factor_scores", "signals",
                "portfolio_targets", "qmt_signals"]
SHOWN_OPS = ["backtest_run", "backtest_log", "backtest_equity", "orders", "trades", "audit_log"]


def _counts(db: Database) -> list[tuple[str, int]]:
    rels = [f"raw.{n}" for n in SHOWN_RAW if db.table_exists("raw", n)]
    built = [relations.locate(db, n) for n in SHOWN_MODELS if relations.exists(db, n)]
    rels += [f"{r.schema}.{r.name}" for r in built]
    rels += [f"ops.{n}" for n in SHOWN_OPS if db.table_exists("ops", n)]
    return [(rel, int(db.scalar(f"select count(*) from {rel}"))) for rel in rels]


def _backtest(db: Database) -> str:
    """Backtest the whole sample period and return a one-screen summary."""
    from .qmt.backtest import run_backtest

    lo, hi = db.query(f"select min(trade_date), max(trade_date) from {relations.locate(db, 'factor_scores')}")[0]
    run_id = run_backtest(db, lo, hi)
    r = db.query_df("select * from ops.backtest_run where run_id = ?", [run_id]).iloc[0]
    audit.record(db, "backtest", {"run_id": run_id, "start": lo, "end": hi, "via": "demo"})
    rows = [("period", f"{lo} .. {hi}"), ("total return", f"{r.total_return:+.2%}"),
            ("annual return", f"{r.annual_return:+.2%}"), ("sharpe", f"{r.sharpe:.2f}"),
            ("max drawdown", f"{r.max_drawdown:.2%}"),
            ("benchmark (equal-weight market)", f"{r.benchmark_return:+.2%}"),
            ("turnover (traded value / mean equity, per year)", f"{r.turnover_annual:.1f}x"),
            ("cost drag (fees / initial capital, per year)", f"{r.cost_drag:.2%}  ({r.fees:,.0f} CNY fees)")]
    return f"run {run_id}\n" + tabulate(rows, tablefmt="plain")


def _paper(db: Database, account: str = "demo-paper") -> str:
    """Paper-trade two consecutive sessions near the end: the first records intents, the second
    fills them. The first is the latest session before the last with an offense buy signal (a
    fresh account has nothing to sell, so a day of sells only would show no fill)."""
    from .qmt.paper import run_paper

    sg, fs = relations.locate(db, "signals"), relations.locate(db, "factor_scores")
    first = db.scalar(f"select max(trade_date) from {sg} where layer = 'offense' and kind = 'buy' "
                      f"and trade_date < (select max(trade_date) from {fs})")
    days = [r[0] for r in db.query(f"select distinct trade_date from {fs} "
                                   "where trade_date >= ? order by trade_date limit 2", [first])] if first else \
        [r[0] for r in db.query(f"select distinct trade_date from {fs} "
                                "order by trade_date desc limit 2")][::-1]
    lines = []
    for day in days:
        r = run_paper(db, day, None, account)
        audit.record(db, "paper", {"date": day, "account": account, "executed": r.executed,
                                   "new_intents": r.new_intents, "already_done": r.already_done, "via": "demo"})
        lines.append(f"{day}: " + ("already done" if r.already_done else
                                   f"executed {r.executed} ({r.filled} filled), {r.new_intents} new intent(s), "
                                   f"equity {r.equity:,.2f}"))
    return "\n".join(lines)


def run_demo(stocks: int | None = None, skip_backtest: bool = False) -> int:
    """Returns a process exit code (0 = everything built)."""
    settings = load_settings()
    t0 = time.perf_counter()
    click.secho(f"1/4 ingest sample market -> {settings.describe()}", bold=True)
    with Database(settings) as db:
        try:
            click.echo(run_ingest(db, source="sample", stocks=stocks))
        except MixedMarketError as exc:
            click.secho(f"stopped: {exc}", fg="red", err=True)
            return 2
    click.secho("2/4 dbt build (staging, factors, signals, tests)", bold=True)
    res = run_dbt(settings, ["build"])
    with Database(settings) as db:
        audit.record(db, "build", {"args": ["build"], "returncode": res.returncode,
                                   "invocation_id": res.invocation_id, "via": "demo"})
    if res.returncode != 0:
        click.secho("dbt build failed; see the output above", fg="red")
        return res.returncode
    if not skip_backtest:
        click.secho("3/4 backtest (rotation strategy on the signals, A-share rules)", bold=True)
        with Database(settings) as db:
            click.echo(_backtest(db))
        click.secho("4/4 paper trading, two sessions at the end (order intents -> ops.orders, fills -> ops.trades)",
                    bold=True)
        with Database(settings) as db:
            click.echo(_paper(db))
    with Database(settings) as db:
        # Every ops table of the contract exists after the demo (alerts_log, alert_decisions, ...),
        # even those only a later command fills, so readers never meet a missing table.
        for t in registered_tables().values():
            db.ensure_table(t)
        click.echo("\n" + tabulate(_counts(db), headers=["relation", "rows"]))
    click.echo(f"\nDone in {time.perf_counter() - t0:.0f}s. Database: {settings.describe()}")
    click.echo("Next: `aquant docs --serve` (lineage), `aquant app` (review), `aquant backtest --help`.")
    return 0

"""`aquant`: the command line. Each command is thin: it parses, opens the database, calls one
module that does the work, and prints what happened and what to do next."""
from __future__ import annotations

import sys
from pathlib import Path

import click
from tabulate import tabulate

from . import audit
from .clickparams import parse_csv, parse_date
from .config import ConfigError, load_settings
from .db import Database


def _settings():
    try:
        return load_settings()
    except ConfigError as exc:
        raise click.ClickException(str(exc)) from exc


def _open_db() -> Database:
    try:
        return Database(_settings())
    except ConnectionError as exc:
        raise click.ClickException(str(exc)) from exc


class _Main(click.Group):
    """Turns the errors a user can act on (a calendar that does not reach the day) into a message
    and exit code 1 instead of a traceback."""

    def invoke(self, ctx: click.Context):
        from .trading_calendar import CalendarGap

        try:
            return super().invoke(ctx)
        except CalendarGap as exc:
            raise click.ClickException(str(exc)) from exc


@click.group(cls=_Main, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="aquant")
def main() -> None:
    """A-share quant platform: ingest raw data, build dbt factors and signals, backtest, trade, review."""


SOURCES = ["sample", "akshare", "tushare", "xtdata"]


@main.command()
@click.option("--source", type=click.Choice(SOURCES), default="sample", show_default=True)
@click.option("--start", callback=parse_date, help="First date (YYYY-MM-DD); default: since the last load.")
@click.option("--end", callback=parse_date, help="Last date (YYYY-MM-DD); default: today (sample: its default end).")
@click.option("--codes", callback=parse_csv, help="Comma-separated codes like 600000.SH,000001.SZ.")
@click.option("--tables", callback=parse_csv, help="Comma-separated raw tables (default: all).")
@click.option("--full-refresh", is_flag=True, help="Ignore watermarks and reload the whole range.")
@click.option("--stocks", type=int, default=None, help="Sample source: number of stocks (default 60).")
@click.option("--seed", type=int, default=None, help="Sample source: random seed (default 7).")
@click.option("--quiet", is_flag=True, help="No progress bar.")
@click.option("--replace-other-sources", is_flag=True,
              help="Let this source overwrite rows another real source delivered (kept otherwise).")
def ingest(source: str, start, end, codes, tables, full_refresh: bool, stocks, seed, quiet: bool,
           replace_other_sources: bool) -> None:
    """Load raw data from a source into the raw schema (idempotent, resumable)."""
    from .ingest import IngestFailed, run

    with _open_db() as db:
        try:
            summary = run(db, source=source, start=start, end=end, codes=codes, tables=tables,
                          full_refresh=full_refresh, stocks=stocks, seed=seed, progress=not quiet,
                          replace_other_sources=replace_other_sources)
        except (ValueError, IngestFailed) as exc:
            raise click.ClickException(str(exc)) from exc
        click.echo(summary)


@main.command()
@click.option("--select", "-s", default=None, help="dbt node selection (default: everything).")
@click.option("--full-refresh", is_flag=True, help="Rebuild incremental models from scratch.")
@click.option("--vars", "vars_", default=None, help="dbt vars as YAML/JSON, e.g. '{\"buy_threshold\": 6}'.")
@click.argument("dbt_args", nargs=-1, type=click.UNPROCESSED)
def build(select: str | None, full_refresh: bool, vars_: str | None, dbt_args: tuple[str, ...]) -> None:
    """Run `dbt build` on the selected database (DuckDB by default, AQUANT_TARGET=postgres).

    Extra dbt arguments go after `--`, e.g. `aquant build -- --threads 1`."""
    from .dbt_runner import run_dbt

    settings = _settings()
    args = ["build", *(["--select", select] if select else []), *(["--full-refresh"] if full_refresh else []),
            *(["--vars", vars_] if vars_ else []), *dbt_args]
    click.echo(f"dbt build -> {settings.target} at {settings.describe()}")
    res = run_dbt(settings, args)
    with _open_db() as db:
        audit.record(db, "build", {"args": args, "returncode": res.returncode, "invocation_id": res.invocation_id})
    if res.returncode != 0:
        raise click.ClickException(f"dbt build failed (exit {res.returncode}); see the output above")


@main.command()
@click.option("--serve/--no-serve", default=False, help="Also serve the docs site (blocks).")
@click.option("--port", type=int, default=8080, show_default=True)
def docs(serve: bool, port: int) -> None:
    """Generate dbt docs (lineage raw -> staging -> factors -> signals) and optionally serve them."""
    from .config import dbt_target_dir
    from .dbt_runner import run_dbt

    settings = _settings()
    res = run_dbt(settings, ["docs", "generate"])
    if res.returncode != 0:
        raise click.ClickException("dbt docs generate failed; see the output above")
    click.echo(f"docs written to {dbt_target_dir()} (index.html, catalog.json, manifest.json)")
    if serve:
        run_dbt(settings, ["docs", "serve", "--port", str(port)])


@main.command()
@click.option("--stocks", type=int, default=None, help="Number of sample stocks (default 60).")
@click.option("--skip-backtest", is_flag=True, help="Stop after the dbt build.")
def demo(stocks, skip_backtest: bool) -> None:
    """The offline demo: sample market -> dbt build -> backtest -> summary."""
    from .demo import run_demo

    sys.exit(run_demo(stocks=stocks, skip_backtest=skip_backtest))


@main.command("backup")
@click.option("--list", "list_", is_flag=True, help="List the snapshots instead of taking one.")
@click.option("--keep", type=int, default=None, help="Snapshots to keep (default $AQUANT_BACKUP_KEEP or 14).")
def backup_cmd(list_: bool, keep: int | None) -> None:
    """Copy the books (every ops.* table) to a snapshot folder outside the warehouse (docs/backup.md)."""
    from . import backup as bk

    settings = _settings()
    root = bk.backup_root(settings)
    if list_:
        rows = [(s.path.name, sum(s.rows.values()), s.rows.get("orders", 0), s.rows.get("trades", 0))
                for s in bk.snapshots(root)]
        click.echo(tabulate(rows, headers=["snapshot", "rows", "orders", "trades"]) if rows
                   else f"no snapshot in {root}")
        return
    try:
        with Database(settings) as db:
            snap = bk.backup(db, root, keep)
            audit.record(db, "backup", {"path": str(snap.path), "rows": snap.rows})
    except bk.BackupError as exc:
        raise click.ClickException(str(exc)) from exc
    click.echo(f"{snap.path} ({sum(snap.rows.values())} rows in {len(snap.rows)} ops tables)")


@main.command("restore")
@click.argument("snapshot", type=click.Path(exists=True, file_okay=False, path_type=Path))
@click.option("--tables", callback=parse_csv, help="Only these ops tables (default: all in the snapshot).")
@click.option("--yes", is_flag=True, help="Do not ask before replacing the current rows.")
def restore_cmd(snapshot: Path, tables: list[str] | None, yes: bool) -> None:
    """Replace ops.* rows with a snapshot's (the current rows are backed up first)."""
    from . import backup as bk

    settings = _settings()
    if not yes:
        click.confirm(f"Replace the rows of {', '.join(tables or ['every ops table'])} in {settings.describe()} "
                      f"with {snapshot.name}?", abort=True)
    try:
        with Database(settings) as db:
            done = bk.restore(db, snapshot, tables)
            audit.record(db, "restore", {"path": str(snapshot), "rows": done})
    except bk.BackupError as exc:
        raise click.ClickException(str(exc)) from exc
    click.echo(tabulate(sorted(done.items()), headers=["table", "rows restored"]))


def _register_extensions() -> None:
    """Commands that live beside the code they drive (qmt/, app/, notifications). They ship with
    every install, so an import error here is a bug and is raised, never swallowed."""
    import importlib

    for mod in ["aquant.qmt.commands", "aquant.app.commands", "aquant.alerts", "aquant.notify", "aquant.daily"]:
        for cmd in getattr(importlib.import_module(mod), "COMMANDS", []):
            main.add_command(cmd)


_register_extensions()

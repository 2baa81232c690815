"""`aquant live`: one trading day through miniQMT (`--broker xt`) or the simulated exchange (`--broker sim`).

The exit code is the scheduler's: 0 clean, 1 failed, 2 reconcile differences (see ops.live_session
and ops.alerts_log), 3 stopped by the kill switch.
"""
from __future__ import annotations

import os
import time
from datetime import datetime
from pathlib import Path
from typing import Any

import click
import pandas as pd

from aquant.config import ConfigError, project_root

from .knobs import LiveKnobs


def _db():
    from aquant.db import Database

    try:
        return Database()
    except (ConfigError, ConnectionError) as exc:
        raise click.ClickException(str(exc)) from exc


def _sim_dir(given: str | None) -> Path:
    if given:
        return Path(given)
    db = os.environ.get("AQUANT_DB")
    return (Path(db).resolve().parent if db else project_root() / "data") / "live_sim"


def _xt(account: str, path: str | None) -> tuple[Any, Any]:
    """(connect, xtdata) for miniQMT; xtquant imports only on Windows beside a running miniQMT."""
    from ..xt_broker import XtBroker, XtQuantUnavailable, load_xttrader

    try:
        load_xttrader()
        from xtquant import xtdata
    except (XtQuantUnavailable, ImportError) as exc:
        raise click.ClickException(str(exc)) from exc
    if not path:
        raise click.UsageError("--xt-path (or AQUANT_QMT_PATH) must name miniQMT's userdata_mini folder")
    return (lambda: XtBroker(account, path, session=int(time.time()) % 1_000_000)), xtdata


@click.command()
@click.option("--account", default=None, envvar="AQUANT_LIVE_ACCOUNT",
              help="broker account id (env AQUANT_LIVE_ACCOUNT; default 'sim' with --broker sim)")
@click.option("--broker", type=click.Choice(["xt", "sim"]), default="xt", show_default=True)
@click.option("--date", "day", type=click.DateTime(["%Y-%m-%d"]), default=None,
              help="the session (default: today in Beijing); --broker sim replays any day of the loaded market")
@click.option("--dry-run", is_flag=True, help="decide and log everything, send nothing")
@click.option("--stop", "stop", is_flag=True, help="engage the kill switch (a running session stops sending) and exit")
@click.option("--resume", "resume", is_flag=True, help="remove the kill switch file, then exit")
@click.option("--xt-path", default=lambda: os.environ.get("AQUANT_QMT_PATH"), help="miniQMT userdata_mini folder")
@click.option("--sim-dir", default=None, help="--broker sim: where the simulated counter keeps its book")
@click.option("--pace", type=float, default=0.0, show_default=True,
              help="--broker sim: real seconds per simulated minute (0: as fast as possible)")
@click.pass_context
def live(ctx: click.Context, account: str | None, broker: str, day: datetime | None, dry_run: bool, stop: bool,
         resume: bool, xt_path: str | None, sim_dir: str | None, pace: float) -> None:
    """Run one live trading day: reconcile, send at the open, watch stops, write back, summarise."""
    from aquant import audit

    from . import safety
    from .clock import WallClock
    from .session import LiveSession

    knobs = LiveKnobs.load()
    if stop or resume:
        path = knobs.kill_path()
        if stop:
            safety.engage(path, "aquant live --stop")
            click.echo(f"kill switch engaged: {path} (no order is sent while it exists; `aquant live --resume` "
                       f"removes it)")
        else:
            path.unlink(missing_ok=True)
            click.echo(f"kill switch removed: {path}")
        with _db() as db:
            audit.record(db, "live_kill_switch", {"engaged": stop, "path": str(path)})
        return
    account = account or ("sim" if broker == "sim" else None)
    if not account:
        raise click.UsageError("--account is required with --broker xt")
    d = (day or pd.Timestamp.now(tz="Asia/Shanghai").tz_localize(None)).date()
    with _db() as db:
        from aquant import trading_calendar

        if not trading_calendar.is_session(db, d):
            click.echo(f"live {d}: not a trading session (raw.trade_calendar / XSHG), nothing to do")
            return
        exchange = None
        if broker == "sim":
            from .simmarket import sim_parts

            try:
                connect, xtdata, clock, exchange = sim_parts(db, account, d, _codes_for(db, account, d), knobs,
                                                             _sim_dir(sim_dir), pace)
            except LookupError as exc:
                raise click.ClickException(str(exc)) from exc
        else:
            connect, xtdata = _xt(account, xt_path)
            clock = WallClock(d)
        from aquant.notify.channels import configured

        s = LiveSession(db, account, d, connect, xtdata, clock, knobs, broker, dry_run, exchange,
                        channels=configured()).run()
    for line in s.skipped:
        click.echo(f"  skipped  {line}")
    for line in s.stops_fired:
        click.echo(f"  stop     {line}")
    for line in s.refused[-10:]:
        click.echo(f"  refused  {line}")
    for line in s.reconcile_end:
        click.echo(f"  reconcile {line}")
    click.echo(s.line())
    ctx.exit(s.exit_code)


def _codes_for(db, account: str, day) -> list[str]:
    """Stocks the simulated exchange must quote: the day's intents (recorded, or planned from the
    previous session's qmt_signals)."""
    from .intents import previous_session, signals_for

    codes = set()
    if db.table_exists("ops", "orders"):
        codes |= {r[0] for r in db.query("select distinct code from ops.orders where account = ? and trade_date = ?",
                                         [account, day])}
    prev = previous_session(db, day)
    if prev:
        codes |= set(signals_for(db, prev)["code"])
    return sorted(codes)


COMMANDS = [live]

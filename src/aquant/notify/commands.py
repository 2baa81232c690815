"""`aquant notify` (send what is new) and `aquant audit` (list recent audit events)."""
from __future__ import annotations

import json
import os
from datetime import date

import click

from aquant.clickparams import parse_date
from aquant.config import ConfigError, load_settings
from aquant.db import Database


def _db() -> Database:
    try:
        return Database(load_settings())
    except (ConfigError, ConnectionError) as exc:
        raise click.ClickException(str(exc)) from exc


@click.command()
@click.option("--kinds", default=None, help="Comma-separated: alert,stop,sell,buy "
              "[default: AQUANT_NOTIFY_KINDS or alert,stop].")
@click.option("--since", callback=parse_date, help="Look at signals from this day on (default: the week up to the "
              "latest signal day; what was already sent is never sent again).")
@click.option("--channel", "only", multiple=True, help="Only this channel (repeatable): email, wecom, sms.")
@click.option("--dry-run", is_flag=True, help="Show what would be sent; send and record nothing.")
def notify(kinds: str | None, since: date | None, only: tuple[str, ...], dry_run: bool) -> None:
    """Send new stable alerts, stops hit (and buy signals if asked) by e-mail / WeCom robot.

    Channels are configured only through the environment: AQUANT_SMTP_HOST, _PORT, _USER,
    _PASSWORD, _FROM, _TO, _TLS (starttls|ssl|none) for e-mail; AQUANT_WECOM_WEBHOOK for the
    WeCom group robot. Failed deliveries stay in ops.alerts_log and are retried next run.
    """
    from .channels import configured
    from .events import DEFAULT_KINDS
    from .runner import run_notify

    kind_list = [k.strip() for k in (kinds or os.environ.get("AQUANT_NOTIFY_KINDS") or ",".join(DEFAULT_KINDS))
                 .split(",") if k.strip()]
    try:
        channels = configured(only=list(only) or None)
    except ValueError as exc:
        raise click.ClickException(str(exc)) from exc
    if not channels and not dry_run:
        raise click.ClickException("no notification channel configured: set AQUANT_SMTP_HOST + AQUANT_SMTP_TO "
                                   "(e-mail) and/or AQUANT_WECOM_WEBHOOK (WeCom robot), or use --dry-run")
    with _db() as db:
        try:
            res = run_notify(db, channels, kinds=kind_list, since=since, dry_run=dry_run)
        except ValueError as exc:
            raise click.ClickException(str(exc)) from exc
    click.echo(res.summary())
    if not res.ok:
        raise click.ClickException("some notifications were not delivered; they stay queued in ops.alerts_log "
                                   "and the next `aquant notify` retries them")


@click.command("audit")
@click.option("--limit", "-n", type=int, default=20, show_default=True)
@click.option("--action", default=None, help="Only this action (ingest, build, backtest, notify, alert_decision, ...).")
@click.option("--json", "as_json", is_flag=True, help="One JSON object per line.")
def audit_cmd(limit: int, action: str | None, as_json: bool) -> None:
    """List the most recent audit events (who did what, when) from ops.audit_log."""
    from tabulate import tabulate

    with _db() as db:
        if not db.table_exists("ops", "audit_log"):
            click.echo("no audit events yet (ops.audit_log does not exist): run `aquant demo`")
            return
        where, params = ("where action = ?", [action]) if action else ("", [])
        rows = db.query(f'select "at", actor, action, detail from ops.audit_log {where} order by "at" desc limit ?',
                        [*params, limit])
    if as_json:
        for at, actor, act, detail in rows:
            click.echo(json.dumps({"at": str(at), "actor": actor, "action": act, "detail": json.loads(detail or "{}")},
                                  ensure_ascii=False))
        return
    table = [(str(at)[:19], actor, act, (detail or "")[:100]) for at, actor, act, detail in rows]
    click.echo(tabulate(table, headers=["at (UTC)", "actor", "action", "detail"]))


COMMANDS = [notify, audit_cmd]

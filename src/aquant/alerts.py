"""Stable-layer alerts (稳定层预警) and the decisions a person records on them.

dbt builds `stable_alerts` (one row per rule, stock and episode); this module reads the
alerts nobody has decided on yet and writes decisions to `ops.alert_decisions`, an operational
table dbt never touches, so rebuilding the warehouse never loses a decision. The stable layer
never trades: a decision is a note for the portfolio owner, not an order.
"""
from __future__ import annotations

import uuid
from datetime import datetime, timezone

import click
import pandas as pd

from . import audit, relations
from .db import Database
from .schema import Table

DECISIONS = ("hold", "reduce", "sell", "dismiss")

ALERT_DECISIONS = Table("ops", "alert_decisions", {
    "decision_id": "VARCHAR", "signal_id": "VARCHAR", "code": "VARCHAR", "rule": "VARCHAR",
    "decision": "VARCHAR", "comment": "VARCHAR", "decided_by": "VARCHAR", "decided_at": "TIMESTAMP"},
    ("decision_id",), audit_cols=(),
    doc="One row per decision a person took on a stable alert (hold/reduce/sell/dismiss); "
        "written by Python only, never rebuilt by dbt.")

ALERTS = "stable_alerts"    # dbt models, found through aquant.relations
PIT = "fundamentals_pit"

# The report state that day (from fundamentals_pit), shown beside each alert.
_REPORT_COLS = ["fiscal_quarter", "roe", "eps", "revenue", "net_profit", "net_profit_yoy", "bps",
                "net_profit_ttm", "eps_ttm", "roe_ttm", "div_report_period", "cash_div_per_share",
                "payout_ratio", "pe_ttm", "pb"]


class AlertError(ValueError):
    """An alert or decision request that cannot be honoured (unknown id, bad decision, no build)."""


def _require_alerts(db: Database) -> str:
    """The stable_alerts relation, or AlertError saying it is not built."""
    try:
        return str(relations.locate(db, ALERTS))
    except relations.NotBuilt as exc:
        raise AlertError(str(exc)) from exc


def open_alerts(db: Database, include_decided: bool = False) -> pd.DataFrame:
    """Stable alerts without a decision (newest first), with the report figures known that day.

    Columns: every column of stable_alerts plus `pit_<col>` figures from
    fundamentals_pit for the same stock and day (and, with include_decided, the latest
    decision/decided_at/decided_by).
    """
    alerts = _require_alerts(db)
    db.ensure_table(ALERT_DECISIONS)
    pit = (relations.locate(db, PIT, ["code", "trade_date", *_REPORT_COLS]) if relations.exists(db, PIT) else None)
    pit_cols = "".join(f", p.{c} as pit_{c}" for c in _REPORT_COLS) if pit else ""
    pit_join = (f"left join {pit} p on p.code = a.code and p.trade_date = a.trade_date" if pit else "")
    latest = ("select signal_id, decision, decided_at, decided_by, row_number() over "
              "(partition by signal_id order by decided_at desc) as rn from ops.alert_decisions")
    where = "" if include_decided else "where d.signal_id is null"
    extra = ", d.decision, d.decided_at, d.decided_by" if include_decided else ""
    sql = (f"select a.*{pit_cols}{extra} from {alerts} a {pit_join} "
           f"left join ({latest}) d on d.signal_id = a.signal_id and d.rn = 1 "
           f"{where} order by a.trade_date desc, a.priority, a.code, a.rule")
    return db.query_df(sql)


def decisions(db: Database) -> pd.DataFrame:
    """Every recorded decision, newest first."""
    db.ensure_table(ALERT_DECISIONS)
    return db.query_df("select * from ops.alert_decisions order by decided_at desc")


def resolve_signal_id(db: Database, prefix: str) -> str:
    """The full signal_id of a stable alert given its id or an unambiguous prefix (>= 6 chars)."""
    alerts = _require_alerts(db)
    prefix = prefix.strip().lower()
    if len(prefix) < 6:
        raise AlertError(f"signal id {prefix!r} is too short; give at least 6 characters")
    rows = db.query(f"select signal_id from {alerts} where signal_id like ?", [prefix + "%"])
    if not rows:
        raise AlertError(f"no stable alert with signal_id {prefix!r}; list them with `aquant alerts`")
    if len(rows) > 1:
        raise AlertError(f"signal id prefix {prefix!r} matches {len(rows)} alerts; give more characters")
    return rows[0][0]


def record_decision(db: Database, signal_id: str, decision: str, comment: str = "",
                    who: str | None = None) -> str:
    """Record a person's decision on a stable alert; returns the new decision_id.

    Raises AlertError when the decision is not one of hold/reduce/sell/dismiss or the alert does
    not exist. Also writes an `alert_decision` row to the audit log.
    """
    decision = (decision or "").strip().lower()
    if decision not in DECISIONS:
        raise AlertError(f"decision must be one of {', '.join(DECISIONS)}; got {decision!r}")
    alerts = _require_alerts(db)
    row = db.query(f"select code, rule, trade_date from {alerts} where signal_id = ?", [signal_id])
    if not row:
        raise AlertError(f"no stable alert with signal_id {signal_id!r}; list open ones with `aquant alerts`")
    code, rule, trade_date = row[0]
    who = who or audit.actor()
    decision_id = uuid.uuid4().hex
    frame = pd.DataFrame([{"decision_id": decision_id, "signal_id": signal_id, "code": code, "rule": rule,
                           "decision": decision, "comment": comment or "", "decided_by": who,
                           "decided_at": datetime.now(timezone.utc).replace(tzinfo=None)}])
    db.append(ALERT_DECISIONS, frame)
    audit.record(db, "alert_decision", {"decision_id": decision_id, "signal_id": signal_id, "code": code,
                                        "rule": rule, "alert_date": trade_date, "decision": decision,
                                        "comment": comment or ""}, who=who)
    return decision_id


# -- command line ------------------------------------------------------------------------------
def _open_db() -> Database:
    from .config import ConfigError, load_settings

    try:
        return Database(load_settings())
    except (ConfigError, ConnectionError) as exc:
        raise click.ClickException(str(exc)) from exc


@click.group(invoke_without_command=True)
@click.option("--all", "show_all", is_flag=True, help="Also show alerts that already have a decision.")
@click.option("--limit", type=int, default=50, show_default=True, help="Rows to show.")
@click.pass_context
def alerts(ctx: click.Context, show_all: bool, limit: int) -> None:
    """Stable-layer alerts: list the open ones (default) or record a decision (`decide`)."""
    if ctx.invoked_subcommand is not None:
        return
    with _open_db() as db:
        try:
            df = open_alerts(db, include_decided=show_all)
        except AlertError as exc:
            raise click.ClickException(str(exc)) from exc
    if df.empty:
        click.echo("no open stable alerts")
        return
    cols = ["signal_id", "trade_date", "code", "rule", "priority", "reason"]
    if show_all:
        cols.append("decision")
    view = df[cols].head(limit).copy()
    view["signal_id"] = view["signal_id"].str[:12]
    with pd.option_context("display.max_colwidth", 160, "display.width", 250):
        click.echo(view.to_string(index=False))
    click.echo(f"\n{len(df)} alert(s){'' if show_all else ' without a decision'}; record one with "
               "`aquant alerts decide SIGNAL_ID --decision hold|reduce|sell|dismiss --comment \"...\"`")


@alerts.command()
@click.argument("signal_id")
@click.option("--decision", required=True, type=click.Choice(DECISIONS, case_sensitive=False))
@click.option("--comment", default="", help="Why (kept with the decision and in the audit log).")
@click.option("--who", default=None, help="Who decides (default: AQUANT_ACTOR or the OS user).")
def decide(signal_id: str, decision: str, comment: str, who: str | None) -> None:
    """Record a decision on the alert SIGNAL_ID (full id or a unique prefix of >= 6 characters)."""
    with _open_db() as db:
        try:
            full = resolve_signal_id(db, signal_id)
            decision_id = record_decision(db, full, decision, comment, who)
        except AlertError as exc:
            raise click.ClickException(str(exc)) from exc
    click.echo(f"recorded {decision} on {full} (decision {decision_id})")


COMMANDS = [alerts]

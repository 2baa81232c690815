"""The live session's own operational tables (schema `ops`, written by Python only).

ops.orders / ops.trades / ops.alerts_log / ops.audit_log are the contract's (qmt/tables.py,
aquant.notify.outbox, aquant.audit); these hold what only a live day needs.
"""
from __future__ import annotations

from aquant.schema import Table

LIVE_STOPS = Table("ops", "live_stops", {
    "account": "VARCHAR", "code": "VARCHAR", "stop_loss": "DOUBLE", "take_profit": "DOUBLE",
    "high_water": "DOUBLE", "signal_id": "VARCHAR", "updated_at": "TIMESTAMP"}, ("account", "code"), audit_cols=(),
    doc="One row per account and held stock: the stop-loss and take-profit the buy's signal set and the "
        "highest price seen while held (the trailing stop's anchor); kept across days and restarts.")

LIVE_VOLUME_RATIO = Table("ops", "live_volume_ratio", {
    "trade_date": "DATE", "code": "VARCHAR", "minute": "VARCHAR", "ts": "TIMESTAMP", "cum_volume": "DOUBLE",
    "ref_volume": "DOUBLE", "volume_ratio": "DOUBLE", "days": "BIGINT"}, ("trade_date", "code", "minute"),
    audit_cols=(),
    doc="One row per stock and minute of a live session: 分时量比 = the day's cumulative volume up to that "
        "minute over the mean cumulative volume up to the same minute of the previous `days` sessions; "
        "ts in UTC, minute the Beijing bar end HH:MM.")

LIVE_SESSION = Table("ops", "live_session", {
    "account": "VARCHAR", "trade_date": "DATE", "broker": "VARCHAR", "started_at": "TIMESTAMP",
    "ended_at": "TIMESTAMP", "status": "VARCHAR", "exit_code": "BIGINT", "orders_sent": "BIGINT",
    "fills": "BIGINT", "skipped": "BIGINT", "stops_fired": "BIGINT", "last_minute": "VARCHAR",
    "summary": "VARCHAR"}, ("account", "trade_date"), audit_cols=(),
    doc="One row per account and live trading day: progress while it runs (last_minute), the summary "
        "(JSON) and the exit code once it ends. status: running, done, killed, failed.")

ALL = (LIVE_STOPS, LIVE_VOLUME_RATIO, LIVE_SESSION)

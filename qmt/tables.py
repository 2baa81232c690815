"""Operational tables written by qmt/ (schema `ops`), columns fixed by ../shared/CONTRACT.md.

Extra columns beyond the contract are appended after the contract's, never renamed.
"""
from __future__ import annotations

from aquant.schema import Table, q, sql_type

BACKTEST_RUN = Table("ops", "backtest_run", {
    "run_id": "VARCHAR", "started_at": "TIMESTAMP", "params": "VARCHAR", "start_date": "DATE",
    "end_date": "DATE", "total_return": "DOUBLE", "annual_return": "DOUBLE", "volatility": "DOUBLE",
    "sharpe": "DOUBLE", "max_drawdown": "DOUBLE", "calmar": "DOUBLE", "win_rate": "DOUBLE",
    "turnover": "DOUBLE", "benchmark_return": "DOUBLE", "final_equity": "DOUBLE", "n_trades": "BIGINT",
    "turnover_annual": "DOUBLE", "fees": "DOUBLE", "cost_drag": "DOUBLE"},
    ("run_id",), audit_cols=(),
    doc="One row per backtest run; params is JSON text; returns are fractions, max_drawdown negative. "
        "turnover is one-way (half the traded value) over mean equity per year; turnover_annual is "
        "buys + sells traded value over mean equity per year; fees all costs in CNY; cost_drag fees "
        "over the initial capital per year.")

BACKTEST_LOG = Table("ops", "backtest_log", {
    "run_id": "VARCHAR", "seq": "BIGINT", "trade_date": "DATE", "code": "VARCHAR", "side": "VARCHAR",
    "status": "VARCHAR", "price": "DOUBLE", "qty": "BIGINT", "fee": "DOUBLE", "reason": "VARCHAR",
    "signal_id": "VARCHAR"}, ("run_id", "seq"), audit_cols=(),
    doc="Every fill and rejection of a run in order; price is the real unadjusted trade price, "
        "fee all costs of the fill; reason = signal/stop/target/rotation/risk/cap (trim to a weight cap)/"
        "time (time exit of a rotation entry) (+ ': why rejected').")

BACKTEST_EQUITY = Table("ops", "backtest_equity", {
    "run_id": "VARCHAR", "trade_date": "DATE", "equity": "DOUBLE", "cash": "DOUBLE", "drawdown": "DOUBLE",
    "benchmark": "DOUBLE"}, ("run_id", "trade_date"), audit_cols=(),
    doc="One row per run and trading day at the close; drawdown <= 0 from the running peak.")

ORDERS = Table("ops", "orders", {
    "order_id": "VARCHAR", "signal_id": "VARCHAR", "account": "VARCHAR", "code": "VARCHAR",
    "side": "VARCHAR", "price": "DOUBLE", "qty": "BIGINT", "status": "VARCHAR", "created_at": "TIMESTAMP",
    "trade_date": "DATE", "order_type": "VARCHAR", "reason": "VARCHAR", "broker_order_id": "VARCHAR",
    "filled_qty": "BIGINT", "updated_at": "TIMESTAMP", "seq": "BIGINT"}, ("order_id",), audit_cols=(),
    doc="Every order intent, written before it is sent. order_id is derived from the account and "
        "the signal, so a restart finds it and never sends it twice. status: pending (not yet sent), "
        "sent, filled, partial, rejected, skipped (never sent, reason says why), exported, cancelled. "
        "seq: the intent's place in the decision that wrote it (sells first, then buys best first), "
        "the order paper trading and the live session send them in, as the backtest does; null on "
        "rows written before the column existed.")

TRADES = Table("ops", "trades", {
    "trade_id": "VARCHAR", "order_id": "VARCHAR", "code": "VARCHAR", "side": "VARCHAR", "price": "DOUBLE",
    "qty": "BIGINT", "fee": "DOUBLE", "traded_at": "TIMESTAMP", "account": "VARCHAR", "source": "VARCHAR"},
    ("trade_id",), audit_cols=(),
    doc="Every fill from any broker (sim/paper, xtquant, QMT CSV); fee = all costs of the fill.")

PAPER_STATE = Table("ops", "paper_state", {
    "account": "VARCHAR", "as_of": "DATE", "state": "VARCHAR", "updated_at": "TIMESTAMP"},
    ("account", "as_of"), audit_cols=(),
    doc="Paper account after the close of as_of: cash, holdings and risk state as JSON.")

RECONCILE_DIFF = Table("ops", "reconcile_diff", {
    "recon_date": "DATE", "seq": "BIGINT", "kind": "VARCHAR", "code": "VARCHAR", "signal_id": "VARCHAR",
    "order_id": "VARCHAR", "trade_id": "VARCHAR", "detail": "VARCHAR", "created_at": "TIMESTAMP"},
    ("recon_date", "seq"), audit_cols=(),
    doc="Differences found by `aquant reconcile` for a signal date; rewritten on each run.")

BACKTEST_SWEEP = Table("ops", "backtest_sweep", {
    "sweep_id": "VARCHAR", "run_id": "VARCHAR", "combo": "BIGINT", "params": "VARCHAR", "period": "VARCHAR",
    "start_date": "DATE", "end_date": "DATE", "total_return": "DOUBLE", "sharpe": "DOUBLE", "max_drawdown": "DOUBLE",
    "turnover_annual": "DOUBLE", "cost_drag": "DOUBLE", "n_trades": "BIGINT", "rank": "BIGINT",
    "created_at": "TIMESTAMP"}, ("sweep_id", "run_id"), audit_cols=(),
    doc="One row per run of a parameter sweep (`aquant sweep`, qmt/sweep.py) and period: params is JSON of "
        "the swept knobs only (the run's full params are in backtest_run), period in_sample / out_of_sample, "
        "combo numbers the grid point (both periods share it), rank orders combinations by in-sample "
        "Sharpe (1 best; out-of-sample rows carry their combination's rank, never used to rank). Metrics "
        "as in backtest_run (turnover_annual two-way, cost_drag per year).")

ALL = (BACKTEST_RUN, BACKTEST_LOG, BACKTEST_EQUITY, BACKTEST_SWEEP, ORDERS, TRADES, PAPER_STATE, RECONCILE_DIFF)


def ensure_current(db, *tables: Table) -> None:
    """Create each ops table if missing, and add the columns it gained since an older warehouse
    created it (add_missing_columns): what every writer or reader of a grown table needs first."""
    for t in tables:
        db.ensure_table(t)
        add_missing_columns(db, t)


def add_missing_columns(db, t: Table) -> None:
    """Columns appended to a table after the contract's (e.g. backtest_run's turnover_annual)
    are added to a warehouse created before them, so old runs stay and new ones write."""
    have = {r[0] for r in db.query("select column_name from information_schema.columns where table_schema = ? "
                                   "and table_name = ?", [t.schema, t.name])}
    for col, typ in t.columns.items():
        if have and col not in have:
            db.execute(f"alter table {t.fqn} add column {q(col)} {sql_type(typ, db.kind)}")

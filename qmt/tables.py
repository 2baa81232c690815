"""Operational tables written by qmt/ (schema `ops`), columns fixed by ../shared/CONTRACT.md.

Extra columns beyond the contract are appended after the contract's, never renamed.
"""
from __future__ import annotations

from aquant.schema import Table

BACKTEST_RUN = Table("ops", "backtest_run", {
    "run_id": "VARCHAR", "started_at": "TIMESTAMP", "params": "VARCHAR", "start_date": "DATE",
    "end_date": "DATE", "total_return": "DOUBLE", "annual_return": "DOUBLE", "volatility": "DOUBLE",
    "sharpe": "DOUBLE", "max_drawdown": "DOUBLE", "calmar": "DOUBLE", "win_rate": "DOUBLE",
    "turnover": "DOUBLE", "benchmark_return": "DOUBLE", "final_equity": "DOUBLE", "n_trades": "BIGINT"},
    ("run_id",), audit_cols=(),
    doc="One row per backtest run; params is JSON text; returns are fractions, max_drawdown negative.")

BACKTEST_LOG = Table("ops", "backtest_log", {
    "run_id": "VARCHAR", "seq": "BIGINT", "trade_date": "DATE", "code": "VARCHAR", "side": "VARCHAR",
    "status": "VARCHAR", "price": "DOUBLE", "qty": "BIGINT", "fee": "DOUBLE", "reason": "VARCHAR",
    "signal_id": "VARCHAR"}, ("run_id", "seq"), audit_cols=(),
    doc="Every fill and rejection of a run in order; price is the real unadjusted trade price, "
        "fee all costs of the fill; reason = signal/stop/target/rotation/risk (+ ': why rejected').")

BACKTEST_EQUITY = Table("ops", "backtest_equity", {
    "run_id": "VARCHAR", "trade_date": "DATE", "equity": "DOUBLE", "cash": "DOUBLE", "drawdown": "DOUBLE",
    "benchmark": "DOUBLE"}, ("run_id", "trade_date"), audit_cols=(),
    doc="One row per run and trading day at the close; drawdown <= 0 from the running peak.")

ORDERS = Table("ops", "orders", {
    "order_id": "VARCHAR", "signal_id": "VARCHAR", "account": "VARCHAR", "code": "VARCHAR",
    "side": "VARCHAR", "price": "DOUBLE", "qty": "BIGINT", "status": "VARCHAR", "created_at": "TIMESTAMP",
    "trade_date": "DATE", "order_type": "VARCHAR", "reason": "VARCHAR", "broker_order_id": "VARCHAR",
    "filled_qty": "BIGINT", "updated_at": "TIMESTAMP"}, ("order_id",), audit_cols=(),
    doc="Every order intent, written before it is sent. order_id is derived from the account and "
        "the signal, so a restart finds it and never sends it twice. status: pending (not yet sent), "
        "sent, filled, partial, rejected, skipped (never sent, reason says why), exported, cancelled.")

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

ALL = (BACKTEST_RUN, BACKTEST_LOG, BACKTEST_EQUITY, ORDERS, TRADES, PAPER_STATE, RECONCILE_DIFF)

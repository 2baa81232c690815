"""Everything the app reads, as small functions `f(db, ...) -> DataFrame`.

Kept apart from the pages so the logic is testable without a browser, and so every filter and
limit happens in SQL: the daily tables hold ~12 M rows on 5,000 stocks and are never loaded whole.
dbt models are found through aquant.relations (dbt's manifest); the ops tables Python writes
through their definitions (aquant.backup.registered_tables). A relation that is missing raises
`NotBuilt`, which the pages turn into a friendly message.
"""
from __future__ import annotations

from datetime import date, timedelta
from typing import Any, Sequence

import pandas as pd

from aquant import relations
from aquant.backup import registered_tables
from aquant.db import Database
from aquant.relations import NotBuilt

FACTOR_COLUMNS = ["industry_score", "valuation_score", "technical_score", "chip_score", "composite_score"]
SCORE_SORTS = FACTOR_COLUMNS  # the only columns a caller may order by (they end up in SQL text)

__all__ = ["NotBuilt"]  # re-exported: the pages catch data.NotBuilt

# The columns each page reads from a dbt model, checked by aquant.relations before the query (a
# model built without one fails with a message naming it, not with an engine error).
INFO_COLS = ["code", "name", "industry_l1", "board"]
SCORE_COLS = ["code", "trade_date", "industry_l1", "board", *FACTOR_COLUMNS]
SIGNAL_COLS = ["signal_id", "trade_date", "code", "layer", "kind", "rule", "close", "take_profit", "stop_loss",
               "composite_score", "priority", "industry_l1", "reason"]
TARGET_COLS = ["rebalance_date", "code", "industry_l1", "target_weight", "composite_score", "industry_rank",
               "stock_rank"]
QUOTE_COLS = ["code", "trade_date", "open_qfq", "high_qfq", "low_qfq", "close_qfq", "volume", "amount",
              "turnover_rate", "pe_ttm", "pb"]
TECH_COLS = ["code", "trade_date", "dif", "dea", "macd", "volume_ratio", "is_breakout"]
FLOW_COLS = ["trade_date", "industry_l1", "industry_rank", "industry_score", "net_inflow_n", "inflow_change"]


def _ident(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def locate(db: Database, name: str, cols: Sequence[str] = ()) -> str:
    """Fully qualified, quoted name of a dbt model (checked to hold `cols`) or an ops table;
    NotBuilt when it is absent."""
    ops = registered_tables().get(name)
    if ops is None:
        return str(relations.locate(db, name, cols))
    if not db.table_exists(ops.schema, ops.name):
        raise NotBuilt(f"{name} is not built yet: run `aquant demo` (or `aquant build`) on this database", name)
    return f"{_ident(ops.schema)}.{_ident(ops.name)}"


def exists(db: Database, name: str) -> bool:
    try:
        locate(db, name)
    except NotBuilt:
        return False
    return True


def columns(db: Database, name: str) -> list[str]:
    """Column names of a relation, so optional columns (e.g. benchmark) are used only if present."""
    schema, table = (p.strip('"') for p in locate(db, name).split(".", 1))
    rows = db.query("select column_name from information_schema.columns where table_schema = ? and table_name = ? "
                    "order by ordinal_position", [schema, table])
    return [r[0] for r in rows]


def _in(values: Sequence[Any] | None) -> tuple[str, list[Any]]:
    """`in (?, ?, ...)` for a non-empty list; callers skip the clause when the list is empty."""
    vals = list(values or [])
    return "(" + ", ".join("?" for _ in vals) + ")", vals


def _date(v: Any) -> date | None:
    if v is None or (isinstance(v, float) and pd.isna(v)) or v is pd.NaT:
        return None
    return pd.Timestamp(v).date()


# -- Today ------------------------------------------------------------------------------------
def as_of(db: Database) -> dict[str, Any]:
    """What the pages show is as of: the latest scored day and when the last build finished (UTC)."""
    out: dict[str, Any] = {"last_day": None, "built_at": None}
    if exists(db, "factor_scores"):
        out["last_day"] = _date(db.scalar(f"select max(trade_date) from {locate(db, 'factor_scores')}"))
    if exists(db, "audit_log"):
        out["built_at"] = db.scalar(f"select max({_ident('at')}) from {locate(db, 'audit_log')} "
                                    f"where action = 'build'")
    return out


def score_dates(db: Database, limit: int = 120) -> list[date]:
    """Most recent scored trading days, newest first (for the date picker)."""
    fs = locate(db, "factor_scores")
    rows = db.query(f"select distinct trade_date from {fs} order by trade_date desc limit ?", [limit])
    return [_date(r[0]) for r in rows]


def filter_options(db: Database) -> dict[str, list[str]]:
    """Industries and boards present in the stock list, for the filters."""
    si = locate(db, "stg_stock_info")
    inds = [r[0] for r in db.query(f"select distinct industry_l1 from {si} where industry_l1 is not null order by 1")]
    boards = [r[0] for r in db.query(f"select distinct board from {si} where board is not null order by 1")]
    return {"industry_l1": inds, "board": boards}


def scores(db: Database, trade_date: date, industries: Sequence[str] | None = None,
           boards: Sequence[str] | None = None, order_by: str = "composite_score", limit: int = 200) -> pd.DataFrame:
    """Top stocks of one day by a score, with names; filters and limit in SQL."""
    if order_by not in SCORE_SORTS:
        raise ValueError(f"order_by must be one of {SCORE_SORTS}, got {order_by!r}")
    fs, si = locate(db, "factor_scores", SCORE_COLS), locate(db, "stg_stock_info", INFO_COLS)
    where, params = ["s.trade_date = ?"], [trade_date]
    if industries:
        clause, vals = _in(industries)
        where.append(f"s.industry_l1 in {clause}")
        params += vals
    if boards:
        clause, vals = _in(boards)
        where.append(f"s.board in {clause}")
        params += vals
    sql = (f"select s.code, i.name, s.industry_l1, s.board, {', '.join('s.' + c for c in FACTOR_COLUMNS)} "
           f"from {fs} s left join {si} i on i.code = s.code where {' and '.join(where)} "
           f"order by s.{order_by} desc nulls last, s.code limit ?")
    return db.query_df(sql, [*params, limit])


def signals_for_day(db: Database, trade_date: date, layer: str | None = None,
                    kinds: Sequence[str] = ("buy", "sell"), industries: Sequence[str] | None = None,
                    boards: Sequence[str] | None = None, limit: int = 500) -> pd.DataFrame:
    """Signals of the latest signal day on or before `trade_date`, best priority first."""
    sg, si = locate(db, "signals", SIGNAL_COLS), locate(db, "stg_stock_info", INFO_COLS)
    day = db.scalar(f"select max(trade_date) from {sg} where trade_date <= ?", [trade_date])
    if day is None:
        return pd.DataFrame()
    where, params = ["g.trade_date = ?"], [day]
    for col, vals in (("g.kind", kinds), ("g.industry_l1", industries), ("i.board", boards)):
        if vals:
            clause, v = _in(vals)
            where.append(f"{col} in {clause}")
            params += v
    if layer:
        where.append("g.layer = ?")
        params.append(layer)
    sql = (f"select g.trade_date, g.code, i.name, g.layer, g.kind, g.rule, g.close, g.take_profit, g.stop_loss, "
           f"g.composite_score, g.priority, g.industry_l1, i.board, g.reason, g.signal_id "
           f"from {sg} g left join {si} i on i.code = g.code where {' and '.join(where)} "
           f"order by g.kind, g.priority, g.composite_score desc nulls last, g.code limit ?")
    return db.query_df(sql, [*params, limit])


def portfolio_targets(db: Database, as_of: date | None = None) -> pd.DataFrame:
    """The rotation's picks and target weights at the latest rebalance on or before `as_of`."""
    pt, si = locate(db, "portfolio_targets", TARGET_COLS), locate(db, "stg_stock_info", INFO_COLS)
    day = db.scalar(f"select max(rebalance_date) from {pt}" + (" where rebalance_date <= ?" if as_of else ""),
                    [as_of] if as_of else None)
    if day is None:
        return pd.DataFrame()
    return db.query_df(f"select p.rebalance_date, p.code, i.name, p.industry_l1, p.target_weight, "
                       f"p.composite_score, p.industry_rank, p.stock_rank from {pt} p "
                       f"left join {si} i on i.code = p.code where p.rebalance_date = ? "
                       f"order by p.industry_rank, p.stock_rank, p.code", [day])


# -- Stock ------------------------------------------------------------------------------------
def stock_list(db: Database) -> pd.DataFrame:
    """Code and Chinese name of every stock (5,000 rows: small enough for a picker)."""
    si = locate(db, "stg_stock_info", INFO_COLS)
    return db.query_df(f"select code, name, industry_l1, board from {si} order by code")


def stock_info(db: Database, code: str) -> dict[str, Any]:
    si = locate(db, "stg_stock_info")
    df = db.query_df(f"select * from {si} where code = ?", [code])
    return df.iloc[0].to_dict() if len(df) else {}


def price_history(db: Database, code: str, days: int = 250, end: date | None = None) -> pd.DataFrame:
    """Forward-adjusted bars, volume and MACD of one stock over its last `days` trading days.

    MACD comes from factor_technical when it is built; the bars alone still draw a chart.
    """
    dq = locate(db, "stg_daily_quote", QUOTE_COLS)
    params: list[Any] = [code]
    cond = "code = ?"
    if end:
        cond += " and trade_date <= ?"
        params.append(end)
    bars = db.query_df(f"select trade_date, open_qfq, high_qfq, low_qfq, close_qfq, volume, amount, "
                       f"turnover_rate, pe_ttm, pb from {dq} where {cond} order by trade_date desc limit ?",
                       [*params, days])
    bars = bars.sort_values("trade_date").reset_index(drop=True)
    if bars.empty or not exists(db, "factor_technical"):
        return bars
    ft = locate(db, "factor_technical", TECH_COLS)
    tech = db.query_df(f"select trade_date, dif, dea, macd, volume_ratio, is_breakout from {ft} "
                       f"where code = ? and trade_date between ? and ?",
                       [code, _date(bars.trade_date.iloc[0]), _date(bars.trade_date.iloc[-1])])
    return bars.merge(tech, on="trade_date", how="left")


def score_history(db: Database, code: str, start: date | None = None) -> pd.DataFrame:
    """The four factor scores and the composite of one stock over time."""
    fs = locate(db, "factor_scores", SCORE_COLS)
    cond, params = "code = ?", [code]
    if start:
        cond += " and trade_date >= ?"
        params.append(start)
    return db.query_df(f"select trade_date, {', '.join(FACTOR_COLUMNS)} from {fs} where {cond} "
                       f"order by trade_date", params)


def stock_signals(db: Database, code: str, start: date | None = None, limit: int = 500) -> pd.DataFrame:
    """Every signal one stock fired, both layers, newest first (markers on the chart, rows to pick)."""
    cond, params = "code = ?", [code]
    if start:
        cond += " and trade_date >= ?"
        params.append(start)
    return db.query_df(f"select signal_id, trade_date, layer, kind, rule, close, take_profit, stop_loss, "
                       f"composite_score, priority, reason from {locate(db, 'signals', SIGNAL_COLS)} where {cond} "
                       f"order by trade_date desc, signal_id limit ?", [*params, limit])


def signal_factors(db: Database, signal_id: str) -> dict[str, pd.DataFrame]:
    """The exact rows behind one signal: the signal, its day's scores, technicals and quote."""
    sig = db.query_df(f"select * from {locate(db, 'signals')} where signal_id = ?", [signal_id])
    out: dict[str, pd.DataFrame] = {"signal": sig}
    if sig.empty:
        return out
    code, day = sig.code.iloc[0], _date(sig.trade_date.iloc[0])
    for key, name in (("scores", "factor_scores"), ("technical", "factor_technical"), ("quote", "stg_daily_quote")):
        if exists(db, name):
            out[key] = db.query_df(f"select * from {locate(db, name)} where code = ? and trade_date = ?", [code, day])
    return out


# -- Industries ---------------------------------------------------------------------------
def industry_dates(db: Database, limit: int = 120) -> list[date]:
    fl = locate(db, "factor_industry_flow", FLOW_COLS)
    return [_date(r[0]) for r in db.query(f"select distinct trade_date from {fl} order by 1 desc limit ?", [limit])]


def industry_ranking(db: Database, trade_date: date) -> pd.DataFrame:
    """Industries of one day ordered by their fund-flow rank."""
    fl = locate(db, "factor_industry_flow", FLOW_COLS)
    return db.query_df(f"select industry_l1, industry_rank, industry_score, net_inflow_n, inflow_change "
                       f"from {fl} where trade_date = ? order by industry_rank, industry_l1", [trade_date])


def industry_history(db: Database, industries: Sequence[str], start: date) -> pd.DataFrame:
    fl = locate(db, "factor_industry_flow", FLOW_COLS)
    if not industries:
        return pd.DataFrame(columns=["trade_date", "industry_l1", "industry_rank", "industry_score", "net_inflow_n"])
    clause, vals = _in(industries)
    return db.query_df(f"select trade_date, industry_l1, industry_rank, industry_score, net_inflow_n from {fl} "
                       f"where trade_date >= ? and industry_l1 in {clause} order by trade_date, industry_l1",
                       [start, *vals])


# -- Backtest ---------------------------------------------------------------------------
def backtest_runs(db: Database, limit: int = 50) -> pd.DataFrame:
    br = locate(db, "backtest_run")
    return db.query_df(f"select * from {br} order by started_at desc, run_id limit ?", [limit])


def backtest_equity(db: Database, run_id: str) -> pd.DataFrame:
    """Equity, drawdown and (when the run stored one) the benchmark rebased to the same start."""
    be = locate(db, "backtest_equity")
    bench = ", benchmark" if "benchmark" in columns(db, "backtest_equity") else ""
    df = db.query_df(f"select trade_date, equity, cash, drawdown{bench} from {be} where run_id = ? "
                     f"order by trade_date", [run_id])
    if "benchmark" in df and len(df) and pd.notna(df.benchmark.iloc[0]) and df.benchmark.iloc[0]:
        df["benchmark_equity"] = df.benchmark / df.benchmark.iloc[0] * df.equity.iloc[0]
    return df


def backtest_trades(db: Database, run_id: str, code: str | None = None, side: str | None = None,
                    status: str | None = None, limit: int = 1000) -> pd.DataFrame:
    bl, si = locate(db, "backtest_log"), locate(db, "stg_stock_info")
    where, params = ["l.run_id = ?"], [run_id]
    for col, val in (("l.code", code), ("l.side", side), ("l.status", status)):
        if val:
            where.append(f"{col} = ?")
            params.append(val)
    return db.query_df(f"select l.seq, l.trade_date, l.code, i.name, l.side, l.status, l.price, l.qty, l.fee, "
                       f"l.reason from {bl} l left join {si} i on i.code = l.code where {' and '.join(where)} "
                       f"order by l.seq limit ?", [*params, limit])


# -- Alerts -----------------------------------------------------------------------------
def open_alerts(db: Database) -> pd.DataFrame:
    """Stable-layer alerts nobody has decided on yet (the alerts module owns the definition)."""
    from aquant import alerts

    locate(db, "stable_alerts")
    df = alerts.open_alerts(db)
    df = df if isinstance(df, pd.DataFrame) else pd.DataFrame(df)
    if len(df) and "name" not in df and exists(db, "stg_stock_info"):
        names = db.query_df(f"select code, name from {locate(db, 'stg_stock_info')} where code in "
                            f"{_in(df.code.unique())[0]}", list(df.code.unique()))
        df = df.merge(names, on="code", how="left")
    return df


def report_rows(db: Database, code: str, periods: Sequence[Any]) -> pd.DataFrame:
    """The finance report rows (every announced version) an alert compared."""
    ps = [p for p in (_date(p) for p in periods) if p]
    if not ps:
        return pd.DataFrame()
    fd = locate(db, "stg_finance_data")
    clause, vals = _in(ps)
    return db.query_df(f"select * from {fd} where code = ? and report_period in {clause} "
                       f"order by report_period desc, ann_date desc", [code, *vals])


def decisions(db: Database, limit: int = 200) -> pd.DataFrame:
    """Recorded decisions, newest first, with who and when (empty before the first one)."""
    if not exists(db, "alert_decisions"):
        return pd.DataFrame(columns=["decided_at", "decided_by", "decision", "code", "rule", "comment"])
    ad = locate(db, "alert_decisions")
    cols = columns(db, "alert_decisions")
    order = next((c for c in ("decided_at", "created_at", "at") if c in cols), cols[0])
    return db.query_df(f"select * from {ad} order by {_ident(order)} desc limit ?", [limit])


# -- Audit -------------------------------------------------------------------------------
def audit_actions(db: Database) -> list[str]:
    al = locate(db, "audit_log")
    return [r[0] for r in db.query(f"select distinct action from {al} order by 1")]


def audit_events(db: Database, action: str | None = None, actor: str | None = None,
                 limit: int = 200) -> pd.DataFrame:
    al = locate(db, "audit_log")
    where, params = ["1 = 1"], []
    if action:
        where.append("action = ?")
        params.append(action)
    if actor:
        where.append("actor = ?")
        params.append(actor)
    return db.query_df(f'select "at", actor, action, detail, event_id from {al} where {" and ".join(where)} '
                       f'order by "at" desc limit ?', [*params, limit])


def latest_reconcile(db: Database) -> pd.DataFrame:
    """Differences of the most recent reconciliation run."""
    rd = locate(db, "reconcile_diff")
    day = db.scalar(f"select max(recon_date) from {rd}")
    if day is None:
        return pd.DataFrame()
    return db.query_df(f"select * from {rd} where recon_date = ? order by seq", [day])


def notifications(db: Database, limit: int = 100) -> pd.DataFrame:
    """Recent rows of ops.alerts_log (what `aquant notify` sent or failed to send)."""
    lg = locate(db, "alerts_log")
    return db.query_df(f"select created_at, channel, layer, kind, code, delivered, attempts, delivered_at, "
                       f"last_error, message from {lg} order by created_at desc limit ?", [limit])


def default_start(days: int, end: date | None = None) -> date:
    """A calendar start date covering about `days` trading days."""
    return (end or date.today()) - timedelta(days=int(days * 1.5) + 7)


def live_days(db: Database, limit: int = 60) -> list[date]:
    """Days with a live session (`aquant live`), newest first."""
    ls = locate(db, "live_session")
    return [_date(r[0]) for r in db.query(f"select distinct trade_date from {ls} order by trade_date desc limit ?",
                                          [limit])]


def live_session(db: Database, trade_date: date) -> dict[str, pd.DataFrame]:
    """One live day: its session rows (per account), orders, fills, and the stops that fired or are watched."""
    ls, od, tr = locate(db, "live_session"), locate(db, "orders"), locate(db, "trades")
    out = {"session": db.query_df(f"select account, broker, status, exit_code, orders_sent, fills, skipped, "
                                  f"stops_fired, last_minute, started_at, ended_at from {ls} where trade_date = ? "
                                  f"order by account",
                                  [trade_date])}
    accounts = out["session"]["account"].tolist()
    if not accounts:
        return {**out, "orders": pd.DataFrame(), "fills": pd.DataFrame(), "stops": pd.DataFrame(),
                "levels": pd.DataFrame()}
    marks, args = _in(accounts)
    out["orders"] = db.query_df(f"select created_at, account, code, side, reason, order_type, price, qty, filled_qty, "
                                f"status, order_id from {od} where trade_date = ? and account in {marks} "
                                f"order by created_at, order_id", [trade_date, *args])
    out["fills"] = db.query_df(f"select traded_at, account, code, side, price, qty, fee, order_id, trade_id from {tr} "
                               f"where cast(traded_at as date) = ? and account in {marks} order by traded_at, trade_id",
                               [trade_date, *args])
    purpose = out["orders"]["reason"].fillna("").str.split(":").str[0]
    out["stops"] = out["orders"][purpose.isin(["stop", "target", "trail"])].reset_index(drop=True)
    out["levels"] = (db.query_df(f"select account, code, stop_loss as stop, take_profit as target, high_water as high "
                                 f"from {locate(db, 'live_stops')} where account in {marks} order by account, code",
                                 args)
                     if exists(db, "live_stops") else pd.DataFrame())
    return out


# -- Research page: the evaluation layer (models/evaluation, docs/evaluation.md) ----------------
EVAL_SUMMARY_COLS = ["factor", "horizon", "first_date", "last_date", "n_days", "ic_mean", "ic_std", "icir",
                     "ic_t_stat", "ic_positive_share", "n_spread_days", "spread_mean", "spread_std", "top_turnover",
                     "bottom_turnover"]
EVAL_IC_COLS = ["trade_date", "factor", "horizon", "n_stocks", "rank_ic"]
EVAL_QUANTILE_COLS = ["factor", "horizon", "quantile", "first_date", "last_date", "n_days", "mean_return",
                      "return_std", "mean_stocks"]


def eval_factor_summary(db: Database) -> pd.DataFrame:
    """IC mean / ICIR / spread / turnover per factor and horizon, with the period each covers."""
    fs = locate(db, "eval_factor_summary", EVAL_SUMMARY_COLS)
    return db.query_df(f"select {', '.join(EVAL_SUMMARY_COLS)} from {fs} order by factor, horizon")


def eval_ic_series(db: Database, factor: str, horizon: int) -> pd.DataFrame:
    """The daily rank IC of one factor at one horizon (a few hundred rows per year)."""
    ic = locate(db, "eval_ic_daily", EVAL_IC_COLS)
    return db.query_df(f"select trade_date, n_stocks, rank_ic from {ic} where factor = ? and horizon = ? "
                       f"order by trade_date", [factor, int(horizon)])


def eval_quantile_summary(db: Database, factor: str) -> pd.DataFrame:
    """Mean forward return per quantile bucket and horizon of one factor, with the period."""
    qs = locate(db, "eval_quantile_summary", EVAL_QUANTILE_COLS)
    return db.query_df(f"select {', '.join(EVAL_QUANTILE_COLS)} from {qs} where factor = ? "
                       f"order by horizon, quantile", [factor])

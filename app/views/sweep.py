"""Sweep section: the latest parameter sweep's ranked table and a heatmap of two knobs.

A module with `render(db)` rather than a page of its own: the Research page calls it (the lead
wires it in at merge). Reads ops.backtest_sweep (qmt/tables.py) on the connection it is given;
every figure says which period it covers, because a sweep ranks on its in-sample period and
only reports the out-of-sample one beside it.
"""
from __future__ import annotations

import json

import pandas as pd
import plotly.graph_objects as go
import streamlit as st
from aquant.qmt.sweep import ranked_table

from aquant.db import Database

METRICS = {"sharpe": "Sharpe", "total_return": "Total return", "max_drawdown": "Max drawdown",
           "turnover_annual": "Turnover ×/yr", "cost_drag": "Cost drag /yr"}
PERIOD_NAMES = {"in_sample": "in-sample", "out_of_sample": "out-of-sample"}


def sweeps(db: Database) -> pd.DataFrame:
    """sweep_id with its time and size, newest first (empty when no sweep was recorded)."""
    if not db.table_exists("ops", "backtest_sweep"):
        return pd.DataFrame(columns=["sweep_id", "created_at", "runs"])
    return db.query_df("select sweep_id, max(created_at) as created_at, count(*) as runs from ops.backtest_sweep "
                       "group by sweep_id order by max(created_at) desc, sweep_id desc")


def sweep_rows(db: Database, sweep_id: str) -> pd.DataFrame:
    df = db.query_df("select * from ops.backtest_sweep where sweep_id = ? order by rank, period", [sweep_id])
    for c in ("start_date", "end_date"):
        df[c] = pd.to_datetime(df[c]).dt.date
    return df


def heatmap(rows: pd.DataFrame, x: str, y: str, metric: str, period: str) -> go.Figure:
    """metric over the (x, y) grid for one period; other knobs: the best value over them."""
    p = rows[rows.period == period]
    knobs = pd.DataFrame([json.loads(s) for s in p["params"]], index=p.index)
    grid = knobs.assign(_m=p[metric]).groupby([y, x])["_m"]
    best = grid.min() if metric in ("cost_drag", "turnover_annual") else grid.max()
    z = best.unstack(x).sort_index()
    span = f"{p.start_date.min()} → {p.end_date.max()}"
    fig = go.Figure(go.Heatmap(z=z.to_numpy(), x=[str(v) for v in z.columns], y=[str(v) for v in z.index],
                               colorscale="RdYlGn", texttemplate="%{z:.2f}", colorbar=dict(title=METRICS[metric])))
    fig.update_layout(title=f"{METRICS[metric]} by {x} × {y}, {PERIOD_NAMES[period]} {span}", height=420,
                      xaxis_title=x, yaxis_title=y, margin=dict(l=10, r=10, t=60, b=10))
    return fig


def render(db: Database) -> None:
    """The section: pick a sweep (latest first), its ranked table, a heatmap of two knobs."""
    st.subheader("Parameter sweep")
    runs = sweeps(db)
    if runs.empty:
        st.info("No sweep recorded yet: run `aquant sweep --grid '{\"buy_threshold\": [5, 6, 7]}'`.")
        return
    sweep_id = st.selectbox("Sweep", list(runs.sweep_id), key="sweep_id",
                            format_func=lambda s: f"{s} · {int(runs.set_index('sweep_id').runs[s])} runs")
    rows = sweep_rows(db, sweep_id)
    ins = rows[rows.period == "in_sample"]
    oos = rows[rows.period == "out_of_sample"]
    cover = f"in-sample {ins.start_date.min()} → {ins.end_date.max()}"
    if not oos.empty:
        cover += f"; out-of-sample (oos_ columns) {oos.start_date.min()} → {oos.end_date.max()}"
    st.caption(f"Ranked by in-sample Sharpe (1 best); {cover}. The out-of-sample period is reported, "
               "never used to rank. Each run is in ops.backtest_run under its run_id.")
    table = ranked_table(rows)
    st.dataframe(table, hide_index=True, width="stretch", key="sweep_ranked")
    knobs = [k for k in json.loads(rows.params.iloc[0]) if pd.Series([json.loads(p)[k] for p in rows.params]).nunique() > 1]
    if len(knobs) < 2:
        st.caption("The heatmap needs two knobs with several values each; this sweep varied "
                   f"{knobs or 'none'}.")
        return
    c1, c2, c3, c4 = st.columns(4)
    x = c1.selectbox("Knob (x)", knobs, index=0, key="sweep_x")
    y = c2.selectbox("Knob (y)", [k for k in knobs if k != x], index=0, key="sweep_y")
    metric = c3.selectbox("Metric", list(METRICS), format_func=METRICS.get, key="sweep_metric")
    period = c4.selectbox("Period", [p for p in PERIOD_NAMES if p in set(rows.period)], format_func=PERIOD_NAMES.get,
                          key="sweep_period")
    st.plotly_chart(heatmap(rows, x, y, metric, period), width="stretch", key="sweep_heatmap")
    if len(knobs) > 2:
        st.caption(f"Other knobs ({', '.join(k for k in knobs if k not in (x, y))}): each cell shows the best "
                   "value over them.")

"""Backtest: pick a run; equity against the benchmark, drawdown, headline metrics, trade log."""
from __future__ import annotations

import json

import plotly.graph_objects as go
import streamlit as st

from aquant.app import ui

st.title("Backtest")

runs = ui.load("backtest_runs")
if runs.empty:
    st.info("No backtest run yet: run `aquant demo` or `aquant backtest`.")
    st.stop()
labels = {r.run_id: f"{str(r.started_at)[:19]} · {r.start_date}→{r.end_date} · {r.run_id}" for r in runs.itertuples()}
run_id = st.selectbox("Run", list(labels), format_func=labels.get, key="bt_run")
run = runs[runs.run_id == run_id].iloc[0]

METRICS = [("total_return", "Total return", ui.fmt_pct), ("annual_return", "Annual return", ui.fmt_pct),
           ("benchmark_return", "Benchmark", ui.fmt_pct), ("max_drawdown", "Max drawdown", ui.fmt_pct),
           ("sharpe", "Sharpe", ui.fmt_num), ("calmar", "Calmar", ui.fmt_num),
           ("volatility", "Volatility", ui.fmt_pct), ("win_rate", "Win rate", ui.fmt_pct),
           ("turnover", "Turnover one-way", ui.fmt_num),
           # issue 13: what trading costs. Runs recorded before these columns existed show none.
           ("turnover_annual", "Turnover ×/yr", ui.fmt_num), ("fees", "Fees CNY", lambda v: ui.fmt_num(v, 0)),
           ("cost_drag", "Cost drag /yr", lambda v: ui.fmt_pct(v).lstrip("+"))]  # a cost: no sign
shown = [m for m in METRICS if m[0] in run.index]
for i in range(0, len(shown), 5):  # rows of five: nine metrics in one row get cut off
    for col, (key, title, fmt) in zip(st.columns(5), shown[i:i + 5]):
        col.metric(title, fmt(run[key]))
st.caption("Turnover ×/yr: buys + sells traded value over mean equity, per year (one-way is half of it). "
           "Cost drag: all fees (commission, stamp duty, transfer fee) over the initial capital, per year.")

eq = ui.load("backtest_equity", run_id)
if eq.empty:
    st.write("This run has no equity curve.")
else:
    fig = go.Figure()
    fig.add_trace(go.Scatter(x=eq.trade_date, y=eq.equity, name="strategy", line=dict(width=2)))
    if "benchmark_equity" in eq:
        fig.add_trace(go.Scatter(x=eq.trade_date, y=eq.benchmark_equity, name="benchmark (rebased)",
                                 line=dict(width=1.5, dash="dot")))
    fig.update_layout(title=dict(text="Equity vs benchmark", y=0.97), height=380, yaxis_title="CNY",
                      margin=dict(l=10, r=10, t=70, b=10), legend=dict(orientation="h", yanchor="bottom", y=1.01, x=0))
    st.plotly_chart(fig, width="stretch", key="bt_equity")
    dd = go.Figure(go.Scatter(x=eq.trade_date, y=eq.drawdown, fill="tozeroy", name="drawdown",
                              line=dict(color="#d62728")))
    dd.update_layout(title="Drawdown", height=240, margin=dict(l=10, r=10, t=40, b=10), yaxis_tickformat=".0%")
    st.plotly_chart(dd, width="stretch", key="bt_dd")

with st.expander("Parameters"):
    try:
        st.json(json.loads(run["params"]) if isinstance(run["params"], str) else run["params"])
    except (TypeError, ValueError):
        st.code(str(run["params"]))

st.subheader("Trade log")
c1, c2, c3, c4 = st.columns(4)
code = c1.text_input("Code", key="bt_code").strip().upper() or None
side = c2.selectbox("Side", ["all", "buy", "sell"], key="bt_side")
status = c3.selectbox("Status", ["all", "filled", "rejected"], key="bt_status")
limit = c4.number_input("Rows", 100, 100_000, 1000, step=500, key="bt_limit")
log = ui.load("backtest_trades", run_id, code=code, side=None if side == "all" else side,
              status=None if status == "all" else status, limit=int(limit))
st.caption(f"{len(log)} rows (first {int(limit)} by sequence); prices are the real, unadjusted trade prices.")
st.dataframe(log, hide_index=True, width="stretch", key="bt_log",
             column_config={"price": st.column_config.NumberColumn(format="%.2f"),
                            "fee": st.column_config.NumberColumn(format="%.2f")})

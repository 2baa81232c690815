"""Industries: today's fund-flow ranking of Shenwan level-1 industries and how ranks moved."""
from __future__ import annotations

import pandas as pd
import plotly.express as px
import streamlit as st

from aquant.app import ui
from aquant.app.data import default_start

st.title("Industries")

dates = ui.load("industry_dates")
if not dates:
    st.info("factor_industry_flow is empty: run `aquant demo`.")
    st.stop()
c1, c2 = st.columns([1, 1])
day = c1.selectbox("Trading day", dates, index=0, key="ind_day")
window = c2.select_slider("History (trading days)", [20, 60, 120, 250, 500], value=120, key="ind_window")

rank = ui.load("industry_ranking", day)
st.subheader(f"Fund-flow ranking on {day}")
left, right = st.columns([3, 2])
bar = px.bar(rank.sort_values("net_inflow_n"), x="net_inflow_n", y="industry_l1", orientation="h",
             color="industry_score", color_continuous_scale="RdYlGn_r", range_color=[0, 10],
             labels={"net_inflow_n": "net inflow over the window (CNY)", "industry_l1": ""})
bar.update_layout(height=max(320, 22 * len(rank)), margin=dict(l=10, r=10, t=10, b=10))
left.plotly_chart(bar, width="stretch", key="ind_bar")
right.dataframe(rank, hide_index=True, width="stretch", key="ind_table",
                column_config={"industry_score": st.column_config.ProgressColumn("score", min_value=0,
                                                                                  max_value=10, format="%.2f"),
                               "net_inflow_n": st.column_config.NumberColumn("net inflow", format="compact"),
                               "inflow_change": st.column_config.NumberColumn("change", format="compact")})

st.subheader("History")
top = rank.industry_l1.head(3).tolist()
chosen = st.multiselect("Industries", rank.industry_l1.tolist(), default=top, key="ind_pick")
start = default_start(window, end=day)
hist = ui.load("industry_history", tuple(chosen), start)
hist = hist[pd.to_datetime(hist.trade_date) <= pd.Timestamp(day)]
if hist.empty:
    st.write("Pick an industry to see its history.")
    st.stop()
metric = st.radio("Show", ["industry_rank", "industry_score", "net_inflow_n"], horizontal=True, key="ind_metric")
line = px.line(hist, x="trade_date", y=metric, color="industry_l1",
               line_shape="hv" if metric == "industry_rank" else "linear")
if metric == "industry_rank":
    line.update_yaxes(autorange="reversed", title="rank (1 = strongest)")
line.update_layout(height=380, margin=dict(l=10, r=10, t=10, b=10))
st.plotly_chart(line, width="stretch", key="ind_line")

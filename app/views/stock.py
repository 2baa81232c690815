"""Stock: adjusted candles with volume and MACD, factor scores over time, signal markers, and the
exact factor values behind a chosen signal (so a reviewer can check why it fired)."""
from __future__ import annotations

import pandas as pd
import plotly.express as px
import plotly.graph_objects as go
import streamlit as st
from plotly.subplots import make_subplots

from aquant.app import ui
from aquant.app.data import FACTOR_COLUMNS

st.title("Stock")

stocks = ui.load("stock_list")
if stocks.empty:
    st.info("No stocks yet: run `aquant demo`.")
    st.stop()
labels = (stocks.code + "  " + stocks.name.fillna("")).tolist()
codes = stocks.code.tolist()
wanted = st.query_params.get("code")
c1, c2 = st.columns([3, 1])
idx = codes.index(wanted) if wanted in codes else 0
label = c1.selectbox("Stock (type a code or a name)", labels, index=idx, key="stock_pick")
days = c2.select_slider("Trading days", [60, 120, 250, 500, 1000, 2500], value=250, key="stock_days")
code = codes[labels.index(label)]
if st.query_params.get("code") != code:
    st.query_params["code"] = code  # deep link: ./stock?code=600000.SH

info = ui.load("stock_info", code)
st.caption(" · ".join(str(x) for x in (info.get("name"), info.get("exchange"), info.get("board"),
                                       info.get("industry_l1"), info.get("industry_l2"),
                                       "ST" if info.get("is_st") else None) if x))

bars = ui.load("price_history", code, days=days)
if bars.empty:
    st.info("No quotes for this stock.")
    st.stop()
start = pd.Timestamp(bars.trade_date.iloc[0]).date()
sigs = ui.try_load("stock_signals", code, start=start, default=pd.DataFrame())

has_macd = "macd" in bars and bars.macd.notna().any()
rows = 3 if has_macd else 2
fig = make_subplots(rows=rows, cols=1, shared_xaxes=True, vertical_spacing=0.03,
                    row_heights=[0.6, 0.18, 0.22][:rows] if has_macd else [0.75, 0.25])
# A-share convention: red up, green down.
fig.add_trace(go.Candlestick(x=bars.trade_date, open=bars.open_qfq, high=bars.high_qfq, low=bars.low_qfq,
                             close=bars.close_qfq, name="price (qfq)", increasing_line_color="#d62728",
                             decreasing_line_color="#2ca02c"), row=1, col=1)
up = bars.close_qfq >= bars.open_qfq
fig.add_trace(go.Bar(x=bars.trade_date, y=bars.volume, name="volume",
                     marker_color=["#d62728" if u else "#2ca02c" for u in up]), row=2, col=1)
if has_macd:
    fig.add_trace(go.Bar(x=bars.trade_date, y=bars.macd, name="MACD",
                         marker_color=["#d62728" if v >= 0 else "#2ca02c" for v in bars.macd.fillna(0)]),
                  row=3, col=1)
    fig.add_trace(go.Scatter(x=bars.trade_date, y=bars.dif, name="DIF", line=dict(width=1.2)), row=3, col=1)
    fig.add_trace(go.Scatter(x=bars.trade_date, y=bars.dea, name="DEA", line=dict(width=1.2)), row=3, col=1)
if sigs is not None and len(sigs):
    # Markers sit on the adjusted close of the signal day so they line up with the candles.
    marks = sigs.merge(bars[["trade_date", "close_qfq", "high_qfq", "low_qfq"]], on="trade_date", how="inner")
    style = {"buy": ("triangle-up", "#d62728", "low_qfq", 0.98), "sell": ("triangle-down", "#2ca02c", "high_qfq", 1.02),
             "alert": ("diamond", "#ff7f0e", "high_qfq", 1.03)}
    for kind, (symbol, color, col, k) in style.items():
        m = marks[marks.kind == kind]
        if len(m):
            fig.add_trace(go.Scatter(x=m.trade_date, y=m[col] * k, mode="markers", name=kind,
                                     marker=dict(symbol=symbol, size=11, color=color,
                                                 line=dict(width=1, color="black")),
                                     text=m.rule.fillna("") + " " + m.reason.fillna(""),
                                     hovertemplate="%{x}<br>" + kind + ": %{text}<extra></extra>"), row=1, col=1)
fig.update_layout(height=720, xaxis_rangeslider_visible=False, margin=dict(l=10, r=10, t=70, b=10),
                  legend=dict(orientation="h", yanchor="bottom", y=1.01, x=0),
                  title=dict(text=f"{code} {info.get('name', '')} (forward-adjusted)", y=0.98))
# Hide non-trading days (weekends, holidays, suspensions) so candles sit side by side.
shown = pd.to_datetime(bars.trade_date)
gaps = pd.date_range(shown.min(), shown.max()).difference(shown)
fig.update_xaxes(rangebreaks=[dict(values=gaps.strftime("%Y-%m-%d").tolist())])
st.plotly_chart(fig, width="stretch", key="stock_chart")

st.subheader("Factor scores")
hist = ui.try_load("score_history", code, start=start, default=None)
if hist is not None and len(hist):
    long = hist.melt(id_vars="trade_date", value_vars=FACTOR_COLUMNS, var_name="factor", value_name="score")
    sfig = px.line(long, x="trade_date", y="score", color="factor", range_y=[0, 10])
    sfig.update_layout(height=320, margin=dict(l=10, r=10, t=10, b=10), legend=dict(orientation="h", y=1.1))
    st.plotly_chart(sfig, width="stretch", key="stock_scores")
elif hist is not None:
    st.write("No scores for this stock in this window.")

st.subheader("Signals and the factor values behind them")
if sigs is None or sigs.empty:
    st.write("No signal fired for this stock in this window.")
    st.stop()
st.dataframe(sigs, hide_index=True, width="stretch", key="stock_sigs")
choice = st.selectbox("Explain signal", sigs.signal_id.tolist(), key="stock_sig_pick",
                      format_func=lambda s: " · ".join(str(v) for v in sigs.loc[sigs.signal_id == s,
                                                       ["trade_date", "kind", "rule"]].iloc[0].tolist()))
detail = ui.load("signal_factors", choice)


def vertical(df: pd.DataFrame) -> pd.DataFrame:
    """One row shown as field/value pairs: easier to read than a 20-column table."""
    if df is None or df.empty:
        return pd.DataFrame({"field": [], "value": []})
    row = df.iloc[0]
    return pd.DataFrame({"field": list(row.index), "value": [str(v) for v in row.tolist()]})


cols = st.columns(4)
for col, (key, title) in zip(cols, [("signal", "Signal"), ("scores", "Scores that day"),
                                    ("technical", "Technical that day"), ("quote", "Quote that day")]):
    col.markdown(f"**{title}**")
    if key in detail:
        col.dataframe(vertical(detail[key]), hide_index=True, width="stretch", key=f"stock_detail_{key}")
    else:
        col.caption("not built yet")

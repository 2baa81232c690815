"""Research: does a factor predict returns? Rank IC over time, IC decay, quantile returns.

Reads the evaluation layer (models/evaluation, docs/evaluation.md), the only models that look at
forward returns; nothing that trades reads them (tests/test_evaluation_lineage.py). Every figure
states the period it covers: the days t whose scores were evaluated (their returns end h sessions
later).
"""
from __future__ import annotations

import plotly.graph_objects as go
import streamlit as st

from aquant.app import ui
from aquant.app.views import sweep

LABELS = {"composite_score": "Composite", "industry_score": "Industry flow", "valuation_score": "Valuation",
          "technical_score": "Technical", "chip_score": "Chip / main force"}
ROLLING = 60  # sessions in the rolling mean drawn over the daily IC

st.title("Research")
st.caption("Factor evaluation on forward returns (back-adjusted close to close; a suspended stock is carried at "
           "its last close). Rank IC = Spearman correlation of a day's scores with the next h sessions' returns; "
           "quantile 1 = lowest scores. Hindsight by design: these numbers never feed a signal.")



def period(df, start: str = "first_date", end: str = "last_date") -> str:
    return f"{df[start].min()} → {df[end].max()}"


def factor_section(summary) -> None:
    """Summary table, IC over time, IC decay and quantile bars of the evaluation layer."""
    factors = [f for f in LABELS if f in set(summary.factor)] + sorted(set(summary.factor) - set(LABELS))
    horizons = sorted(int(h) for h in summary.horizon.unique())
    c1, c2 = st.columns(2)
    factor = c1.selectbox("Factor", factors, format_func=lambda f: LABELS.get(f, f), key="rs_factor")
    horizon = c2.selectbox("Horizon (sessions)", horizons, index=min(1, len(horizons) - 1), key="rs_horizon")

    st.subheader("Summary")
    st.caption(f"Scores of {period(summary)}. ICIR = IC mean / IC std (per day, not annualised); spread = top minus "
               "bottom quantile mean return over h sessions; turnover = share of a bucket new after h sessions.")
    st.dataframe(summary.assign(factor=summary.factor.map(lambda f: LABELS.get(f, f))), hide_index=True,
                 width="stretch", key="rs_summary",
                 column_config={c: st.column_config.NumberColumn(format="%.4f")
                                for c in ("ic_mean", "ic_std", "icir", "ic_t_stat", "ic_positive_share", "spread_mean",
                                          "spread_std", "top_turnover", "bottom_turnover")})

    # IC over time
    ic = ui.load("eval_ic_series", factor, int(horizon))
    ic_fig = go.Figure()
    ic_fig.add_trace(go.Bar(x=ic.trade_date, y=ic.rank_ic, name="daily rank IC", marker_color="#9ecae1"))
    ic_fig.add_trace(go.Scatter(x=ic.trade_date, y=ic.rank_ic.rolling(ROLLING, min_periods=ROLLING // 2).mean(),
                                name=f"{ROLLING}-session mean", line=dict(color="#08519c", width=2)))
    ic_period = f"{ic.trade_date.min()} → {ic.trade_date.max()}" if len(ic) else "no days"
    ic_fig.update_layout(title=dict(text=f"Rank IC over time · {LABELS.get(factor, factor)} · "
                                         f"{horizon}-session returns · {ic_period}", y=0.97),
                         height=360, margin=dict(l=10, r=10, t=70, b=10), yaxis_title="rank IC",
                         legend=dict(orientation="h", yanchor="bottom", y=1.01, x=0))
    st.plotly_chart(ic_fig, width="stretch", key="rs_ic")

    left, right = st.columns(2)
    # IC decay: mean IC by horizon, every factor
    decay = go.Figure()
    for f in factors:
        rows = summary[summary.factor == f].sort_values("horizon")
        decay.add_trace(go.Scatter(x=rows.horizon, y=rows.ic_mean, mode="lines+markers", name=LABELS.get(f, f),
                                   line=dict(width=3 if f == factor else 1.5)))
    decay.update_layout(title=dict(text=f"IC decay · mean rank IC by horizon<br><sup>{period(summary)}</sup>",
                                   y=0.97),
                        height=400, margin=dict(l=10, r=10, t=90, b=10),
                        xaxis=dict(title="horizon (sessions)", tickvals=horizons),
                        yaxis_title="mean rank IC", legend=dict(orientation="h", yanchor="bottom", y=1.01, x=0))
    left.plotly_chart(decay, width="stretch", key="rs_decay")

    # quantile return bars: one group per horizon
    qs = ui.load("eval_quantile_summary", factor)
    bars = go.Figure()
    for h in horizons:
        rows = qs[qs.horizon == h].sort_values("quantile")
        bars.add_trace(go.Bar(x=[f"Q{int(q)}" for q in rows["quantile"]], y=rows.mean_return, name=f"{h} sessions"))
    q_period = period(qs) if len(qs) else "no days"
    bars.update_layout(title=dict(text=f"Mean forward return by quantile · {LABELS.get(factor, factor)}"
                                       f"<br><sup>{q_period}</sup>", y=0.97),
                       barmode="group", height=400, margin=dict(l=10, r=10, t=90, b=10),
                       yaxis=dict(title="mean return over h sessions", tickformat=".2%"),
                       legend=dict(orientation="h", yanchor="bottom", y=1.01, x=0))
    right.plotly_chart(bars, width="stretch", key="rs_quantiles")


summary = ui.load("eval_factor_summary")
if summary.empty:
    st.info("The evaluation models are empty: the market needs more sessions than the longest horizon.")
else:
    factor_section(summary)

# The parameter sweep (`aquant sweep`, ops.backtest_sweep): its ranked table and a two-knob heatmap.
ui.read(sweep.render)

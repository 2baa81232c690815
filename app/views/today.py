"""Today: the live session (`aquant live`: its orders, fills and stops as they happen), the latest
composite scores, the day's buy/sell signals, the rotation's target weights."""
from __future__ import annotations

import plotly.express as px
import streamlit as st

from aquant.app import ui
from aquant.app.data import FACTOR_COLUMNS

st.title("Today")


def live_section() -> None:
    """The live trading day, when one was recorded: summary, orders, fills, stops fired and watched."""
    days = ui.try_load("live_days", default=[], hint=" ")
    if not days:
        return
    st.subheader("Live session")
    lday = st.selectbox("Live day", days, index=0, key="today_live_day")
    live = ui.load("live_session", lday)
    for r in live["session"].itertuples(index=False):
        st.caption(f"{r.account} ({r.broker}): **{r.status}** (exit {r.exit_code}) at {r.last_minute} — "
                   f"{r.orders_sent} order(s) sent, {r.fills} fill(s), {r.skipped} skipped, {r.stops_fired} stop(s) fired.")
    money = {c: st.column_config.NumberColumn(c, format="%.2f") for c in ("price", "fee", "stop", "target", "high")}
    tabs = st.tabs([f"Orders ({len(live['orders'])})", f"Fills ({len(live['fills'])})",
                    f"Stops ({len(live['stops'])})"])
    tabs[0].dataframe(live["orders"], hide_index=True, width="stretch", column_config=money, key="today_live_orders")
    tabs[1].dataframe(live["fills"], hide_index=True, width="stretch", column_config=money, key="today_live_fills")
    tabs[2].dataframe(live["stops"], hide_index=True, width="stretch", column_config=money, key="today_live_stops")
    if len(live["levels"]):
        tabs[2].caption("Levels watched for the held stocks (stop-loss, take-profit, highest price while held):")
        tabs[2].dataframe(live["levels"], hide_index=True, width="stretch", column_config=money,
                          key="today_live_levels")


live_section()

dates = ui.load("score_dates")
if not dates:
    st.info("factor_scores is empty: run `aquant demo`.")
    st.stop()
opts = ui.load("filter_options")

c1, c2, c3, c4, c5 = st.columns([1.2, 2, 1.5, 1, 1.3])
day = c1.selectbox("Trading day", dates, index=0, key="today_day")
industries = c2.multiselect("Industry", opts["industry_l1"], key="today_ind")
boards = c3.multiselect("Board", opts["board"], key="today_board")
layer = c4.selectbox("Layer", ["all", "offense", "stable"], key="today_layer")
order_by = c5.selectbox("Rank by", FACTOR_COLUMNS, index=FACTOR_COLUMNS.index("composite_score"), key="today_sort")
top_n = st.slider("Show top", 10, 1000, 100, step=10, key="today_top")


def stock_link(df):
    """A column linking each row to the Stock page for that code."""
    df = df.copy()
    df.insert(0, "chart", "./stock?code=" + df["code"].astype(str))
    return df


LINK = st.column_config.LinkColumn("chart", display_text=r"code=(.*)$", width="small")
SCORE = {c: st.column_config.NumberColumn(c.replace("_score", ""), format="%.2f") for c in FACTOR_COLUMNS}
SCORE["composite_score"] = st.column_config.ProgressColumn("composite", min_value=0, max_value=10, format="%.2f")

st.subheader(f"Scores on {day}")
sc = ui.load("scores", day, industries=tuple(industries), boards=tuple(boards), order_by=order_by, limit=top_n)
st.caption(f"{len(sc)} stocks shown, ranked by {order_by}; click a column header to re-sort.")
st.dataframe(stock_link(sc), hide_index=True, width="stretch", column_config={"chart": LINK, **SCORE},
             key="today_scores")

st.subheader("Buy / sell signals")
sig = ui.try_load("signals_for_day", day, layer=None if layer == "all" else layer, kinds=("buy", "sell"),
                  industries=tuple(industries), boards=tuple(boards))
if sig is not None:
    if sig.empty:
        st.write("No buy or sell signal on or before this day.")
    else:
        st.caption(f"Signals of {ui.day(sig.trade_date.iloc[0])}: "
                   f"{(sig.kind == 'buy').sum()} buy, {(sig.kind == 'sell').sum()} sell.")
        money = {c: st.column_config.NumberColumn(c, format="%.2f") for c in ("close", "take_profit", "stop_loss")}
        for kind in ("buy", "sell"):
            part = sig[sig.kind == kind].drop(columns=["trade_date", "kind"])
            if len(part):
                st.markdown(f"**{kind.upper()}** ({len(part)})")
                st.dataframe(stock_link(part), hide_index=True, width="stretch",
                             column_config={"chart": LINK, **money,
                                            "composite_score": SCORE["composite_score"]},
                             key=f"today_sig_{kind}")

st.subheader("Rotation: picks and target weights")
pt = ui.try_load("portfolio_targets", day)
if pt is not None:
    if pt.empty:
        st.write("No rebalance on or before this day.")
    else:
        st.caption(f"Rebalance of {ui.day(pt.rebalance_date.iloc[0])}: {len(pt)} stocks, "
                   f"{pt.target_weight.sum():.0%} invested.")
        left, right = st.columns([3, 2])
        left.dataframe(pt.drop(columns=["rebalance_date"]), hide_index=True, width="stretch",
                       column_config={"target_weight": st.column_config.NumberColumn("weight", format="percent"),
                                      "composite_score": SCORE["composite_score"]}, key="today_targets")
        by_ind = pt.groupby("industry_l1", as_index=False)["target_weight"].sum()
        fig = px.pie(by_ind, names="industry_l1", values="target_weight", hole=0.45, title="Weight by industry")
        fig.update_layout(margin=dict(l=10, r=10, t=40, b=10), height=320)
        right.plotly_chart(fig, width="stretch", key="today_pie")

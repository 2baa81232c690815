"""Alerts: open stable-layer alerts, the report rows each one compared, and a form to record
the person's decision (written to the database with who and when, and to the audit log)."""
from __future__ import annotations

import pandas as pd
import streamlit as st

from aquant.app import ui

st.title("Alerts")

try:
    from aquant import alerts
except ImportError:
    st.info("The alerts module is not installed in this build (aquant.alerts).")
    st.stop()

DECISIONS = list(getattr(alerts, "DECISIONS", ("hold", "reduce", "sell", "ignore")))

if "alerts_flash" in st.session_state:
    st.success(st.session_state.pop("alerts_flash"))

open_ = ui.load("open_alerts")
st.subheader(f"Open alerts ({len(open_)})")
if open_.empty:
    st.write("No open alert: every stable alert has a decision.")
else:
    show = [c for c in ("trade_date", "code", "name", "rule", "metric_value", "threshold", "report_period",
                        "prev_report_period", "ann_date", "reason", "signal_id") if c in open_]
    st.dataframe(open_[show], hide_index=True, column_config={"signal_id": None}, width="stretch", key="alerts_open")

    def label(sid: str) -> str:
        r = open_[open_.signal_id == sid].iloc[0]
        return f"{r.get('trade_date')} · {r.get('code')} {r.get('name') or ''} · {r.get('rule') or ''}"

    sid = st.selectbox("Alert", open_.signal_id.tolist(), format_func=label, key="alerts_pick")
    row = open_[open_.signal_id == sid].iloc[0]
    st.markdown(f"**Why:** {row.get('reason') or '–'}")
    pit = {k.removeprefix("pit_"): v for k, v in row.items() if k.startswith("pit_") and pd.notna(v)}
    if pit:
        st.markdown("**Report figures known that day** (point in time)")
        st.dataframe(pd.DataFrame([pit]), hide_index=True, width="stretch", key="alerts_pit")
    periods = [row.get("report_period"), row.get("prev_report_period")]
    rep = ui.try_load("report_rows", row["code"], tuple(p for p in periods if p is not None and pd.notna(p)),
                      default=None)
    if rep is not None:
        st.markdown("**Report rows behind it** (every announced version)")
        st.dataframe(rep, hide_index=True, width="stretch", key="alerts_reports")

    with st.form("decision", clear_on_submit=True):
        st.markdown("**Record your decision**")
        decision = st.radio("Decision", DECISIONS, horizontal=True, key="alerts_decision")
        comment = st.text_area("Comment", key="alerts_comment", placeholder="why (kept with the decision)")
        # The decision is kept under the session's identity (the login, or on 127.0.0.1 without one
        # the person who started the app), never a name typed into a box (app/auth.py).
        who = ui.identity()
        st.caption(f"Decided by **{who}**")
        if st.form_submit_button("Save decision", type="primary"):
            try:
                # record_decision also writes the alert_decision audit row.
                ui.write(lambda db: alerts.record_decision(db, sid, decision, comment.strip(), who))
            except (alerts.AlertError, ConnectionError) as exc:
                st.error(f"Not saved: {exc}")
            else:
                st.session_state["alerts_flash"] = f"Saved: {decision} on {row['code']} by {who}."
                st.rerun()

st.subheader("Decisions")
dec = ui.try_load("decisions", default=None)
if dec is not None:
    if dec.empty:
        st.write("No decision recorded yet.")
    else:
        first = [c for c in ("decided_at", "decided_by", "decision", "code", "rule", "comment") if c in dec]
        st.dataframe(dec[first + [c for c in dec if c not in first]], hide_index=True, width="stretch",
                     key="alerts_decisions", column_config={"decision_id": None,
                     "decided_at": st.column_config.DatetimeColumn("decided at (UTC)", format="YYYY-MM-DD HH:mm")})

"""Audit: who did what and when (ops.audit_log), the latest reconciliation differences, and what
the notifier sent."""
from __future__ import annotations

import streamlit as st

from aquant.app import ui

st.title("Audit")

actions = ui.load("audit_actions")
c1, c2, c3 = st.columns([2, 2, 1])
action = c1.selectbox("Action", ["all", *actions], key="audit_action")
actor = c2.text_input("Actor", key="audit_actor").strip() or None
limit = c3.number_input("Rows", 10, 10_000, 200, step=50, key="audit_limit")
ev = ui.load("audit_events", action=None if action == "all" else action, actor=actor, limit=int(limit))
st.subheader(f"Audit log ({len(ev)} latest)")
st.dataframe(ev, hide_index=True, width="stretch", key="audit_events",
             column_config={"at": st.column_config.DatetimeColumn("at (UTC)", format="YYYY-MM-DD HH:mm:ss"),
                            "detail": st.column_config.TextColumn("detail", width="large")})

st.subheader("Latest reconciliation")
rec = ui.try_load("latest_reconcile", default=None, hint="no reconciliation yet: run `aquant reconcile`")
if rec is not None:
    if rec.empty:
        st.write("No reconciliation run yet (`aquant reconcile`).")
    else:
        st.caption(f"Reconciliation of {ui.day(rec.recon_date.iloc[0])}: {len(rec)} difference(s).")
        st.dataframe(rec, hide_index=True, width="stretch", key="audit_recon")

st.subheader("Notifications")
notes = ui.try_load("notifications", default=None, hint="nothing sent yet: run `aquant notify`")
if notes is not None:
    if notes.empty:
        st.write("Nothing sent yet (`aquant notify`).")
    else:
        failed = int((~notes.delivered.astype(bool)).sum())
        st.caption(f"{len(notes)} latest; {failed} not delivered yet (retried on the next `aquant notify`).")
        st.dataframe(notes, hide_index=True, width="stretch", key="audit_notes")

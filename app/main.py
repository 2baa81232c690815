"""Entry point of the review app (`aquant app` runs `streamlit run` on this file).

Pages live in views/ (not pages/, which Streamlit would auto-register); st.navigation lists them
so the order and titles are ours. Data access is in data.py, caching in ui.py.
"""
from __future__ import annotations

from pathlib import Path

import streamlit as st

from aquant.app import login, ui

HERE = Path(__file__).resolve().parent
PAGES = [
    ("today.py", "Today", ":material/today:"),
    ("stock.py", "Stock", ":material/candlestick_chart:"),
    ("industries.py", "Industries", ":material/factory:"),
    ("backtest.py", "Backtest", ":material/science:"),
    ("research.py", "Research", ":material/query_stats:"),
    ("alerts.py", "Alerts", ":material/notifications:"),
    ("audit.py", "Audit", ":material/history:"),
]
# Material icons ship with Streamlit's own font; emoji would need an emoji font on the viewer's machine.

st.set_page_config(page_title="aquant", page_icon=":material/candlestick_chart:", layout="wide")
# Navigation first (so a deep link like /stock survives the login), hidden until the person is known.
known = login.known_identity()
nav = st.navigation([st.Page(str(HERE / "views" / f), title=t, icon=i, default=(n == 0),
                             url_path=f.removesuffix(".py"))
                     for n, (f, t, i) in enumerate(PAGES)],
                    position="sidebar" if known else "hidden")
# Before any page runs: with a login configured nobody sees data until they are known (app/auth.py).
st.session_state["aquant_identity"] = login.require_identity(known)
with st.sidebar:
    st.caption(f"Database: `{ui.location()}`")
    # Reads wait while a build or a writer holds a DuckDB file (aquant.db.connect_duckdb), so the
    # page says what its data is as of rather than failing on the lock.
    with st.spinner("Reading the database (waits while a build holds it)…"):
        asof = ui.try_load("as_of", default={}) or {}
    if asof.get("last_day"):
        built = str(asof.get("built_at") or "")[:16]
        st.caption(f"Data as of **{asof['last_day']}**" + (f", built {built} UTC" if built else ""))
    st.caption(f"Signed in as **{st.session_state['aquant_identity']}**")
    if st.session_state.get(login.SESSION_KEY) and st.button("Log out"):
        login.log_out()
        st.rerun()
    if st.button("Refresh data", help="Clear cached query results (they also expire after 5 minutes)."):
        st.cache_data.clear()
nav.run()

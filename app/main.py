"""Entry point of the review app (`aquant app` runs `streamlit run` on this file).

Pages live in views/ (not pages/, which Streamlit would auto-register); st.navigation lists them
so the order and titles are ours. Data access is in data.py, caching in ui.py.
"""
from __future__ import annotations

from pathlib import Path

import streamlit as st

from aquant.app import ui

HERE = Path(__file__).resolve().parent
PAGES = [
    ("today.py", "Today", "📅"),
    ("stock.py", "Stock", "📈"),
    ("industries.py", "Industries", "🏭"),
    ("backtest.py", "Backtest", "🧪"),
    ("alerts.py", "Alerts", "🔔"),
    ("audit.py", "Audit", "📜"),
]

st.set_page_config(page_title="aquant", page_icon="📈", layout="wide")
nav = st.navigation([st.Page(str(HERE / "views" / f), title=t, icon=i, default=(n == 0),
                             url_path=f.removesuffix(".py"))
                     for n, (f, t, i) in enumerate(PAGES)])
with st.sidebar:
    st.caption(f"Database: `{ui.location()}`")
    if st.button("Refresh data", help="Clear cached query results (they also expire after 5 minutes)."):
        st.cache_data.clear()
nav.run()

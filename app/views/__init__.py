"""Pages of the review app, run by Streamlit as scripts (st.Page); a package so installs carry them."""

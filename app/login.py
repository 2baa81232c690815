"""The login gate of the review app (Streamlit side of app/auth.py).

`require_identity()` runs before any page: with a login configured it shows the form (or the
OIDC button) and stops the script until the person is known; the identity lives in the session
and is what every write records.
"""
from __future__ import annotations

import streamlit as st

from aquant import audit

from . import auth

SESSION_KEY = "aquant_user"


def _oidc_identity() -> str | None:
    user = st.user
    if not getattr(user, "is_logged_in", False):
        return None
    return str(user.get("email") or user.get("name") or user.get("sub") or "")


def known_identity() -> str | None:
    """The identity if this session needs no login or has logged in; None while the login is due."""
    if auth.oidc_configured():
        return _oidc_identity() or None
    try:
        users = auth.password_users()
    except auth.AuthConfigError:
        return None
    if not users:
        return audit.actor()
    who = st.session_state.get(SESSION_KEY)
    return who if who in users else None


def require_identity(known: str | None = None) -> str:
    """Who is acting in this session (`known`, or known_identity()); with nobody known yet it shows
    the login (OIDC button or password form) and stops the page."""
    who = known if known is not None else known_identity()
    if who:
        return who
    st.title("aquant")
    if auth.oidc_configured():
        st.write("This review app needs a login.")
        st.button("Log in", type="primary", on_click=st.login)
        st.stop()
    try:
        users = auth.password_users()
    except auth.AuthConfigError as exc:
        st.error(f"Login is misconfigured: {exc}")
        st.stop()
    with st.form("login"):
        st.markdown("**Log in to the review app**")
        name = st.text_input("User", key="login_user")
        password = st.text_input("Password", type="password", key="login_password")
        if st.form_submit_button("Log in", type="primary"):
            if auth.check_password(users, name, password):
                st.session_state[SESSION_KEY] = name.strip()
                st.rerun()
            st.error("Unknown user or wrong password.")
    st.stop()
    raise AssertionError("unreachable")  # st.stop() raises


def log_out() -> None:
    st.session_state.pop(SESSION_KEY, None)

"""Glue between the pages and `data.py`: cached queries on short-lived connections.

Each query opens its own connection and closes it at once, because a DuckDB file allows one
writing process: an app holding a connection open would block `aquant build` and `aquant notify`.
Results are cached (`st.cache_data`, TTL) keyed on the database location, the function and its
arguments, so a page rerun on a widget change costs nothing.
"""
from __future__ import annotations

from typing import Any, Callable

import pandas as pd
import streamlit as st

from aquant.config import ConfigError, load_settings
from aquant.db import Database
from aquant.relations import RelationError

from . import data

TTL_SECONDS = 300


def location() -> str:
    """Where the app reads from (AQUANT_DB / AQUANT_TARGET), shown in the sidebar."""
    return load_settings().describe()


@st.cache_data(ttl=TTL_SECONDS, show_spinner=False, max_entries=512)
def _cached(where: str, name: str, args: tuple, kwargs: tuple) -> Any:
    # `where` is part of the cache key so two databases never share results.
    fn: Callable[..., Any] = getattr(data, name)
    with Database(load_settings()) as db:
        return _tidy(fn(db, *args, **dict(kwargs)))


def _tidy(out: Any) -> Any:
    """DATE columns come back from DuckDB as midnight timestamps; show them as plain dates."""
    if isinstance(out, dict):
        return {k: _tidy(v) for k, v in out.items()}
    if not isinstance(out, pd.DataFrame):
        return out
    out = out.copy()
    for col in out.columns:
        s = out[col]
        if pd.api.types.is_datetime64_any_dtype(s) and s.dt.tz is None and s.notna().any() \
                and (s.dropna().dt.normalize() == s.dropna()).all():
            out[col] = s.dt.date
    return out


def q(name: str, *args: Any, **kwargs: Any) -> Any:
    """Call `data.<name>(db, *args, **kwargs)` through the cache."""
    return _cached(location(), name, tuple(args), tuple(sorted(kwargs.items())))


def load(name: str, *args: Any, **kwargs: Any) -> Any:
    """Like `q`, but a missing model or unreachable database stops the page with a friendly note.

    `st.stop()` ends this script run only; the sidebar and navigation stay usable.
    """
    try:
        return q(name, *args, **kwargs)
    except data.NotBuilt as exc:
        st.info(f"**{exc.name}** is not built yet: run `aquant demo` (or `aquant build`) on "
                f"`{location()}`, then reload.", icon="🛠️")
        st.stop()
    except RelationError as exc:  # a model built without a column the page reads: say which, do not guess
        st.error(str(exc))
        st.stop()
    except (ConnectionError, ConfigError) as exc:
        st.error(f"Cannot open the database: {exc}")
        st.stop()


def try_load(name: str, *args: Any, default: Any = None, hint: str | None = None, **kwargs: Any) -> Any:
    """Like `load`, but for optional sections: missing relation -> `default` plus a caption."""
    try:
        return q(name, *args, **kwargs)
    except data.NotBuilt as exc:
        st.caption(hint or f"{exc.name} not built yet: run `aquant demo`.")
        return default
    except RelationError as exc:  # built without a column this section reads: the section says so
        st.error(str(exc))
        return default


def _float(v: Any) -> float | None:
    try:
        f = float(v)
    except (TypeError, ValueError):
        return None
    return None if f != f else f  # NaN


def fmt_pct(v: Any) -> str:
    f = _float(v)
    return "–" if f is None else f"{f:+.2%}"


def fmt_num(v: Any, digits: int = 2) -> str:
    f = _float(v)
    return "–" if f is None else f"{f:,.{digits}f}"


def day(v: Any) -> str:
    """A date for display (the engines hand back dates or midnight timestamps)."""
    return str(v)[:10] if v is not None else "–"


def identity() -> str:
    """Who acts in this session, as app/login.py established it before the page ran."""
    from aquant import audit

    return st.session_state.get("aquant_identity") or audit.actor()


def read(fn: Callable[[Database], Any]) -> Any:
    """Run a section that reads through its own queries (e.g. views/sweep.render) on its own
    connection, closed as soon as it is done, like every other read of the app."""
    with Database(load_settings()) as db:
        return fn(db)


def write(fn: Callable[[Database], Any]) -> Any:
    """Run one write (a decision) on its own connection, then drop cached reads so pages show it."""
    with Database(load_settings()) as db:
        out = fn(db)
    st.cache_data.clear()
    return out

"""Which days are SSE sessions: the one answer every component uses (daily job, paper, export, reconcile).

Why one module: the exchanges publish next year's holiday calendar in December, and a guess is
wrong exactly where it matters (2026-12-31 is a Thursday, 2027-01-01 a holiday: "the next
weekday" would plan orders for a closed market). So the order of trust is

1. `raw.trade_calendar`, loaded from the source (akshare's Sina calendar, tushare `trade_cal`,
   xtdata `get_trading_dates`, or the sample market), because a source learns of a new year's
   calendar, or an ad-hoc closure, before the installed calendar package does;
2. exchange_calendars' XSHG calendar, inside the range it covers (4.13 ends on 2026-12-31);
3. nothing: `CalendarGap`, with a message that says how to load the missing calendar. Never a
   weekday guess.
"""
from __future__ import annotations

from datetime import date
from functools import lru_cache
from typing import TYPE_CHECKING

import pandas as pd

if TYPE_CHECKING:  # pragma: no cover
    from .db import Database


class CalendarGap(LookupError):
    """The known calendars do not reach the day asked about: load the exchange's calendar first."""


LOAD_HINT = ("load the exchanges' calendar (published each December for the next year): "
             "`aquant ingest --source akshare --tables trade_calendar` (or tushare/xtdata), "
             "or upgrade the exchange-calendars package")


@lru_cache(maxsize=1)
def _xshg():
    """exchange_calendars' XSHG, built once per process (building it takes ~0.5 s)."""
    import exchange_calendars as xc

    return xc.get_calendar("XSHG")


def _as_date(day: date | pd.Timestamp | str) -> date:
    return pd.Timestamp(day).date()


def _raw_has_calendar(db: Database | None) -> bool:
    return db is not None and db.table_exists("raw", "trade_calendar")


def _raw_end(db: Database | None) -> date | None:
    if not _raw_has_calendar(db):
        return None
    v = db.scalar("select max(trade_date) from raw.trade_calendar")
    return None if v is None else _as_date(v)


def session_status(db: Database | None, day: date | pd.Timestamp | str) -> tuple[bool, str]:
    """(is `day` a session, which calendar said so). Raises CalendarGap when none knows the day."""
    d = _as_date(day)
    if _raw_has_calendar(db):
        v = db.scalar("select is_open from raw.trade_calendar where trade_date = ?", [d])
        if v is not None:
            return bool(v), "raw.trade_calendar"
    cal = _xshg()
    ts = pd.Timestamp(d)
    if cal.first_session <= ts <= cal.last_session:
        return bool(cal.is_session(ts)), "exchange_calendars XSHG"
    raise CalendarGap(f"no calendar knows whether {d} is a trading day: raw.trade_calendar "
                      f"{_describe_end(_raw_end(db))}, exchange_calendars XSHG ends "
                      f"{cal.last_session.date()}; {LOAD_HINT}")


def is_session(db: Database | None, day: date | pd.Timestamp | str) -> bool:
    """True when `day` is an SSE session (see session_status for the sources and the error)."""
    return session_status(db, day)[0]


def next_session(db: Database | None, day: date | pd.Timestamp | str) -> date:
    """The first session strictly after `day`. Raises CalendarGap rather than guess a weekday."""
    d = _as_date(day)
    raw_end = _raw_end(db)
    if raw_end is not None and raw_end > d:
        v = db.scalar("select min(trade_date) from raw.trade_calendar where trade_date > ? and is_open", [d])
        if v is not None:
            return _as_date(v)
    cal = _xshg()
    # raw.trade_calendar said every day up to its end after `d` is closed: search on from there.
    ts = pd.Timestamp(max(d, raw_end) if raw_end is not None else d)
    if cal.first_session <= ts < cal.last_session:
        nxt = cal.next_session(ts) if cal.is_session(ts) else cal.date_to_session(ts, direction="next")
        return nxt.date()
    raise CalendarGap(f"no trading day after {d} is known: raw.trade_calendar {_describe_end(raw_end)}, "
                      f"exchange_calendars XSHG ends {cal.last_session.date()}; {LOAD_HINT}")


def sessions(db: Database | None, start: date | pd.Timestamp | str,
             end: date | pd.Timestamp | str) -> list[date]:
    """Every session in [start, end] the known calendars reach, in order: raw.trade_calendar up to
    its last day (one query), then exchange_calendars XSHG up to its end; a range past both is cut
    there (callers that must reach `end` check the last day or call next_session)."""
    lo, hi = _as_date(start), _as_date(end)
    out: list[date] = []
    raw_end = _raw_end(db)
    if raw_end is not None:
        out = [_as_date(r[0]) for r in db.query("select trade_date from raw.trade_calendar where trade_date "
                                                 "between ? and ? and is_open order by trade_date",
                                                 [lo, min(hi, raw_end)])]
    cal = _xshg()
    rest_lo = pd.Timestamp(max(lo, raw_end + pd.Timedelta(days=1)) if raw_end is not None else lo)
    rest_hi = min(pd.Timestamp(hi), cal.last_session)
    if rest_lo <= rest_hi:
        out += [d.date() for d in cal.sessions_in_range(max(rest_lo, cal.first_session), rest_hi)]
    return out


def _describe_end(end: date | None) -> str:
    return "is empty or missing" if end is None else f"ends {end}"

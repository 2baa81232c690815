"""Staging's move check exempts a new listing's unlimited sessions (issue 13, item 2).

dbt_project.yml said IPO days were excluded from the `quote_max_abs_return` (35 %) check, but
int_daily_quote__checked quarantined them. Hand-made bars go through the real loader and a real dbt run
of the three models involved, on DuckDB and PostgreSQL; each case says which session after the
listing it is and why it is (not) exempt.
"""
from __future__ import annotations

from datetime import date

import exchange_calendars as xc
import pandas as pd

from aquant.db import Database
from aquant.extract.loader import ensure_raw, load_frame

from test_offense_support import build

SRC = "test"
SESSIONS = xc.get_calendar("XSHG", start="2019-06-03").sessions_in_range("2019-06-03", "2023-05-31")

# code, list_date, session number of the bar (1 = listing day), expected to be quarantined
CASES = [
    ("688001.SH", date(2019, 7, 22), 2, False),  # STAR: 5 sessions unlimited
    ("688001.SH", date(2019, 7, 22), 5, False),
    ("688001.SH", date(2019, 7, 22), 6, True),   # 6th session: ±20 %, a 50 % move is bad data
    ("300999.SZ", date(2020, 8, 24), 3, False),  # ChiNext after the reform: 5 sessions
    ("300998.SZ", date(2019, 6, 3), 1, False),   # ChiNext before: listing day only
    ("300998.SZ", date(2019, 6, 3), 2, True),
    ("603999.SH", date(2023, 4, 10), 5, False),  # main board after the registration reform
    ("603999.SH", date(2023, 4, 10), 6, True),
    ("603998.SH", date(2022, 6, 1), 1, False),   # main board before it: listing day only
    ("603998.SH", date(2022, 6, 1), 2, True),
    ("830999.BJ", date(2021, 11, 15), 1, False),  # BSE: listing day only
    ("830999.BJ", date(2021, 11, 15), 2, True),
    # no list_date upstream: stg_stock_info takes the first stored bar as the listing day (issue 12
    # item 6), so that bar gets the main board's listing-day exemption and the next one does not
    ("600999.SH", None, 1, False),
    ("600999.SH", None, 2, True),
]


def _session(list_day: date | None, n: int) -> pd.Timestamp:
    if list_day is None:
        return SESSIONS[400 + n - 1]
    return SESSIONS[SESSIONS.searchsorted(pd.Timestamp(list_day)) + n - 1]


def test_new_listing_sessions_are_not_quarantined_for_large_moves(any_db, tmp_path):
    info = pd.DataFrame([{"code": c, "name": c, "exchange": c[-2:], "board": None, "list_date": ld,
                          "is_st": False} for c, ld in {(c, ld) for c, ld, _, _ in CASES}])
    # every bar closes 50 % above its pre_close, and each pre_close continues the stock's previous
    # bar (as the exchanges publish it), so only the move check can object
    rows, last = [], {}
    for c, ld, n, _ in sorted(CASES, key=lambda k: (k[0], _session(k[1], k[2]))):
        pre = last.get(c, 10.0)
        close = round(pre * 1.5, 2)
        rows.append({"code": c, "trade_date": _session(ld, n).date(), "open": close, "high": close, "low": close,
                     "close": close, "pre_close": pre, "volume": 1000.0, "amount": 1000.0 * close,
                     "adj_factor": 1.0})
        last[c] = close
    bars = pd.DataFrame(rows)
    cal = pd.DataFrame({"trade_date": SESSIONS.date, "is_open": True})
    with Database(any_db) as db:
        ensure_raw(db)
        load_frame(db, "stock_info", info, SRC)
        load_frame(db, "daily_quote", bars, SRC)
        load_frame(db, "trade_calendar", cal, SRC)
    build(any_db, tmp_path / "target", ["run", "--select", "stg_trade_calendar", "stg_stock_info",
                                        "int_daily_quote__checked"])
    with Database(any_db) as db:
        got = db.query_df("select code, trade_date, reason from intermediate.int_daily_quote__checked")
    got["trade_date"] = pd.to_datetime(got["trade_date"])
    reason = {(c, d): r for c, d, r in zip(got["code"], got["trade_date"], got["reason"])}
    for c, ld, n, bad in CASES:
        r = reason[(c, _session(ld, n))]
        want = "close too far from pre_close" if bad else None
        assert (r if isinstance(r, str) else None) == want, f"{c} listed {ld}, session {n}: {r!r}"

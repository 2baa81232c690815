"""The trading calendar: raw.trade_calendar first, exchange_calendars XSHG inside its range, and a
clear CalendarGap beyond both -- never a weekday guess (issue 12, item 8).

exchange_calendars 4.13's XSHG ends on 2026-12-31, a Thursday; 2027-01-01 is a Friday and a
public holiday (New Year's Day is closed every year). The old paper trading fell back to "the
next weekday" there and planned orders for a closed market.
"""
from __future__ import annotations

from datetime import date

import pandas as pd
import pytest
from click.testing import CliRunner

from aquant import trading_calendar as tc
from aquant.cli import main
from aquant.db import Database
from aquant.extract.loader import ensure_raw, load_frame
from aquant.qmt import paper


def _calendar(db: Database, days: dict[date, bool]) -> None:
    ensure_raw(db)
    df = pd.DataFrame({"trade_date": list(days), "is_open": list(days.values())})
    load_frame(db, "trade_calendar", df, "test", "hand-made calendar")


def _xshg_last() -> date:
    return tc._xshg().last_session.date()


def test_no_weekday_guess_past_the_known_calendars(duck):
    last = _xshg_last()
    with Database(duck) as db:
        _calendar(db, {last: True})
        with pytest.raises(tc.CalendarGap, match="trade_calendar") as err:
            paper.next_session(last, db)
        assert "aquant ingest" in str(err.value) and str(last) in str(err.value)
        with pytest.raises(tc.CalendarGap):
            tc.is_session(db, date(last.year + 1, 1, 5))


def test_next_years_calendar_from_raw_is_used(duck):
    """A source loaded in December knows the new year: the next session skips the holiday."""
    last = _xshg_last()
    new_year = date(last.year + 1, 1, 1)
    first_monday = next(d for d in pd.date_range(new_year, periods=7).date if d.weekday() == 0)
    days = {last: True, **{d: d == first_monday for d in pd.date_range(new_year, first_monday).date}}
    with Database(duck) as db:
        _calendar(db, days)
        assert paper.next_session(last, db) == first_monday
        assert tc.session_status(db, new_year) == (False, "raw.trade_calendar")


def test_raw_calendar_wins_over_the_package(duck):
    """An ad-hoc closure the package does not know (a made-up one here) is honoured."""
    with Database(duck) as db:
        # 2024-01-02 .. 2024-01-05 are XSHG sessions; pretend the exchange closed on the 3rd.
        _calendar(db, {date(2024, 1, 2): True, date(2024, 1, 3): False})
        assert tc.session_status(db, date(2024, 1, 3)) == (False, "raw.trade_calendar")
        assert tc.next_session(db, date(2024, 1, 2)) == date(2024, 1, 4)  # from XSHG after raw's end
        assert tc.session_status(db, date(2024, 1, 4)) == (True, "exchange_calendars XSHG")


def test_daily_job_stops_with_a_message_when_no_calendar_knows_the_day(duck, monkeypatch):
    monkeypatch.setenv("AQUANT_DB", str(duck.duckdb_path))
    monkeypatch.setenv("AQUANT_TARGET", "duckdb")
    day = date(_xshg_last().year + 1, 1, 5)
    out = CliRunner().invoke(main, ["daily", "--date", day.isoformat(), "--stocks", "3"])
    assert out.exit_code == 1, out.output
    assert "trade_calendar" in out.output and "weekday" not in out.output


def test_sessions_join_raw_calendar_and_package_in_one_list(duck):
    with Database(duck) as db:
        # raw knows 2024-01-02..03 (the 3rd closed, ad hoc); XSHG goes on from 2024-01-04
        _calendar(db, {date(2024, 1, 2): True, date(2024, 1, 3): False})
        assert tc.sessions(db, date(2024, 1, 1), date(2024, 1, 8)) == [date(2024, 1, 2), date(2024, 1, 4),
                                                                      date(2024, 1, 5), date(2024, 1, 8)]
        last = _xshg_last()
        assert tc.sessions(db, last, date(last.year + 1, 1, 10)) == [last]  # cut where the calendars end

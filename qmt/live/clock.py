"""The session's minutes and the clocks that walk them.

Times are Beijing wall-clock (the exchange's), converted to naive UTC only where a row is
written (the contract's timestamps are UTC). Continuous trading is 09:30-11:30 and 13:00-15:00;
a minute bar is labelled by its end (09:31 is the first, as xtdata and the sample market write).
"""
from __future__ import annotations

import time
from datetime import date, datetime, timedelta, timezone

import pandas as pd

OPEN = "09:30"
BJ_OFFSET = timedelta(hours=8)


def minutes(day: date) -> list[datetime]:
    """Every bar end of `day` (240), Beijing time."""
    d = pd.Timestamp(day)
    am = pd.date_range(d + pd.Timedelta("09:31:00"), d + pd.Timedelta("11:30:00"), freq="min")
    pm = pd.date_range(d + pd.Timedelta("13:01:00"), d + pd.Timedelta("15:00:00"), freq="min")
    return [t.to_pydatetime() for t in am.append(pm)]


def ticks(day: date) -> list[datetime]:
    """What a session walks: 09:25 (the opening call auction's price is known: the open), then every bar end."""
    return [pd.Timestamp(day).to_pydatetime() + timedelta(hours=9, minutes=25), *minutes(day)]


def to_utc(bj: datetime) -> datetime:
    """Naive UTC of a naive Beijing time (China keeps no daylight saving)."""
    return bj - BJ_OFFSET


def to_bj(utc: datetime) -> datetime:
    return utc + BJ_OFFSET


class SimClock:
    """Walks the day's minutes as fast as the caller asks; `pace` real seconds per minute (0 = flat out)."""

    def __init__(self, day: date, pace: float = 0.0, start_after: datetime | None = None):
        self.ticks = [t for t in ticks(day) if start_after is None or t > start_after]
        self.pace = pace
        self.now: datetime = pd.Timestamp(day).to_pydatetime() + timedelta(hours=9, minutes=15)

    def __iter__(self):
        for t in self.ticks:
            if self.pace:
                time.sleep(self.pace)
            self.now = t
            yield t

    def sleep(self, seconds: float) -> None:
        """Back-off waits pass in simulated time, instantly."""
        self.now += timedelta(seconds=seconds)


class WallClock:
    """The real clock: yields each minute end as it passes (Beijing time), skipping lunch."""

    def __init__(self, day: date, poll: float = 1.0):
        self.ticks = ticks(day)
        self.poll = poll

    @property
    def now(self) -> datetime:
        return (datetime.now(timezone.utc).replace(tzinfo=None) + BJ_OFFSET).replace(microsecond=0)

    def __iter__(self):
        for t in self.ticks:
            if t < self.now - timedelta(minutes=1):
                continue  # started (or restarted) late: minutes already gone are not replayed
            while self.now < t:
                time.sleep(self.poll)
            yield t

    def sleep(self, seconds: float) -> None:
        time.sleep(seconds)

"""What an extractor offers the runner: jobs, each filling one raw table unit by unit.

A job says how its work is cut into units (the whole market, a stock, a report period, a
trading day, an industry) so the runner can keep one watermark per unit and resume exactly
where an interrupted run stopped. Fetch functions return `Frame`s: contract-shaped frames
ready for the loader, possibly several (e.g. upstream chips plus derived history).
"""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from typing import Any, Callable, Literal

import pandas as pd

UnitKind = Literal["market", "stock", "period", "date", "industry"]


@dataclass
class Frame:
    """One contract-shaped frame for raw.<table>.

    `columns` lists the value columns this frame actually supplies; when set, the other value
    columns keep what the table already holds (several upstream calls fill funds_flow).
    """

    table: str
    df: pd.DataFrame
    source: str
    origin: str
    columns: list[str] | None = None


@dataclass
class Context:
    """What a fetch may need besides its unit: the window and read access to loaded data."""

    start: date
    end: date
    read: Callable[[str, list[Any]], pd.DataFrame]


@dataclass
class Job:
    """A named unit of ingest work for one raw table.

    kind: how units are enumerated. `watermark_col`: the date column whose max becomes a
    stock unit's watermark. `settle_days`: period/date units are re-fetched until this many
    days after the period end (late reports, restatements).
    """

    name: str
    table: str
    kind: UnitKind
    fetch: Callable[..., list[Frame]]
    watermark_col: str = "trade_date"
    settle_days: int = 0
    default: bool = True
    needs: list[str] = field(default_factory=list)


def quarter_ends(start: date, end: date) -> list[date]:
    """Report periods (Mar 31, Jun 30, Sep 30, Dec 31) that end within [start, end]."""
    out = []
    for y in range(start.year, end.year + 1):
        for m, d in ((3, 31), (6, 30), (9, 30), (12, 31)):
            if start <= date(y, m, d) <= end:
                out.append(date(y, m, d))
    return out

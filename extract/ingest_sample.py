"""Load the built-in sample market into the raw tables through the shared loader.

Each table is written in yearly chunks, each chunk atomic and idempotent, with a watermark per
chunk; an interrupted run simply runs again (rows already loaded are left untouched).
"""
from __future__ import annotations

import time
from typing import Iterable

import pandas as pd
from tqdm import tqdm

from aquant.db import Database

from .loader import LoadReport, ensure_raw, load_frame, set_watermark
from .sample import SOURCE, SampleConfig, SampleMarket

DATE_COL = {"daily_quote": "trade_date", "funds_flow": "trade_date", "industry_flow": "trade_date",
            "chip_distribution": "trade_date", "finance_data": "ann_date", "dividend": "ann_date",
            "trade_calendar": "trade_date"}


def _chunks(table: str, df: pd.DataFrame) -> Iterable[tuple[str, pd.DataFrame]]:
    col = DATE_COL.get(table)
    if col is None or df.empty:
        yield "*", df
        return
    years = pd.to_datetime(df[col]).dt.year
    for y in sorted(years.unique()):
        yield str(y), df[years == y]


def ingest_sample(db: Database, cfg: SampleConfig = SampleConfig(), tables: list[str] | None = None,
                  progress: bool = True) -> tuple[LoadReport, float]:
    """Generate the sample market and load it; returns rows per table and elapsed seconds."""
    t0 = time.perf_counter()
    ensure_raw(db)
    market = SampleMarket(cfg)
    frames = market.tables()
    restated_keys = set(zip(market.restated.code, market.restated.report_period))
    is_restated = [k in restated_keys for k in zip(frames["finance_data"].code, frames["finance_data"].report_period)]
    originals = frames["finance_data"][is_restated]
    frames["finance_data"] = frames["finance_data"][[not x for x in is_restated]]
    if tables:
        unknown = sorted(set(tables) - set(frames))
        if unknown:
            raise ValueError(f"unknown table(s) {unknown}; the sample source offers {sorted(frames)}")
        frames = {k: v for k, v in frames.items() if k in tables}
    report = LoadReport()
    work = [(name, unit, chunk) for name, df in frames.items() for unit, chunk in _chunks(name, df)]
    for name, unit, chunk in tqdm(work, desc="ingest sample", unit="chunk", disable=not progress):
        res = load_frame(db, name, chunk, SOURCE, origin=f"sample.{name}")
        report.add(name, res)
        col = DATE_COL.get(name)
        wm = pd.to_datetime(chunk[col]).max().date() if col and not chunk.empty else None
        set_watermark(db, SOURCE, name, unit, wm, len(chunk))
    if (not tables or "finance_data" in tables) and not market.restated.empty:
        # A restated report arrives after its original: load the original only the first time
        # (the loader then keeps it in finance_data_versions), then the restatement.
        have = db.query_df("select code, report_period, ann_date from raw.finance_data")
        have_keys = set(zip(have.code, pd.to_datetime(have.report_period).dt.date))
        first_time = originals[[k not in have_keys for k in zip(originals.code, originals.report_period)]]
        report.add("finance_data", load_frame(db, "finance_data", first_time, SOURCE, "sample.original"))
        report.add("finance_data", load_frame(db, "finance_data", market.restated, SOURCE, "sample.restated"))
    return report, time.perf_counter() - t0

"""`aquant ingest --source akshare|tushare|xtdata`: incremental, resumable network ingest.

Work is cut into units (a stock, a report period, a trading day, an industry, or the whole
market). A unit's watermark in ops.ingest_state moves only after its rows are committed, so a
run stopped half way (network error, Ctrl-C) resumes at the first unfinished unit without
duplicates (upserts are idempotent) or gaps (nothing is marked done before it is stored).
"""
from __future__ import annotations

import logging
import os
import time
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta, timezone
from typing import Any, Callable

import pandas as pd
from tabulate import tabulate
from tqdm import tqdm

from aquant import audit
from aquant.config import ConfigError
from aquant.db import Database, UpsertResult
from aquant.schema import RAW_TABLES

from .calls import CallPolicy, GuardedClient
from .jobs import Context, Frame, Job, quarter_ends
from .loader import clear_watermarks, ensure_raw, get_watermark, load_frame, set_watermark
from .normalize import UpstreamSchemaError, to_ts_code
from .reconcile import reconcile_sources

log = logging.getLogger("aquant.extract.runner")

SOURCES = ("akshare", "tushare", "xtdata")
DEFAULT_START = date(2018, 1, 1)
# Seconds between upstream calls: free scrapers ban bursts, tushare allows ~200 calls/minute,
# xtdata reads a local terminal.
DEFAULT_INTERVAL = {"akshare": 0.5, "tushare": 0.32, "xtdata": 0.0}
ORDER = ["trade_calendar", "stock_info", "daily_quote", "minute_quote", "finance_data", "dividend",
         "funds_flow", "industry_flow", "chip_distribution"]


@dataclass
class Failure:
    """One unit that could not be loaded; the run carries on and reports it at the end."""

    job: str
    unit: str
    error: str


@dataclass
class IngestSummary:
    """What one run did: rows per table, failed units, time taken."""

    source: str
    start: date
    end: date
    tables: dict[str, UpsertResult] = field(default_factory=dict)
    units_done: int = 0
    units_skipped: int = 0
    failures: list[Failure] = field(default_factory=list)
    calls: int = 0
    elapsed: float = 0.0
    status: str = "ok"
    event_id: str | None = None

    def add(self, table: str, res: UpsertResult) -> None:
        cur = self.tables.setdefault(table, UpsertResult())
        cur.inserted += res.inserted
        cur.updated += res.updated

    def __str__(self) -> str:
        rows = [(t, r.inserted, r.updated) for t, r in self.tables.items()]
        out = tabulate(rows or [("(none)", 0, 0)], headers=["table", "inserted", "updated"])
        out += (f"\n\nsource={self.source} {self.start}..{self.end} status={self.status} "
                f"units={self.units_done} up-to-date={self.units_skipped} calls={self.calls} "
                f"failures={len(self.failures)} in {self.elapsed:.1f}s")
        if self.failures:
            fails = [(f.job, f.unit, f.error[:160]) for f in self.failures[:50]]
            out += "\n\n" + tabulate(fails, headers=["job", "unit", "error"])
            if len(self.failures) > 50:
                out += f"\n... and {len(self.failures) - 50} more"
        return out


def make_extractor(source: str, client: Any, policy: CallPolicy) -> Any:
    """The extractor for `source`, its client wrapped so every call is paced and retried."""
    if source == "akshare":
        from . import akshare as mod
    elif source == "tushare":
        from . import tushare as mod
    elif source == "xtdata":
        from . import xtdata as mod
    else:
        raise ValueError(f"unknown source {source!r}; expected one of {', '.join(SOURCES)} (or 'sample')")
    try:
        raw = client if client is not None else mod.default_client()
    except ImportError as exc:  # missing package / no terminal: a setup problem, not a crash
        raise ConfigError(str(exc)) from exc
    return mod.EXTRACTOR(GuardedClient(raw, policy, source))


def _today() -> date:
    return datetime.now(timezone.utc).date()


class _Run:
    """State of one ingest run (kept out of run_ingest to keep each step small)."""

    def __init__(self, db: Database, source: str, extractor: Any, summary: IngestSummary, codes: list[str] | None,
                 primary: str | None, progress: bool, replace_other_sources: bool = False):
        self.db, self.source, self.ex, self.summary = db, source, extractor, summary
        self.codes, self.primary, self.progress = codes, primary, progress
        self.replace_other_sources = replace_other_sources

    # -- reading what is already loaded -------------------------------------------------
    def read(self, sql: str, params: list[Any]) -> pd.DataFrame:
        return self.db.query_df(sql, params)

    def stock_units(self, start: date) -> list[str]:
        if self.codes:
            return self.codes
        df = self.read("select code from raw.stock_info where delist_date is null or delist_date >= ? order by code",
                       [start])
        if df.empty:
            raise ValueError("no stocks in raw.stock_info: run `aquant ingest --tables stock_info` first "
                             "or pass --codes")
        return df["code"].tolist()

    def trading_days(self, start: date, end: date) -> list[date]:
        df = self.read("select trade_date from raw.trade_calendar where is_open and trade_date between ? and ? "
                       "order by trade_date", [start, end])
        if len(df):
            return [pd.Timestamp(d).date() for d in df["trade_date"]]
        return [d.date() for d in pd.bdate_range(start, end)]

    def industries(self) -> list[str]:
        df = self.read("select distinct industry_l1 from raw.stock_info where industry_l1 is not null "
                       "order by industry_l1", [])
        return df["industry_l1"].tolist()

    # -- units and their windows --------------------------------------------------------
    def units(self, job: Job, start: date, end: date) -> list[Any]:
        if job.kind == "market":
            return ["*"]
        if job.kind == "stock":
            return self.stock_units(start)
        if job.kind == "period":
            return quarter_ends(start, end)
        if job.kind == "date":
            return self.trading_days(start, end)
        return self.industries()

    def window(self, job: Job, unit: Any, start: date, end: date) -> tuple[date, date] | None:
        """The dates still to fetch for this unit, or None when it is up to date."""
        wm = get_watermark(self.db, self.source, job.name, str(unit))
        if job.kind in ("stock", "industry"):
            lo = start if wm is None or wm < start else wm + timedelta(days=1)
            return (lo, end) if lo <= end else None
        if job.kind in ("period", "date"):
            # Fetched after the unit settled (late reports/corrections are in): done.
            if wm is not None and wm >= unit + timedelta(days=job.settle_days):
                return None
            return (start, end)
        return (start, end)

    # -- loading ------------------------------------------------------------------------
    def _existing(self, table: str, df: pd.DataFrame) -> pd.DataFrame:
        t = RAW_TABLES[table]
        if len(t.key) == 1:
            return self.read(f"select * from {t.fqn}", [])
        k0, k1 = t.key
        lo, hi = df[k1].min(), df[k1].max()
        if df[k0].nunique() == 1:
            return self.read(f"select * from {t.fqn} where {k0} = ? and {k1} between ? and ?", [df[k0].iloc[0], lo, hi])
        return self.read(f"select * from {t.fqn} where {k1} between ? and ?", [lo, hi])

    def load(self, frame: Frame) -> UpsertResult:
        """Partial frames keep the other columns' stored values; the primary source's rows win."""
        df = frame.df
        if df is None or df.empty:
            return UpsertResult()
        t = RAW_TABLES[frame.table]
        key = list(t.key)
        protect = self.primary and frame.source != self.primary
        if frame.columns is not None or protect:
            df = _norm(df, key)
            old = _norm(self._existing(frame.table, df), key)
            if protect and len(old):
                prim = old[old["source"] == self.primary]
                if len(prim):
                    merged = reconcile_sources(prim, df, key, self.primary, frame.source)
                    df = _norm(merged.iloc[len(prim):], key)
                    old = old[old["source"] != self.primary]
            if protect and len(old) and not self.replace_other_sources:
                # a row another real source delivered is never replaced silently: only the primary
                # source may (configured), or an explicit --replace-other-sources
                theirs = old[(old["source"] != frame.source) & ~old["source"].astype(str).str.startswith("derived:")]
                if len(theirs):
                    taken = df.merge(theirs[key], on=key, how="left", indicator=True)["_merge"] == "both"
                    if taken.any():
                        log.warning("%s: kept %d %s row(s) delivered by %s; pass --replace-other-sources to "
                                    "overwrite them", frame.table, int(taken.sum()), frame.source,
                                    ", ".join(sorted(set(theirs["source"].astype(str)))))
                        df = df[~taken.to_numpy()]
            if frame.columns is not None and len(old) and len(df):
                keep = [c for c in t.value_cols if c not in frame.columns]
                df = df.drop(columns=[c for c in keep if c in df.columns])
                df = df.merge(old[key + keep], on=key, how="left")
        return load_frame(self.db, frame.table, df, frame.source, frame.origin)

    # -- one job ------------------------------------------------------------------------
    def run_job(self, job: Job, start: date, end: date) -> None:
        units = self.units(job, start, end)
        bar = tqdm(units, desc=f"{self.source}:{job.name}", unit="unit", disable=not self.progress, leave=False)
        for unit in bar:
            win = self.window(job, unit, start, end)
            if win is None:
                self.summary.units_skipped += 1
                continue
            ctx = Context(win[0], win[1], self.read)
            try:
                frames = job.fetch(unit, ctx)
                loaded = 0
                for fr in frames:
                    res = self.load(fr)
                    self.summary.add(fr.table, res)
                    loaded += len(fr.df)
            except UpstreamSchemaError:
                raise  # a renamed column breaks every unit alike: stop and say so
            except Exception as exc:  # noqa: BLE001 - one bad stock must not stop the market
                log.warning("%s %s failed: %s", job.name, unit, exc)
                self.summary.failures.append(Failure(job.name, str(unit), f"{type(exc).__name__}: {exc}"))
                continue
            wm = _new_watermark(job, frames, unit)
            if wm is not None:  # only after the rows above are committed
                set_watermark(self.db, self.source, job.name, str(unit), wm, loaded)
            self.summary.units_done += 1
        bar.close()


def _norm(df: pd.DataFrame, key: list[str]) -> pd.DataFrame:
    out = df.copy()
    for k in key:
        if RAW_TABLES_KEYTYPE.get(k) == "DATE":
            out[k] = pd.to_datetime(out[k]).dt.date
        elif RAW_TABLES_KEYTYPE.get(k) == "TIMESTAMP":
            out[k] = pd.to_datetime(out[k])
    return out.reset_index(drop=True)


RAW_TABLES_KEYTYPE = {c: typ for t in RAW_TABLES.values() for c, typ in t.columns.items() if c in t.key}


def _new_watermark(job: Job, frames: list[Frame], unit: Any) -> date | None:
    if job.kind in ("market", "period", "date"):
        return _today()
    dates = [pd.to_datetime(fr.df[job.watermark_col]).max() for fr in frames
             if fr.table == job.table and len(fr.df) and job.watermark_col in fr.df]
    dates = [d for d in dates if pd.notna(d)]
    return max(dates).date() if dates else None


def select_jobs(jobs: list[Job], tables: list[str] | None, source: str) -> list[Job]:
    """The jobs for the requested tables (defaults: all but on-request ones), in load order."""
    known = {j.table for j in jobs}
    if tables:
        unknown = [t for t in tables if t not in RAW_TABLES]
        if unknown:
            raise ValueError(f"unknown table(s) {unknown}; expected some of {sorted(RAW_TABLES)}")
        missing = [t for t in tables if t not in known]
        if missing:
            raise ValueError(f"source {source!r} cannot fill {missing}; it fills {sorted(known)}")
        chosen = [j for j in jobs if j.table in tables]
    else:
        chosen = [j for j in jobs if j.default]
    return sorted(chosen, key=lambda j: ORDER.index(j.table))


def run_ingest(db: Database, source: str, tables: list[str] | None = None, codes: list[str] | None = None,
               start: date | None = None, end: date | None = None, full_refresh: bool = False, client: Any = None,
               progress: bool = True, *, primary_source: str | None = None, min_interval: float | None = None,
               retries: int = 3, backoff: float = 1.0, timeout: float | None = 30.0,
               sleep: Callable[[float], None] = time.sleep, replace_other_sources: bool = False) -> IngestSummary:
    """Ingest `tables` (default: all the source offers except minute bars) for `codes` (default:
    every stock in raw.stock_info) over [start, end] from a network source.

    Incremental: per stock, only days after its watermark are fetched. `full_refresh` forgets
    the watermarks of the selected tables first. `client` replaces the upstream module (tests).
    The primary source (`primary_source`, else $AQUANT_PRIMARY_SOURCE, else 'tushare') keeps
    its rows when another source delivers the same key; differences are logged. A row delivered
    by any other real source is kept too (logged), unless `replace_other_sources`.
    """
    if source not in SOURCES:
        raise ValueError(f"unknown source {source!r}; expected one of {', '.join(SOURCES)}")
    end = end or _today()
    start = start or DEFAULT_START
    if start > end:
        raise ValueError(f"start {start} is after end {end}")
    interval = min_interval if min_interval is not None else float(
        os.environ.get("AQUANT_MIN_INTERVAL", DEFAULT_INTERVAL[source]))
    policy = CallPolicy(min_interval=interval, retries=retries, backoff=backoff, timeout=timeout, sleep=sleep)
    extractor = make_extractor(source, client, policy)
    jobs = select_jobs(extractor.jobs(), tables, source)
    primary = primary_source or os.environ.get("AQUANT_PRIMARY_SOURCE", "tushare")
    summary = IngestSummary(source, start, end)
    norm_codes = [to_ts_code(c) for c in codes] if codes else None
    run = _Run(db, source, extractor, summary, norm_codes, primary, progress, replace_other_sources)
    t0 = time.monotonic()
    ensure_raw(db)
    if full_refresh:
        clear_watermarks(db, source, [j.name for j in jobs])
    try:
        for job in jobs:
            run.run_job(job, start, end)
        # Every unit failed and none was done or up to date: nothing usable came in (no network, a
        # bad token). That is a failed run, not a partial one, so cron sees a non-zero exit.
        nothing = summary.units_done == 0 and summary.units_skipped == 0
        summary.status = "ok" if not summary.failures else ("failed" if nothing else "partial")
    except KeyboardInterrupt:
        summary.status = "interrupted"
        raise
    except BaseException:
        summary.status = "failed"
        raise
    finally:
        policy.close()
        summary.calls = policy.calls
        summary.elapsed = time.monotonic() - t0
        _audit(db, summary, jobs, norm_codes, full_refresh)
    return summary


def _audit(db: Database, s: IngestSummary, jobs: list[Job], codes: list[str] | None, full_refresh: bool) -> None:
    detail = {"source": s.source, "start": s.start, "end": s.end, "jobs": [j.name for j in jobs],
              "codes": codes[:50] if codes else None, "full_refresh": full_refresh, "status": s.status,
              "rows": {t: [r.inserted, r.updated] for t, r in s.tables.items()}, "failures": len(s.failures),
              "failed_units": [f"{f.job}:{f.unit}" for f in s.failures[:50]], "calls": s.calls,
              "elapsed_s": round(s.elapsed, 2)}
    try:
        s.event_id = audit.record(db, "ingest", detail)
    except Exception as exc:  # noqa: BLE001 - never hide the run's own outcome behind an audit error
        log.error("could not write the audit row: %s", exc)

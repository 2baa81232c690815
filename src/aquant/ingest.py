"""`aquant ingest`: pick the source, run it, audit it, summarise it."""
from __future__ import annotations

from dataclasses import fields
from datetime import date

from tabulate import tabulate

from . import audit
from .db import Database


def run(db: Database, source: str = "sample", start: date | None = None, end: date | None = None,
        codes: list[str] | None = None, tables: list[str] | None = None, full_refresh: bool = False,
        stocks: int | None = None, seed: int | None = None, progress: bool = True,
        replace_other_sources: bool = False) -> str:
    """Ingest from `source`; returns a printable summary. Raises ValueError on bad arguments, and
    MixedMarketError (a ValueError) before any work when the database holds the other kind of
    market (sample vs real)."""
    from .extract.market_guard import check_market

    check_market(db, source)
    if source == "sample":
        from .extract.ingest_sample import ingest_sample
        from .extract.sample import SampleConfig

        if codes:
            raise ValueError("--codes is not supported by the sample source (use --stocks)")
        defaults = {f.name: f.default for f in fields(SampleConfig)}
        cfg = SampleConfig(n_stocks=stocks or defaults["n_stocks"], start=start or defaults["start"],
                           end=end or defaults["end"], seed=defaults["seed"] if seed is None else seed)
        report, elapsed = ingest_sample(db, cfg, tables=tables, progress=progress)
        rows = [(t, r.inserted, r.updated) for t, r in report.tables.items()]
        audit.record(db, "ingest", {"source": source, "tables": sorted(report.tables), "start": cfg.start,
                                    "end": cfg.end, "stocks": cfg.n_stocks, "seed": cfg.seed,
                                    "rows": {t: [i, u] for t, i, u in rows}, "failures": 0,
                                    "elapsed_s": round(elapsed, 2)})
        return (tabulate(rows, headers=["table", "inserted", "updated"]) +
                f"\n\nsource=sample stocks={cfg.n_stocks} {cfg.start}..{cfg.end} in {elapsed:.1f}s "
                f"-> {db.settings.describe()}")
    if stocks is not None or seed is not None:
        raise ValueError("--stocks/--seed only apply to the sample source")
    from .extract.runner import run_ingest

    summary = run_ingest(db, source, tables=tables, codes=codes, start=start, end=end,
                         full_refresh=full_refresh, progress=progress, replace_other_sources=replace_other_sources)
    if summary.status == "failed":
        raise IngestFailed(str(summary))
    return str(summary)


class IngestFailed(RuntimeError):
    """Every unit of a network ingest failed; the message is the run's summary with the errors."""

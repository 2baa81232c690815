"""Where the tap's rows come from: aquant's own extractors, unchanged.

The sample source is the same `SampleMarket` that `aquant ingest --source sample` loads; the
network sources run the same extractor jobs as `aquant ingest`, unit by unit. Those jobs may read
what is already loaded (akshare derives chips from daily bars, tushare TTM from reports): here
they read the frames this run has produced, kept in an in-memory DuckDB under `raw.<table>`, so
the tap needs no warehouse. Every frame goes through aquant's `conform`, so the contract's columns
and types are what the streams emit.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, timedelta
from typing import Any

import pandas as pd

from aquant.extract.loader import conform
from aquant.schema import RAW_TABLES

NETWORK = ("akshare", "tushare", "xtdata")
SOURCES = ("sample", *NETWORK)
VERSIONS = "finance_data_versions"


@dataclass
class TapSettings:
    """The tap's config, parsed: which source, which window, which stocks."""

    source: str = "sample"
    start: date = date(2021, 1, 4)
    end: date = date(2024, 12, 31)
    n_stocks: int | None = None
    codes: list[str] | None = None

    @classmethod
    def from_config(cls, cfg: dict[str, Any]) -> "TapSettings":
        source = cfg.get("source") or "sample"
        if source not in SOURCES:
            raise ValueError(f"source must be one of {', '.join(SOURCES)}, got {source!r}")
        start = date.fromisoformat(str(cfg["start_date"])[:10]) if cfg.get("start_date") else cls.start
        end = date.fromisoformat(str(cfg["end_date"])[:10]) if cfg.get("end_date") else cls.end
        stocks = str(cfg.get("stocks") or "").strip()
        n, codes = None, None
        if stocks.isdigit():
            n = int(stocks)
        elif stocks:
            codes = [c.strip() for c in stocks.split(",") if c.strip()]
        if source == "sample" and codes:
            raise ValueError("the sample source takes a number of stocks (e.g. stocks: 5), not codes")
        return cls(source, start, end, n, codes)


@dataclass
class Extraction:
    """Produces one contract-shaped frame per raw table, each computed once per tap run."""

    settings: TapSettings
    _frames: dict[str, pd.DataFrame] = field(default_factory=dict)
    _mem: Any = None

    def frame(self, table: str, since: date | None = None) -> pd.DataFrame:
        """Rows of raw.<table>; for network stock-level jobs only days after `since` are fetched.

        `finance_data_versions` (superseded reports) is known only to the sample market: a
        network source delivers the latest version, and the superseded one exists only in the
        warehouse that held it (target-aquant keeps it there; target-postgres overwrites).
        """
        if table == VERSIONS and self.settings.source != "sample":
            return pd.DataFrame(columns=list(RAW_TABLES["finance_data"].columns))
        if table not in self._frames:
            if self.settings.source == "sample":
                self._sample()
            else:
                self._network(table, since)
        cols = list(RAW_TABLES["finance_data" if table == VERSIONS else table].columns)
        return self._frames.get(table, pd.DataFrame(columns=cols))

    # -- sample ------------------------------------------------------------------------
    def _sample(self) -> None:
        from aquant.extract.sample import SOURCE, SampleConfig, SampleMarket

        s = self.settings
        cfg = SampleConfig(n_stocks=s.n_stocks or SampleConfig.n_stocks, start=s.start, end=s.end)
        market = SampleMarket(cfg)
        for name, df in market.tables().items():
            self._frames[name] = conform(name, df, SOURCE, f"sample.{name}")
        if not market.restated.empty:  # restatements replace originals, as `aquant ingest` loads them
            orig = self._frames["finance_data"]
            rest = conform("finance_data", market.restated, SOURCE)
            key = ["code", "report_period"]
            superseded = orig.merge(rest[key], on=key)
            self._frames[VERSIONS] = superseded.drop_duplicates([*key, "ann_date"])
            both = pd.concat([orig, rest])
            self._frames["finance_data"] = both.drop_duplicates(key, keep="last")

    # -- network -----------------------------------------------------------------------
    def _read(self, sql: str, params: list[Any]) -> pd.DataFrame:
        return self._mem.execute(sql, params).df()

    def _remember(self, table: str, df: pd.DataFrame) -> None:
        import duckdb

        if self._mem is None:
            self._mem = duckdb.connect()
            self._mem.execute("create schema raw")
        self._frames[table] = df
        self._mem.register("_f", df)
        self._mem.execute(f"create or replace table raw.{table} as select * from _f")
        self._mem.unregister("_f")

    def _units(self, kind: str, start: date, end: date) -> list[Any]:
        from aquant.extract.jobs import quarter_ends

        if kind == "market":
            return ["*"]
        if kind == "stock":
            return self.settings.codes or sorted(self.frame("stock_info")["code"])
        if kind == "period":
            return quarter_ends(start, end)
        if kind == "date":
            cal = self.frame("trade_calendar")
            days = cal[cal["is_open"].fillna(False).astype(bool)]["trade_date"]
            return [d for d in days if start <= d <= end]
        return sorted(self.frame("stock_info")["industry_l1"].dropna().unique())

    def _network(self, table: str, since: date | None) -> None:
        from aquant.extract.calls import CallPolicy
        from aquant.extract.jobs import Context
        from aquant.extract.runner import make_extractor

        s = self.settings
        policy = CallPolicy(min_interval={"akshare": 0.5, "tushare": 0.32}.get(s.source, 0.0))
        try:
            jobs = [j for j in make_extractor(s.source, None, policy).jobs() if j.table == table]
            for need in {n for j in jobs for n in j.needs}:
                self.frame(need)
            parts: list[pd.DataFrame] = []
            for job in jobs:
                for unit in self._units(job.kind, s.start, s.end):
                    lo = s.start
                    if since and job.kind in ("stock", "industry"):
                        lo = max(lo, since + timedelta(days=1))
                    if lo > s.end:
                        continue
                    for fr in job.fetch(unit, Context(lo, s.end, self._read)):
                        if fr.table == table and fr.df is not None and len(fr.df):
                            parts.append(conform(table, fr.df, fr.source, fr.origin))
        finally:
            policy.close()
        key = list(RAW_TABLES[table].key)
        df = pd.concat(parts, ignore_index=True) if parts else pd.DataFrame(columns=list(RAW_TABLES[table].columns))
        if len(df):  # several jobs may fill different columns of the same rows (funds_flow)
            df = df.groupby(key, as_index=False, sort=True).first()
        self._remember(table, df)

"""`tap-aquant`: the Singer face of aquant's extractors (sample, akshare, tushare, xtdata).

Why a tap at all when `aquant ingest` exists: it lets Meltano route the same data to any Singer
target (target-postgres, a warehouse) with Meltano's state bookmarks, without a second extractor
implementation to keep in step.
"""
from __future__ import annotations

from singer_sdk import Tap, typing as th

from .frames import SOURCES, Extraction, TapSettings
from .streams import all_streams


class TapAquant(Tap):
    """Singer tap over aquant.extract; one stream per raw table of the data contract."""

    name = "tap-aquant"
    config_jsonschema = th.PropertiesList(
        th.Property("source", th.StringType, default="sample", allowed_values=list(SOURCES),
                    description="sample (offline synthetic market), akshare, tushare or xtdata"),
        th.Property("start_date", th.DateType, default="2021-01-04", description="first day to extract"),
        th.Property("end_date", th.DateType, description="last day to extract (sample default 2024-12-31)"),
        th.Property("stocks", th.StringType,
                    description="sample: a number of stocks (e.g. 5); network sources: comma-separated codes"),
    ).to_dict()

    @property
    def extraction(self) -> Extraction:
        if not hasattr(self, "_extraction"):
            self._extraction = Extraction(TapSettings.from_config(dict(self.config)))
        return self._extraction

    def discover_streams(self) -> list:
        return all_streams(self)


if __name__ == "__main__":
    TapAquant.cli()

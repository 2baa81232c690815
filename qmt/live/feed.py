"""Quotes and minute bars through xtdata's interface, for miniQMT and the simulator alike.

`subscribe_whole_quote` pushes tick dicts ({code: {time, lastPrice, high, low, lastClose, ...}},
xtquant/xtdata.py docstring); the feed keeps the latest per code. Limit prices come from
`get_instrument_detail` (UpStopPrice / DownStopPrice), minute bars from `get_market_data_ex`
with period '1m' after `download_history_data(stock_code, period, start_time, end_time)` fills
the terminal's cache (xtquant/xtdata.py; the simulator needs no download and has no such function).
"""
from __future__ import annotations

import threading
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

import pandas as pd

from .clock import BJ_OFFSET


@dataclass(frozen=True)
class Quote:
    """The latest tick of one stock; `at` is Beijing time."""

    code: str
    at: datetime
    last: float
    high: float
    low: float
    pre_close: float
    volume: float = 0.0  # the day's cumulative volume (the tick's `volume`, lots)


class XtFeed:
    """Latest quotes of subscribed codes and their minute bars, over an xtdata-shaped module."""

    def __init__(self, xtdata: Any):
        self.xd = xtdata
        self._lock = threading.Lock()
        self._latest: dict[str, dict] = {}
        self._limits: dict[str, tuple[float, float, float]] = {}
        self.codes: list[str] = []

    def subscribe(self, codes: list[str]) -> None:
        """Whole-quote subscription of `codes` (xtdata.subscribe_whole_quote(code_list, callback))."""
        new = sorted(set(codes) - set(self.codes))
        if new:
            self.xd.subscribe_whole_quote(new, self._on_data)
            self.codes = sorted(set(self.codes) | set(new))

    def _on_data(self, datas: dict[str, dict]) -> None:
        with self._lock:
            for code, tick in datas.items():
                if code in self.codes:
                    self._latest[code] = tick

    def quote(self, code: str) -> Quote | None:
        with self._lock:
            t = self._latest.get(code)
        if t is None:
            full = self.xd.get_full_tick([code]) or {}
            t = full.get(code)
        if not t or not t.get("lastPrice"):
            return None
        at = datetime.utcfromtimestamp(int(t["time"]) / 1000) + BJ_OFFSET
        return Quote(code, at, float(t["lastPrice"]), float(t.get("high") or t["lastPrice"]),
                     float(t.get("low") or t["lastPrice"]), float(t.get("lastClose") or 0.0),
                     float(t.get("volume") or 0.0))

    def limits(self, code: str) -> tuple[float, float, float]:
        """(pre_close, limit-down, limit-up) of the day, from get_instrument_detail."""
        if code not in self._limits:
            d = self.xd.get_instrument_detail(code) or {}
            if not d.get("UpStopPrice"):
                raise LookupError(f"get_instrument_detail({code!r}) has no UpStopPrice; is {code} trading today?")
            self._limits[code] = (float(d.get("PreClose") or 0.0), float(d["DownStopPrice"]), float(d["UpStopPrice"]))
        return self._limits[code]

    def minute_bars(self, code: str, start: date, end: datetime) -> pd.DataFrame:
        """1-minute bars of `code` from `start` up to `end` (Beijing): columns ts (Beijing), volume."""
        if hasattr(self.xd, "download_history_data"):  # xtdata reads minute bars from its local cache
            self.xd.download_history_data(code, "1m", f"{pd.Timestamp(start):%Y%m%d}000000",
                                          f"{pd.Timestamp(end):%Y%m%d%H%M%S}")
        data = self.xd.get_market_data_ex(["time", "close", "volume"], [code], period="1m",
                                          start_time=f"{pd.Timestamp(start):%Y%m%d}000000",
                                          end_time=f"{pd.Timestamp(end):%Y%m%d%H%M%S}")
        df = data.get(code)
        if df is None or df.empty:
            return pd.DataFrame({"ts": pd.Series(dtype="datetime64[ns]"), "volume": pd.Series(dtype=float)})
        ts = pd.to_datetime(df["time"].astype("int64"), unit="ms") + pd.Timedelta(BJ_OFFSET)
        return pd.DataFrame({"ts": ts.to_numpy(), "volume": df["volume"].astype(float).to_numpy()})

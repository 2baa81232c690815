"""xtquant.xtdata (miniQMT) -> raw tables: the broker terminal's own data, Windows only.

xtdata talks to a running MiniQMT/QMT terminal on the same Windows machine; the data is
downloaded into the terminal's cache first (`download_history_data2`), then read locally. On
Linux/macOS `import xtquant.xtdata` raises ImportError, so the import is lazy and explained.
Units: `volume` in lots for A shares, `amount` in yuan, `time` epoch milliseconds, financial
percentages in %.
"""
from __future__ import annotations

from typing import Any

import pandas as pd

from .jobs import Context, Frame, Job
from .normalize import LOT, board_of, check_bars, num, require, to_date, ymd

SOURCE = "xtdata"
SECTORS = ("沪深A股", "京市A股")
PERSHARE = ["m_timetag", "m_anntime", "s_fa_eps_basic", "s_fa_bps", "du_return_on_equity", "inc_net_profit_rate"]
INCOME = ["m_timetag", "revenue", "net_profit_excl_min_int_inc"]
BARS = ["time", "open", "high", "low", "close", "volume", "amount", "preClose"]


def _ms_to_local_date(ms: pd.Series) -> pd.Series:
    ts = pd.to_datetime(num(ms), unit="ms", utc=True).dt.tz_convert("Asia/Shanghai")
    return ts.dt.date


def back_adj_factor(days: pd.Series, divid: pd.DataFrame) -> pd.Series:
    """Cumulative back-adjustment factor per day from get_divid_factors' `dr` (除权系数):
    the product of every ex-date's dr up to and including that day (1.0 before the first)."""
    if divid is None or divid.empty:
        return pd.Series(1.0, index=days.index)
    require(divid, ["dr"], "xtdata.get_divid_factors")
    ex = pd.DataFrame({"ex": to_date(pd.Series(divid.index.astype(str), index=divid.index)),
                       "dr": num(divid["dr"])}).dropna().sort_values("ex")
    ex["cum"] = ex["dr"].cumprod()
    pos = pd.Series(ex["ex"].tolist()).searchsorted(days.tolist(), side="right")
    cums = [1.0, *ex["cum"].tolist()]
    return pd.Series([cums[p] for p in pos], index=days.index).round(6)


class XtdataExtractor:
    """Maps xtdata results to the contract. `client` is the `xtquant.xtdata` module or a fake."""

    source = SOURCE

    def __init__(self, client: Any = None):
        self.xt = client if client is not None else default_client()
        self._float: dict[str, float] = {}

    def jobs(self) -> list[Job]:
        return [
            Job("trade_calendar", "trade_calendar", "market", self.trade_calendar),
            Job("stock_info", "stock_info", "market", self.stock_info),
            Job("daily_quote", "daily_quote", "stock", self.daily_quote),
            Job("minute_quote", "minute_quote", "stock", self.minute_quote, watermark_col="ts", default=False),
            Job("finance_data", "finance_data", "stock", self.finance_data, watermark_col="ann_date"),
        ]

    def trade_calendar(self, unit: str, ctx: Context) -> list[Frame]:
        origin = "xtdata.get_trading_dates"
        ms = self.xt.get_trading_dates("SH", "", "", -1)
        if not ms:
            require(pd.DataFrame(), ["trade_date"], origin, allow_empty=False)
        open_days = set(_ms_to_local_date(pd.Series(list(ms))))
        days = pd.date_range(min(open_days), max(open_days), freq="D").date
        df = pd.DataFrame({"trade_date": days, "is_open": [d in open_days for d in days]})
        return [Frame("trade_calendar", df, SOURCE, origin)]

    def _detail(self, code: str) -> dict[str, Any]:
        d = self.xt.get_instrument_detail(code)
        return d or {}

    def stock_info(self, unit: str, ctx: Context) -> list[Frame]:
        """Sector lists + instrument detail (name, IPO date, expiry, share counts). No industry."""
        origin = "xtdata.get_stock_list_in_sector"
        codes: list[str] = []
        for sector in SECTORS:
            codes += [c for c in (self.xt.get_stock_list_in_sector(sector) or []) if c not in codes]
        if not codes:
            require(pd.DataFrame(), ["code"], origin + "('沪深A股')", allow_empty=False)
        rows = []
        for code in codes:
            d = self._detail(code)
            expire = str(d.get("ExpireDate") or "")
            rows.append({"code": code, "name": d.get("InstrumentName"), "exchange": code[-2:], "board": board_of(code),
                         "list_date": str(d.get("OpenDate") or "") or None,
                         "delist_date": expire if expire and not expire.startswith("9999") and expire != "0" else None,
                         "total_shares": d.get("TotalVolume"), "float_shares": d.get("FloatVolume")})
        df = pd.DataFrame(rows)
        df["list_date"] = to_date(df["list_date"].astype(object))
        df["delist_date"] = to_date(df["delist_date"].astype(object))
        df["is_st"] = df["name"].astype(str).str.contains("ST", na=False)
        return [Frame("stock_info", df, SOURCE, "xtdata.get_stock_list_in_sector+get_instrument_detail")]

    def _bars(self, code: str, period: str, ctx: Context) -> pd.DataFrame:
        origin = f"xtdata.get_market_data_ex(period={period!r})"
        if hasattr(self.xt, "download_history_data2"):
            self.xt.download_history_data2([code], period, ymd(ctx.start), ymd(ctx.end))
        res = self.xt.get_market_data_ex([], [code], period=period, start_time=ymd(ctx.start), end_time=ymd(ctx.end),
                                         count=-1, dividend_type="none", fill_data=False)
        raw = (res or {}).get(code)
        if raw is None or len(raw) == 0:
            return pd.DataFrame()
        raw = require(raw, BARS, origin)
        if "suspendFlag" in raw:  # 1 = suspended: the contract has no row for such days
            raw = raw[num(raw["suspendFlag"]) != 1]
        return raw[num(raw["volume"]) > 0] if period == "1d" else raw

    def daily_quote(self, code: str, ctx: Context) -> list[Frame]:
        """Bars + adj_factor from dividend factors; turnover = volume / current float shares."""
        origin = "xtdata.get_market_data_ex"
        raw = self._bars(code, "1d", ctx)
        if raw.empty:
            return [Frame("daily_quote", pd.DataFrame(columns=["code", "trade_date"]), SOURCE, origin)]
        df = pd.DataFrame({"code": code, "trade_date": _ms_to_local_date(raw["time"]), "open": num(raw["open"]),
                           "high": num(raw["high"]), "low": num(raw["low"]), "close": num(raw["close"]),
                           "pre_close": num(raw["preClose"]), "volume": num(raw["volume"]) * LOT,
                           "amount": num(raw["amount"])}).reset_index(drop=True)
        flt = num(pd.Series([self._detail(code).get("FloatVolume")])).iloc[0]
        df["turnover_rate"] = (df["volume"] / flt).round(6) if flt and flt > 0 else float("nan")
        df["adj_factor"] = back_adj_factor(df["trade_date"], self.xt.get_divid_factors(code, "", ""))
        return [Frame("daily_quote", check_bars(df, origin), SOURCE, origin)]

    def minute_quote(self, code: str, ctx: Context) -> list[Frame]:
        """1-minute bars; `time` is epoch ms (already UTC)."""
        origin = "xtdata.get_market_data_ex(period='1m')"
        raw = self._bars(code, "1m", ctx)
        if raw.empty:
            return [Frame("minute_quote", pd.DataFrame(columns=["code", "ts"]), SOURCE, origin)]
        ts = pd.to_datetime(num(raw["time"]), unit="ms", utc=True).dt.tz_localize(None)
        df = pd.DataFrame({"code": code, "ts": ts.to_numpy(), "open": num(raw["open"]).to_numpy(),
                           "high": num(raw["high"]).to_numpy(), "low": num(raw["low"]).to_numpy(),
                           "close": num(raw["close"]).to_numpy(), "volume": (num(raw["volume"]) * LOT).to_numpy(),
                           "amount": num(raw["amount"]).to_numpy()})
        return [Frame("minute_quote", check_bars(df, origin), SOURCE, origin)]

    def finance_data(self, code: str, ctx: Context) -> list[Frame]:
        """PershareIndex (eps, bps, roe %, yoy %) + Income (revenue, parent net profit), by announce time."""
        origin = "xtdata.get_financial_data"
        if hasattr(self.xt, "download_financial_data"):
            self.xt.download_financial_data([code], ["PershareIndex", "Income"])
        res = self.xt.get_financial_data([code], ["PershareIndex", "Income"], ymd(ctx.start), ymd(ctx.end),
                                         report_type="announce_time")
        tables = (res or {}).get(code) or {}
        ps = tables.get("PershareIndex")
        if ps is None or len(ps) == 0:
            return [Frame("finance_data", pd.DataFrame(columns=["code", "report_period"]), SOURCE, origin)]
        ps = require(ps, PERSHARE, origin + "[PershareIndex]")
        df = pd.DataFrame({"code": code, "report_period": to_date(ps["m_timetag"].astype(str)),
                           "ann_date": to_date(ps["m_anntime"].astype(str)), "eps": num(ps["s_fa_eps_basic"]),
                           "bps": num(ps["s_fa_bps"]), "roe": num(ps["du_return_on_equity"]) / 100,
                           "net_profit_yoy": num(ps["inc_net_profit_rate"]) / 100})
        df = df.sort_values("ann_date").drop_duplicates("report_period", keep="last")
        inc = tables.get("Income")
        if inc is not None and len(inc):
            inc = require(inc, INCOME, origin + "[Income]")
            i = pd.DataFrame({"report_period": to_date(inc["m_timetag"].astype(str)), "revenue": num(inc["revenue"]),
                              "net_profit": num(inc["net_profit_excl_min_int_inc"])})
            df = df.merge(i.drop_duplicates("report_period", keep="last"), on="report_period", how="left")
        return [Frame("finance_data", df, SOURCE, origin)]


def default_client() -> Any:
    """The real `xtquant.xtdata`, which needs Windows x64 and a running MiniQMT."""
    try:
        from xtquant import xtdata
    except ImportError as exc:
        raise ImportError(
            "xtquant.xtdata is not available here: it runs only on Windows x64 next to a running MiniQMT/QMT "
            "terminal (pip install xtquant there, start MiniQMT, log in). On Linux use --source akshare or "
            f"tushare. ({exc})") from exc
    return xtdata


EXTRACTOR = XtdataExtractor

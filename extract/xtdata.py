"""xtquant.xtdata (miniQMT) -> raw tables: the broker terminal's own data, Windows only.

xtdata talks to a running MiniQMT/QMT terminal on the same Windows machine; the data is
downloaded into the terminal's cache first (`download_history_data2`), then read locally. On
Linux/macOS `import xtquant.xtdata` raises ImportError, so the import is lazy and explained.
Units: `volume` in lots for A shares, `amount` in yuan, `time` epoch milliseconds, `preClose`
the exchange's reference price, financial percentages in %. Interfaces as in xtquant 250807.1.2
(its xtdata.py and doc/xtdata.md).
"""
from __future__ import annotations

from bisect import bisect_left, bisect_right
from datetime import date, timedelta
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

import pandas as pd

from .jobs import Context, Frame, Job
from .normalize import LOT, UpstreamSchemaError, board_of, check_bars, num, require, to_date, ymd

SOURCE = "xtdata"
SECTORS = ("沪深A股", "京市A股")
PERSHARE = ["m_timetag", "m_anntime", "s_fa_eps_basic", "s_fa_bps", "du_return_on_equity", "inc_net_profit_rate"]
INCOME = ["m_timetag", "revenue", "net_profit_excl_min_int_inc"]
BARS = ["time", "open", "high", "low", "close", "volume", "amount", "preClose"]
CAPITAL = ["m_timetag", "m_anntime", "circulating_capital"]


def _ms_to_local_date(ms: pd.Series) -> pd.Series:
    ts = pd.to_datetime(num(ms), unit="ms", utc=True).dt.tz_convert("Asia/Shanghai")
    return ts.dt.date


def _as_dates(values: pd.Series) -> pd.Series:
    """Epoch milliseconds (xtdata's `time`) or 'YYYYMMDD' strings/ints -> Beijing dates (None if
    neither)."""
    n = pd.to_numeric(values, errors="coerce")
    if n.notna().all() and (n > 1e11).all():  # ms since 1973: not a YYYYMMDD number
        return _ms_to_local_date(n)
    txt = values.map(lambda v: str(int(v)) if isinstance(v, float) and v == v else str(v)).str.strip()
    return to_date(txt.str.replace("-", "", regex=False).str.slice(0, 8))


def divid_dates(divid: pd.DataFrame) -> pd.Series:
    """Ex-dates of `get_divid_factors`: from its `time` column when there is one (epoch ms, or
    'YYYYMMDD' in some builds), else from the index ('YYYYMMDD' strings in xtquant 250807, whose
    `get_divid_factors` is `pd.DataFrame(client.get_divid_factors(...)).T`).

    Raises UpstreamSchemaError when neither parses: an unknown shape must stop the run, not
    become a factor of 1.0 for every day (the old fallback silently erased every ex-date).
    """
    candidates = []
    if "time" in divid.columns:
        candidates.append(("time", divid["time"]))
    candidates.append(("index", pd.Series(divid.index, index=divid.index)))
    for _, vals in candidates:
        d = _as_dates(vals)
        if d.notna().all():
            return pd.Series(list(d), index=divid.index)
    raise UpstreamSchemaError(
        f"xtdata.get_divid_factors: cannot find the ex-dates: expected a `time` column (epoch ms or YYYYMMDD) or "
        f"a YYYYMMDD index; got columns {list(divid.columns)} and index {list(divid.index[:3])}. "
        f"Update extract/xtdata.py (divid_dates)")


CENT = Decimal("0.01")


def ex_reference_price(prev_close: float, cash: float = 0.0, bonus: float = 0.0, gift: float = 0.0,
                       allot_num: float = 0.0, allot_price: float = 0.0) -> Decimal:
    """The exchange's ex-right/ex-dividend reference price (除权(息)参考价格), which becomes the
    ex-date's 前收盘价 and the base of its price limits:

        [(前收盘价格 − 现金红利) + 配(新)股价格 × 流通股份变动比例] ÷ (1 + 流通股份变动比例)

    rounded to 0.01 CNY, where the share change ratio is bonus + transfer + rights shares per
    share and the price term applies to the rights shares only (SSE and SZSE Trading Rules,
    chapter on 除权与除息, in force since the 2006 rules and kept in the 2020/2023 revisions).
    All inputs per share (xtdata: interest, stockBonus, stockGift, allotNum, allotPrice).
    Differentiated dividends (差异化分红) use a virtual cash amount the exchange announces: then
    the terminal's preClose, not this formula, is the reference.
    """
    d = [Decimal(str(x or 0)) for x in (prev_close, cash, bonus, gift, allot_num, allot_price)]
    p, c, b, g, n, ap = d
    ref = ((p - c) + ap * n) / (1 + b + g + n)
    return ref.quantize(CENT, rounding=ROUND_HALF_UP)


def back_adj_factor(days: pd.Series, divid: pd.DataFrame, bars: pd.DataFrame | None = None) -> pd.Series:
    """Cumulative back-adjustment factor per day (1.0 before the first ex-date in `divid`).

    Each ex-date multiplies it by previous close / the exchange's reference price, the step
    tushare's adj_factor and Sina's hfq factor take (so back-adjusted prices run on across
    ex-dates): the reference price is the ex-date bar's `preClose` (the exchange's own 前收价)
    when `bars` (date, close, preClose) hold that bar and the one before; else it is computed
    with `ex_reference_price` from the event's per-share fields and the previous close; else
    (no bars around an old event) xtdata's own 除权系数 `dr` is used. An event none of these can
    price raises, rather than being skipped.
    """
    if divid is None or divid.empty:
        return pd.Series(1.0, index=days.index)
    ev = divid.copy()
    ev["ex"] = list(divid_dates(divid))
    ev = ev[ev["ex"] <= max(days)].sort_values("ex")  # later ex-dates touch no day asked for
    bars = bars if bars is not None else pd.DataFrame(columns=["date", "close", "preClose"])
    bars = bars.sort_values("date").reset_index(drop=True)
    bar_days = list(bars["date"])
    steps: list[tuple[date, float]] = []
    priced_bars: set[int] = set()
    for row in ev.itertuples(index=False):
        ex = row.ex
        i = bisect_left(bar_days, ex)  # first bar on/after the ex-date (it may fall on a holiday)
        # the close before the ex-date counts only when a bar on/after it exists: then no
        # trading day is missing in between (bars run continuously to the window's end)
        prev_close = float(bars["close"].iloc[i - 1]) if 0 < i < len(bars) else None
        step = None
        if i in priced_bars:
            step = 1.0  # two events before one bar: that bar's preClose already carries both
        elif prev_close:
            pre = float(bars["preClose"].iloc[i])
            if pre > 0:
                step = prev_close / pre
                priced_bars.add(i)
        if step is None and prev_close:
            ref = ex_reference_price(prev_close, *(float(getattr(row, f, 0) or 0) for f in
                                                   ("interest", "stockBonus", "stockGift", "allotNum", "allotPrice")))
            step = prev_close / float(ref) if ref > 0 else None
        if step is None:
            dr = float(getattr(row, "dr", float("nan")) or float("nan"))
            step = dr if dr > 0 else None
        if step is None:
            raise ValueError(f"xtdata.get_divid_factors: ex-date {ex} cannot be priced: no bars around it and no `dr`")
        steps.append((ex, step))
    ex_days = [e for e, _ in steps]
    cums, acc = [1.0], 1.0
    for _, st in steps:
        acc *= st
        cums.append(acc)
    pos = pd.Series(ex_days).searchsorted(days.tolist(), side="right")
    return pd.Series([cums[p] for p in pos], index=days.index).round(6)


def float_shares_asof(days: pd.Series, capital: pd.DataFrame | None) -> pd.Series:
    """Float A shares in force on each day, from get_financial_data's 'Capital' table
    (CapitalStructure: circulating_capital 已上市流通A股, m_timetag 截止日, m_anntime 公告日):
    the latest row both effective (m_timetag <= day) and announced (m_anntime <= day), so a
    day never sees a share count published later. NaN where no row covers the day."""
    if capital is None or len(capital) == 0:
        return pd.Series(float("nan"), index=days.index)
    cap = require(capital, CAPITAL, "xtdata.get_financial_data[Capital]")
    c = pd.DataFrame({"eff": to_date(cap["m_timetag"].astype(str)), "ann": to_date(cap["m_anntime"].astype(str)),
                      "flt": num(cap["circulating_capital"])}).dropna()
    c = c[c["flt"] > 0]
    c["from"] = [max(e, a) for e, a in zip(c["eff"], c["ann"])]
    c = c.sort_values(["from", "eff"]).drop_duplicates("from", keep="last")
    starts, vals = list(c["from"]), list(c["flt"])
    out = []
    for d in days:
        i = bisect_right(starts, d)
        out.append(vals[i - 1] if i else float("nan"))
    return pd.Series(out, index=days.index, dtype="float64")


class XtdataExtractor:
    """Maps xtdata results to the contract. `client` is the `xtquant.xtdata` module or a fake."""

    source = SOURCE

    def __init__(self, client: Any = None):
        self.xt = client if client is not None else default_client()

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
        """Unadjusted bars; pre_close = xtdata's `preClose` (the exchange's reference price, so on
        an ex-date it is the ex-right price, not the previous close); adj_factor from the
        dividend factors priced the exchange way (`back_adj_factor`); turnover = volume / the
        float shares in force that day (`float_shares_asof`), null where xtdata has no capital
        row for the day. Today's FloatVolume is never applied to history (look-ahead)."""
        origin = "xtdata.get_market_data_ex"
        raw = self._bars(code, "1d", ctx)
        if raw.empty:
            return [Frame("daily_quote", pd.DataFrame(columns=["code", "trade_date"]), SOURCE, origin)]
        df = pd.DataFrame({"code": code, "trade_date": _ms_to_local_date(raw["time"]), "open": num(raw["open"]),
                           "high": num(raw["high"]), "low": num(raw["low"]), "close": num(raw["close"]),
                           "pre_close": num(raw["preClose"]), "volume": num(raw["volume"]) * LOT,
                           "amount": num(raw["amount"])}).reset_index(drop=True)
        flt = float_shares_asof(df["trade_date"], self._capital(code, ctx))
        df["turnover_rate"] = (df["volume"] / flt.where(flt > 0)).round(6)
        divid = self.xt.get_divid_factors(code, "", "")
        df["adj_factor"] = back_adj_factor(df["trade_date"], divid, self._ex_bars(code, divid, ctx))
        return [Frame("daily_quote", check_bars(df, origin), SOURCE, origin)]

    def _capital(self, code: str, ctx: Context) -> pd.DataFrame | None:
        """Every CapitalStructure row announced up to the window's end."""
        if hasattr(self.xt, "download_financial_data"):
            self.xt.download_financial_data([code], ["Capital"])
        res = self.xt.get_financial_data([code], ["Capital"], "", ymd(ctx.end), report_type="announce_time")
        return ((res or {}).get(code) or {}).get("Capital")

    def _ex_bars(self, code: str, divid: pd.DataFrame | None, ctx: Context) -> pd.DataFrame:
        """close and preClose from a month before the first ex-date to the window's end: the
        bars that price every ex-date (previous close, the exchange's reference price)."""
        if divid is None or divid.empty:
            return pd.DataFrame(columns=["date", "close", "preClose"])
        first = min(divid_dates(divid)) - timedelta(days=40)
        if hasattr(self.xt, "download_history_data2"):
            self.xt.download_history_data2([code], "1d", ymd(first), ymd(ctx.end))
        res = self.xt.get_market_data_ex(["time", "close", "preClose"], [code], period="1d", start_time=ymd(first),
                                         end_time=ymd(ctx.end), count=-1, dividend_type="none", fill_data=False)
        raw = (res or {}).get(code)
        if raw is None or len(raw) == 0:
            return pd.DataFrame(columns=["date", "close", "preClose"])
        raw = require(raw, ["time", "close", "preClose"], "xtdata.get_market_data_ex(close, preClose)")
        if "volume" in raw:
            raw = raw[num(raw["volume"]) > 0]
        return pd.DataFrame({"date": _ms_to_local_date(raw["time"]), "close": num(raw["close"]),
                             "preClose": num(raw["preClose"])})

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

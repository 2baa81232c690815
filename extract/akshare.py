"""akshare -> raw tables: free, no token, scraped from Eastmoney/Sina/SSE/SZSE/SWS.

Each method calls the upstream functions named in ../shared/SOURCES.md (verified against
akshare 1.19.5) and maps their Chinese column names and units onto the contract: lots -> shares,
% -> fractions, cash per 10 shares -> per share, bare codes -> `000001.SZ`. The akshare module is
injected (`client`) so tests pass a fake with the same function names and frame shapes.
"""
from __future__ import annotations

from datetime import date, timedelta
from typing import Any

import numpy as np
import pandas as pd

from .chips import derive_chips
from .jobs import Context, Frame, Job
from .loader import SchemaError
from .normalize import LOT, bare, board_of, check_bars, num, require, to_date, to_ts_code, ymd

SOURCE = "akshare"
DERIVED_CHIPS = "derived:cyq"

# Shenwan 2021 level-1 classification codes (first two digits of the 6-digit class code that
# stock_industry_clf_hist_sw returns) -> name. Fixed since SW2021 was published; akshare offers
# no code->name table for class codes (sw_index_first_info uses 801xxx index codes).
SW2021_L1 = {
    "11": "农林牧渔", "22": "基础化工", "23": "钢铁", "24": "有色金属", "27": "电子", "28": "汽车",
    "33": "家用电器", "34": "食品饮料", "35": "纺织服饰", "36": "轻工制造", "37": "医药生物",
    "41": "公用事业", "42": "交通运输", "43": "房地产", "45": "商贸零售", "46": "社会服务",
    "48": "银行", "49": "非银金融", "51": "综合", "61": "建筑材料", "62": "建筑装饰", "63": "电力设备",
    "64": "机械设备", "65": "国防军工", "71": "计算机", "72": "传媒", "73": "通信", "74": "煤炭",
    "75": "石油石化", "76": "环保", "77": "美容护理",
}

BAR_COLS = ["日期", "开盘", "收盘", "最高", "最低", "成交量", "成交额", "涨跌额", "换手率"]
VALUE_COLS = ["数据日期", "总市值", "流通市值", "PE(TTM)", "市净率"]
YJBB_COLS = ["股票代码", "每股收益", "营业总收入-营业总收入", "净利润-净利润", "净利润-同比增长", "每股净资产",
             "净资产收益率", "最新公告日期"]
FHPS_COLS = ["代码", "现金分红-现金分红比例", "送转股份-送转总比例", "每股收益", "预案公告日", "除权除息日",
             "最新公告日期"]
CYQ_COLS = ["日期", "获利比例", "平均成本", "90成本-低", "90成本-高", "90集中度", "70成本-低", "70成本-高", "70集中度"]
MIN_COLS = ["时间", "开盘", "收盘", "最高", "最低", "成交量", "成交额"]


def smooth_adj_factor(close: pd.Series, hfq_close: pd.Series) -> pd.Series:
    """adj_factor = hfq_close / close, with the 2-decimal rounding noise removed.

    Both prices are rounded to 0.01, so the raw ratio wobbles every day although the true factor
    only changes on ex-dates. A new segment starts where the ratio moves by more than the
    rounding could explain; each segment takes its median ratio.
    """
    ratio = (hfq_close / close).astype("float64")
    bound = 0.0051 / hfq_close + 0.0051 / close
    jump = (ratio / ratio.shift(1) - 1).abs() > 2 * bound
    seg = jump.cumsum()
    return ratio.groupby(seg).transform("median").round(6)


class AkshareExtractor:
    """Maps akshare frames to the contract. `client` defaults to the real `akshare` module."""

    source = SOURCE

    def __init__(self, client: Any = None, timeout: float = 20.0):
        if client is None:
            import akshare as client  # noqa: PLC0415 - heavy import, only when really used
        self.ak = client
        self.timeout = timeout

    # -- jobs the runner schedules ------------------------------------------------------
    def jobs(self) -> list[Job]:
        return [
            Job("trade_calendar", "trade_calendar", "market", self.trade_calendar),
            Job("stock_info", "stock_info", "market", self.stock_info),
            Job("daily_quote", "daily_quote", "stock", self.daily_quote),
            Job("minute_quote", "minute_quote", "stock", self.minute_quote, watermark_col="ts", default=False),
            Job("finance_data", "finance_data", "period", self.finance_data, settle_days=130),
            Job("dividend", "dividend", "period", self.dividend, settle_days=300),
            Job("funds_flow", "funds_flow", "stock", self.funds_flow),
            Job("funds_flow:margin", "funds_flow", "date", self.margin, settle_days=3),
            Job("industry_flow", "industry_flow", "industry", self.industry_flow),
            Job("chip_distribution", "chip_distribution", "stock", self.chip_distribution, needs=["daily_quote"]),
        ]

    # -- trade_calendar -------------------------------------------------------------------
    def trade_calendar(self, unit: str, ctx: Context) -> list[Frame]:
        """Every calendar day from the first to the last listed trading day, with is_open."""
        origin = "akshare.tool_trade_date_hist_sina"
        raw = require(self.ak.tool_trade_date_hist_sina(), ["trade_date"], origin, allow_empty=False)
        open_days = set(to_date(raw["trade_date"]).dropna())
        days = pd.date_range(min(open_days), max(open_days), freq="D").date
        df = pd.DataFrame({"trade_date": days, "is_open": [d in open_days for d in days]})
        return [Frame("trade_calendar", df, SOURCE, origin)]

    # -- stock_info -----------------------------------------------------------------------
    def stock_info(self, unit: str, ctx: Context) -> list[Frame]:
        """Listed A shares + delisted ones, SW2021 level-1 industry, current ST flag."""
        origin = "akshare.stock_info_a_code_name"
        names = require(self.ak.stock_info_a_code_name(), ["code", "name"], origin, allow_empty=False)
        df = pd.DataFrame({"code": names["code"].map(to_ts_code), "name": names["name"].astype(str)})
        delisted = self._delisted()
        df = pd.concat([df, delisted[~delisted.code.isin(df.code)]], ignore_index=True)
        df["exchange"] = df["code"].str[-2:]
        df["board"] = df["code"].map(board_of)
        ind = self._sw_industry()
        df["industry_l1"] = df["code"].map(ind)
        df["industry_l2"] = None  # SW class-code -> level-2 name table is not offered by akshare
        st = require(self.ak.stock_zh_a_st_em(), ["代码"], "akshare.stock_zh_a_st_em")
        st_codes = set(st["代码"].map(to_ts_code)) if len(st) else set()
        df["is_st"] = df["code"].isin(st_codes) | df["name"].str.contains("ST", na=False)
        for c in ("list_date", "delist_date"):
            if c not in df:
                df[c] = None
        return [Frame("stock_info", df, SOURCE, origin)]

    def _delisted(self) -> pd.DataFrame:
        parts = []
        sh = require(self.ak.stock_info_sh_delist(symbol="全部"), ["公司代码", "公司简称", "上市日期", "暂停上市日期"],
                     "akshare.stock_info_sh_delist")
        if len(sh):
            parts.append(pd.DataFrame({"code": sh["公司代码"].map(to_ts_code), "name": sh["公司简称"].astype(str),
                                       "list_date": to_date(sh["上市日期"]), "delist_date": to_date(sh["暂停上市日期"])}))
        sz = require(self.ak.stock_info_sz_delist(symbol="终止上市公司"), ["证券代码", "证券简称", "上市日期", "终止上市日期"],
                     "akshare.stock_info_sz_delist")
        if len(sz):
            parts.append(pd.DataFrame({"code": sz["证券代码"].map(to_ts_code), "name": sz["证券简称"].astype(str),
                                       "list_date": to_date(sz["上市日期"]), "delist_date": to_date(sz["终止上市日期"])}))
        return pd.concat(parts, ignore_index=True) if parts else pd.DataFrame(columns=["code", "name"])

    def _sw_industry(self) -> dict[str, str]:
        """code -> SW2021 level-1 name, from each stock's latest classification entry."""
        origin = "akshare.stock_industry_clf_hist_sw"
        hist = require(self.ak.stock_industry_clf_hist_sw(), ["symbol", "start_date", "industry_code"], origin)
        if hist.empty:
            return {}
        hist = hist.sort_values("start_date").drop_duplicates("symbol", keep="last")
        l1 = hist["industry_code"].astype(str).str[:2].map(SW2021_L1)
        return dict(zip(hist["symbol"].map(to_ts_code), l1))

    # -- daily_quote ----------------------------------------------------------------------
    def daily_quote(self, code: str, ctx: Context) -> list[Frame]:
        """Unadjusted bars + adj_factor (hfq/unadjusted close) + PE/PB/market value."""
        origin = "akshare.stock_zh_a_hist"
        kw = dict(symbol=bare(code), period="daily", start_date=ymd(ctx.start), end_date=ymd(ctx.end))
        raw = require(self.ak.stock_zh_a_hist(adjust="", timeout=self.timeout, **kw), BAR_COLS, origin)
        if raw.empty:  # suspended all window, not yet listed, or delisted: no rows, not an error
            return [Frame("daily_quote", pd.DataFrame(columns=["code", "trade_date"]), SOURCE, origin)]
        hfq = require(self.ak.stock_zh_a_hist(adjust="hfq", timeout=self.timeout, **kw), ["日期", "收盘"],
                      origin + "(adjust='hfq')", allow_empty=False)
        df = pd.DataFrame({
            "code": code, "trade_date": to_date(raw["日期"]),
            "open": num(raw["开盘"]), "high": num(raw["最高"]), "low": num(raw["最低"]), "close": num(raw["收盘"]),
            "volume": num(raw["成交量"]) * LOT, "amount": num(raw["成交额"]),
            "turnover_rate": num(raw["换手率"]) / 100,
        })
        df["pre_close"] = (df["close"] - num(raw["涨跌额"])).round(4)
        h = pd.DataFrame({"trade_date": to_date(hfq["日期"]), "hfq_close": num(hfq["收盘"])})
        df = df.merge(h, on="trade_date", how="left")
        if df["hfq_close"].isna().any():
            missing = df.loc[df.hfq_close.isna(), "trade_date"].head(3).tolist()
            raise SchemaError(f"{origin}(adjust='hfq'): no back-adjusted close for {code} on {missing}; "
                              f"the '' and 'hfq' series must cover the same days")
        df["adj_factor"] = smooth_adj_factor(df["close"], df["hfq_close"])
        df = df.drop(columns="hfq_close").merge(self._valuation(code), on="trade_date", how="left")
        return [Frame("daily_quote", check_bars(df, origin), SOURCE, origin)]

    def _valuation(self, code: str) -> pd.DataFrame:
        origin = "akshare.stock_value_em"
        v = require(self.ak.stock_value_em(symbol=bare(code)), VALUE_COLS, origin)
        if v.empty:
            return pd.DataFrame(columns=["trade_date", "pe_ttm", "pb", "total_mv", "circ_mv"])
        return pd.DataFrame({"trade_date": to_date(v["数据日期"]), "pe_ttm": num(v["PE(TTM)"]),
                             "pb": num(v["市净率"]), "total_mv": num(v["总市值"]), "circ_mv": num(v["流通市值"])})

    # -- minute_quote ---------------------------------------------------------------------
    def minute_quote(self, code: str, ctx: Context, period: str = "1") -> list[Frame]:
        """Minute bars (period '1' covers only the last 5 trading days upstream); ts in UTC."""
        origin = "akshare.stock_zh_a_hist_min_em"
        raw = require(self.ak.stock_zh_a_hist_min_em(symbol=bare(code), start_date=f"{ctx.start} 09:00:00",
                                                     end_date=f"{ctx.end} 15:30:00", period=period, adjust=""),
                      MIN_COLS, origin)
        ts = pd.to_datetime(raw["时间"]).dt.tz_localize("Asia/Shanghai").dt.tz_convert("UTC").dt.tz_localize(None)
        df = pd.DataFrame({"code": code, "ts": ts, "open": num(raw["开盘"]), "high": num(raw["最高"]),
                           "low": num(raw["最低"]), "close": num(raw["收盘"]),
                           "volume": num(raw["成交量"]) * LOT, "amount": num(raw["成交额"])})
        return [Frame("minute_quote", check_bars(df, origin), SOURCE, origin)]

    # -- finance_data / dividend (whole market per report period) -------------------------
    def finance_data(self, period: date, ctx: Context) -> list[Frame]:
        origin = f"akshare.stock_yjbb_em(date={ymd(period)})"
        raw = require(self.ak.stock_yjbb_em(date=ymd(period)), YJBB_COLS, origin)
        df = pd.DataFrame({
            "code": raw["股票代码"].map(to_ts_code), "report_period": period, "ann_date": to_date(raw["最新公告日期"]),
            "roe": num(raw["净资产收益率"]) / 100, "eps": num(raw["每股收益"]),
            "revenue": num(raw["营业总收入-营业总收入"]), "net_profit": num(raw["净利润-净利润"]),
            "net_profit_yoy": num(raw["净利润-同比增长"]) / 100, "bps": num(raw["每股净资产"]),
        })
        return [Frame("finance_data", df, SOURCE, origin)]

    def dividend(self, period: date, ctx: Context) -> list[Frame]:
        """现金分红比例 is yuan per 10 shares; payout = cash per share / EPS of the same report."""
        origin = f"akshare.stock_fhps_em(date={ymd(period)})"
        raw = require(self.ak.stock_fhps_em(date=ymd(period)), FHPS_COLS, origin)
        cash = num(raw["现金分红-现金分红比例"]) / 10
        eps = num(raw["每股收益"])
        ann = to_date(raw["预案公告日"])
        df = pd.DataFrame({
            "code": raw["代码"].map(to_ts_code), "report_period": period,
            "ann_date": ann.where(ann.notna(), to_date(raw["最新公告日期"])),
            "ex_date": to_date(raw["除权除息日"]), "cash_div_per_share": cash,
            "bonus_ratio": num(raw["送转股份-送转总比例"]) / 10,
            "payout_ratio": (cash / eps.where(eps > 0)).round(6),
        })
        df = df[df.cash_div_per_share.notna() | df.bonus_ratio.notna()]
        return [Frame("dividend", df, SOURCE, origin)]

    # -- funds_flow -----------------------------------------------------------------------
    def funds_flow(self, code: str, ctx: Context) -> list[Frame]:
        """Northbound holding (shares) and main-force net inflow (CNY) for one stock."""
        parts = []
        if not code.endswith(".BJ"):  # Stock Connect does not cover the BSE
            origin = "akshare.stock_hsgt_individual_em"
            try:
                north = self.ak.stock_hsgt_individual_em(symbol=bare(code))
            except TypeError:  # upstream answers `result: null` for stocks outside Stock Connect
                north = pd.DataFrame()
            north = require(north, ["持股日期", "持股数量"], origin)
            if len(north):
                parts.append(pd.DataFrame({"trade_date": to_date(north["持股日期"]),
                                           "north_hold_shares": num(north["持股数量"])}))
        origin = "akshare.stock_individual_fund_flow"
        flow = require(self.ak.stock_individual_fund_flow(stock=bare(code), market=code[-2:].lower()),
                       ["日期", "主力净流入-净额"], origin)
        if len(flow):
            parts.append(pd.DataFrame({"trade_date": to_date(flow["日期"]), "main_net_inflow": num(flow["主力净流入-净额"])}))
        df = pd.DataFrame(columns=["trade_date"])
        for p in parts:
            df = p if df.empty else df.merge(p, on="trade_date", how="outer")
        df["code"] = code
        df = df[(df.trade_date >= ctx.start) & (df.trade_date <= ctx.end)] if len(df) else df
        cols = [c for c in ("north_hold_shares", "main_net_inflow") if c in df.columns]
        return [Frame("funds_flow", df, SOURCE, "akshare.stock_hsgt_individual_em+stock_individual_fund_flow",
                      columns=cols)]

    def margin(self, day: date, ctx: Context) -> list[Frame]:
        """Margin balances for every stock on one day (SSE reports short positions in shares:
        they are valued at that day's close from raw.daily_quote)."""
        origin = "akshare.stock_margin_detail_sse"
        sh = require(self.ak.stock_margin_detail_sse(date=ymd(day)), ["标的证券代码", "融资余额", "融券余量"], origin)
        sz = require(self.ak.stock_margin_detail_szse(date=ymd(day)), ["证券代码", "融资余额", "融券余额"],
                     "akshare.stock_margin_detail_szse")
        closes = ctx.read("select code, close from raw.daily_quote where trade_date = ?", [day])
        close = dict(zip(closes["code"], closes["close"])) if len(closes) else {}
        a = pd.DataFrame({"code": sh["标的证券代码"].map(to_ts_code), "margin_balance": num(sh["融资余额"]),
                          "short_shares": num(sh["融券余量"])})
        a["short_balance"] = a["short_shares"] * a["code"].map(close)
        b = pd.DataFrame({"code": sz["证券代码"].map(to_ts_code), "margin_balance": num(sz["融资余额"]),
                          "short_balance": num(sz["融券余额"])})
        df = pd.concat([a.drop(columns="short_shares"), b], ignore_index=True)
        df["trade_date"] = day
        return [Frame("funds_flow", df, SOURCE, origin + "+stock_margin_detail_szse",
                      columns=["margin_balance", "short_balance"])]

    # -- industry_flow --------------------------------------------------------------------
    def industry_flow(self, industry: str, ctx: Context) -> list[Frame]:
        """Eastmoney industry main-force flow; turnover recovered as net / net share."""
        origin = f"akshare.stock_sector_fund_flow_hist(symbol={industry})"
        raw = require(self.ak.stock_sector_fund_flow_hist(symbol=industry), ["日期", "主力净流入-净额", "主力净流入-净占比"],
                      origin)
        net = num(raw["主力净流入-净额"])
        share = num(raw["主力净流入-净占比"]) / 100
        df = pd.DataFrame({"industry_l1": industry, "trade_date": to_date(raw["日期"]), "net_inflow": net,
                           "amount": (net / share.where(share != 0)).abs().round(0)})
        df = df[(df.trade_date >= ctx.start) & (df.trade_date <= ctx.end)]
        return [Frame("industry_flow", df, SOURCE, origin)]

    # -- chip_distribution ----------------------------------------------------------------
    def chip_distribution(self, code: str, ctx: Context) -> list[Frame]:
        """Upstream chips for the last ~90 bars; earlier days derived from our own turnover."""
        origin = "akshare.stock_cyq_em"
        raw = require(self.ak.stock_cyq_em(symbol=bare(code), adjust=""), CYQ_COLS, origin)
        up = pd.DataFrame({
            "code": code, "trade_date": to_date(raw["日期"]), "profit_ratio": num(raw["获利比例"]),
            "avg_cost": num(raw["平均成本"]), "cost_90_low": num(raw["90成本-低"]), "cost_90_high": num(raw["90成本-高"]),
            "concentration_90": num(raw["90集中度"]), "cost_70_low": num(raw["70成本-低"]),
            "cost_70_high": num(raw["70成本-高"]), "concentration_70": num(raw["70集中度"]),
        })
        if len(up) and ((up.profit_ratio < 0) | (up.profit_ratio > 1)).any():
            raise SchemaError(f"{origin}: 获利比例 outside [0, 1] for {code}; expected a fraction")
        up = up[(up.trade_date >= ctx.start) & (up.trade_date <= ctx.end)] if len(up) else up
        frames = [Frame("chip_distribution", up, SOURCE, origin)]
        derived = derived_chip_history(code, ctx, covered=set(up.trade_date) if len(up) else set())
        if len(derived):
            frames.append(Frame("chip_distribution", derived, DERIVED_CHIPS, "extract.chips.derive_chips"))
        return frames


def derived_chip_history(code: str, ctx: Context, covered: set[date]) -> pd.DataFrame:
    """Chips for days in the window the upstream does not cover, from raw.daily_quote.

    The whole stored history feeds the derivation (chips need a long warm-up), only the window's
    uncovered days are returned.
    """
    bars = ctx.read("select code, trade_date, high, low, close, volume, amount, turnover_rate, adj_factor "
                    "from raw.daily_quote where code = ? and trade_date <= ? order by trade_date", [code, ctx.end])
    if bars.empty:
        return bars
    bars["trade_date"] = pd.to_datetime(bars["trade_date"]).dt.date
    bars["adj_factor"] = bars["adj_factor"].fillna(1.0)
    chips = derive_chips(bars)
    keep = (chips.trade_date >= ctx.start) & (chips.trade_date <= ctx.end) & ~chips.trade_date.isin(covered)
    return chips[keep & np.isfinite(chips.avg_cost)].reset_index(drop=True)



def default_client() -> Any:
    """The real akshare module (imported only when a run needs it)."""
    try:
        import akshare
    except ImportError as exc:
        raise ImportError("akshare is not installed: pip install 'aquant[akshare]'") from exc
    return akshare


EXTRACTOR = AkshareExtractor

"""akshare -> raw tables: free, no token, scraped from Eastmoney/Sina/SSE/SZSE/SWS.

Each method calls the upstream functions named in ../shared/SOURCES.md (verified against
akshare 1.19.5) and maps their Chinese column names and units onto the contract: lots -> shares,
% -> fractions, cash per 10 shares -> per share, bare codes -> `000001.SZ`, and keeps only
A-share stocks (exchange lists mix in ETFs, funds, B shares). The akshare module is injected
(`client`); the extractor's tests use the real module with recorded HTTP bodies
(tests/akshare_wire.py), the runner's scheduling tests a frame-level stand-in.
"""
from __future__ import annotations

import logging
from bisect import bisect_right
from datetime import date, timedelta
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

import numpy as np
import pandas as pd

from .chips import derive_chips
from .jobs import Context, Frame, Job
from .loader import SchemaError
from .normalize import (CENT, LOT, a_share_stock_code, bare, board_of, check_bars, ex_reference_price, num,
                        UpstreamSchemaError, require, to_date, to_decimal, ymd)

log = logging.getLogger(__name__)

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
FHPS_DETAIL_COLS = ["送转股份-送转总比例", "现金分红-现金分红比例", "除权除息日"]
FHPS_COLS = ["代码", "现金分红-现金分红比例", "送转股份-送转总比例", "每股收益", "预案公告日", "除权除息日",
             "最新公告日期"]
CYQ_COLS = ["日期", "获利比例", "平均成本", "90成本-低", "90成本-高", "90集中度", "70成本-低", "70成本-高", "70集中度"]
MIN_COLS = ["时间", "开盘", "收盘", "最高", "最低", "成交量", "成交额"]


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
        """Listed A shares (with listing dates) + delisted ones, SW2021 level-1 industry, ST flag.

        The exchanges' own lists carry 上市日期 (stock_info_a_code_name makes the same four calls
        and drops it): SSE main board + STAR, SZSE A shares, BSE. Only A-share *stocks* are kept
        (B shares, funds and CDR-less junk codes are dropped with a logged count). A stock whose
        listing date is missing stays in the table with list_date null: staging fills it from the
        first stored bar and factor_scores never makes it buy-eligible while unknown.
        """
        origin = "akshare.stock_info_sh_name_code+stock_info_sz_name_code+stock_info_bj_name_code"
        df = self._listed()
        delisted = self._delisted()
        df = pd.concat([df, delisted[~delisted.code.isin(df.code)]], ignore_index=True)
        df["exchange"] = df["code"].str[-2:]
        df["board"] = df["code"].map(board_of)
        ind = self._sw_industry()
        df["industry_l1"] = df["code"].map(ind)
        df["industry_l2"] = None  # SW class-code -> level-2 name table is not offered by akshare
        st = require(self.ak.stock_zh_a_st_em(), ["代码"], "akshare.stock_zh_a_st_em")
        st_codes = set(st["代码"].map(a_share_stock_code).dropna()) if len(st) else set()
        df["is_st"] = df["code"].isin(st_codes) | df["name"].str.contains("ST", na=False)
        missing = df["list_date"].isna() & df["delist_date"].isna()
        if missing.any():
            log.warning("stock_info: %d listed stocks without a listing date upstream (e.g. %s); staging "
                        "uses their first bar", int(missing.sum()), df.loc[missing, "code"].head(3).tolist())
        return [Frame("stock_info", df, SOURCE, origin)]

    def _listed(self) -> pd.DataFrame:
        """Listed stocks with 上市日期 from the exchanges' lists (one call per list, whole market)."""
        parts = []
        for sym in ("主板A股", "科创板"):
            sh = require(self.ak.stock_info_sh_name_code(symbol=sym), ["证券代码", "证券简称", "上市日期"],
                         f"akshare.stock_info_sh_name_code(symbol={sym})")
            parts.append(("SSE " + sym, sh["证券代码"], sh["证券简称"], sh["上市日期"]))
        sz = require(self.ak.stock_info_sz_name_code(symbol="A股列表"), ["A股代码", "A股简称", "A股上市日期"],
                     "akshare.stock_info_sz_name_code")
        parts.append(("SZSE", sz["A股代码"], sz["A股简称"], sz["A股上市日期"]))
        bj = require(self.ak.stock_info_bj_name_code(), ["证券代码", "证券简称", "上市日期"],
                     "akshare.stock_info_bj_name_code")
        parts.append(("BSE", bj["证券代码"], bj["证券简称"], bj["上市日期"]))
        frames = []
        for name, code, short, listed in parts:
            frames.append(_stocks_only(pd.DataFrame({"code": code.astype(str), "name": short.astype(str),
                                                     "list_date": to_date(listed.astype("string")),
                                                     "delist_date": None}), name))
        out = pd.concat(frames, ignore_index=True)
        if out.empty:
            raise UpstreamSchemaError(f"akshare stock lists returned no A-share stock ({[p[0] for p in parts]})")
        return out.drop_duplicates("code", keep="first")

    def _delisted(self) -> pd.DataFrame:
        """Delisted A-share stocks (the SSE list 全部 also holds B shares 900xxx, SZSE's 200xxx: dropped)."""
        parts = []
        sh = require(self.ak.stock_info_sh_delist(symbol="全部"), ["公司代码", "公司简称", "上市日期", "暂停上市日期"],
                     "akshare.stock_info_sh_delist")
        if len(sh):
            parts.append(_stocks_only(pd.DataFrame({
                "code": sh["公司代码"].astype(str), "name": sh["公司简称"].astype(str),
                "list_date": to_date(sh["上市日期"]), "delist_date": to_date(sh["暂停上市日期"])}), "SSE delisted"))
        sz = require(self.ak.stock_info_sz_delist(symbol="终止上市公司"),
                     ["证券代码", "证券简称", "上市日期", "终止上市日期"], "akshare.stock_info_sz_delist")
        if len(sz):
            parts.append(_stocks_only(pd.DataFrame({
                "code": sz["证券代码"].astype(str), "name": sz["证券简称"].astype(str),
                "list_date": to_date(sz["上市日期"]), "delist_date": to_date(sz["终止上市日期"])}), "SZSE delisted"))
        return pd.concat(parts, ignore_index=True) if parts else pd.DataFrame(columns=["code", "name"])

    def _sw_industry(self) -> dict[str, str]:
        """code -> SW2021 level-1 name, from each stock's latest classification entry."""
        origin = "akshare.stock_industry_clf_hist_sw"
        hist = require(self.ak.stock_industry_clf_hist_sw(), ["symbol", "start_date", "industry_code"], origin)
        if hist.empty:
            return {}
        hist = hist.sort_values("start_date").drop_duplicates("symbol", keep="last")
        l1 = hist["industry_code"].astype(str).str[:2].map(SW2021_L1)
        codes = hist["symbol"].map(a_share_stock_code)
        return {c: v for c, v in zip(codes, l1) if c is not None}

    # -- daily_quote ----------------------------------------------------------------------
    def daily_quote(self, code: str, ctx: Context) -> list[Frame]:
        """Unadjusted Eastmoney bars + Sina's published back-adjustment factor + the exchange's
        reference price as pre_close + PE/PB/market value.

        - adj_factor: Sina `stock_zh_a_daily(adjust="hfq-factor")`, one factor per effective date,
          hfq price = raw price x factor. Eastmoney's hfq series is affine in the raw price
          (hfq = S*raw + c, ../docs/sources.md), so no ratio of two price series is a factor.
        - pre_close: the exchange's 前收盘价, i.e. the ex-right reference price on ex-dates
          (normalize.ex_reference_price, from stock_fhps_detail_em's 送转/派息 per 10 shares) and the
          previous raw close otherwise. Eastmoney's 涨跌额 is measured from the previous *raw* close
          on every day, so close - 涨跌额 is that raw close, never the reference price. An ex-date
          seen in the factor but missing from the dividend list (rights issue, late data) falls back
          to prev_close x f(prev)/f(t), rounded half-up to the cent, with a warning.
        """
        origin = "akshare.stock_zh_a_hist"
        kw = dict(symbol=bare(code), period="daily", start_date=ymd(ctx.start), end_date=ymd(ctx.end))
        raw = require(self.ak.stock_zh_a_hist(adjust="", timeout=self.timeout, **kw), BAR_COLS, origin)
        if raw.empty:  # suspended all window, not yet listed, or delisted: no rows, not an error
            return [Frame("daily_quote", pd.DataFrame(columns=["code", "trade_date"]), SOURCE, origin)]
        raw = raw.assign(trade_date=to_date(raw["日期"])).sort_values("trade_date").reset_index(drop=True)
        df = pd.DataFrame({
            "code": code, "trade_date": raw["trade_date"],
            "open": num(raw["开盘"]), "high": num(raw["最高"]), "low": num(raw["最低"]), "close": num(raw["收盘"]),
            "amount": num(raw["成交额"]), "turnover_rate": num(raw["换手率"]) / 100,
        })
        df["volume"] = num(raw["成交量"]) * volume_unit(df, num(raw["成交量"]), f"{origin} {code}")
        factors = self._hfq_factor(code)
        df["adj_factor"] = [factor_asof(factors, d) for d in df["trade_date"]]
        prev_dates = [last_bar_before(ctx, code, df["trade_date"].iloc[0])] + df["trade_date"].iloc[:-1].tolist()
        events = self._ex_events(code)
        df["pre_close"] = [
            float(reference_pre_close(code, prev, d, raw_prev, events, factors))
            for prev, d, raw_prev in zip(prev_dates, df["trade_date"], raw_prev_close(raw))
        ]
        df = df.merge(self._valuation(code), on="trade_date", how="left")
        return [Frame("daily_quote", check_bars(df, origin), SOURCE, origin + "+stock_zh_a_daily(hfq-factor)"
                      "+stock_fhps_detail_em")]

    def _hfq_factor(self, code: str) -> list[tuple[date, float]]:
        """Sina's back-adjustment factors, (effective date, factor) ascending. Whole history per call."""
        origin = "akshare.stock_zh_a_daily(adjust='hfq-factor')"
        sym = code[-2:].lower() + bare(code)
        f = require(self.ak.stock_zh_a_daily(symbol=sym, adjust="hfq-factor"), ["date", "hfq_factor"], origin,
                    allow_empty=False)
        out = sorted(zip(to_date(f["date"].astype("string")), num(f["hfq_factor"])))
        out = [(d, v) for d, v in out if d is not None and np.isfinite(v) and v > 0]
        if not out:
            raise SchemaError(f"{origin}: no usable factor for {code}")
        return out

    def _ex_events(self, code: str) -> dict[date, tuple[Decimal, Decimal]]:
        """ex-date -> (cash per share, bonus+transfer shares per share), from Eastmoney's per-stock
        dividend history (送转/派息 quoted per 10 shares; plans not yet implemented have no ex-date)."""
        origin = "akshare.stock_fhps_detail_em"
        try:
            raw = self.ak.stock_fhps_detail_em(symbol=bare(code))
        except TypeError:  # `result: null` for a stock that never paid anything
            raw = pd.DataFrame()
        raw = require(raw, FHPS_DETAIL_COLS, origin)
        events: dict[date, tuple[Decimal, Decimal]] = {}
        if raw.empty:
            return events
        for ex, cash, bonus in zip(to_date(raw["除权除息日"].astype("string")), raw["现金分红-现金分红比例"],
                                   raw["送转股份-送转总比例"]):
            if ex is None:
                continue
            c = Decimal(0) if pd.isna(cash) else to_decimal(cash) / 10
            b = Decimal(0) if pd.isna(bonus) else to_decimal(bonus) / 10
            oc, ob = events.get(ex, (Decimal(0), Decimal(0)))
            events[ex] = (oc + c, ob + b)
        return events

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
                           "low": num(raw["最低"]), "close": num(raw["收盘"]), "amount": num(raw["成交额"])})
        df["volume"] = num(raw["成交量"]) * volume_unit(df, num(raw["成交量"]), f"{origin} {code}")
        return [Frame("minute_quote", check_bars(df, origin), SOURCE, origin)]

    # -- finance_data / dividend (whole market per report period) -------------------------
    def finance_data(self, period: date, ctx: Context) -> list[Frame]:
        origin = f"akshare.stock_yjbb_em(date={ymd(period)})"
        raw = require(_empty_on_null(self.ak.stock_yjbb_em, date=ymd(period)), YJBB_COLS, origin)
        if raw.empty:  # no report for this period yet: nothing to load, the runner settles it later
            return [Frame("finance_data", pd.DataFrame(columns=["code", "report_period"]), SOURCE, origin)]
        raw = raw.assign(股票代码=raw["股票代码"].map(a_share_stock_code)).dropna(subset=["股票代码"])
        df = pd.DataFrame({
            "code": raw["股票代码"], "report_period": period, "ann_date": to_date(raw["最新公告日期"]),
            "roe": num(raw["净资产收益率"]) / 100, "eps": num(raw["每股收益"]),
            "revenue": num(raw["营业总收入-营业总收入"]), "net_profit": num(raw["净利润-净利润"]),
            "net_profit_yoy": num(raw["净利润-同比增长"]) / 100, "bps": num(raw["每股净资产"]),
        })
        return [Frame("finance_data", df, SOURCE, origin)]

    def dividend(self, period: date, ctx: Context) -> list[Frame]:
        """现金分红比例 is yuan per 10 shares; payout = cash per share / EPS of the same report."""
        origin = f"akshare.stock_fhps_em(date={ymd(period)})"
        raw = require(_empty_on_null(self.ak.stock_fhps_em, date=ymd(period)), FHPS_COLS, origin)
        if raw.empty:  # no plan for this period yet: nothing to load, the runner settles it later
            return [Frame("dividend", pd.DataFrame(columns=["code", "report_period"]), SOURCE, origin)]
        raw = raw.assign(代码=raw["代码"].map(a_share_stock_code)).dropna(subset=["代码"])
        cash = num(raw["现金分红-现金分红比例"]) / 10
        eps = num(raw["每股收益"])
        ann = to_date(raw["预案公告日"])
        df = pd.DataFrame({
            "code": raw["代码"], "report_period": period,
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
            parts.append(pd.DataFrame({"trade_date": to_date(flow["日期"]),
                                       "main_net_inflow": num(flow["主力净流入-净额"])}))
        df = pd.DataFrame(columns=["trade_date"])
        for p in parts:
            df = p if df.empty else df.merge(p, on="trade_date", how="outer")
        df["code"] = code
        df = df[(df.trade_date >= ctx.start) & (df.trade_date <= ctx.end)] if len(df) else df
        cols = [c for c in ("north_hold_shares", "main_net_inflow") if c in df.columns]
        return [Frame("funds_flow", df, SOURCE, "akshare.stock_hsgt_individual_em+stock_individual_fund_flow",
                      columns=cols)]

    def margin(self, day: date, ctx: Context) -> list[Frame]:
        """Margin balances for every A-share stock on trade date `day`.

        The exchanges' lists also carry ETFs/LOFs (510050, 159xxx) and other non-stocks: dropped
        with a logged count, so one odd row never fails a day. SSE reports short positions in
        shares: valued at that day's close from raw.daily_quote. The lists for day D are published
        after the close / next morning (docs/sources.md): trade_date is D, the day the balances
        refer to (SSE's 信用交易日期), not the day they became available.
        """
        origin = "akshare.stock_margin_detail_sse"
        sh = require(self.ak.stock_margin_detail_sse(date=ymd(day)), ["标的证券代码", "融资余额", "融券余量"], origin)
        sz = require(self.ak.stock_margin_detail_szse(date=ymd(day)), ["证券代码", "融资余额", "融券余额"],
                     "akshare.stock_margin_detail_szse")
        if len(sh) and "信用交易日期" in sh:
            other = to_date(sh["信用交易日期"].astype("string"))
            if (other.notna() & (other != day)).any():
                raise SchemaError(f"{origin}(date={ymd(day)}): rows for {sorted(set(other.dropna()) - {day})[:3]}")
        closes = ctx.read("select code, close from raw.daily_quote where trade_date = ?", [day])
        close = dict(zip(closes["code"], closes["close"])) if len(closes) else {}
        a = pd.DataFrame({"code": sh["标的证券代码"] if len(sh) else [],
                          "margin_balance": num(sh["融资余额"]) if len(sh) else [],
                          "short_shares": num(sh["融券余量"]) if len(sh) else []})
        a = _stocks_only(a, f"{origin}({day})")
        a["short_balance"] = a["short_shares"] * a["code"].map(close)
        b = pd.DataFrame({"code": sz["证券代码"] if len(sz) else [],
                          "margin_balance": num(sz["融资余额"]) if len(sz) else [],
                          "short_balance": num(sz["融券余额"]) if len(sz) else []})
        b = _stocks_only(b, f"akshare.stock_margin_detail_szse({day})")
        df = pd.concat([a.drop(columns="short_shares"), b], ignore_index=True)
        df["trade_date"] = day
        return [Frame("funds_flow", df, SOURCE, origin + "+stock_margin_detail_szse",
                      columns=["margin_balance", "short_balance"])]

    # -- industry_flow: not offered ----------------------------------------------------------
    # stock_sector_fund_flow_hist takes Eastmoney's own industry boards, not Shenwan names (only
    # 银行 coincides), and no model reads raw.industry_flow: factor_industry_flow sums the stocks'
    # own main-force flows over each day's Shenwan members (docs/sources.md, issue 12 item 4).

    # -- chip_distribution ----------------------------------------------------------------
    def chip_distribution(self, code: str, ctx: Context) -> list[Frame]:
        """Upstream chips for the last ~90 bars; earlier days derived from our own turnover."""
        origin = "akshare.stock_cyq_em"
        # no kline (not listed yet, delisted): akshare indexes data["klines"] of `data: null` -> TypeError
        raw = require(_empty_on_null(self.ak.stock_cyq_em, symbol=bare(code), adjust=""), CYQ_COLS, origin)
        if raw.empty:
            raw = pd.DataFrame(columns=CYQ_COLS)
        up = pd.DataFrame({
            "code": code, "trade_date": to_date(raw["日期"]), "profit_ratio": num(raw["获利比例"]),
            "avg_cost": num(raw["平均成本"]), "cost_90_low": num(raw["90成本-低"]),
            "cost_90_high": num(raw["90成本-高"]),
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


def _empty_on_null(fn: Any, **kw: Any) -> pd.DataFrame:
    """Call an Eastmoney datacenter function that raises TypeError on `"result": null` (an empty
    report period: akshare indexes data_json["result"]["pages"]) and return an empty frame instead."""
    try:
        return fn(**kw)
    except TypeError as exc:
        log.info("%s(%s): empty upstream result (%s)", getattr(fn, "__name__", fn), kw, exc)
        return pd.DataFrame()


def _stocks_only(df: pd.DataFrame, what: str) -> pd.DataFrame:
    """Keep A-share stock rows (code -> `000001.SZ`); drop B shares, funds, bonds with a logged count."""
    codes = df["code"].map(a_share_stock_code)
    dropped = codes.isna()
    if dropped.any():
        log.info("%s: dropped %d non-A-share-stock codes (e.g. %s)", what, int(dropped.sum()),
                 df.loc[dropped, "code"].head(3).tolist())
    return df.assign(code=codes)[~dropped].reset_index(drop=True)


def volume_unit(bars: pd.DataFrame, vol: pd.Series, origin: str) -> int:
    """Shares per unit of Eastmoney's 成交量: 100 (手) or 1 (股), checked on the data itself.

    akshare documents 成交量 as 手 and the recorded main-board data agree (= tushare vol, 手).
    Whether Eastmoney's kline quotes STAR (688/689, traded in single shares since 2019-07-22)
    in 手 too is NOT proven here (Tencent's kline quotes STAR in 股, akshare PR #7328) -- a guess
    we do not rely on: the unit is the one under which the volume-weighted average price
    amount / volume lies inside [low, high] on most bars.
    """
    ok = (vol > 0) & (bars["amount"] > 0)
    if not ok.any():
        return LOT
    tol = 0.011  # the VWAP may sit a cent outside the rounded high/low
    fits = {}
    for unit in (LOT, 1):
        vwap = bars.loc[ok, "amount"] / (vol[ok] * unit)
        fits[unit] = ((vwap >= bars.loc[ok, "low"] - tol) & (vwap <= bars.loc[ok, "high"] + tol)).mean()
    unit = max(fits, key=lambda u: fits[u])
    if fits[unit] < 0.9:
        raise SchemaError(f"{origin}: 成交量 is neither 手 nor 股 (amount/volume inside [low, high] on "
                          f"{fits[LOT]:.0%} as 手, {fits[1]:.0%} as 股)")
    if unit != LOT:
        log.warning("%s: 成交量 is in shares, not lots (VWAP check)", origin)
    return unit


def factor_asof(factors: list[tuple[date, float]], day: date) -> float:
    """The factor in effect on `day` (latest effective date <= day); the first one before that."""
    i = bisect_right([d for d, _ in factors], day)
    return factors[max(i - 1, 0)][1]


def raw_prev_close(raw: pd.DataFrame) -> list[Decimal]:
    """Eastmoney's previous *raw* close, exact: 收盘 - 涨跌额 (both quoted to the cent)."""
    return [(to_decimal(c) - to_decimal(ch)).quantize(CENT) for c, ch in zip(raw["收盘"], raw["涨跌额"])]


def reference_pre_close(code: str, prev_day: date, day: date, prev_close: Decimal,
                        events: dict[date, tuple[Decimal, Decimal]], factors: list[tuple[date, float]]) -> Decimal:
    """The exchange's 前收盘价 for `day`: the ex-right reference price when an ex-date falls in
    (prev_day, day] (a suspension may cover the ex-date), else the previous raw close."""
    ex = [d for d in events if prev_day < d <= day]
    if ex:
        cash = sum((events[d][0] for d in ex), Decimal(0))
        bonus = sum((events[d][1] for d in ex), Decimal(0))
        return ex_reference_price(prev_close, cash, bonus)
    f_prev, f_now = factor_asof(factors, prev_day), factor_asof(factors, day)
    if abs(f_now / f_prev - 1) > 1e-9:
        log.warning("%s %s: factor steps %.6f -> %.6f without a dividend record; pre_close from the factor",
                    code, day, f_prev, f_now)
        return (prev_close * to_decimal(f_prev) / to_decimal(f_now)).quantize(CENT, rounding=ROUND_HALF_UP)
    return prev_close


def last_bar_before(ctx: Context, code: str, day: date) -> date:
    """The stored bar before the window (an ex-date falling on a suspension applies to the first
    bar after it); the day before when none is stored."""
    got = ctx.read("select max(trade_date) as d from raw.daily_quote where code = ? and trade_date < ?",
                   [code, day])
    d = got["d"].iloc[0] if len(got) else None
    return pd.Timestamp(d).date() if d is not None and pd.notna(d) else day - timedelta(days=1)


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

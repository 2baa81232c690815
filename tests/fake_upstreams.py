"""Offline stand-ins for akshare, tushare pro and xtdata that return frames shaped exactly like
the real libraries (column names, dtypes, units), so extractor tests never touch the network.

Market: three stocks over eight trading days in January 2024. 000001 (SZ) trades every day,
600000 (SH) is suspended on 2024-01-05 (no row, as upstream), 430047 (BJ) trades every day,
and 600087 is delisted (listed in the delist tables, bars come back empty).
"""
from __future__ import annotations

from datetime import date, datetime
from pathlib import Path

import pandas as pd

DAYS = [date(2024, 1, d) for d in (2, 3, 4, 5, 8, 9, 10, 11)]
STOCKS = {"000001": 10.0, "600000": 7.0, "430047": 20.0}
SUSPENDED = {("600000", date(2024, 1, 5))}
EX_DATE = date(2024, 1, 9)  # 600000 pays a dividend: back-adjust factor steps up here


def bar(sym: str, i: int) -> dict:
    """Deterministic unadjusted OHLC for a stock on trading day i."""
    base = STOCKS[sym] * (1 + 0.01 * i)
    return {"open": round(base * 0.99, 2), "close": round(base, 2), "high": round(base * 1.02, 2),
            "low": round(base * 0.98, 2), "lots": 10_000 + 100 * i, "turnover_pct": 1.5 + 0.1 * i}


def hfq_factor(sym: str, d: date) -> float:
    return 3.0 if sym != "600000" else (2.0 if d < EX_DATE else 2.1)


def _ymd(s: str) -> date:
    s = s.replace("-", "")
    return date(int(s[:4]), int(s[4:6]), int(s[6:8]))


class FakeAkshare:
    """Frame-level stand-in kept ONLY for the runner's scheduling tests (test_ingest_runner):
    watermarks, retries, hangs on a tiny deterministic market. The extractor's mapping, units,
    factors and reference prices are tested on the REAL akshare functions with recorded wire
    payloads (tests/akshare_wire.py, tests/test_extract_akshare.py), not here."""

    def __init__(self, days: list[date] | None = None):
        self.days = DAYS if days is None else days
        self.calls: list[tuple] = []
        self.fail_on: dict[tuple[str, str], BaseException] = {}
        self.rename: dict[str, dict[str, str]] = {}

    def _hook(self, fn: str, sym: str = "") -> None:
        self.calls.append((fn, sym))
        exc = self.fail_on.get((fn, sym))
        if exc is not None:
            raise exc

    def _out(self, fn: str, df: pd.DataFrame) -> pd.DataFrame:
        return df.rename(columns=self.rename.get(fn, {}))

    def stock_info_sh_name_code(self, symbol="主板A股"):
        self._hook("stock_info_sh_name_code", symbol)
        rows = [("600000", "浦发银行", date(1999, 11, 10))] if symbol == "主板A股" else []
        return pd.DataFrame(rows, columns=["证券代码", "证券简称", "上市日期"]).assign(证券全称="", 公司简称="", 公司全称="")

    def stock_info_sz_name_code(self, symbol="A股列表"):
        self._hook("stock_info_sz_name_code", symbol)
        return pd.DataFrame({"板块": ["主板"], "A股代码": ["000001"], "A股简称": ["平安银行"],
                             "A股上市日期": ["1991-04-03"], "A股总股本": ["1"], "A股流通股本": ["1"], "所属行业": ["J"]})

    def stock_info_bj_name_code(self):
        self._hook("stock_info_bj_name_code")
        return pd.DataFrame({"证券代码": ["430047"], "证券简称": ["*ST某某"], "总股本": [1], "流通股本": [1],
                             "上市日期": [None], "所属行业": [""], "地区": [""], "报告日期": [None]})

    def stock_zh_a_daily(self, symbol="sh603843", start_date="19900101", end_date="21000118", adjust=""):
        self._hook(f"stock_zh_a_daily{adjust}", symbol)
        assert adjust == "hfq-factor"
        sym = symbol[2:]
        rows = [(pd.Timestamp("1900-01-01"), str(hfq_factor(sym, DAYS[0])))]
        if hfq_factor(sym, EX_DATE) != rows[0][1]:
            rows.insert(0, (pd.Timestamp(EX_DATE), str(hfq_factor(sym, EX_DATE))))
        return pd.DataFrame(rows, columns=["date", "hfq_factor"])

    def stock_fhps_detail_em(self, symbol="300073"):
        self._hook("stock_fhps_detail_em", symbol)
        raise TypeError("'NoneType' object is not subscriptable")  # akshare 1.19.5 on `result: null`

    def stock_info_sh_delist(self, symbol="全部"):
        self._hook("stock_info_sh_delist")
        return pd.DataFrame({"公司代码": ["600087"], "公司简称": ["退市长油"], "上市日期": [date(1997, 6, 11)],
                             "暂停上市日期": [date(2014, 6, 5)]})

    def stock_info_sz_delist(self, symbol="终止上市公司"):
        self._hook("stock_info_sz_delist")
        return pd.DataFrame()  # upstream returns a bare empty frame when the xlsx is empty

    def stock_industry_clf_hist_sw(self):
        self._hook("stock_industry_clf_hist_sw")
        return pd.DataFrame({"symbol": ["000001", "600000", "000001"], "start_date": [date(2014, 1, 1), date(2021, 7, 30),
                                                                                     date(2021, 7, 30)],
                             "industry_code": ["480101", "480201", "480301"], "update_time": [date(2021, 7, 30)] * 3})

    def stock_zh_a_st_em(self):
        self._hook("stock_zh_a_st_em")
        return pd.DataFrame({"序号": [1], "代码": ["430047"], "名称": ["*ST某某"], "最新价": [1.0]})

    def stock_zh_a_hist(self, symbol="000001", period="daily", start_date="19700101", end_date="20500101", adjust="",
                        timeout=None):
        self._hook(f"stock_zh_a_hist{adjust}", symbol)
        lo, hi = _ymd(start_date), _ymd(end_date)
        rows = []
        if symbol in STOCKS:
            for i, d in enumerate(self.days):
                if not (lo <= d <= hi) or (symbol, d) in SUSPENDED:
                    continue
                b = bar(symbol, i)
                f = hfq_factor(symbol, d) if adjust == "hfq" else 1.0
                prev = bar(symbol, i - 1)["close"] * f if i else b["open"] * f
                rows.append({"日期": d, "股票代码": symbol, "开盘": round(b["open"] * f, 2), "收盘": round(b["close"] * f, 2),
                             "最高": round(b["high"] * f, 2), "最低": round(b["low"] * f, 2), "成交量": b["lots"],
                             "成交额": b["lots"] * 100 * b["close"], "振幅": 4.0,
                             "涨跌幅": 1.0, "涨跌额": round(b["close"] * f - prev, 2), "换手率": b["turnover_pct"]})
        if not rows:
            return pd.DataFrame()  # akshare: empty result is an empty DataFrame without columns
        return self._out("stock_zh_a_hist", pd.DataFrame(rows))

    def stock_value_em(self, symbol="300766"):
        self._hook("stock_value_em", symbol)
        rows = [{"数据日期": d, "当日收盘价": bar(symbol, i)["close"], "当日涨跌幅": 1.0, "总市值": 2.0e11, "流通市值": 1.5e11,
                 "总股本": 1.9e10, "流通股本": 1.9e10, "PE(TTM)": 5.1, "PE(静)": 5.0, "市净率": 0.55, "PEG值": 1.0,
                 "市现率": 3.0, "市销率": 1.2} for i, d in enumerate(self.days) if symbol in STOCKS]
        return pd.DataFrame(rows)

    def tool_trade_date_hist_sina(self):
        self._hook("tool_trade_date_hist_sina")
        return pd.DataFrame({"trade_date": self.days})

    def stock_yjbb_em(self, date="20200331"):
        self._hook("stock_yjbb_em", date)
        return self._out("stock_yjbb_em", pd.DataFrame({
            "序号": [1, 2], "股票代码": ["000001", "600000"], "股票简称": ["平安银行", "浦发银行"],
            "每股收益": [2.25, 1.2], "营业总收入-营业总收入": [1.6e11, 1.7e11], "营业总收入-同比增长": [-8.0, -5.0],
            "营业总收入-季度环比增长": [1.0, 2.0], "净利润-净利润": [4.6e10, 3.7e10], "净利润-同比增长": [2.06, -28.0],
            "净利润-季度环比增长": [1.0, 1.0], "每股净资产": [22.0, 21.0], "净资产收益率": [10.25, 5.5],
            "每股经营现金流量": [1.0, 1.0], "销售毛利率": [None, None], "所处行业": ["银行", "银行"],
            "最新公告日期": [pd.Timestamp("2024-03-15").date(), pd.Timestamp("2024-04-27").date()]}))

    def stock_fhps_em(self, date="20231231"):
        self._hook("stock_fhps_em", date)
        return pd.DataFrame({
            "代码": ["000001", "600000"], "名称": ["平安银行", "浦发银行"], "送转股份-送转总比例": [None, 3.0],
            "送转股份-送转比例": [None, 3.0], "送转股份-转股比例": [None, None], "现金分红-现金分红比例": [7.19, 3.2],
            "现金分红-股息率": [0.075, 0.045], "每股收益": [2.25, 1.2], "每股净资产": [22.0, 21.0], "每股公积金": [4.0, 3.0],
            "每股未分配利润": [10.0, 8.0], "净利润同比增长": [2.06, -28.0], "总股本": [1.94e10, 2.9e10],
            "预案公告日": [pd.Timestamp("2024-03-15").date(), None], "股权登记日": [None, None],
            "除权除息日": [pd.Timestamp("2024-06-14").date(), pd.Timestamp("2024-07-18").date()],
            "方案进度": ["实施分配", "实施分配"],
            "最新公告日期": [pd.Timestamp("2024-06-07").date(), pd.Timestamp("2024-07-11").date()]})

    def stock_hsgt_individual_em(self, symbol="002008"):
        self._hook("stock_hsgt_individual_em", symbol)
        if symbol == "600000":
            raise TypeError("'NoneType' object is not subscriptable")  # not in Stock Connect
        return pd.DataFrame({"持股日期": self.days, "当日收盘价": 10.0, "当日涨跌幅": 1.0,
                             "持股数量": [1.0e8 + i for i in range(len(self.days))], "持股市值": 1e9,
                             "持股数量占A股百分比": 1.0, "今日增持股数": 0.0, "今日增持资金": 0.0, "今日持股市值变化": 0.0})

    def stock_individual_fund_flow(self, stock="600094", market="sh"):
        self._hook("stock_individual_fund_flow", stock)
        return pd.DataFrame({"日期": self.days, "收盘价": 10.0, "涨跌幅": 1.0,
                             "主力净流入-净额": [1.5e7 * (-1) ** i for i in range(len(self.days))],
                             "主力净流入-净占比": 3.0, "超大单净流入-净额": 0.0, "超大单净流入-净占比": 0.0,
                             "大单净流入-净额": 0.0, "大单净流入-净占比": 0.0, "中单净流入-净额": 0.0,
                             "中单净流入-净占比": 0.0, "小单净流入-净额": 0.0, "小单净流入-净占比": 0.0})

    def stock_margin_detail_sse(self, date="20230922"):
        self._hook("stock_margin_detail_sse", date)
        return pd.DataFrame({"信用交易日期": [date], "标的证券代码": ["600000"], "标的证券简称": ["浦发银行"],
                             "融资余额": [5.0e9], "融资买入额": [1e8], "融资偿还额": [1e8], "融券余量": [1000.0],
                             "融券卖出量": [0.0], "融券偿还量": [0.0]})

    def stock_margin_detail_szse(self, date="20230925"):
        self._hook("stock_margin_detail_szse", date)
        return pd.DataFrame({"证券代码": ["000001"], "证券简称": ["平安银行"], "融资买入额": [1e8], "融资余额": [4.0e9],
                             "融券卖出量": [0.0], "融券余量": [500.0], "融券余额": [5000.0], "融资融券余额": [4.000005e9]})

    def stock_sector_fund_flow_hist(self, symbol="汽车服务"):
        self._hook("stock_sector_fund_flow_hist", symbol)
        if symbol not in ("银行",):
            raise KeyError(symbol)
        return pd.DataFrame({"日期": self.days, "主力净流入-净额": [2.0e8] * len(self.days),
                             "主力净流入-净占比": [2.0] * len(self.days), "超大单净流入-净额": 0.0,
                             "超大单净流入-净占比": 0.0, "大单净流入-净额": 0.0, "大单净流入-净占比": 0.0,
                             "中单净流入-净额": 0.0, "中单净流入-净占比": 0.0, "小单净流入-净额": 0.0,
                             "小单净流入-净占比": 0.0})

    def stock_cyq_em(self, symbol="000001", adjust=""):
        self._hook("stock_cyq_em", symbol)
        recent = self.days[-3:]  # upstream covers only the latest bars
        return pd.DataFrame({"日期": recent, "获利比例": [0.6, 0.65, 0.7], "平均成本": [10.01, 10.02, 10.03],
                             "90成本-低": [9.5] * 3, "90成本-高": [10.5] * 3, "90集中度": [0.05] * 3,
                             "70成本-低": [9.8] * 3, "70成本-高": [10.2] * 3, "70集中度": [0.02] * 3})

    def stock_zh_a_hist_min_em(self, symbol="000001", start_date="", end_date="", period="5", adjust=""):
        self._hook("stock_zh_a_hist_min_em", symbol)
        return pd.DataFrame({"时间": ["2024-01-11 09:31:00", "2024-01-11 09:32:00"], "开盘": [10.0, 10.1],
                             "收盘": [10.1, 10.2], "最高": [10.1, 10.2], "最低": [10.0, 10.1], "成交量": [120, 80],
                             "成交额": [121200.0, 81600.0], "均价": [10.1, 10.15]})


# -- tushare pro ---------------------------------------------------------------------------
# Each method follows the filter semantics and units tushare documents for that API (pages cited
# per method; mirror: https://tushare.pro/wctapi/documents/<doc_id>.md). Bars, pre_close and
# adj_factor are REAL recorded rows (tests/fixtures/tushare/PROVENANCE.md); what is synthetic is
# marked "synthetic" below. Every call is recorded in `calls` with its parameters, so tests can
# check the extractor asked each API in that API's own date semantics.

TS_FIXTURES = Path(__file__).resolve().parent / "fixtures" / "tushare"
TS_CODES = ("000001.SZ", "600000.SH")


def _ts_read(name: str) -> pd.DataFrame:
    return pd.read_csv(TS_FIXTURES / name, dtype={"trade_date": str, "end_date": str, "ann_date": str,
                                                  "record_date": str, "ex_date": str, "pay_date": str,
                                                  "div_listdate": str, "imp_ann_date": str})


def _between(s: pd.Series, lo: str | None, hi: str | None) -> pd.Series:
    """tushare's start_date/end_date: both ends inclusive, 'YYYYMMDD' strings, empty = open."""
    return (s >= (lo or "00000000")) & (s <= (hi or "99999999"))


def _fields(df: pd.DataFrame, fields: str | None) -> pd.DataFrame:
    """`fields='a,b'` returns only those columns, in that order (tushare client behaviour)."""
    if not fields:
        return df.reset_index(drop=True)
    return df[[f for f in fields.split(",") if f]].reset_index(drop=True)


# synthetic: float / total shares in 10k shares (万股, as daily_basic reports them). 000001's
# total of 1,940,591.8198 万股 is Eastmoney's 总股本 19,405,918,198 (dividend fixture); the
# float counts and 600000's figures are guesses of the right size. Transfers (转增) on the
# ex-date multiply both, as they do in reality.
_SHARES = {"000001.SZ": [("20160616", 1_430_867.6, 1_171_000.0), ("99999999", 1_940_591.8, 1_940_560.0)],
           "600000.SH": [("20170525", 2_161_857.0, 2_065_000.0), ("99999999", 2_935_208.0, 2_935_208.0)]}


def _shares(code: str, ymd: str) -> tuple[float, float]:
    for until, total, flt in _SHARES[code]:
        if ymd < until:
            return total, flt
    return _SHARES[code][-1][1:]


class FakeTusharePro:
    """tushare `pro_api()` stand-in for 000001.SZ and 600000.SH.

    Market: the real recorded daily windows in tests/fixtures/tushare (2016-06, 2017-05,
    2018-07/08, 2021-04..08, 2024-06); suspended days simply have no row, as in `daily`.
    `fina` lists the reports the fake knows: (ts_code, period, ann_date, eps, bps, roe %,
    netprofit_yoy %, total_revenue, n_income_attr_p); tests may replace it.
    """

    def __init__(self):
        self.calls: list[tuple] = []
        self.bars = pd.concat([_ts_read(f"daily_{c}.csv") for c in TS_CODES], ignore_index=True)
        self.adj = pd.concat([_ts_read(f"adj_factor_{c}.csv") for c in TS_CODES], ignore_index=True)
        self.divs = _ts_read("dividend_000001.SZ.csv")
        # 000001 annual reports: REAL announcement date, EPS and BPS (Eastmoney 业绩披露日期, 每股收益,
        # 每股净资产 in the dividend fixture's source); roe, yoy, revenue, profit are synthetic.
        # Quarterly reports and all of 600000's are synthetic, dated within the legal deadlines
        # (Q1/Q3 within one month, H1 within two, annual within four months of the period end).
        self.fina = [
            ("000001.SZ", "20151231", "20160310", 1.56, 11.29, 14.9, 10.4, 9.6e10, 2.2e10),
            ("000001.SZ", "20201231", "20210202", 1.40, 15.16, 9.6, 2.6, 1.54e11, 2.9e10),
            ("000001.SZ", "20210331", "20210421", 0.38, 15.42, 2.6, 18.5, 4.2e10, 1.0e10),
            ("000001.SZ", "20210630", "20210820", 0.75, 15.89, 5.1, 28.5, 8.5e10, 1.8e10),
            ("000001.SZ", "20230930", "20231025", 1.73, 20.01, 9.0, 2.6, 1.26e11, 3.96e10),
            ("000001.SZ", "20231231", "20240315", 2.25, 20.74, 11.4, 2.1, 1.65e11, 4.65e10),
            ("000001.SZ", "20240331", "20240420", 0.66, 21.3, 3.1, 2.3, 3.9e10, 1.49e10),
            ("600000.SH", "20201231", "20210330", 1.88, 19.9, 9.8, -9.9, 1.96e11, 5.83e10),
            ("600000.SH", "20210331", "20210430", 0.53, 20.3, 2.7, 2.6, 5.0e10, 1.65e10),
            ("600000.SH", "20231231", "20240430", 1.0, 22.2, 4.9, -40.0, 1.73e11, 3.67e10),
            ("600000.SH", "20240331", "20240430", 0.34, 22.5, 1.6, -17.0, 4.4e10, 1.09e10),
        ]

    # reference data ---------------------------------------------------------------------
    def trade_cal(self, exchange="", start_date="", end_date="", is_open=None, **kw):
        """doc_id=26: calendar days with cal_date in [start_date, end_date], is_open 1/0.
        Open days are XSHG sessions from exchange_calendars (same exchange calendar; its range
        here is 2006-11-30..2026-12-31)."""
        self.calls.append(("trade_cal", {"start_date": start_date, "end_date": end_date}))
        import exchange_calendars as xcals

        cal = xcals.get_calendar("XSHG")
        lo = max(pd.Timestamp(start_date or "20061130"), cal.first_session)
        hi = min(pd.Timestamp(end_date or "20261231"), cal.last_session)
        days = pd.date_range(lo, hi, freq="D")
        open_ = set(cal.sessions_in_range(lo, hi))
        df = pd.DataFrame({"exchange": exchange or "SSE", "cal_date": days.strftime("%Y%m%d"),
                           "is_open": [1 if d in open_ else 0 for d in days]})
        return df if is_open is None else df[df.is_open == int(is_open)].reset_index(drop=True)

    def stock_basic(self, exchange="", list_status="L", fields="", **kw):
        """doc_id=25: list_status L listed / D delisted / P paused; dates 'YYYYMMDD'."""
        self.calls.append(("stock_basic", {"list_status": list_status}))
        cols = ["ts_code", "name", "market", "list_date", "delist_date", "list_status"]
        rows = {"L": [("000001.SZ", "平安银行", "主板", "19910403", None, "L"),
                      ("600000.SH", "浦发银行", "主板", "19991110", None, "L")],
                "D": [("600087.SH", "退市长油", "主板", "19970611", "20140605", "D")],
                "P": []}[list_status]
        return _fields(pd.DataFrame(rows, columns=cols), fields)

    def index_classify(self, level="", src="SW2021", **kw):
        """doc_id=181: SW2021 classification (synthetic subset: 银行 only)."""
        self.calls.append(("index_classify", {"level": level, "src": src}))
        return pd.DataFrame({"index_code": ["801780.SI"], "industry_name": ["银行"], "level": ["L1"],
                             "industry_code": ["480000"], "src": ["SW2021"]})

    def index_member_all(self, l1_code="", is_new="", **kw):
        """doc_id=335: members of an SW level-1 industry (is_new='Y': current members)."""
        self.calls.append(("index_member_all", {"l1_code": l1_code, "is_new": is_new}))
        return pd.DataFrame({"l1_code": ["801780.SI"] * 2, "l1_name": ["银行"] * 2, "l2_code": ["801783.SI", "801784.SI"],
                             "l2_name": ["股份制银行Ⅱ", "城商行Ⅱ"], "ts_code": ["000001.SZ", "600000.SH"],
                             "name": ["平安银行", "浦发银行"], "in_date": ["20210730"] * 2, "out_date": [None, None],
                             "is_new": ["Y", "Y"]})

    # per stock, by TRADE date -----------------------------------------------------------
    def _by_trade_date(self, df: pd.DataFrame, ts_code="", trade_date="", start_date="", end_date=""):
        m = _between(df["trade_date"], start_date, end_date)
        if ts_code:
            m &= df["ts_code"].isin(ts_code.split(","))
        if trade_date:
            m &= df["trade_date"] == trade_date
        return df[m].sort_values(["ts_code", "trade_date"], ascending=[True, False])

    def daily(self, ts_code="", trade_date="", start_date="", end_date="", fields="", **kw):
        """doc_id=27: unadjusted bars, start/end select TRADE dates (both inclusive); no row
        while suspended; pre_close is 昨收价【除权价】 (the exchange's ex-right reference price);
        vol in 手 (100 shares), amount in 千元. Into the database 15:00-16:00 on the day (doc),
        16:00-17:00 per tushare's later article."""
        self.calls.append(("daily", {"ts_code": ts_code, "start_date": start_date, "end_date": end_date}))
        return _fields(self._by_trade_date(self.bars, ts_code, trade_date, start_date, end_date), fields)

    def adj_factor(self, ts_code="", trade_date="", start_date="", end_date="", **kw):
        """doc_id=28: one back-adjustment factor per stock and TRADE date (updated 09:30 on the
        day); hfq price = price × adj_factor; it steps by prev close / pre_close on ex-dates."""
        self.calls.append(("adj_factor", {"ts_code": ts_code, "start_date": start_date, "end_date": end_date}))
        df = self._by_trade_date(self.adj, ts_code, trade_date, start_date, end_date)
        return df[["ts_code", "trade_date", "adj_factor"]].reset_index(drop=True)

    def daily_basic(self, ts_code="", trade_date="", start_date="", end_date="", fields="", **kw):
        """doc_id=32: by TRADE date, 15:00-17:00 on the day. turnover_rate % of float shares
        (成交量/流通股本), total_share/float_share in 万股, total_mv/circ_mv in 万元. Values are
        computed from the real bars and the synthetic share counts above; pe_ttm/pb synthetic."""
        self.calls.append(("daily_basic", {"ts_code": ts_code, "start_date": start_date, "end_date": end_date}))
        bars = self._by_trade_date(self.bars, ts_code, trade_date, start_date, end_date)
        rows = []
        for r in bars.itertuples():
            total, flt = _shares(r.ts_code, r.trade_date)
            rows.append({"ts_code": r.ts_code, "trade_date": r.trade_date, "close": r.close,
                         "turnover_rate": round(r.vol * 100 / (flt * 1e4) * 100, 4),
                         "turnover_rate_f": None, "volume_ratio": 1.0, "pe": 5.0, "pe_ttm": 5.1, "pb": 0.55,
                         "total_share": total, "float_share": flt, "free_share": None,
                         "total_mv": round(r.close * total, 2), "circ_mv": round(r.close * flt, 2)})
        cols = ["ts_code", "trade_date", "close", "turnover_rate", "turnover_rate_f", "volume_ratio", "pe",
                "pe_ttm", "pb", "total_share", "float_share", "free_share", "total_mv", "circ_mv"]
        return _fields(pd.DataFrame(rows, columns=cols), fields)

    def moneyflow(self, ts_code="", trade_date="", start_date="", end_date="", **kw):
        """doc_id=170: by TRADE date, amounts in 万元 (synthetic values), 18:00-19:00."""
        self.calls.append(("moneyflow", {"ts_code": ts_code, "start_date": start_date, "end_date": end_date}))
        bars = self._by_trade_date(self.bars, ts_code, trade_date, start_date, end_date)
        return pd.DataFrame({"ts_code": bars["ts_code"], "trade_date": bars["trade_date"], "buy_lg_amount": 3000.0,
                             "sell_lg_amount": 1000.0, "buy_elg_amount": 500.0, "sell_elg_amount": 1000.0,
                             "net_mf_amount": 1500.0}).reset_index(drop=True)

    def hk_hold(self, ts_code="", trade_date="", start_date="", end_date="", **kw):
        """doc_id=188: northbound holding in shares by TRADE date; daily data stops 2024-08-20
        (exchanges publish quarterly since). Synthetic values."""
        self.calls.append(("hk_hold", {"ts_code": ts_code, "start_date": start_date, "end_date": end_date}))
        bars = self._by_trade_date(self.bars, ts_code, trade_date, start_date, end_date)
        bars = bars[bars["trade_date"] < "20240820"]
        return pd.DataFrame({"code": "x", "trade_date": bars["trade_date"], "ts_code": bars["ts_code"], "name": "n",
                             "vol": 1.0e8, "ratio": 1.0, "exchange": bars["ts_code"].str[-2:]}).reset_index(drop=True)

    def margin_detail(self, ts_code="", trade_date="", start_date="", end_date="", **kw):
        """doc_id=59: by TRADE date, balances in 元 (synthetic values). The exchanges publish day
        D's margin balances the next morning."""
        self.calls.append(("margin_detail", {"ts_code": ts_code, "start_date": start_date, "end_date": end_date}))
        bars = self._by_trade_date(self.bars, ts_code, trade_date, start_date, end_date)
        return pd.DataFrame({"trade_date": bars["trade_date"], "ts_code": bars["ts_code"], "rzye": 4.0e9,
                             "rqye": 5.0e6, "rzmre": 1e8, "rqyl": 1e5}).reset_index(drop=True)

    def cyq_perf(self, ts_code="", trade_date="", start_date="", end_date="", **kw):
        """doc_id=293: by TRADE date from 2018 on, costs in CNY, winner_rate in % (synthetic)."""
        self.calls.append(("cyq_perf", {"ts_code": ts_code, "start_date": start_date, "end_date": end_date}))
        bars = self._by_trade_date(self.bars, ts_code, trade_date, max(start_date or "", "20180101"), end_date)
        c = bars["close"].astype(float)
        return pd.DataFrame({"ts_code": bars["ts_code"], "trade_date": bars["trade_date"], "his_low": 1.0,
                             "his_high": 20.0, "cost_5pct": (c * 0.9).round(2), "cost_15pct": (c * 0.95).round(2),
                             "cost_50pct": c, "cost_85pct": (c * 1.05).round(2), "cost_95pct": (c * 1.1).round(2),
                             "weight_avg": c, "winner_rate": 62.5}).reset_index(drop=True)

    # reports: each API its own date semantics ---------------------------------------------
    def _reports(self, ts_code: str) -> pd.DataFrame:
        cols = ["ts_code", "end_date", "ann_date", "eps", "bps", "roe", "netprofit_yoy", "total_revenue",
                "n_income_attr_p"]
        df = pd.DataFrame(self.fina, columns=cols)
        return df[df["ts_code"] == ts_code]

    def fina_indicator(self, ts_code="", ann_date="", start_date="", end_date="", period="", **kw):
        """doc_id=79: start_date/end_date are 报告期开始/结束日期 — they select by REPORT PERIOD
        (end_date field), not by announcement; ann_date/period match exactly. At most 100 rows
        per call (每次请求最多返回100条记录). roe and netprofit_yoy in %."""
        self.calls.append(("fina_indicator", {"ts_code": ts_code, "start_date": start_date, "end_date": end_date}))
        df = self._reports(ts_code)
        df = df[_between(df["end_date"], start_date, end_date)]
        if ann_date:
            df = df[df["ann_date"] == ann_date]
        if period:
            df = df[df["end_date"] == period]
        out = df[["ts_code", "ann_date", "end_date", "eps", "bps", "roe", "netprofit_yoy"]]
        return out.sort_values("end_date", ascending=False).head(100).reset_index(drop=True)

    def income(self, ts_code="", ann_date="", f_ann_date="", start_date="", end_date="", period="",
               report_type="1", fields="", **kw):
        """doc_id=33: start_date/end_date are 公告开始/结束日期 — they select by ANNOUNCEMENT date
        (ann_date), not by period; period matches the report period exactly; report_type
        defaults to 1 (合并报表). Amounts in CNY. Published the evening of the announcement (21:00),
        at the latest the next day."""
        self.calls.append(("income", {"ts_code": ts_code, "start_date": start_date, "end_date": end_date}))
        df = self._reports(ts_code)
        df = df[_between(df["ann_date"], start_date, end_date)]
        if ann_date:
            df = df[df["ann_date"] == ann_date]
        if period:
            df = df[df["end_date"] == period]
        out = df.assign(f_ann_date=df["ann_date"], report_type="1")
        out = out[["ts_code", "ann_date", "f_ann_date", "end_date", "report_type", "total_revenue", "n_income_attr_p"]]
        return _fields(out.sort_values("ann_date", ascending=False), fields)

    def dividend(self, ts_code="", ann_date="", record_date="", ex_date="", imp_ann_date="", fields="", **kw):
        """doc_id=103: NO date-range filter; ts_code / ann_date / record_date / ex_date /
        imp_ann_date match exactly and at least one must be given. One row per plan stage
        (div_proc 预案 / 股东大会通过 / 实施); ann_date is 预案公告日 (the plan's announcement,
        repeated on every stage row: our reading of the field name, a guess), imp_ann_date the
        implementation announcement. cash_div_tax: CNY per share before tax; stk_div: shares per
        share. Real 000001 plans (fixture); 600000 has none here."""
        self.calls.append(("dividend", {"ts_code": ts_code}))
        if not any([ts_code, ann_date, record_date, ex_date, imp_ann_date]):
            raise Exception("抱歉，您输入的参数有误：以上参数至少有一个不能为空")
        df = self.divs.fillna({"record_date": "", "ex_date": "", "pay_date": "", "div_listdate": "",
                               "imp_ann_date": ""})
        for col, val in (("ts_code", ts_code), ("ann_date", ann_date), ("record_date", record_date),
                         ("ex_date", ex_date), ("imp_ann_date", imp_ann_date)):
            if val:
                df = df[df[col] == val]
        df = df.replace({"": None})
        return _fields(df, fields)


# -- xtquant.xtdata ------------------------------------------------------------------------
# Function names, signatures and return shapes are xtquant 250807.1.2's (site-packages
# xtquant/xtdata.py and doc/xtdata.md, cited per method). The market is the same real recorded
# exchange bars as the tushare fake, re-shaped to xtdata's fields: `preClose` = the exchange's
# reference price (tushare's pre_close, the same exchange number), volume in 手 (the K-line
# field list gives no unit; QMT's tick fields say volume 成交总量(手) and pvolume the unconverted
# count, so lots — an inference), amount in CNY, `time` epoch ms of Beijing midnight.

# Real 000001 events (Eastmoney 分红送配, dividend fixture source), per share: (ex-date, cash,
# bonus shares, transfer shares). 600000's cash is derived from its real bars (previous close −
# exchange pre_close, exact to the cent) except the two share events, which are real plans.
XT_EVENTS = {
    "000001.SZ": [("20121019", 0.10, 0, 0), ("20130620", 0.17, 0.6, 0),
                  ("20140612", 0.16, 0, 0.2), ("20150413", 0.174, 0, 0.2), ("20160616", 0.153, 0, 0.2),
                  ("20170721", 0.158, 0, 0), ("20180712", 0.136, 0, 0), ("20190626", 0.145, 0, 0),
                  ("20200528", 0.218, 0, 0), ("20210514", 0.18, 0, 0), ("20220722", 0.228, 0, 0),
                  ("20230614", 0.285, 0, 0), ("20240614", 0.719, 0, 0), ("20241010", 0.246, 0, 0)],
    "600000.SH": [("20120626", 0.30, 0, 0), ("20130603", 0.55, 0, 0), ("20140624", 0.66, 0, 0),
                  ("20150623", 0.757, 0, 0), ("20160623", 0.515, 0.1, 0), ("20170525", 0.20, 0, 0.3),
                  ("20180713", 0.10, 0, 0), ("20190611", 0.35, 0, 0), ("20200723", 0.60, 0, 0),
                  ("20210721", 0.48, 0, 0)],
}

# synthetic CapitalStructure rows (circulating_capital in shares; the doc gives no unit, a
# guess): (code, m_timetag = change / period date, m_anntime = announcement, float A shares).
XT_CAPITAL = [("000001.SZ", "20151231", "20160310", 11_710_000_000.0),
              ("000001.SZ", "20160616", "20160608", 14_052_000_000.0),
              ("000001.SZ", "20201231", "20210202", 19_405_600_000.0),
              ("600000.SH", "20201231", "20210330", 29_352_080_000.0)]


def _ms(d: date, hh: int = 0, mm: int = 0) -> int:
    """Epoch ms of a Beijing-time wall clock (xtdata's `time`)."""
    return int(pd.Timestamp(datetime(d.year, d.month, d.day, hh, mm), tz="Asia/Shanghai").timestamp() * 1000)


def _ymd_ms(ymd: str, hh: int = 0, mm: int = 0) -> int:
    return _ms(date(int(ymd[:4]), int(ymd[4:6]), int(ymd[6:8])), hh, mm)


class FakeXtdata:
    """`xtquant.xtdata` stand-in (module functions as methods) for 000001.SZ and 600000.SH.

    `divid_layout` picks get_divid_factors' shape: 'index+time' (xtquant 250807: YYYYMMDD index
    and a `time` column in ms), 'time_ms' / 'time_ymd' (dates only in `time`, a range index),
    'none' (neither: must fail loudly). `suspended` holds (code, 'YYYYMMDD') days returned with
    suspendFlag=1 when fill_data is on, as QMT fills suspended days.
    """

    def __init__(self, divid_layout: str = "index+time"):
        self.calls: list[tuple] = []
        self.divid_layout = divid_layout
        self.suspended: set[tuple[str, str]] = set()
        tb = pd.concat([_ts_read(f"daily_{c}.csv") for c in TS_CODES], ignore_index=True)
        self.bars = tb.sort_values(["ts_code", "trade_date"]).reset_index(drop=True)
        self.capital = list(XT_CAPITAL)

    def get_trading_dates(self, market, start_time="", end_time="", count=-1):
        """xtdata.py get_trading_dates: list of epoch-ms open days of `market`."""
        import exchange_calendars as xcals

        cal = xcals.get_calendar("XSHG")
        lo = max(pd.Timestamp(start_time or "20061130"), cal.first_session)
        hi = min(pd.Timestamp(end_time or "20261231"), cal.last_session)
        out = [_ms(d.date()) for d in cal.sessions_in_range(lo, hi)]
        return out if count is None or count < 0 else out[-count:]

    def get_stock_list_in_sector(self, sector_name, real_timetag=-1):
        """xtdata.py get_stock_list_in_sector: list of codes."""
        return {"沪深A股": list(TS_CODES), "京市A股": []}.get(sector_name, [])

    def get_instrument_detail(self, stock_code, iscomplete=False):
        """doc 合约基础信息: dict, OpenDate str (since 2020-11-23), ExpireDate int, FloatVolume and
        TotalVolume = TODAY's share counts (synthetic), None for an unknown code."""
        names = {"000001.SZ": ("平安银行", "19910403"), "600000.SH": ("浦发银行", "19991110")}
        if stock_code not in names:
            return None
        name, ipo = names[stock_code]
        return {"ExchangeID": stock_code[-2:], "InstrumentID": stock_code[:6], "InstrumentName": name,
                "OpenDate": ipo, "ExpireDate": 99999999, "PreClose": 11.0, "UpStopPrice": 12.1,
                "DownStopPrice": 9.9, "FloatVolume": 19_405_546_950.0, "TotalVolume": 19_405_918_198.0,
                "PriceTick": 0.01, "InstrumentStatus": 0}

    def download_history_data2(self, stock_list, period, start_time="", end_time="", callback=None,
                               incrementally=None):
        """xtdata.py download_history_data2: fills the terminal cache, returns None."""
        self.calls.append(("download_history_data2", tuple(stock_list), period, start_time, end_time))

    def download_financial_data(self, stock_list, table_list=[], start_time="", end_time="", incrementally=None):
        self.calls.append(("download_financial_data", tuple(stock_list), tuple(table_list)))

    def _rows(self, code: str, period: str, start_time: str, end_time: str, fill_data: bool) -> list[dict]:
        b = self.bars[(self.bars.ts_code == code) & _between(self.bars.trade_date, start_time or None,
                                                                 (end_time or "")[:8] or None)]
        rows = []
        for r in b.itertuples():
            susp = fill_data and (code, r.trade_date) in self.suspended
            if susp:
                continue_row = {"time": _ymd_ms(r.trade_date), "open": r.pre_close, "high": r.pre_close,
                                "low": r.pre_close, "close": r.pre_close, "volume": 0, "amount": 0.0,
                                "settelementPrice": 0.0, "openInterest": 0, "preClose": r.pre_close, "suspendFlag": 1}
                rows.append(continue_row)
                continue
            if (code, r.trade_date) in self.suspended:
                continue  # fill_data off: no row for a suspended day
            if period == "1m":
                rows.append({"time": _ymd_ms(r.trade_date, 9, 31), "open": r.open, "high": r.open, "low": r.open,
                             "close": r.open, "volume": 12, "amount": 12 * 100 * r.open, "settelementPrice": 0.0,
                             "openInterest": 0, "preClose": r.pre_close, "suspendFlag": 0})
                continue
            rows.append({"time": _ymd_ms(r.trade_date), "open": r.open, "high": r.high, "low": r.low,
                         "close": r.close, "volume": r.vol, "amount": round(r.amount * 1000, 2),
                         "settelementPrice": 0.0, "openInterest": 0, "preClose": r.pre_close, "suspendFlag": 0})
        return rows

    def get_market_data_ex(self, field_list=[], stock_list=[], period="1d", start_time="", end_time="", count=-1,
                           dividend_type="none", fill_data=True):
        """xtdata.py get_market_data_ex (K-line periods): {code: DataFrame}, one column per field
        (all K-line fields when field_list is empty: doc 附录 1m/5m/1d), index the bar time
        ('YYYYMMDD' for 1d); count > 0 keeps the last `count` bars of [start_time, end_time]."""
        self.calls.append(("get_market_data_ex", tuple(field_list), tuple(stock_list), period, start_time, end_time))
        assert dividend_type == "none", "the extractor must read unadjusted bars"
        out = {}
        for code in stock_list:
            rows = self._rows(code, period, start_time, end_time, fill_data)
            if count is not None and count > 0:
                rows = rows[-count:]
            df = pd.DataFrame(rows, columns=["time", "open", "high", "low", "close", "volume", "amount",
                                             "settelementPrice", "openInterest", "preClose", "suspendFlag"])
            fmt = "%Y%m%d" if period == "1d" else "%Y%m%d%H%M%S"
            df.index = [pd.Timestamp(t, unit="ms", tz="UTC").tz_convert("Asia/Shanghai").strftime(fmt)
                        for t in df["time"]]
            out[code] = df[list(field_list)] if field_list else df
        return out

    def get_divid_factors(self, stock_code, start_time="", end_time=""):
        """xtdata.py get_divid_factors = pd.DataFrame(client.get_divid_factors(...)).T; fields
        (doc 附录 除权数据): interest (cash per share, pre-tax), stockBonus, stockGift, allotNum,
        allotPrice, gugai, dr (除权系数). Observed in use with xtquant: index
        ['20140813', ...] and a `time` column in ms. `dr` here = previous close / the UNROUNDED
        reference price (QMT does not document its formula: a guess)."""
        self.calls.append(("get_divid_factors", stock_code))
        rows = []
        for ymd, cash, bonus, gift in XT_EVENTS.get(stock_code, []):
            rows.append({"time": float(_ymd_ms(ymd)), "interest": cash, "stockBonus": float(bonus),
                         "stockGift": float(gift), "allotNum": 0.0, "allotPrice": 0.0, "gugai": 0.0,
                         "dr": self._dr(stock_code, ymd, cash, bonus + gift), "ymd": ymd})
        if not rows:
            return pd.DataFrame()
        df = pd.DataFrame(rows)
        if self.divid_layout == "index+time":
            df.index = df.pop("ymd").tolist()
        elif self.divid_layout == "time_ms":
            df = df.drop(columns="ymd")
        elif self.divid_layout == "time_ymd":
            df["time"] = df.pop("ymd")
        else:  # 'none': dates nowhere to be found
            df = df.drop(columns=["ymd", "time"])
        return df

    def _dr(self, code: str, ymd: str, cash: float, shares: float) -> float:
        b = self.bars[(self.bars.ts_code == code) & (self.bars.trade_date < ymd)]
        prev = float(b.iloc[-1].close) if len(b) else 10.0  # synthetic where no real bar is kept
        return round(prev / ((prev - cash) / (1 + shares)), 6)

    def get_financial_data(self, stock_list, table_list=[], start_time="", end_time="", report_type="report_time"):
        """xtdata.py get_financial_data: {code: {table: DataFrame}}; m_anntime / m_timetag come
        back as 'YYYYMMDD' strings (its conv_date); report_type 'announce_time' selects rows by
        m_anntime in [start_time, end_time], 'report_time' by m_timetag (doc: 报表筛选方式)."""
        self.calls.append(("get_financial_data", tuple(stock_list), tuple(table_list), start_time, end_time,
                           report_type))
        key = "m_anntime" if report_type == "announce_time" else "m_timetag"
        out = {}
        for code in stock_list:
            ps = [{"m_timetag": f[1], "m_anntime": f[2], "s_fa_eps_basic": f[3], "s_fa_bps": f[4],
                   "du_return_on_equity": f[5], "inc_net_profit_rate": f[6]} for f in FakeTusharePro().fina
                  if f[0] == code]
            inc = [{"m_timetag": f[1], "m_anntime": f[2], "revenue": f[7], "net_profit_excl_min_int_inc": f[8]}
                   for f in FakeTusharePro().fina if f[0] == code]
            cap = [{"m_timetag": c[1], "m_anntime": c[2], "total_capital": c[3] * 1.2, "circulating_capital": c[3],
                    "restrict_circulating_capital": 0.0} for c in self.capital if c[0] == code]
            tables = {}
            for name, rows in (("PershareIndex", ps), ("Income", inc), ("Capital", cap)):
                if table_list and name not in table_list:
                    continue
                df = pd.DataFrame(rows)
                if len(df):
                    df = df[_between(df[key], start_time or None, end_time or None)].reset_index(drop=True)
                tables[name] = df
            out[code] = tables
        return out

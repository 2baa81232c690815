"""Offline stand-ins for akshare, tushare pro and xtdata that return frames shaped exactly like
the real libraries (column names, dtypes, units), so extractor tests never touch the network.

Market: three stocks over eight trading days in January 2024. 000001 (SZ) trades every day,
600000 (SH) is suspended on 2024-01-05 (no row, as upstream), 430047 (BJ) trades every day,
and 600087 is delisted (listed in the delist tables, bars come back empty).
"""
from __future__ import annotations

from datetime import date, datetime, timezone

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


class FakeTusharePro:
    """tushare pro_api() methods with tushare's units: vol in lots, amount in thousand yuan,
    mv in 10k yuan, rates in %, dates as 'YYYYMMDD' strings."""

    def __init__(self):
        self.calls: list[tuple] = []

    def _win(self, kw):
        lo, hi = kw.get("start_date") or "19900101", kw.get("end_date") or "20991231"
        return [d for d in DAYS if lo <= d.strftime("%Y%m%d") <= hi]

    def trade_cal(self, **kw):
        self.calls.append(("trade_cal",))
        days = pd.date_range("2024-01-01", "2024-01-12").date
        return pd.DataFrame({"exchange": "SSE", "cal_date": [d.strftime("%Y%m%d") for d in days],
                             "is_open": [1 if d in DAYS else 0 for d in days]})

    def stock_basic(self, exchange="", list_status="L", fields=""):
        self.calls.append(("stock_basic", list_status))
        if list_status == "L":
            return pd.DataFrame({"ts_code": ["000001.SZ", "600000.SH"], "name": ["平安银行", "浦发银行"],
                                 "market": ["主板", "主板"], "list_date": ["19910403", "19991110"],
                                 "delist_date": [None, None], "list_status": ["L", "L"]})
        if list_status == "D":
            return pd.DataFrame({"ts_code": ["600087.SH"], "name": ["退市长油"], "market": ["主板"],
                                 "list_date": ["19970611"], "delist_date": ["20140605"], "list_status": ["D"]})
        return pd.DataFrame(columns=["ts_code", "name", "market", "list_date", "delist_date", "list_status"])

    def index_classify(self, **kw):
        return pd.DataFrame({"index_code": ["801780.SI"], "industry_name": ["银行"], "level": ["L1"],
                             "industry_code": ["480000"], "src": ["SW2021"]})

    def index_member_all(self, **kw):
        return pd.DataFrame({"l1_code": ["801780.SI"] * 2, "l1_name": ["银行"] * 2, "l2_code": ["801783.SI", "801784.SI"],
                             "l2_name": ["股份制银行Ⅱ", "城商行Ⅱ"], "ts_code": ["000001.SZ", "600000.SH"],
                             "name": ["平安银行", "浦发银行"], "in_date": ["20210730"] * 2, "out_date": [None, None],
                             "is_new": ["Y", "Y"]})

    def daily(self, **kw):
        self.calls.append(("daily", kw["ts_code"]))
        sym = kw["ts_code"][:6]
        rows = [{"ts_code": kw["ts_code"], "trade_date": d.strftime("%Y%m%d"), **{k: bar(sym, DAYS.index(d))[k] for k in
                                                                                   ("open", "high", "low", "close")},
                 "pre_close": bar(sym, DAYS.index(d) - 1)["close"], "change": 0.1, "pct_chg": 1.0,
                 "vol": float(bar(sym, DAYS.index(d))["lots"]),
                 "amount": bar(sym, DAYS.index(d))["lots"] * bar(sym, DAYS.index(d))["close"] / 10}
                for d in self._win(kw) if (sym, d) not in SUSPENDED and sym in STOCKS]
        return pd.DataFrame(rows, columns=["ts_code", "trade_date", "open", "high", "low", "close", "pre_close",
                                           "change", "pct_chg", "vol", "amount"])

    def adj_factor(self, **kw):
        sym = kw["ts_code"][:6]
        return pd.DataFrame({"ts_code": kw["ts_code"], "trade_date": [d.strftime("%Y%m%d") for d in self._win(kw)],
                             "adj_factor": [hfq_factor(sym, d) for d in self._win(kw)]})

    def daily_basic(self, **kw):
        return pd.DataFrame({"ts_code": kw["ts_code"], "trade_date": [d.strftime("%Y%m%d") for d in self._win(kw)],
                             "close": 10.0, "turnover_rate": 1.5, "turnover_rate_f": 2.0, "volume_ratio": 1.0,
                             "pe": 5.0, "pe_ttm": 5.1, "pb": 0.55, "total_mv": 2.0e7, "circ_mv": 1.5e7})

    def fina_indicator(self, **kw):
        return pd.DataFrame({"ts_code": [kw["ts_code"]] * 2, "ann_date": ["20231025", "20240315"],
                             "end_date": ["20230930", "20231231"], "eps": [1.9, 2.25], "bps": [21.5, 22.0],
                             "roe": [8.5, 10.25], "netprofit_yoy": [1.0, 2.06]})

    def income(self, **kw):
        return pd.DataFrame({"ts_code": [kw["ts_code"]] * 2, "ann_date": ["20231025", "20240315"],
                             "end_date": ["20230930", "20231231"], "total_revenue": [1.2e11, 1.6e11],
                             "n_income_attr_p": [3.9e10, 4.6e10]})

    def dividend(self, **kw):
        return pd.DataFrame({"ts_code": [kw["ts_code"]] * 2, "end_date": ["20231231", "20231231"],
                             "ann_date": ["20240315", "20240607"], "div_proc": ["预案", "实施"], "stk_div": [0.0, 0.0],
                             "cash_div": [0.6471, 0.6471], "cash_div_tax": [0.719, 0.719],
                             "record_date": [None, "20240613"], "ex_date": [None, "20240614"]})

    def moneyflow(self, **kw):
        return pd.DataFrame({"ts_code": kw["ts_code"], "trade_date": [d.strftime("%Y%m%d") for d in self._win(kw)],
                             "buy_lg_amount": 3000.0, "sell_lg_amount": 1000.0, "buy_elg_amount": 500.0,
                             "sell_elg_amount": 1000.0, "net_mf_amount": 1500.0})

    def hk_hold(self, **kw):
        return pd.DataFrame({"code": "x", "trade_date": [d.strftime("%Y%m%d") for d in self._win(kw)],
                             "ts_code": kw["ts_code"], "name": "n", "vol": 1.0e8, "ratio": 1.0, "exchange": "SZ"})

    def margin_detail(self, **kw):
        return pd.DataFrame({"trade_date": [d.strftime("%Y%m%d") for d in self._win(kw)], "ts_code": kw["ts_code"],
                             "rzye": 4.0e9, "rqye": 5.0e6, "rzmre": 1e8, "rqyl": 1e5})

    def cyq_perf(self, **kw):
        return pd.DataFrame({"ts_code": kw["ts_code"], "trade_date": [d.strftime("%Y%m%d") for d in self._win(kw)],
                             "his_low": 1.0, "his_high": 20.0, "cost_5pct": 9.0, "cost_15pct": 9.5, "cost_50pct": 10.0,
                             "cost_85pct": 10.5, "cost_95pct": 11.0, "weight_avg": 10.0, "winner_rate": 62.5})


def _ms(d: date, hh: int = 0, mm: int = 0) -> int:
    """Epoch ms of a Beijing-time wall clock (xtdata's `time`)."""
    return int(pd.Timestamp(datetime(d.year, d.month, d.day, hh, mm), tz="Asia/Shanghai").timestamp() * 1000)


class FakeXtdata:
    """xtquant.xtdata functions with QMT's shapes: {code: DataFrame} with epoch-ms `time`,
    volume in lots, suspended days present with suspendFlag=1 when fill_data is on."""

    def __init__(self):
        self.calls: list[tuple] = []

    def get_trading_dates(self, market, start_time="", end_time="", count=-1):
        return [_ms(d) for d in DAYS]

    def get_stock_list_in_sector(self, sector_name, real_timetag=-1):
        return {"沪深A股": ["000001.SZ", "600000.SH"], "京市A股": ["430047.BJ"]}.get(sector_name, [])

    def get_instrument_detail(self, code, iscomplete=False):
        return {"InstrumentName": {"000001.SZ": "平安银行", "600000.SH": "浦发银行", "430047.BJ": "*ST某某"}[code],
                "OpenDate": 19910403, "ExpireDate": 99999999, "TotalVolume": 2.0e10, "FloatVolume": 1.0e9}

    def download_history_data2(self, stock_list, period, start_time="", end_time="", callback=None):
        self.calls.append(("download", tuple(stock_list), period))

    def get_market_data_ex(self, field_list=[], stock_list=[], period="1d", start_time="", end_time="", count=-1,
                           dividend_type="none", fill_data=True):
        out = {}
        for code in stock_list:
            sym = code[:6]
            rows = []
            for i, d in enumerate(DAYS):
                if not (start_time <= d.strftime("%Y%m%d") <= (end_time or "99999999")):
                    continue
                b = bar(sym, i)
                susp = (sym, d) in SUSPENDED
                if period == "1m":
                    rows.append({"time": _ms(d, 9, 31), "open": b["open"], "high": b["high"], "low": b["low"],
                                 "close": b["close"], "volume": 12, "amount": 12 * 100 * b["close"],
                                 "preClose": b["open"], "suspendFlag": 0})
                    continue
                rows.append({"time": _ms(d), "open": b["open"], "high": b["high"], "low": b["low"], "close": b["close"],
                             "volume": 0 if susp else b["lots"], "amount": 0.0 if susp else b["lots"] * 100 * b["close"],
                             "settelementPrice": 0.0, "openInterest": 0, "preClose": bar(sym, i - 1)["close"],
                             "suspendFlag": 1 if susp else 0})
            df = pd.DataFrame(rows)
            df.index = [pd.Timestamp(r["time"], unit="ms", tz=timezone.utc).tz_convert("Asia/Shanghai")
                        .strftime("%Y%m%d") for r in rows]
            out[code] = df
        return out

    def get_divid_factors(self, stock_code, start_time="", end_time=""):
        if stock_code != "600000.SH":
            return pd.DataFrame()
        return pd.DataFrame({"interest": [0.32], "stockBonus": [0.0], "stockGift": [0.0], "allotNum": [0.0],
                             "allotPrice": [0.0], "gugai": [0], "dr": [1.05]}, index=[EX_DATE.strftime("%Y%m%d")])

    def download_financial_data(self, stock_list, table_list=[], start_time="", end_time="", incrementally=None):
        pass

    def get_financial_data(self, stock_list, table_list=[], start_time="", end_time="", report_type="report_time"):
        assert report_type == "announce_time"
        return {c: {"PershareIndex": pd.DataFrame({"m_timetag": ["20231231"], "m_anntime": ["20240315"],
                                                   "s_fa_eps_basic": [2.25], "s_fa_bps": [22.0],
                                                   "du_return_on_equity": [10.25], "inc_net_profit_rate": [2.06]}),
                    "Income": pd.DataFrame({"m_timetag": ["20231231"], "m_anntime": ["20240315"],
                                            "revenue": [1.6e11], "net_profit_excl_min_int_inc": [4.6e10]})}
                for c in stock_list}

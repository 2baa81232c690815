"""Recorded wire payloads for the REAL akshare functions: requests' transport is patched, so
akshare's own URL building, JSON/JS/xlsx parsing and column renames run in every test.

Each route below rebuilds the body the upstream returns, in the envelope akshare's source reads
(function, file and line cited per route, akshare 1.19.5), from the fixture files in
tests/fixtures/akshare/ (numbers: see PROVENANCE.md there; SYNTHETIC marks made-up numbers).
Any URL without a route raises: a test can never reach the internet.
"""
from __future__ import annotations

import csv
import io
import json
from pathlib import Path
from typing import Any, Callable
from urllib.parse import parse_qs, urlsplit

import pandas as pd
import requests

FIX = Path(__file__).parent / "fixtures" / "akshare"


def _csv(name: str) -> list[dict[str, str]]:
    with open(FIX / name, encoding="utf-8") as f:
        return list(csv.DictReader(f))


def _xlsx(df: pd.DataFrame) -> bytes:
    buf = io.BytesIO()
    df.to_excel(buf, index=False, engine="openpyxl")
    return buf.getvalue()


class Wire:
    """The routes; tests tweak the attributes (e.g. `null_periods`) before calling akshare."""

    def __init__(self) -> None:
        self.calls: list[str] = []
        self.null_periods: set[str] = set()  # report periods answered with `"result": null`
        self.sse_margin = _csv("margin_sse_20230922_docs.csv")
        self.szse_margin = _csv("margin_szse_20230925_docs.csv")

    # -- transport ---------------------------------------------------------------------
    def send(self, adapter: Any, request: requests.PreparedRequest, **kw: Any) -> requests.Response:
        url = urlsplit(request.url)
        q = {k: v[0] for k, v in parse_qs(url.query, keep_blank_values=True).items()}
        if request.body and isinstance(request.body, (str, bytes)):
            body = request.body.decode() if isinstance(request.body, bytes) else request.body
            q.update({k: v[0] for k, v in parse_qs(body, keep_blank_values=True).items()})
        self.calls.append(f"{url.netloc}{url.path}")
        route = self.route(url.netloc, url.path, q)
        payload = route(q, url.path)
        resp = requests.Response()
        resp.status_code = 200
        resp._content = payload if isinstance(payload, bytes) else payload.encode("utf-8")
        resp.encoding = "utf-8"
        resp.url = request.url
        resp.request = request
        return resp

    def route(self, host: str, path: str, q: dict[str, str]) -> Callable[[dict[str, str], str], str | bytes]:
        if host == "push2his.eastmoney.com" and path == "/api/qt/stock/kline/get":
            return self.em_kline
        if host == "finance.sina.com.cn" and path.endswith("/hfq.js"):
            return self.sina_hfq
        if host == "datacenter-web.eastmoney.com" and path == "/api/data/v1/get":
            return {"RPT_SHAREBONUS_DET": self.em_sharebonus, "RPT_VALUEANALYSIS_DET": self.em_value,
                    "RPT_LICO_FN_CPD": self.em_yjbb, "RPT_MUTUAL_HOLDSTOCKNDATE_STA": self.em_yjbb}[q["reportName"]]
        if host == "query.sse.com.cn" and path == "/marketdata/tradedata/queryMargin.do":
            return self.sse_margin_json
        if host == "www.szse.cn" and path == "/api/report/ShowReport" and q.get("CATALOGID") == "1837_xxpl":
            return self.szse_margin_xlsx
        if host == "query.sse.com.cn" and path == "/sseQuery/commonQuery.do":
            return self.sse_list
        if host == "query.sse.com.cn" and path == "/commonQuery.do":
            return self.sse_delist
        if host == "www.szse.cn" and path == "/api/report/ShowReport" and q.get("CATALOGID") == "1110":
            return self.szse_list
        if host == "www.szse.cn" and path == "/api/report/ShowReport" and q.get("CATALOGID") == "1793_ssgs":
            return self.szse_delist
        if host == "www.bse.cn" and path == "/nqxxController/nqxxCnzq.do":
            return self.bse_list
        if host == "www.swsresearch.com":
            return self.sw_clf
        if host.endswith("push2.eastmoney.com") and path == "/api/qt/clist/get":
            return self.em_clist
        if host == "push2his.eastmoney.com" and path == "/api/qt/stock/fflow/daykline/get":
            return self.em_fflow
        if host == "push2his.eastmoney.com" and path == "/api/qt/stock/trends2/get":
            return self.em_trends
        if host == "finance.sina.com.cn" and path.endswith("klc_td_sh.txt"):
            return self.sina_calendar
        raise requests.ConnectionError(f"no recorded payload for {host}{path} {q}: tests never reach the internet")

    # -- Eastmoney kline ---------------------------------------------------------------
    def em_kline(self, q: dict[str, str], path: str) -> str:
        """stock_zh_a_hist (akshare/stock_feature/stock_hist_em.py:952-1039): reads
        r.json()["data"]["klines"], each 'date,open,close,high,low,volume,amount,amplitude,pct,chg,
        turnover' (fields2 f51..f61; returns an empty frame when data or klines is empty).
        Numbers: real Eastmoney raw bars (fixtures eastmoney_kline_raw_<code>.csv). Only fqt=0
        (unadjusted) is recorded; asking for hfq/qfq is an error here, on purpose."""
        assert q["fqt"] == "0", f"only unadjusted Eastmoney bars are recorded, got fqt={q['fqt']}"
        code = q["secid"].split(".")[1]
        beg, end = q.get("beg", "0"), q["end"]  # stock_cyq_em asks lmt=210 up to today, no beg
        path_ = FIX / f"eastmoney_kline_raw_{code}.csv"
        rows = _csv(path_.name) if path_.exists() else []
        lines = [",".join([r["日期"], r["开盘"], r["收盘"], r["最高"], r["最低"], r["成交量"], r["成交额"], r["振幅"],
                           r["涨跌幅"], r["涨跌额"], r["换手率"]])
                 for r in rows if beg <= r["日期"].replace("-", "") <= end]
        if not rows:
            return json.dumps({"rc": 0, "rt": 17, "data": None})
        return json.dumps({"rc": 0, "rt": 17, "data": {"code": code, "market": int(q["secid"][0]), "name": code,
                                                       "decimal": 2, "dktotal": len(rows), "klines": lines}},
                          ensure_ascii=False)

    # -- Sina factors ------------------------------------------------------------------
    def sina_hfq(self, q: dict[str, str], path: str) -> str:
        """stock_zh_a_daily(adjust='hfq-factor') (akshare/stock/stock_zh_a_sina.py:160-173): evals
        r.text.split('=')[1].split('\\n')[0] and reads ["data"], a list of 2-field records renamed
        positionally to date, hfq_factor. Key names d/f: from Sina's hfq.js as we remember it
        (GUESS; akshare ignores them). Numbers: sz000002 real (akshare docs), sz000001/sh600000
        DERIVED (see PROVENANCE.md)."""
        sym = path.split("/")[-2]
        name = {"sz000002": "sina_hfq_factor_sz000002_docs.csv"}.get(sym, f"sina_hfq_factor_{sym}_DERIVED.csv")
        rows = _csv(name)
        data = [{"d": r["date"], "f": r["hfq_factor"]} for r in rows]
        return f"var {sym}hfq={json.dumps({'total': len(data), 'data': data})}\n/* recorded */"

    # -- Eastmoney datacenter ----------------------------------------------------------
    SHAREBONUS_KEYS = [  # 30 positional fields (stock_fhps_em.py:183-214); key names are placeholders
        "SECUCODE", "SECURITY_CODE", "SECURITY_NAME_ABBR", "SECURITY_TYPE", "X4", "BONUS_IT_RATIO",
        "BONUS_RATIO", "IT_RATIO", "PRETAX_BONUS_RMB", "PUBLISH_DATE", "EQUITY_RECORD_DATE", "EX_DIVIDEND_DATE",
        "REPORT_DATE", "ASSIGN_PROGRESS", "IMPL_PLAN_PROFILE", "NOTICE_DATE", "X16", "X17", "X18", "BASIC_EPS",
        "BVPS", "PER_CAPITAL_RESERVE", "PER_UNASSIGN_PROFIT", "PNP_YOY_RATIO", "TOTAL_SHARES", "PLAN_NOTICE_DATE",
        "DIVIDENT_RATIO", "X27", "X28", "X29"]
    SHAREBONUS_FROM = {  # akshare's column name (after its positional rename) -> our placeholder key
        "送转股份-送转总比例": "BONUS_IT_RATIO", "送转股份-送股比例": "BONUS_RATIO", "送转股份-转股比例": "IT_RATIO",
        "现金分红-现金分红比例": "PRETAX_BONUS_RMB", "业绩披露日期": "PUBLISH_DATE", "股权登记日": "EQUITY_RECORD_DATE",
        "除权除息日": "EX_DIVIDEND_DATE", "报告期": "REPORT_DATE", "方案进度": "ASSIGN_PROGRESS",
        "现金分红-现金分红比例描述": "IMPL_PLAN_PROFILE", "最新公告日期": "NOTICE_DATE", "每股收益": "BASIC_EPS",
        "每股净资产": "BVPS", "每股公积金": "PER_CAPITAL_RESERVE", "每股未分配利润": "PER_UNASSIGN_PROFIT",
        "净利润同比增长": "PNP_YOY_RATIO", "总股本": "TOTAL_SHARES", "预案公告日": "PLAN_NOTICE_DATE",
        "现金分红-股息率": "DIVIDENT_RATIO"}

    def em_sharebonus(self, q: dict[str, str], path: str) -> str:
        """stock_fhps_detail_em (stock_fhps_em.py:141-236) / stock_fhps_em (:15-): read
        r.json()["result"]["pages"] then ["result"]["data"] (records, renamed by position). An
        empty filter answers `"result": null` (Eastmoney's datacenter convention), on which both
        raise TypeError in akshare 1.19.5. Numbers: 000001 real (stock_fhps_detail_em prober sample);
        600000 reconstructed (PROVENANCE.md)."""
        flt = q["filter"]
        if "SECURITY_CODE" in flt:
            code = flt.split('"')[1]
            path_ = FIX / f"stock_fhps_detail_em_{code}.csv"
            rows = _csv(path_.name) if path_.exists() else []
        else:
            period = flt.split("'")[1].replace("-", "")
            return self._fhps_period(period)
        if not rows:
            return json.dumps({"version": None, "result": None, "success": False, "message": "返回数据为空", "code": 9201})
        data = []
        for r in rows:
            rec = {k: None for k in self.SHAREBONUS_KEYS}
            rec["SECURITY_CODE"] = flt.split('"')[1] if '"' in flt else None
            for col, key in self.SHAREBONUS_FROM.items():
                v = r.get(col, "")
                if v in ("", None):
                    rec[key] = None
                elif col in ("业绩披露日期", "股权登记日", "除权除息日", "报告期", "最新公告日期", "预案公告日"):
                    rec[key] = f"{v} 00:00:00"
                else:
                    try:
                        rec[key] = float(v)
                    except ValueError:
                        rec[key] = v
            data.append(rec)
        return json.dumps({"version": "x", "result": {"pages": 1, "data": data, "count": len(data)},
                           "success": True, "message": "ok", "code": 0}, ensure_ascii=False)

    # stock_fhps_em's positional labels (stock_fhps_em.py:54-85) for the same 30 fields
    FHPS_EM_POS = {"名称": 1, "代码": 4, "送转股份-送转总比例": 5, "送转股份-送转比例": 6, "送转股份-转股比例": 7,
                   "现金分红-现金分红比例": 8, "预案公告日": 9, "股权登记日": 10, "除权除息日": 11, "方案进度": 13,
                   "最新公告日期": 15, "每股收益": 19, "每股净资产": 20, "每股公积金": 21, "每股未分配利润": 22,
                   "净利润同比增长": 23, "总股本": 24, "现金分红-股息率": 26}

    def _fhps_period(self, period: str) -> str:
        """stock_fhps_em(date=period): the real first 20 rows of the 2023-12-31 cross-section
        (prober sample); any other period answers `result: null`."""
        if period != "20231231":
            return json.dumps({"version": None, "result": None, "success": False, "message": "返回数据为空", "code": 9201})
        data = []
        for r in _csv("stock_fhps_em_20231231_head20.csv"):
            rec = {k: None for k in self.SHAREBONUS_KEYS}
            for col, pos in self.FHPS_EM_POS.items():
                v = r.get(col, "")
                rec[self.SHAREBONUS_KEYS[pos]] = None if v == "" else (f"{v} 00:00:00" if col in (
                    "预案公告日", "股权登记日", "除权除息日", "最新公告日期") else v)
            data.append(rec)
        return json.dumps({"result": {"pages": 1, "data": data, "count": len(data)}, "success": True},
                          ensure_ascii=False)

    def em_value(self, q: dict[str, str], path: str) -> str:
        """stock_value_em (stock_feature/stock_value_em.py:14-80): result.data records with the
        RPT_VALUEANALYSIS_DET keys it renames. SYNTHETIC numbers (no recording exists): one row per
        recorded bar, PE 5.0 / PB 0.6 / caps 1e11."""
        code = q["filter"].split('"')[1]
        path_ = FIX / f"eastmoney_kline_raw_{code}.csv"
        rows = _csv(path_.name) if path_.exists() else []
        data = [{"SECURITY_CODE": code, "TRADE_DATE": f"{r['日期']} 00:00:00", "CLOSE_PRICE": float(r["收盘"]),
                 "CHANGE_RATE": float(r["涨跌幅"]), "TOTAL_MARKET_CAP": 1.0e11, "NOTLIMITED_MARKETCAP_A": 0.9e11,
                 "TOTAL_SHARES": 1.9e10, "FREE_SHARES_A": 1.9e10, "PE_TTM": 5.0, "PE_LAR": 5.1, "PB_MRQ": 0.6,
                 "PEG_CAR": 1.0, "PCF_OCF_TTM": 2.0, "PS_TTM": 1.5} for r in rows]
        return json.dumps({"result": {"pages": 1, "data": data, "count": len(data)}, "success": True})

    def em_yjbb(self, q: dict[str, str], path: str) -> str:
        """stock_yjbb_em (stock_feature/stock_yjbb_em.py:16-) and stock_hsgt_individual_em's inner
        __stock_hsgt_individual_zh_a_em (stock_feature/stock_hsgt_em.py:1423-): read
        r.json()["result"]["pages"]; only the empty answer (`"result": null`) is recorded here
        (no northbound recording exists; Eastmoney stopped daily holdings in 2024)."""
        return json.dumps({"version": None, "result": None, "success": False, "message": "返回数据为空", "code": 9201})

    # -- margin ------------------------------------------------------------------------
    SSE_MARGIN_KEYS = ["x0", "opDate", "rqchl", "rqmcl", "rqyl", "x5", "x6", "rzchje", "rzmre", "x9", "rzye",
                       "securityAbbr", "stockCode"]  # 13 positional fields (stock_margin_sse.py:169-183); names GUESSED

    def sse_margin_json(self, q: dict[str, str], path: str) -> str:
        """stock_margin_detail_sse (stock_feature/stock_margin_sse.py:137-): pd.DataFrame(r.json()["result"])
        renamed by position to _, 信用交易日期, 融券偿还量, 融券卖出量, 融券余量, _, _, 融资偿还额, 融资买入额, _,
        融资余额, 标的证券简称, 标的证券代码. Numbers: the docs sample of 2023-09-22 (ETFs 510050.. first);
        融资余额/买入额/偿还额 were elided there: SYNTHETIC 1e8 + row number."""
        rows = []
        for i, r in enumerate(self.sse_margin):
            vals = [None, q["detailsDate"], int(r["融券偿还量"]), int(r["融券卖出量"]), int(r["融券余量"]), None, None,
                    5.0e7, 6.0e7, None, 1.0e8 + i, r["标的证券简称"], r["标的证券代码"]]
            rows.append(dict(zip(self.SSE_MARGIN_KEYS, vals)))
        return json.dumps({"result": rows, "pageHelp": {"total": len(rows)}}, ensure_ascii=False)

    def szse_margin_xlsx(self, q: dict[str, str], path: str) -> bytes:
        """stock_margin_detail_szse (stock_feature/stock_margin_szse.py:95-): read_excel of the xlsx
        body (证券代码 as str), 8 columns renamed by position, thousands separators stripped with
        .str (so the cells are text, as SZSE serves them). Numbers: docs sample of 2023-09-25;
        融资余额 elided there: = 融资融券余额 - 融券余额 (exact by definition)."""
        out = []
        for r in self.szse_margin:
            fin = int(r["融资融券余额"]) - int(r["融券余额"])
            out.append([r["证券代码"], r["证券简称"], f"{int(r['融资买入额']):,}", f"{fin:,}", f"{int(r.get('融券卖出量') or 0):,}",
                        f"{int(r['融券余量']):,}", f"{int(r['融券余额']):,}", f"{int(r['融资融券余额']):,}"])
        cols = ["证券代码", "证券简称", "融资买入额(元)", "融资余额(元)", "融券卖出量(股/份)", "融券余量(股/份)",
                "融券余额(元)", "融资融券余额(元)"]
        return _xlsx(pd.DataFrame(out, columns=cols))


    # -- reference lists ---------------------------------------------------------------
    # Listed stocks: 000001's list date is a public fact (1991-04-03); 600000's (1999-11-10) is blanked
    # as the "missing list date" hazard (it has bars, so staging must fill it); the stocks of
    # the margin samples are listed too (list dates SYNTHETIC), as in a whole-market list. SYNTHETIC
    # hazard data: 000002 with an EMPTY listing date, a STAR stock without bars, B shares
    # and an ETF-like code in the lists, delisted 600087 (list 1997-06-11, delist 2014-06-05).
    def sse_list(self, q: dict[str, str], path: str) -> str:
        """stock_info_sh_name_code (akshare/stock/stock_info.py:122-182): result records with
        A_STOCK_CODE/B_STOCK_CODE, SEC_NAME_CN, SEC_NAME_FULL, COMPANY_ABBR, FULL_NAME, LIST_DATE."""
        # 600000's real list date is 1999-11-10: left EMPTY on purpose (the missing-list-date hazard)
        rows = {"1": [("600000", "浦发银行", "")], "8": [("688981", "中芯国际", "20200716")],
                "2": [("900901", "云赛B股", "19920227")]}[q["STOCK_TYPE"]]
        if q["STOCK_TYPE"] == "8":  # the STAR stocks of the margin sample: a whole-market list has them
            rows += [(r["标的证券代码"], r["标的证券简称"], "20200101") for r in self.sse_margin
                     if r["标的证券代码"].startswith("68") and r["标的证券代码"] != "688981"]
        res = [{"A_STOCK_CODE": c, "B_STOCK_CODE": c, "SEC_NAME_CN": n, "SEC_NAME_FULL": n, "COMPANY_ABBR": n,
                "FULL_NAME": n, "LIST_DATE": d, "COMPANY_CODE": c} for c, n, d in rows]
        return json.dumps({"result": res, "pageHelp": {"total": len(res)}}, ensure_ascii=False)

    def sse_delist(self, q: dict[str, str], path: str) -> str:
        """stock_info_sh_delist (stock_info.py:286-352): COMPANY_CODE, COMPANY_ABBR, LIST_DATE,
        DELIST_DATE. 900956 (a B share) is the hazard: the 全部 list holds B shares too."""
        res = [{"COMPANY_CODE": "600087", "COMPANY_ABBR": "退市长油", "LIST_DATE": "19970611", "DELIST_DATE": "20140605"},
               {"COMPANY_CODE": "900956", "COMPANY_ABBR": "东贝B股", "LIST_DATE": "19990715", "DELIST_DATE": "20201231"}]
        return json.dumps({"result": res, "pageHelp": {"total": len(res)}}, ensure_ascii=False)

    def szse_list(self, q: dict[str, str], path: str) -> bytes:
        """stock_info_sz_name_code('A股列表') (stock_info.py:20-119): xlsx with 板块, A股代码, A股简称,
        A股上市日期, A股总股本, A股流通股本, 所属行业 (codes as numbers, akshare zero-pads them)."""
        df = pd.DataFrame({"板块": ["主板", "主板"], "A股代码": [1, 2], "A股简称": ["平安银行", "万科Ａ"],
                           "A股上市日期": ["1991-04-03", None], "A股总股本": ["19,405,918,198", "11,930,709,471"],
                           "A股流通股本": ["19,405,546,950", "9,716,399,471"], "所属行业": ["J 金融业", "K 房地产"]})
        more = [r for r in self.szse_margin if r["证券代码"] not in ("000001", "000002")]  # margin sample's stocks
        df = pd.concat([df, pd.DataFrame({"板块": "主板", "A股代码": [int(r["证券代码"]) for r in more],
                                          "A股简称": [r["证券简称"] for r in more], "A股上市日期": "2010-01-04",
                                          "A股总股本": "1", "A股流通股本": "1", "所属行业": "-"})], ignore_index=True)
        return _xlsx(df)

    def szse_delist(self, q: dict[str, str], path: str) -> bytes:
        """stock_info_sz_delist (stock_info.py:355-384): xlsx 证券代码, 证券简称, 上市日期, 终止上市日期;
        200xxx = a B share (hazard)."""
        return _xlsx(pd.DataFrame({"证券代码": [3, 200003], "证券简称": ["PT金田Ａ", "PT金田Ｂ"],
                                   "上市日期": ["1991-07-03", "1995-06-30"], "终止上市日期": ["2002-06-14", "2002-06-14"]}))

    BSE_KEYS = [f"k{i:02d}" for i in range(48)]  # 48 positional fields (stock_info.py:217-266); names GUESSED

    def bse_list(self, q: dict[str, str], path: str) -> str:
        """stock_info_bj_name_code (stock_info.py:185-283): JSONP-ish text, json.loads(text[find('['):-1]),
        [0]["totalPages"], [0]["content"] records renamed by position (上市日期 at 0, 流通股本 11, 所属行业 17,
        报告日期 22, 地区 29, 券商 35, 总股本 36, 证券代码 38, 证券简称 40). SYNTHETIC row."""
        rec = dict.fromkeys(self.BSE_KEYS, "")
        rec.update({"k00": "20151123", "k11": 1.0e8, "k17": "医药制造业", "k22": "20240630", "k29": "北京",
                    "k35": "券商", "k36": 2.7e8, "k38": "430047", "k40": "诺思兰德"})
        return "null(" + json.dumps([{"content": [rec], "totalPages": 1}], ensure_ascii=False) + ")"

    def sw_clf(self, q: dict[str, str], path: str) -> bytes:
        """stock_industry_clf_hist_sw (stock/stock_industry_sw.py:17-45): read_excel of the SWS file
        with 股票代码, 计入日期, 行业代码, 更新日期. Rows: the akshare docs sample (real) + 600000 in
        480201 (SYNTHETIC; the sample has no 600000 row)."""
        rows = _csv("stock_industry_clf_hist_sw_docs.csv") + [
            {"symbol": "600000", "start_date": "2021-07-30", "industry_code": "480201", "update_time": "2021-07-31"}]
        return _xlsx(pd.DataFrame({"股票代码": [r["symbol"] for r in rows], "计入日期": [r["start_date"] for r in rows],
                                   "行业代码": [r["industry_code"] for r in rows],
                                   "更新日期": [r["update_time"] for r in rows]}))

    CLIST_FIELDS = ["f2", "f3", "f4", "f5", "f6", "f7", "f8", "f9", "f10", "f11", "f12", "f13", "f14", "f15", "f16",
                    "f17", "f18", "f20", "f21", "f22", "f23", "f24", "f25", "f62", "f115", "f128", "f136", "f152",
                    "f140", "f141"]  # 30 positional fields after 序号 (stock_zh_a_special.py:37-68); last two GUESSED

    def em_clist(self, q: dict[str, str], path: str) -> str:
        """Eastmoney clist via akshare.utils.func.fetch_paginated_data (utils/func.py:16-55): data.total
        and data.diff records. fs 'm:0 f:4,m:1 f:4' = the ST board (stock_zh_a_st_em: one SYNTHETIC
        row, 600005 *ST); 'm:90 t:2' = industry boards (_get_stock_sector_fund_flow_summary_code,
        stock/stock_fund_em.py:713-735: f12 code, f14 name; rows = the real docs sample)."""
        if "f:4" in q.get("fs", ""):
            items = [("600005", "*ST武钢")]
        else:
            items = [(r["板块代码"], r["板块名称"]) for r in _csv("stock_board_industry_name_em_docs.csv")]
        diff = []
        for code, name in items:
            rec = dict.fromkeys(self.CLIST_FIELDS, "-")
            rec.update({"f2": 1.0, "f3": 0.5, "f12": code, "f13": 1, "f14": name})
            diff.append(rec)
        return json.dumps({"rc": 0, "data": {"total": len(diff), "diff": diff}}, ensure_ascii=False)

    def em_fflow(self, q: dict[str, str], path: str) -> str:
        """stock_individual_fund_flow (stock/stock_fund_em.py:20-) and stock_sector_fund_flow_hist
        (:1024-): data.klines, 15 comma fields: 日期, 主力/小单/中单/大单/超大单 净额, the same 净占比,
        then 收盘价, 涨跌幅, -, - (stock) or -, -, -, - (board). SYNTHETIC flows on the recorded days."""
        secid = q["secid"]
        code = secid.split(".")[1]
        path_ = FIX / f"eastmoney_kline_raw_{code}.csv"
        days = [r["日期"] for r in _csv(path_.name)] if path_.exists() else \
            [d for d in _read_days() if "2016-06-01" <= d <= "2016-06-30"]
        lines = [f"{d},{-1.5e7 + 1e6 * i},1e6,2e6,-3e6,-1.2e7,-1.5,0.1,0.2,-0.3,-1.2,10.0,0.5,0,0"
                 for i, d in enumerate(days)]
        return json.dumps({"rc": 0, "data": {"code": code, "klines": lines}})

    def em_trends(self, q: dict[str, str], path: str) -> str:
        """stock_zh_a_hist_min_em(period='1') (stock_feature/stock_hist_em.py:1042-1100): data.trends,
        'time,open,close,high,low,volume,amount,avg' per minute, Beijing wall clock. SYNTHETIC bars:
        a main-board stock in 手 (000001) and a STAR stock quoted in 股 (688981; Eastmoney's STAR
        unit is unproven, this is the hazard case)."""
        code = q["secid"].split(".")[1]
        if code.startswith("688"):
            trends = ["2024-01-11 09:31,40.00,40.10,40.20,39.90,120000,4812000.00,40.10",
                      "2024-01-11 09:32,40.10,40.00,40.10,39.95,80000,3202000.00,40.06"]
        else:
            trends = ["2024-01-11 09:31,9.20,9.21,9.22,9.19,120,110520.00,9.21",
                      "2024-01-11 09:32,9.21,9.20,9.21,9.19,80,73600.00,9.21"]
        return json.dumps({"rc": 0, "data": {"code": code, "trends": trends}})

    def sina_calendar(self, q: dict[str, str], path: str) -> str:
        """tool_trade_date_hist_sina (akshare/tool/trade_date_hist.py:19-41) evals Sina's KLC-encoded
        string with a JS decoder (stock/cons.py hk_js_decode); that bit-level encoding is NOT
        reproduced here: the body carries the plain dates and `install` swaps the decoder of that
        one module for a plain split (the only place akshare's own parsing is bypassed). Dates:
        real trading days 2016-04-01..2016-07-29 (the Eastmoney bars of 000001)."""
        return 'var datelist="' + ",".join(_read_days()) + '";'


def _read_days() -> list[str]:
    return (FIX / "trade_days_2016_04_07.txt").read_text().split()


class _PlainDecoder:
    """Stand-in for py_mini_racer.MiniRacer in akshare.tool.trade_date_hist only (see sina_calendar)."""

    def eval(self, js: str) -> None:
        return None

    def call(self, fn: str, s: str) -> list[str]:
        assert fn == "d"
        return s.split(",")


def install(monkeypatch: Any) -> Wire:
    """Route every requests transport call through a fresh Wire; returns it for inspection."""
    import types

    import akshare.stock.stock_info as info
    import akshare.tool.trade_date_hist as tdh

    wire = Wire()
    monkeypatch.setattr(tdh, "py_mini_racer", types.SimpleNamespace(MiniRacer=_PlainDecoder))
    monkeypatch.setattr(requests.adapters.HTTPAdapter, "send",
                        lambda self, request, **kw: wire.send(self, request, **kw))
    for fn in (info.stock_info_bj_name_code, info.stock_info_a_code_name):  # lru_cache'd upstream
        fn.cache_clear()
    return wire

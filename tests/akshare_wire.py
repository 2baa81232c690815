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
from datetime import date
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
                    "RPT_LICO_FN_CPD": self.em_yjbb}[q["reportName"]]
        if host == "query.sse.com.cn" and path == "/marketdata/tradedata/queryMargin.do":
            return self.sse_margin_json
        if host == "www.szse.cn" and path == "/api/report/ShowReport" and q.get("CATALOGID") == "1837_xxpl":
            return self.szse_margin_xlsx
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
        beg, end = q["beg"], q["end"]
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
            rows = [] if period in self.null_periods else []
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
        """stock_yjbb_em (stock_feature/stock_yjbb_em.py:16-): reads r.json()["result"]["pages"]; only
        the empty-period answer (`"result": null`) is recorded here."""
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


def install(monkeypatch: Any) -> Wire:
    """Route every requests transport call through a fresh Wire; returns it for inspection."""
    import akshare.stock.stock_info as info

    wire = Wire()
    monkeypatch.setattr(requests.adapters.HTTPAdapter, "send", lambda self, request, **kw: wire.send(self, request, **kw))
    for fn in (info.stock_info_bj_name_code, info.stock_info_a_code_name):  # lru_cache'd upstream
        fn.cache_clear()
    return wire

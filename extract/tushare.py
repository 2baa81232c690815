"""tushare pro -> raw tables: the paid, cleanest source (needs TUSHARE_TOKEN and enough points).

tushare already spells codes `600000.SH`; the work here is units: `vol` in lots, `amount` in
thousands of yuan, market values in 10,000 yuan, share counts in 10,000 shares, percentages
everywhere, dates as 'YYYYMMDD' strings. The token comes only from the environment and is never
logged or written to disk (tushare's own `set_token` would write it to ~/tk.csv).
"""
from __future__ import annotations

import os
from datetime import date, timedelta
from typing import Any

import pandas as pd

from aquant.config import ConfigError

from .jobs import Context, Frame, Job
from .normalize import LOT, board_of, check_bars, concentration, num, require, to_date, ymd

SOURCE = "tushare"
THOUSAND = 1_000.0
WAN = 10_000.0  # 万

# A report for period P is due within 4 months of P (annual), 2 (H1), 1 (Q1/Q3) (CSRC 上市公司信息
# 披露管理办法 2021 art. 13, effective 2021-05-01; the same deadlines before); restatements come
# later. Periods this far before an announcement window are still asked for.
REPORT_LOOKBACK_DAYS = 400
FINA_ROW_CAP = 100  # fina_indicator: 每次请求最多返回100条记录 (tushare doc_id=79)
FINA_SLICE_YEARS = 5
DAILY_ROW_CAP = 6000  # daily: 每次调用最多 6000 条 (tushare doc_id=27); adj_factor / daily_basic answer less
DAILY_SLICE_YEARS = 10  # <= ~2,450 sessions per call
  # <= 20 periods x a few versions per call, well under the cap

BOARDS = {"主板": "main", "中小板": "main", "创业板": "chinext", "科创板": "star", "北交所": "bse"}


class TushareExtractor:
    """Maps tushare pro frames to the contract. `client` is a `tushare.pro_api()` object or a fake."""

    source = SOURCE

    def __init__(self, client: Any = None):
        self.pro = client if client is not None else default_client()

    def jobs(self) -> list[Job]:
        return [
            Job("trade_calendar", "trade_calendar", "market", self.trade_calendar),
            Job("stock_info", "stock_info", "market", self.stock_info),
            Job("daily_quote", "daily_quote", "stock", self.daily_quote),
            Job("finance_data", "finance_data", "stock", self.finance_data, watermark_col="ann_date"),
            Job("dividend", "dividend", "stock", self.dividend, watermark_col="announced"),
            Job("funds_flow", "funds_flow", "stock", self.funds_flow),
            Job("chip_distribution", "chip_distribution", "stock", self.chip_distribution),
        ]

    # -- reference data -----------------------------------------------------------------
    def trade_calendar(self, unit: str, ctx: Context) -> list[Frame]:
        origin = "tushare.trade_cal"
        raw = require(self.pro.trade_cal(exchange="SSE", start_date="19901219", end_date=f"{ctx.end.year + 1}1231"),
                      ["cal_date", "is_open"], origin, allow_empty=False)
        df = pd.DataFrame({"trade_date": to_date(raw["cal_date"]), "is_open": num(raw["is_open"]) == 1})
        return [Frame("trade_calendar", df, SOURCE, origin)]

    def stock_info(self, unit: str, ctx: Context) -> list[Frame]:
        """Listed, delisted and suspended stocks with SW2021 level-1/2 industry."""
        origin = "tushare.stock_basic"
        cols = ["ts_code", "name", "market", "list_date", "delist_date", "list_status"]
        parts = [require(self.pro.stock_basic(exchange="", list_status=st, fields=",".join(cols)), cols, origin)
                 for st in ("L", "D", "P")]
        raw = require(pd.concat(parts, ignore_index=True), cols, origin, allow_empty=False)
        df = pd.DataFrame({"code": raw["ts_code"], "name": raw["name"].astype(str),
                           "exchange": raw["ts_code"].str[-2:], "list_date": to_date(raw["list_date"]),
                           "delist_date": to_date(raw["delist_date"])})
        df["board"] = raw["market"].map(BOARDS).fillna(df["code"].map(board_of))
        df["is_st"] = df["name"].str.contains("ST", na=False)
        ind = self._sw_members()
        df = df.merge(ind, on="code", how="left")
        return [Frame("stock_info", df, SOURCE, origin)]

    def _sw_members(self) -> pd.DataFrame:
        """Current SW2021 membership per stock (index_member_all pages by level-1 code)."""
        cls = require(self.pro.index_classify(level="L1", src="SW2021"), ["index_code", "industry_name"],
                      "tushare.index_classify")
        origin = "tushare.index_member_all"
        parts = []
        for l1 in cls["index_code"]:
            m = require(self.pro.index_member_all(l1_code=l1, is_new="Y"), ["ts_code", "l1_name", "l2_name"], origin)
            if len(m):
                parts.append(m)
        if not parts:
            return pd.DataFrame(columns=["code", "industry_l1", "industry_l2"])
        m = pd.concat(parts, ignore_index=True).drop_duplicates("ts_code", keep="last")
        return pd.DataFrame({"code": m["ts_code"], "industry_l1": m["l1_name"], "industry_l2": m["l2_name"]})

    # -- per stock ----------------------------------------------------------------------
    def _window(self, code: str, ctx: Context) -> dict[str, str]:
        return {"ts_code": code, "start_date": ymd(ctx.start), "end_date": ymd(ctx.end)}

    def _paged(self, fn: Any, code: str, first: date, last: date, cols: list[str], origin: str,
               years: int = DAILY_SLICE_YEARS, cap: int = DAILY_ROW_CAP) -> pd.DataFrame:
        """A per-stock date-range API over [first, last] in windows of `years`: tushare answers at
        most `cap` rows per call (daily 每次调用最多 6000 条, doc_id=27; fina_indicator 100,
        doc_id=79), so a long range in one call would be cut silently. A window that comes back
        at the cap fails the unit instead."""
        parts, lo = [], first
        while lo <= last:
            hi = min(last, date(lo.year + years, lo.month, 1) - timedelta(days=1))
            part = require(fn(ts_code=code, start_date=ymd(lo), end_date=ymd(hi)), cols, origin)
            if len(part) >= cap:
                raise ValueError(f"{code}: {origin} returned {len(part)} rows for {lo}..{hi}, its per-call cap; "
                                 f"rows may be cut off (ask in shorter windows)")
            if len(part):
                parts.append(part)
            lo = hi + timedelta(days=1)
        return pd.concat(parts, ignore_index=True) if parts else pd.DataFrame(columns=cols)

    def daily_quote(self, code: str, ctx: Context) -> list[Frame]:
        """daily (lots, thousand yuan) + adj_factor + daily_basic (%, 10k yuan)."""
        origin = "tushare.daily"
        d = self._paged(self.pro.daily, code, ctx.start, ctx.end,
                        ["ts_code", "trade_date", "open", "high", "low", "close", "pre_close", "vol", "amount"], origin)
        if d.empty:
            return [Frame("daily_quote", pd.DataFrame(columns=["code", "trade_date"]), SOURCE, origin)]
        a = self._paged(self.pro.adj_factor, code, ctx.start, ctx.end, ["trade_date", "adj_factor"],
                        "tushare.adj_factor")
        b = self._paged(self.pro.daily_basic, code, ctx.start, ctx.end,
                        ["trade_date", "turnover_rate", "pe_ttm", "pb", "total_mv", "circ_mv"], "tushare.daily_basic")
        df = pd.DataFrame({"code": code, "trade_date": to_date(d["trade_date"]), "open": num(d["open"]),
                           "high": num(d["high"]), "low": num(d["low"]), "close": num(d["close"]),
                           "pre_close": num(d["pre_close"]), "volume": num(d["vol"]) * LOT,
                           "amount": num(d["amount"]) * THOUSAND})
        adj = pd.DataFrame({"trade_date": to_date(a["trade_date"]), "adj_factor": num(a["adj_factor"])})
        basic = pd.DataFrame({"trade_date": to_date(b["trade_date"]), "turnover_rate": num(b["turnover_rate"]) / 100,
                              "pe_ttm": num(b["pe_ttm"]), "pb": num(b["pb"]), "total_mv": num(b["total_mv"]) * WAN,
                              "circ_mv": num(b["circ_mv"]) * WAN})
        df = df.merge(adj, on="trade_date", how="left").merge(basic, on="trade_date", how="left")
        return [Frame("daily_quote", check_bars(df.sort_values("trade_date"), origin), SOURCE, origin)]

    def finance_data(self, code: str, ctx: Context) -> list[Frame]:
        """Reports ANNOUNCED in [ctx.start, ctx.end] (the job's watermark is the announcement
        date): fina_indicator (eps, bps, roe %, netprofit_yoy %) + income (revenue, parent net
        profit, CNY).

        The two APIs filter their dates differently (tushare docs): fina_indicator's
        start_date/end_date are REPORT PERIODS (doc_id=79, 报告期开始/结束日期), income's are
        ANNOUNCEMENT dates (doc_id=33, 公告开始/结束日期). Asking both for the same window lost
        every report announced in the window for a period before it (the Q4 report announced in
        March of a window starting in January; a restatement of an old period), and the run
        still said "ok". So fina_indicator is asked for every period that can still be announced
        in the window (REPORT_LOOKBACK_DAYS before its start) and its rows are then kept by
        announcement date; income is asked by announcement date from that same earlier day, so
        it covers every period fina_indicator returns. A report income announced in the window
        that fina_indicator does not return fails the unit instead of vanishing.
        """
        origin = "tushare.fina_indicator"
        first_period = ctx.start - timedelta(days=REPORT_LOOKBACK_DAYS)
        fi = self._fina_indicator(code, first_period, ctx.end)
        inc = require(self.pro.income(ts_code=code, start_date=ymd(first_period), end_date=ymd(ctx.end),
                                      fields="ts_code,ann_date,end_date,total_revenue,n_income_attr_p"),
                      ["ann_date", "end_date", "total_revenue", "n_income_attr_p"], "tushare.income")
        empty = [Frame("finance_data", pd.DataFrame(columns=["code", "report_period", "ann_date"]), SOURCE, origin)]
        inc = pd.DataFrame({"report_period": to_date(inc["end_date"]), "inc_ann": to_date(inc["ann_date"]),
                            "revenue": num(inc["total_revenue"]), "net_profit": num(inc["n_income_attr_p"])}) \
            if len(inc) else pd.DataFrame(columns=["report_period", "inc_ann", "revenue", "net_profit"])
        announced = inc[(inc["inc_ann"] >= ctx.start) & (inc["inc_ann"] <= ctx.end)]
        if fi.empty:
            if len(announced):
                raise ValueError(f"{code}: tushare.income has reports announced {ctx.start}..{ctx.end} for periods "
                                 f"{[str(d) for d in sorted(set(announced['report_period']))]} that "
                                 f"fina_indicator (asked for periods "
                                 f"{first_period}..{ctx.end}) does not return; not loading half a report")
            return empty
        df = pd.DataFrame({"code": code, "report_period": to_date(fi["end_date"]), "ann_date": to_date(fi["ann_date"]),
                           "roe": num(fi["roe"]) / 100, "eps": num(fi["eps"]), "bps": num(fi["bps"]),
                           "net_profit_yoy": num(fi["netprofit_yoy"]) / 100})
        df = df[df["ann_date"].notna() & (df["ann_date"] >= ctx.start) & (df["ann_date"] <= ctx.end)]
        missing = [str(d) for d in sorted(set(announced["report_period"]) - set(df["report_period"]))]
        if missing:
            raise ValueError(f"{code}: tushare.income has reports announced {ctx.start}..{ctx.end} for periods "
                             f"{missing} "
                             f"that fina_indicator does not list as announced in that window; not loading half a "
                             f"report (check the fina_indicator period window)")
        if df.empty:
            return empty
        df = df.sort_values("ann_date").drop_duplicates("report_period", keep="last").reset_index(drop=True)
        return [Frame("finance_data", _with_income(df, inc), SOURCE, origin + "+income")]

    def _fina_indicator(self, code: str, first: date, last: date) -> pd.DataFrame:
        """fina_indicator over report periods [first, last], in slices under its 100-row cap
        (restated reports repeat a period)."""
        return self._paged(self.pro.fina_indicator, code, first, last,
                           ["ann_date", "end_date", "eps", "bps", "roe", "netprofit_yoy"], "tushare.fina_indicator",
                           FINA_SLICE_YEARS, FINA_ROW_CAP)

    def dividend(self, code: str, ctx: Context) -> list[Frame]:
        """Per report period the implemented plan (div_proc 实施) if any, else the latest stage.

        `dividend` has no date-range filter (doc_id=103: ts_code / ann_date / record_date /
        ex_date / imp_ann_date, matched exactly), so the whole history is asked and filtered
        here. `ann_date` is the plan's announcement (预案公告日); the implementation, with its
        ex-date, is announced later (imp_ann_date). A plan counts as news in the window when its
        latest announcement (the later of the two) falls in it, and the job's watermark follows
        that date: filtering on ann_date alone never saw a plan turn into an implementation.
        """
        origin = "tushare.dividend"
        raw = require(self.pro.dividend(ts_code=code), ["end_date", "ann_date", "div_proc", "stk_div", "cash_div_tax",
                                                        "ex_date"], origin)
        if raw.empty:
            return [Frame("dividend", pd.DataFrame(columns=["code", "report_period", "announced"]), SOURCE, origin)]
        imp = to_date(raw["imp_ann_date"]) if "imp_ann_date" in raw else pd.Series(None, index=raw.index, dtype=object)
        df = pd.DataFrame({"code": code, "report_period": to_date(raw["end_date"]),
                           "ann_date": to_date(raw["ann_date"]),
                           "ex_date": to_date(raw["ex_date"]), "cash_div_per_share": num(raw["cash_div_tax"]),
                           "bonus_ratio": num(raw["stk_div"]), "payout_ratio": float("nan"),
                           "done": raw["div_proc"].astype(str).eq("实施")})
        df["announced"] = [max(d for d in (a, i) if d is not None and not pd.isna(d)) if (a or i) else None
                           for a, i in zip(df["ann_date"], imp)]
        df = df[df["announced"].notna() & (df["announced"] <= ctx.end)]  # stages announced by the window's end
        df = df.sort_values(["done", "announced"]).drop_duplicates("report_period", keep="last").drop(columns="done")
        df = df[df["announced"] >= ctx.start]
        # payout = cash per share / EPS of the same report, when that report is already loaded
        eps = ctx.read("select report_period, eps from raw.finance_data where code = ?", [code])
        if len(eps):
            e = dict(zip(pd.to_datetime(eps["report_period"]).dt.date, eps["eps"]))
            per = df["report_period"].map(e).astype("float64")
            df["payout_ratio"] = (df["cash_div_per_share"] / per.where(per > 0)).round(6)
        return [Frame("dividend", df, SOURCE, origin)]

    def funds_flow(self, code: str, ctx: Context) -> list[Frame]:
        """moneyflow (10k yuan; main force = large + extra-large orders), hk_hold (shares),
        margin_detail (yuan)."""
        w = self._window(code, ctx)
        mf = require(self.pro.moneyflow(**w), ["trade_date", "buy_lg_amount", "sell_lg_amount", "buy_elg_amount",
                                               "sell_elg_amount"], "tushare.moneyflow")
        hk = require(self.pro.hk_hold(**w), ["trade_date", "vol"], "tushare.hk_hold")
        mg = require(self.pro.margin_detail(**w), ["trade_date", "rzye", "rqye"], "tushare.margin_detail")
        parts = []
        if len(mf):
            main = (num(mf["buy_lg_amount"]) + num(mf["buy_elg_amount"]) - num(mf["sell_lg_amount"])
                    - num(mf["sell_elg_amount"])) * WAN
            parts.append(pd.DataFrame({"trade_date": to_date(mf["trade_date"]), "main_net_inflow": main}))
        if len(hk):
            parts.append(pd.DataFrame({"trade_date": to_date(hk["trade_date"]), "north_hold_shares": num(hk["vol"])}))
        if len(mg):
            parts.append(pd.DataFrame({"trade_date": to_date(mg["trade_date"]), "margin_balance": num(mg["rzye"]),
                                       "short_balance": num(mg["rqye"])}))
        df = pd.DataFrame(columns=["trade_date"])
        for p in parts:
            df = p.drop_duplicates("trade_date") if df.empty else df.merge(p.drop_duplicates("trade_date"),
                                                                           on="trade_date", how="outer")
        df["code"] = code
        return [Frame("funds_flow", df, SOURCE, "tushare.moneyflow+hk_hold+margin_detail")]

    def chip_distribution(self, code: str, ctx: Context) -> list[Frame]:
        """cyq_perf: winner_rate %, cost percentiles -> 90 % range = 5th..95th, 70 % = 15th..85th."""
        origin = "tushare.cyq_perf"
        raw = require(self.pro.cyq_perf(**self._window(code, ctx)),
                      ["trade_date", "cost_5pct", "cost_15pct", "cost_85pct", "cost_95pct", "weight_avg",
                       "winner_rate"],
                      origin)
        df = pd.DataFrame({"code": code, "trade_date": to_date(raw["trade_date"]),
                           "profit_ratio": num(raw["winner_rate"]) / 100, "avg_cost": num(raw["weight_avg"]),
                           "cost_90_low": num(raw["cost_5pct"]), "cost_90_high": num(raw["cost_95pct"]),
                           "cost_70_low": num(raw["cost_15pct"]), "cost_70_high": num(raw["cost_85pct"])})
        df["concentration_90"] = concentration(df.cost_90_low, df.cost_90_high)
        df["concentration_70"] = concentration(df.cost_70_low, df.cost_70_high)
        return [Frame("chip_distribution", df, SOURCE, origin)]


def _with_income(df: pd.DataFrame, inc: pd.DataFrame) -> pd.DataFrame:
    """Revenue and net profit of the same period, from the income version announced by the
    indicator's announcement (the latest such), else the earliest one (same report, dated a
    day later upstream)."""
    if inc.empty:
        return df.assign(revenue=float("nan"), net_profit=float("nan"))
    out = []
    for row in df.itertuples(index=False):
        same = inc[inc["report_period"] == row.report_period].sort_values("inc_ann")
        known = same[same["inc_ann"] <= row.ann_date]
        pick = known.iloc[-1] if len(known) else (same.iloc[0] if len(same) else None)
        out.append((float("nan"), float("nan")) if pick is None else (pick["revenue"], pick["net_profit"]))
    return df.assign(revenue=[r for r, _ in out], net_profit=[p for _, p in out])


def default_client(timeout: float = 30.0) -> Any:
    """A tushare pro client built from $TUSHARE_TOKEN (never from ~/tk.csv, never logged)."""
    token = os.environ.get("TUSHARE_TOKEN", "").strip()
    if not token:
        raise ConfigError("TUSHARE_TOKEN is not set: create a token at https://tushare.pro (user centre) and "
                          "`export TUSHARE_TOKEN=...` before `aquant ingest --source tushare`")
    try:
        import tushare
    except ImportError as exc:
        raise ImportError("tushare is not installed: pip install 'aquant[tushare]'") from exc
    return tushare.pro_api(token=token, timeout=timeout)


EXTRACTOR = TushareExtractor

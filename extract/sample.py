"""A deterministic synthetic A-share market: the offline default source.

Every raw table is filled with data shaped like the real market: SSE trading days
(exchange_calendars XSHG), Shenwan level-1/2 industries, boards with their own price limits
(main ±10 %, ChiNext/STAR ±20 %, BSE ±30 %, ST ±5 %), market and industry co-movement,
limit-up/limit-down days (some sealed all day), suspensions, IPOs and a delisting, ST stocks,
cash dividends and bonus shares reflected in `adj_factor` (ex-dates may fall on non-trading days:
the price steps on the next session), cumulative quarterly reports announced weeks after period
end (a few restated later), and fund flows correlated with returns.

The hazards of real reference data are in it too (see SampleMarket._hazards): name/ST history with
an ST period that starts and ends and a stock that turns *ST later, an industry reclassification,
raw.stock_info holding today's values only, missing list dates, and ETF rows in the margin data.

Same config -> same frames, byte for byte. Random draws are made per calendar year from a seed
derived from (seed, year), so extending `end` appends days without changing history: a daily
run that moves `end` forward by one day only adds that day.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta

import numpy as np
import pandas as pd

from .chips import derive_chips

SOURCE = "sample"

# Shenwan 2021 level-1 industries, each with two level-2 names.
SW_INDUSTRIES: list[tuple[str, tuple[str, str]]] = [
    ("银行", ("国有大型银行", "股份制银行")), ("非银金融", ("证券", "保险")),
    ("食品饮料", ("白酒", "饮料乳品")), ("医药生物", ("化学制药", "医疗器械")),
    ("电子", ("半导体", "消费电子")), ("计算机", ("软件开发", "IT服务")),
    ("电力设备", ("光伏设备", "电池")), ("汽车", ("乘用车", "汽车零部件")),
    ("有色金属", ("工业金属", "能源金属")), ("基础化工", ("化学制品", "化学原料")),
    ("机械设备", ("通用设备", "专用设备")), ("房地产", ("房地产开发", "房地产服务")),
    ("家用电器", ("白色家电", "小家电")), ("公用事业", ("电力", "燃气")),
    ("交通运输", ("物流", "航运港口")), ("建筑装饰", ("基础建设", "专业工程")),
    ("通信", ("通信设备", "通信服务")), ("传媒", ("游戏", "广告营销")),
    ("国防军工", ("航空装备", "军工电子")), ("煤炭", ("煤炭开采", "焦炭")),
    ("石油石化", ("炼化及贸易", "油服工程")), ("钢铁", ("普钢", "特钢")),
    ("建筑材料", ("水泥", "玻璃玻纤")), ("农林牧渔", ("养殖业", "种植业")),
    ("商贸零售", ("一般零售", "互联网电商")), ("社会服务", ("旅游及景区", "教育")),
    ("轻工制造", ("造纸", "家居用品")), ("纺织服饰", ("服装家纺", "纺织制造")),
    ("美容护理", ("化妆品", "个护用品")), ("环保", ("环境治理", "环保设备")),
    ("综合", ("综合", "综合")),
]
_NAME_A = list("华中新天海光泰恒东金鑫宏安长盛宝兴国信通达明远")
_NAME_B = ["科技", "股份", "实业", "集团", "电子", "医药", "能源", "控股", "智能", "材料"]

BOARDS = {  # board -> (code prefixes, exchange suffix, probability, daily vol scale)
    "main": (["600", "000", "601", "002", "603", "001", "605", "003"], None, 0.60, 1.0),
    "chinext": (["300", "301"], "SZ", 0.20, 1.3),
    "star": (["688", "689"], "SH", 0.12, 1.4),
    "bse": (["830", "870", "831", "871", "832", "872", "833", "873", "834", "835", "836", "837", "838",
             "839", "430"], "BJ", 0.08, 1.5),
}
LIMITS = {"main": 0.10, "chinext": 0.20, "star": 0.20, "bse": 0.30, "st": 0.05}
# Point-in-time hazards (see SampleMarket._hazards): calendar days after `start`.
ST_LATER_DAYS = 500      # a stock becomes *ST for good
ST_FROM_DAYS = 300       # a stock is ST from here ...
ST_TO_DAYS = 650         # ... to here, then gets its old name back (撤销ST)
RECLASS_DAYS = 450       # a stock moves to another Shenwan L1 industry
NO_LIST_DATE_EVERY = 10  # every 10th stock has no list_date in stock_info
MARGIN_ETFS = ("510050.SH", "159915.SZ")  # ETFs the exchanges' margin lists carry


@dataclass(frozen=True)
class SampleConfig:
    """Knobs of the synthetic market. Defaults keep `aquant demo` to about a minute."""

    n_stocks: int = 60
    start: date = date(2021, 1, 4)
    end: date = date(2024, 12, 31)
    seed: int = 7
    chips: bool = True

    def __post_init__(self) -> None:
        if self.n_stocks < 1:
            raise ValueError(f"n_stocks must be >= 1, got {self.n_stocks}")
        if self.end < self.start:
            raise ValueError(f"end {self.end} is before start {self.start}")


def sessions(start: date, end: date) -> pd.DatetimeIndex:
    """SSE trading days (exchange_calendars XSHG) between start and end inclusive."""
    import exchange_calendars as xc

    cal = xc.get_calendar("XSHG")
    lo = max(pd.Timestamp(start), cal.first_session)
    hi = min(pd.Timestamp(end), cal.last_session)
    if hi < pd.Timestamp(end):
        raise ValueError(f"exchange_calendars' XSHG calendar ends {cal.last_session.date()}; "
                         f"cannot generate up to {end}")
    return cal.sessions_in_range(lo, hi)


def sessions_after(first: pd.Timestamp, offsets: np.ndarray) -> np.ndarray:
    """The first SSE session on or after `first + offset` calendar days, for each offset."""
    import exchange_calendars as xc

    cal = xc.get_calendar("XSHG")
    targets = pd.to_datetime(first) + pd.to_timedelta(offsets, "D")
    targets = targets.where(targets <= cal.last_session, cal.last_session)
    idx = cal.sessions.searchsorted(targets)
    return cal.sessions[np.minimum(idx, len(cal.sessions) - 1)].values


def _year_sessions(year: int) -> pd.DatetimeIndex:
    import exchange_calendars as xc

    cal = xc.get_calendar("XSHG")
    return cal.sessions[(cal.sessions.year == year)]


def _year_len(year: int) -> int:
    """Sessions in the calendar year (draw size), so draws never depend on the range's ends."""
    return len(_year_sessions(year))


def _year_rows(year: int, days: pd.DatetimeIndex) -> np.ndarray:
    """Positions of `days` among all sessions of their year."""
    return _year_sessions(year).get_indexer(days)


def _rng(seed: int, *tags: int) -> np.random.Generator:
    return np.random.default_rng(np.random.SeedSequence([seed, *tags]))


def _round2(x: np.ndarray) -> np.ndarray:
    return np.round(x + 1e-9, 2)


class SampleMarket:
    """Generates all raw tables for one SampleConfig (cached, each table built once)."""

    def __init__(self, cfg: SampleConfig = SampleConfig()):
        self.cfg = cfg
        self.days = sessions(cfg.start, cfg.end)
        if len(self.days) == 0:
            raise ValueError(f"no trading days between {cfg.start} and {cfg.end}")
        self._cache: dict[str, pd.DataFrame] = {}
        self._universe()
        self._fundamentals()
        self._prices()

    # -- universe ------------------------------------------------------------------------
    def _universe(self) -> None:
        cfg, r = self.cfg, _rng(self.cfg.seed, 0)
        n = cfg.n_stocks
        n_ind = min(len(SW_INDUSTRIES), max(3, n // 5))
        # Cyclic assignment keeps every industry populated; the last stock gets an industry of
        # its own when there is room, so "an industry with one stock" exists in the sample.
        ind_idx = np.arange(n) % max(1, n_ind - 1)
        if n >= 4 and n_ind < len(SW_INDUSTRIES):
            ind_idx[-1] = n_ind - 1
        boards = r.choice(list(BOARDS), size=n, p=[b[2] for b in BOARDS.values()])
        counters: dict[str, int] = {}
        codes, exch = [], []
        for b in boards:
            prefixes, suffix, _, _ = BOARDS[b]
            p = counters.get(b, 0)
            counters[b] = p + 1
            pre, num = prefixes[p % len(prefixes)], p // len(prefixes) + 1
            if num > 999:
                raise ValueError(f"sample market supports at most {999 * len(prefixes)} {b} stocks")
            codes.append(f"{pre}{num:03d}")
            exch.append(suffix or ("SH" if pre.startswith("6") else "SZ"))
        codes = [f"{c}.{e}" for c, e in zip(codes, exch)]
        is_st = (boards == "main") & (r.random(n) < 0.06)
        first = self.days[0]
        listed_before = r.random(n) < 0.85
        # IPO and delisting dates are calendar offsets from `start` (moved to the next session),
        # never fractions of the range, so moving `end` forward leaves history unchanged.
        ipo = sessions_after(first, r.integers(30, 700, n))
        list_date = np.where(listed_before,
                             (first - pd.to_timedelta(r.integers(200, 8000, n), "D")).values, ipo)
        list_date = pd.to_datetime(list_date)
        delist = np.full(n, np.datetime64("NaT"), dtype="datetime64[ns]")
        if n >= 20:
            j = int(np.argmax(is_st)) if is_st.any() else n - 2
            if listed_before[j]:
                delist[j] = sessions_after(first, np.array([900]))[0]
        shares = np.round(np.exp(r.normal(np.log(8e8), 1.0, n)), -4)
        names = []
        for i in range(n):
            nm = _NAME_A[(i * 3) % len(_NAME_A)] + _NAME_A[(i * 7 + 5) % len(_NAME_A)] + _NAME_B[i % len(_NAME_B)]
            names.append(("*ST" if i % 2 else "ST") + nm if is_st[i] else nm)
        ind = [SW_INDUSTRIES[k] for k in ind_idx]
        self.info = pd.DataFrame({
            "code": codes, "name": names, "exchange": exch, "board": boards,
            "industry_l1": [x[0] for x in ind],
            "industry_l2": [x[1][(i // max(1, n_ind)) % 2] for i, x in enumerate(ind)],
            "list_date": list_date.date, "delist_date": pd.to_datetime(delist).date, "is_st": is_st,
            "total_shares": shares, "float_shares": np.round(shares * r.uniform(0.5, 1.0, n), -4),
        })
        self.info.loc[self.info.delist_date.isna(), "delist_date"] = None
        self.n_ind = n_ind
        self.ind_idx = ind_idx
        self.beta = r.uniform(0.6, 1.4, n)
        self.vol_scale = np.array([BOARDS[b][3] for b in boards])
        self.board_limit = np.array([LIMITS[b] for b in boards])
        self._hazards(names, is_st, listed_before, delist)
        self.growth = np.clip(r.normal(0.08, 0.22, n), -0.6, 0.8)  # yearly profit growth
        self.loss_maker = r.random(n) < 0.06
        self.payout = np.where(r.random(n) < 0.2, r.uniform(0.0, 0.08, n), r.uniform(0.15, 0.6, n))
        self.north = r.random(n) < 0.6
        self.margin = r.random(n) < 0.7

    # -- point-in-time reference hazards ---------------------------------------------------
    def _hazards(self, base_names: list[str], always_st: np.ndarray, listed_before: np.ndarray,
                 delist: np.ndarray) -> None:
        """Name/ST and industry history with changes inside the window, plus missing list dates.

        Everything is placed at calendar offsets from `start` (moved to the next session), never
        at fractions of the range, and the history does not depend on `end` (it is "what a load
        today knows"), so the sample stays prefix-stable. raw.stock_info holds the state after
        the last change (today's values): applying it to history is exactly the look-ahead the
        models must not make.
          - ST_LATER: a main-board stock becomes *ST `ST_LATER_DAYS` days after start, for good
            (stock_info says ST: it must not be excluded before that day);
          - ST_PERIOD: one is ST from `ST_FROM_DAYS` to `ST_TO_DAYS` and then gets its name back
            (stock_info says not ST: its limit is 5 % inside the period only);
          - RECLASS: one stock moves Shenwan L1 industry `RECLASS_DAYS` days after start;
          - NO_LIST_DATE: some stocks have no list_date in stock_info (akshare leaves it empty).
        """
        n = self.cfg.n_stocks
        first = self.days[0]
        codes = self.info.code.to_numpy()
        boards = self.info.board.to_numpy()
        plain = [i for i in range(n) if boards[i] == "main" and not always_st[i] and listed_before[i]
                 and pd.isna(delist[i])]
        self.st_later = plain[0] if len(plain) > 0 else None
        self.st_period = plain[1] if len(plain) > 1 else None
        others = [i for i in range(n) if i not in plain[:2] and listed_before[i] and pd.isna(delist[i])]
        self.reclass = others[0] if others and self.n_ind > 1 else None
        st_later_day, st_from, st_to, reclass_day = (
            pd.Timestamp(sessions_after(first, np.array([d]))[0])
            for d in (ST_LATER_DAYS, ST_FROM_DAYS, ST_TO_DAYS, RECLASS_DAYS))
        if st_to <= st_from:  # both clamped to the calendar's last session: no room for a period
            self.st_period = None
        list_dates = pd.to_datetime(self.info.list_date)
        names, ind_rows = [], []
        cur_name = list(base_names)
        cur_st = always_st.copy()
        for i in range(n):
            ld = list_dates.iloc[i].date()
            base = base_names[i]
            plain_name = base[3:] if base.startswith("*ST") else base[2:] if base.startswith("ST") else base
            if always_st[i]:
                names.append((codes[i], ld, None, plain_name, False, ld, "新股上市"))
                st_day = max(list_dates.iloc[i], first - pd.Timedelta(days=400)).date()
                if st_day > ld:
                    names[-1] = (codes[i], ld, st_day - timedelta(days=1), plain_name, False, ld, "新股上市")
                names.append((codes[i], st_day, None, base, True, st_day, "*ST" if base.startswith("*") else "ST"))
            elif i == self.st_later:
                names.append((codes[i], ld, st_later_day.date() - timedelta(days=1), base, False, ld, "新股上市"))
                names.append((codes[i], st_later_day.date(), None, "*ST" + base, True, st_later_day.date(), "*ST"))
                cur_name[i], cur_st[i] = "*ST" + base, True
            elif i == self.st_period:
                names.append((codes[i], ld, st_from.date() - timedelta(days=1), base, False, ld, "新股上市"))
                names.append((codes[i], st_from.date(), st_to.date() - timedelta(days=1), "ST" + base, True,
                              st_from.date(), "ST"))
                names.append((codes[i], st_to.date(), None, base, False, st_to.date(), "撤销ST"))
            else:
                names.append((codes[i], ld, None, base, bool(always_st[i]), ld, "新股上市"))
            k = self.ind_idx[i]
            l1, l2s = SW_INDUSTRIES[k]
            l2 = self.info.industry_l2.iloc[i]
            if i == self.reclass:
                k2 = (k + 1) % self.n_ind
                new_l1, new_l2s = SW_INDUSTRIES[k2]
                ind_rows.append((codes[i], "sw2021", ld, reclass_day.date() - timedelta(days=1), l1, l2, None))
                ind_rows.append((codes[i], "sw2021", reclass_day.date(), None, new_l1, new_l2s[0], None))
                self.info.loc[i, ["industry_l1", "industry_l2"]] = [new_l1, new_l2s[0]]
            else:
                ind_rows.append((codes[i], "sw2021", ld, None, l1, l2, None))
        self.name_history = pd.DataFrame(names, columns=["code", "start_date", "end_date", "name", "is_st",
                                                         "ann_date", "change_reason"])
        self.industry_history = pd.DataFrame(ind_rows, columns=["code", "taxonomy", "start_date", "end_date",
                                                                "industry_l1", "industry_l2", "industry_code"])
        self.info["name"] = cur_name
        self.info["is_st"] = cur_st
        # Per-day state for the price path (limit width, industry co-movement).
        dvals = self.days.to_numpy()
        self.st_mat = np.repeat(always_st[None, :], len(self.days), axis=0)
        if self.st_later is not None:
            self.st_mat[:, self.st_later] = dvals >= st_later_day.to_datetime64()
        if self.st_period is not None:
            self.st_mat[:, self.st_period] = (dvals >= st_from.to_datetime64()) & (dvals < st_to.to_datetime64())
        self.ind_mat = np.repeat(self.ind_idx[None, :], len(self.days), axis=0)
        if self.reclass is not None:
            moved = dvals >= reclass_day.to_datetime64()
            self.ind_mat[moved, self.reclass] = (self.ind_idx[self.reclass] + 1) % self.n_ind
        # Missing list dates (a source that does not know them): every NO_LIST_DATE_EVERY-th stock.
        if n >= NO_LIST_DATE_EVERY:
            self.stock_info_list_date = self.info.list_date.copy()
            self.stock_info_list_date.iloc[NO_LIST_DATE_EVERY - 1::NO_LIST_DATE_EVERY] = None
        else:
            self.stock_info_list_date = self.info.list_date.copy()

    # -- fundamentals ----------------------------------------------------------------------
    def _fundamentals(self) -> None:
        """Quarterly cumulative reports with announcement dates, dividends from annual reports."""
        cfg, n = self.cfg, self.cfg.n_stocks
        info = self.info
        y0, y1 = cfg.start.year - 2, cfg.end.year
        fin_rows, div_rows, rest_rows = [], [], []
        shares = info.total_shares.to_numpy()
        r0 = _rng(cfg.seed, 1)
        base_q = np.exp(r0.normal(np.log(2e7), 1.2, n)) * np.where(self.loss_maker, -0.6, 1.0)
        equity = np.abs(base_q) * 4 * r0.uniform(5, 15, n)
        margin = r0.uniform(0.05, 0.3, n)
        prev_year_ytd: dict[int, np.ndarray] = {}
        for y in range(y0, y1 + 1):
            r = _rng(cfg.seed, 10, y)
            yr_growth = (1 + self.growth) ** (y - y0) * np.exp(r.normal(0, 0.15, n))
            season = np.array([0.22, 0.26, 0.24, 0.28])
            q_profit = base_q[:, None] * yr_growth[:, None] * season[None, :] * 4 * np.exp(r.normal(0, 0.2, (n, 4)))
            # A few firms have a bad year: profit falls for consecutive quarters.
            slump = r.random(n) < 0.08
            q_profit[slump] *= np.array([0.7, 0.45, 0.3, 0.25])
            ytd = np.cumsum(q_profit, axis=1)
            lags = [r.integers(18, 30, n), r.integers(30, 60, n), r.integers(18, 30, n), r.integers(60, 119, n)]
            for k, (mm, dd) in enumerate([(3, 31), (6, 30), (9, 30), (12, 31)]):
                period = date(y, mm, dd)
                ann = pd.to_datetime(period) + pd.to_timedelta(lags[k], "D")
                prev = prev_year_ytd.get(k)
                yoy = (ytd[:, k] - prev) / np.abs(prev) if prev is not None else np.full(n, np.nan)
                eq = equity + ytd[:, k]
                for i in range(n):
                    fin_rows.append((info.code[i], period, ann[i].date(), float(ytd[i, k] / eq[i]),
                                     float(ytd[i, k] / shares[i]), float(ytd[i, k] / margin[i]),
                                     float(ytd[i, k]), float(yoy[i]), float(eq[i] / shares[i])))
                    if k == 1 and r.random() < 0.03:  # restated half-year report
                        restated_on = (ann[i] + pd.Timedelta(days=int(r.integers(60, 200)))).date()
                        rest_rows.append((info.code[i], period, restated_on,
                                          float(ytd[i, k] * 0.93 / eq[i]), float(ytd[i, k] * 0.93 / shares[i]),
                                          float(ytd[i, k] * 0.93 / margin[i]), float(ytd[i, k] * 0.93),
                                          float(yoy[i] - 0.07 * (1 if prev is None else 1)), float(eq[i] / shares[i])))
                prev_year_ytd[k] = ytd[:, k]
            equity = equity + ytd[:, 3] * (1 - self.payout)
            # Dividends on the annual report: announced with it, ex-date 40-70 days later.
            annual_ann = pd.to_datetime(date(y, 12, 31)) + pd.to_timedelta(lags[3], "D")
            eps = ytd[:, 3] / shares
            bonus = np.where(r.random(n) < 0.08, 0.3, 0.0)
            ex = annual_ann + pd.to_timedelta(r.integers(40, 70, n), "D")
            for i in range(n):
                if eps[i] <= 0 and bonus[i] == 0:
                    continue
                cash = round(max(eps[i], 0) * self.payout[i], 3)
                payout = cash * shares[i] / ytd[i, 3] if ytd[i, 3] > 0 else 0.0
                div_rows.append((info.code[i], date(y, 12, 31), annual_ann[i].date(), ex[i].date(),
                                 cash, float(bonus[i]), round(float(payout), 6)))
        cols = ["code", "report_period", "ann_date", "roe", "eps", "revenue", "net_profit", "net_profit_yoy", "bps"]
        fin = pd.DataFrame(fin_rows, columns=cols)
        end = pd.Timestamp(cfg.end).date()
        self.finance = fin[fin.ann_date <= end].reset_index(drop=True)
        rest = pd.DataFrame(rest_rows, columns=cols)
        self.restated = rest[rest.ann_date <= end].reset_index(drop=True)
        div = pd.DataFrame(div_rows, columns=["code", "report_period", "ann_date", "ex_date",
                                              "cash_div_per_share", "bonus_ratio", "payout_ratio"])
        self.dividend = div[div.ann_date <= end].reset_index(drop=True)

    # -- prices and flows ----------------------------------------------------------------
    def _prices(self) -> None:
        cfg, n, days = self.cfg, self.cfg.n_stocks, self.days
        T = len(days)
        info = self.info
        list_d = pd.to_datetime(info.list_date).to_numpy()
        delist_d = pd.to_datetime(info.delist_date).to_numpy()
        dvals = days.to_numpy()
        listed = (dvals[:, None] >= list_d[None, :]) & ~(dvals[:, None] >= delist_d[None, :])
        # Corporate actions on their ex-date (moved to the next session if needed).
        ex_cash = np.zeros((T, n))
        ex_bonus = np.zeros((T, n))
        cidx = pd.Index(info.code)
        for row in self.dividend.itertuples():
            k = days.searchsorted(pd.Timestamp(row.ex_date))
            if k < T:
                ex_cash[k, cidx.get_loc(row.code)] += row.cash_div_per_share
                ex_bonus[k, cidx.get_loc(row.code)] += row.bonus_ratio
        # Point-in-time TTM eps and bps for PE/PB (announced reports only).
        eps_ttm, bps = self._pit_fundamentals(days)
        out = {k: np.full((T, n), np.nan) for k in
               ["open", "high", "low", "close", "pre_close", "volume", "amount", "adj", "tr", "ret"]}
        r_init = _rng(cfg.seed, 2)
        # Start near a plausible P/B of about 2.5 on the book value known on the first day.
        bps0 = np.where(np.isfinite(bps[0]) & (bps[0] > 0.2), bps[0], 3.0)
        last = np.maximum(np.round(bps0 * np.exp(r_init.normal(np.log(2.5), 0.5, n)), 2), 1.0)
        adj = np.ones(n)
        suspended_left = np.zeros(n, dtype=int)
        years = pd.DatetimeIndex(days).year
        float_sh = info.float_shares.to_numpy()
        drift = 0.0004 * self.growth
        for y in np.unique(years):
            sel = np.nonzero(years == y)[0]
            # Draw for every session of the calendar year, then take this range's rows: the draws
            # of a day never depend on where `start` or `end` fall.
            rows = _year_rows(int(y), self.days[sel])
            ny = _year_len(int(y))
            r = _rng(cfg.seed, 20, int(y))
            m = (r.normal(0.0002, 0.011, ny) + 0.004 * np.sin(np.arange(ny) / 25.0) * 0.3)[rows]
            ind = r.normal(0, 0.007, (ny, max(self.n_ind, 1)))[rows]
            idio = (r.standard_t(4, (ny, n)) * 0.013 * self.vol_scale)[rows]
            gap_n = r.normal(0, 1, (ny, n))[rows]
            hl_n = np.abs(r.normal(0, 1, (ny, 2, n)))[rows]
            sus_draw = r.random((ny, n))[rows]
            sus_len = r.integers(1, 15, (ny, n))[rows]
            seal = r.random((ny, n))[rows]
            to_n = r.normal(0, 0.35, (ny, n))[rows]
            for j, t in enumerate(sel):
                live = listed[t]
                first_day = live & (dvals[t] == np.maximum(list_d, dvals[0]))
                # Corporate action: ex-date reference price, adj factor steps up (back-adjusted).
                pre = np.where(ex_cash[t] + ex_bonus[t] > 0, _round2((last - ex_cash[t]) / (1 + ex_bonus[t])), last)
                pre = np.maximum(pre, 0.01)
                adj = adj * last / pre
                last = pre
                start_sus = live & (suspended_left == 0) & (sus_draw[j] < 0.002) & ~first_day
                suspended_left = np.where(start_sus, sus_len[j], suspended_left)
                trading = live & (suspended_left == 0)
                suspended_left = np.maximum(suspended_left - live, 0)
                # the day's industry and ST state (point in time): limit ±5 % while ST (main board)
                ret = self.beta * m[j] + ind[j, self.ind_mat[t]] + idio[j] + drift
                lim = np.where(self.st_mat[t], LIMITS["st"], self.board_limit)
                up, dn = _round2(pre * (1 + lim)), _round2(pre * (1 - lim))
                close = np.clip(_round2(pre * np.exp(ret)), dn, up)
                sigma = 0.013 * self.vol_scale
                opn = np.clip(_round2(pre * np.exp(0.35 * ret + 0.3 * sigma * gap_n[j])), dn, up)
                sealed_up = (close >= up) & (seal[j] < 0.35)
                sealed_dn = (close <= dn) & (seal[j] < 0.35)
                opn = np.where(sealed_up, up, np.where(sealed_dn, dn, opn))
                high = np.clip(_round2(np.maximum(opn, close) * (1 + 0.4 * sigma * hl_n[j, 0])), None, up)
                low = np.clip(_round2(np.minimum(opn, close) * (1 - 0.4 * sigma * hl_n[j, 1])), dn, None)
                high = np.where(sealed_up, up, np.maximum(high, np.maximum(opn, close)))
                low = np.where(sealed_dn, dn, np.minimum(low, np.minimum(opn, close)))
                # IPO day: no reference price; the listing day trades around the issue price.
                tr = np.clip(0.012 * np.exp(to_n[j] + 8 * np.abs(close / pre - 1)), 0.001, 0.5)
                tr = np.where(sealed_up | sealed_dn, tr * 0.3, tr)
                tr = np.where(first_day, 0.6, tr)
                vol = np.round(tr * float_sh, -2)
                amount = np.round(vol * (opn + high + low + close) / 4, 2)
                for k, v in [("open", opn), ("high", high), ("low", low), ("close", close), ("pre_close", pre),
                             ("volume", vol), ("amount", amount), ("adj", adj), ("tr", vol / float_sh)]:
                    out[k][t] = np.where(trading, v, np.nan)
                out["ret"][t] = np.where(trading, close / pre - 1, np.nan)
                last = np.where(trading, close, last)
        self._mats = out
        self._eps_ttm, self._bps = eps_ttm, bps
        self._listed = listed

    def _yearly_normal(self, tag: int, n: int, k: int) -> np.ndarray:
        """k standard-normal (days x n) matrices drawn per calendar year, prefix-stable in `end`."""
        years = pd.DatetimeIndex(self.days).year
        out = np.empty((k, len(self.days), n))
        for y in np.unique(years):
            sel = np.nonzero(years == y)[0]
            ny = _year_len(int(y))
            r = _rng(self.cfg.seed, tag, int(y))
            out[:, sel, :] = r.normal(0, 1, (k, ny, n))[:, _year_rows(int(y), self.days[sel]), :]
        return out

    def _pit_fundamentals(self, days: pd.DatetimeIndex) -> tuple[np.ndarray, np.ndarray]:
        """TTM eps and bps as known on each day (latest announced report only)."""
        fin = self.finance.copy()
        fin["q"] = pd.to_datetime(fin.report_period).dt.month // 3
        fin["y"] = pd.to_datetime(fin.report_period).dt.year
        ytd = fin.set_index(["code", "y", "q"]).eps
        ttm = []
        for row in fin.itertuples():
            if row.q == 4:
                ttm.append(row.eps)
            else:
                a = ytd.get((row.code, row.y - 1, 4))
                b = ytd.get((row.code, row.y - 1, row.q))
                ttm.append(row.eps + a - b if a is not None and b is not None else row.eps * 4 / row.q)
        fin["eps_ttm"] = ttm
        T, n = len(days), self.cfg.n_stocks
        eps = np.full((T, n), np.nan)
        bps = np.full((T, n), np.nan)
        cidx = pd.Index(self.info.code)
        fin = fin.sort_values(["ann_date", "report_period"])
        for code, g in fin.groupby("code"):
            k = cidx.get_loc(code)
            pos = days.searchsorted(pd.to_datetime(g.ann_date))
            for p, e, b in zip(pos, g.eps_ttm, g.bps):
                if p < T:
                    eps[p:, k] = e
                    bps[p:, k] = b
        return eps, bps

    # -- tables --------------------------------------------------------------------------
    def trade_calendar(self) -> pd.DataFrame:
        all_days = pd.date_range(self.cfg.start, self.cfg.end, freq="D")
        return pd.DataFrame({"trade_date": all_days.date, "is_open": all_days.isin(self.days)})

    def stock_info(self) -> pd.DataFrame:
        """Today's values (state after the last change); some list dates missing (see _hazards)."""
        out = self.info.copy()
        out["list_date"] = self.stock_info_list_date
        return out

    def stock_name_history(self) -> pd.DataFrame:
        return self.name_history.copy()

    def stock_industry_history(self) -> pd.DataFrame:
        return self.industry_history.copy()

    def daily_quote(self) -> pd.DataFrame:
        if "daily_quote" in self._cache:
            return self._cache["daily_quote"]
        m = self._mats
        t_idx, s_idx = np.nonzero(np.isfinite(m["close"]))
        close = m["close"][t_idx, s_idx]
        eps = self._eps_ttm[t_idx, s_idx]
        bps = self._bps[t_idx, s_idx]
        shares = self.info.total_shares.to_numpy()[s_idx]
        fshares = self.info.float_shares.to_numpy()[s_idx]
        df = pd.DataFrame({
            "code": self.info.code.to_numpy()[s_idx], "trade_date": self.days[t_idx].date,
            "open": m["open"][t_idx, s_idx], "high": m["high"][t_idx, s_idx], "low": m["low"][t_idx, s_idx],
            "close": close, "pre_close": m["pre_close"][t_idx, s_idx], "volume": m["volume"][t_idx, s_idx],
            "amount": m["amount"][t_idx, s_idx], "turnover_rate": np.round(m["tr"][t_idx, s_idx], 6),
            "adj_factor": np.round(m["adj"][t_idx, s_idx], 6),
            "pe_ttm": np.round(np.where(np.abs(eps) > 1e-9, close / eps, np.nan), 4),
            "pb": np.round(np.where(bps > 0, close / bps, np.nan), 4),
            "total_mv": np.round(close * shares, 2), "circ_mv": np.round(close * fshares, 2),
        })
        df = df.sort_values(["code", "trade_date"]).reset_index(drop=True)
        self._cache["daily_quote"] = df
        return df

    def funds_flow(self) -> pd.DataFrame:
        m = self._mats
        n = self.cfg.n_stocks
        ret = np.nan_to_num(m["ret"])
        amount = np.nan_to_num(m["amount"])
        noise = self._yearly_normal(3, n, 4)  # main, north, margin, short: per-year, prefix-stable
        main = amount * np.clip(1.5 * ret + 0.04 * noise[0], -0.5, 0.5)
        fs = self.info.float_shares.to_numpy()
        north_steps = fs * (0.002 * np.sign(ret) * (np.abs(ret) > 0.005) + 0.0008 * noise[1])
        north = np.clip(fs * 0.03 + np.cumsum(north_steps, axis=0), 0, None)
        mcap = np.nan_to_num(m["close"]) * fs
        margin_ratio = np.clip(0.03 * np.exp(np.cumsum(0.4 * ret + 0.01 * noise[2], axis=0)), 0.002, 0.15)
        margin_bal = np.round(mcap * margin_ratio, 2)
        short_bal = np.round(margin_bal * np.clip(0.02 + np.cumsum(0.002 * noise[3] - 0.2 * ret * 0.01, axis=0),
                                                  0.001, 0.2), 2)
        t_idx, s_idx = np.nonzero(np.isfinite(m["close"]))
        df = pd.DataFrame({
            "code": self.info.code.to_numpy()[s_idx], "trade_date": self.days[t_idx].date,
            "north_hold_shares": np.where(self.north[s_idx], np.round(north[t_idx, s_idx], -2), np.nan),
            "margin_balance": np.where(self.margin[s_idx], margin_bal[t_idx, s_idx], np.nan),
            "short_balance": np.where(self.margin[s_idx], short_bal[t_idx, s_idx], np.nan),
            "main_net_inflow": np.round(main[t_idx, s_idx], 2),
        })
        # The exchanges' margin lists include ETFs (510050, 159915 ...): the sample's margin data
        # does too, so the staging path must meet them and drop them (quarantine, with a count).
        days_all = self.days.date
        etf_rows = []
        for k, etf in enumerate(MARGIN_ETFS):
            bal = np.round(5e9 * (1 + 0.1 * k) * np.exp(np.cumsum(0.01 * noise[2][:, k % n])), 2)
            etf_rows.append(pd.DataFrame({"code": etf, "trade_date": days_all, "north_hold_shares": np.nan,
                                          "margin_balance": bal, "short_balance": np.round(bal * 0.01, 2),
                                          "main_net_inflow": np.nan}))
        df = pd.concat([df, *etf_rows], ignore_index=True)
        return df.sort_values(["code", "trade_date"]).reset_index(drop=True)

    def industry_flow(self) -> pd.DataFrame:
        """Source-level industry flow (optional table): members of each day's SW L1 industry."""
        ff = self.funds_flow()
        ff = ff[ff.code.isin(self.info.code)]
        state = pd.DataFrame({"code": np.repeat(self.info.code.to_numpy()[None, :], len(self.days), axis=0).ravel(),
                              "trade_date": np.repeat(self.days.date, self.cfg.n_stocks),
                              "industry_l1": [SW_INDUSTRIES[k][0] for k in self.ind_mat.ravel()]})
        ff = ff.merge(state, on=["code", "trade_date"])
        ff = ff.merge(self.daily_quote()[["code", "trade_date", "amount"]], on=["code", "trade_date"])
        g = ff.groupby(["industry_l1", "trade_date"], as_index=False).agg(
            net_inflow=("main_net_inflow", "sum"), amount=("amount", "sum"))
        return g.sort_values(["industry_l1", "trade_date"]).reset_index(drop=True)

    def chip_distribution(self) -> pd.DataFrame:
        return derive_chips(self.daily_quote())

    def minute_quote(self, n_days: int = 2, n_codes: int = 3) -> pd.DataFrame:
        """1-minute bars for a few stocks on the last days, consistent with the daily bar."""
        dq = self.daily_quote()
        last_days = sorted(dq.trade_date.unique())[-n_days:]
        codes = sorted(dq.code.unique())[:n_codes]
        sub = dq[dq.trade_date.isin(last_days) & dq.code.isin(codes)]
        r = _rng(self.cfg.seed, 4)
        minutes = (list(pd.date_range("09:31", "11:30", freq="min").time)
                   + list(pd.date_range("13:01", "15:00", freq="min").time))
        rows = []
        for b in sub.itertuples():
            path = np.linspace(b.open, b.close, len(minutes)) + r.normal(0, 0.002 * b.close, len(minutes))
            path = np.clip(path, b.low, b.high)
            path[-1] = b.close
            vol = np.round(np.full(len(minutes), b.volume / len(minutes)), -2)
            prev = np.concatenate([[b.open], path[:-1]])
            for k, tm in enumerate(minutes):
                ts = (pd.Timestamp.combine(b.trade_date, tm) - pd.Timedelta(hours=8))  # Beijing -> UTC
                o, c = round(prev[k], 2), round(path[k], 2)
                rows.append((b.code, ts, o, max(o, c), min(o, c), c, vol[k], round(vol[k] * c, 2)))
        return pd.DataFrame(rows, columns=["code", "ts", "open", "high", "low", "close", "volume", "amount"])

    def tables(self) -> dict[str, pd.DataFrame]:
        """Every raw table in load order (restatements are loaded after originals)."""
        out = {
            "trade_calendar": self.trade_calendar(), "stock_info": self.stock_info(),
            "daily_quote": self.daily_quote(), "finance_data": self.finance, "dividend": self.dividend,
            "stock_name_history": self.stock_name_history(),
            "stock_industry_history": self.stock_industry_history(),
            "funds_flow": self.funds_flow(), "industry_flow": self.industry_flow(),
            "minute_quote": self.minute_quote(),
        }
        if self.cfg.chips:
            out["chip_distribution"] = self.chip_distribution()
        return out

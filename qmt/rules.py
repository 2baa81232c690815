"""A-share trading rules as dated tables, so a ten-year backtest applies each day's own rule.

Every rule that changed over time (price-limit widths, stamp duty, transfer fee, lot sizes) is a
row with `effective_from`; the rule for a day is the latest row whose date is not after it.
Rows with `in_force=False` document proposals without applying them; flip the flag, or pass your
own tables, to study them.

Cross-checked (2026-11-30) against marina-rules 2026.10.26.5 (PyPI, CC0 data: dated A-share rules
with quotes from the exchanges' and CSDC's/MOF's own notices); rows it confirms say "verified".

Prices are exact: a price arrives as a float written with at most 2 decimals (the A-share tick is
0.01 CNY), is read as the decimal it was written as (`price_decimal`), and limit prices are
pre_close x (1 +- pct) in decimal arithmetic, rounded half up to the cent as the exchanges
specify ("计算结果按照四舍五入原则取至价格最小变动单位", SSE/SZSE/BSE trading rules). A float
product such as 1.65 * 0.9 = 1.4849999... would round to 1.48; the exchange's limit is 1.49.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from decimal import ROUND_HALF_UP, Decimal
from functools import lru_cache

import numpy as np
import pandas as pd

BOARDS = ("main", "chinext", "star", "bse")


def board_of(code: str) -> str:
    """Board from the code: 688/689 SH = STAR, 300/301 SZ = ChiNext, .BJ = BSE, else main.

    Why from the code: orders for a stock missing from stock_info must still obey a board's
    rules, and the exchanges assign these prefixes by board.
    """
    num, _, exch = code.upper().partition(".")
    if exch == "BJ":
        return "bse"
    if exch == "SH" and num[:3] in ("688", "689"):
        return "star"
    if exch == "SZ" and num[:3] in ("300", "301"):
        return "chinext"
    if exch not in ("SH", "SZ"):
        raise ValueError(f"stock code {code!r}: expected 6 digits plus .SH/.SZ/.BJ, e.g. 600000.SH")
    return "main"


@dataclass(frozen=True)
class LimitRule:
    """Daily price-limit width (fraction of previous close) for a board, ST or not."""

    board: str
    is_st: bool
    pct: float
    effective_from: date
    in_force: bool = True
    note: str = ""


@dataclass(frozen=True)
class LotRule:
    """Buy quantity rule: at least `min_qty`, then multiples of `step`."""

    board: str
    min_qty: int
    step: int
    effective_from: date


@dataclass(frozen=True)
class RateRule:
    """A cost rate effective from a date.

    `basis` "value": a fraction of traded value; "face": a fraction of face value (1 CNY per
    A share), i.e. CNY per share. `sides` "both" or "sell" (charged to sellers only).
    `exchanges`: the exchanges (code suffixes) the row applies to.
    """

    rate: float
    effective_from: date
    note: str = ""
    sides: str = "both"
    exchanges: tuple[str, ...] = ("SH", "SZ", "BJ")
    basis: str = "value"


@dataclass(frozen=True)
class NewListingRule:
    """Price limits of a newly listed stock (IPO), by board and listing date.

    Sessions 1..`free_sessions` after listing have no price limit. Otherwise, when
    `first_day_up` is set, session 1 is bounded by the issue price (the first bar's pre_close)
    x (1 + first_day_up) and x (1 - first_day_down). Later sessions use the board's normal
    limit. The row in force is chosen by the stock's listing date (a stock listed the day before
    a reform keeps the old rule).
    """

    board: str
    effective_from: date
    free_sessions: int
    first_day_up: float | None = None
    first_day_down: float | None = None
    note: str = ""
    exchanges: tuple[str, ...] = ("SH", "SZ", "BJ")


DEFAULT_LIMITS: tuple[LimitRule, ...] = (
    LimitRule("main", False, 0.10, date(1996, 12, 16), note="SSE/SZSE daily limits since 1996-12-16"),
    LimitRule("main", True, 0.05, date(1998, 4, 22), note="ST/*ST since special treatment began"),
    # SSE/SZSE Trading Rules (2026 revision), published 2026-04-24, in force 2026-07-06: main-board
    # risk-warning (ST/*ST) stocks from ±5 % to ±10 % (draft of 2025-06-27). Verified.
    LimitRule("main", True, 0.10, date(2026, 7, 6), note="ST ±10 % on the main board (2026 Trading Rules)"),
    LimitRule("chinext", False, 0.10, date(2009, 10, 30)),
    LimitRule("chinext", True, 0.05, date(2009, 10, 30)),
    LimitRule("chinext", False, 0.20, date(2020, 8, 24), note="ChiNext registration reform"),
    LimitRule("chinext", True, 0.20, date(2020, 8, 24), note="ChiNext registration reform"),
    LimitRule("star", False, 0.20, date(2019, 7, 22)),
    LimitRule("star", True, 0.20, date(2019, 7, 22)),
    # NEEQ select layer (精选层, opened 2020-07-27): ±30 %; its stocks became the BSE on
    # 2021-11-15 with the same width (data vendors map their codes to .BJ). The select-layer row
    # is from memory of the NEEQ 2020 trading rules, not checked against the rule text here.
    LimitRule("bse", False, 0.30, date(2020, 7, 27), note="NEEQ select layer ±30 % (from memory)"),
    LimitRule("bse", True, 0.30, date(2020, 7, 27), note="NEEQ select layer ±30 % (from memory)"),
    LimitRule("bse", False, 0.30, date(2021, 11, 15), note="BSE trading rules"),
    LimitRule("bse", True, 0.30, date(2021, 11, 15), note="BSE trading rules"),
)

DEFAULT_LOTS: tuple[LotRule, ...] = (
    LotRule("main", 100, 100, date(1990, 12, 19)),
    LotRule("chinext", 100, 100, date(2009, 10, 30)),
    LotRule("star", 200, 1, date(2019, 7, 22)),
    # At least 100 shares then steps of 1: NEEQ select layer from 2020-07-27 (from memory) and
    # the BSE from 2021-11-15 (BSE trading rules).
    LotRule("bse", 100, 1, date(2020, 7, 27)),
    LotRule("bse", 100, 1, date(2021, 11, 15)),
)

# New listings (IPO), chosen by the listing date and exchange (all verified against the notices
# quoted in marina-rules unless marked):
# - before the bands: no price limit on the listing day ("首个交易日无价格涨跌幅限制", SSE rules;
#   SZSE likewise), the normal limit from the 2nd session; intraday halts are not modelled.
# - SSE from 2013-12-13 (上证发〔2013〕47号) and SZSE from 2014-06-13 (深证会〔2014〕54号, ChiNext
#   included): valid orders on the listing day within 64 %..144 % of the issue price, i.e.
#   +44 % / -36 %. SZSE's 2013-12-13 notice set only an opening-auction range and halts.
# - STAR from 2019-07-22 (上证发〔2019〕23号 art. 18), ChiNext from 2020-08-24 (创业板交易特别规定)
#   and main-board registration IPOs from 2023-04-10 (2023 Trading Rules): no limit on the first
#   5 sessions, the board's normal limit after. Approval-regime main-board listings up to
#   2023-04-07 kept the listing-day band (chosen by listing date).
# - BSE from 2021-11-15: no limit on the listing day only (BSE Trading Rules (trial) 3.3.12,
#   "上市交易首日"); NOTE issue 13 said five days for the BSE. The NEEQ select-layer row from
#   2020-07-27 (listing day unlimited) is from memory, unverified.
DEFAULT_NEW_LISTINGS: tuple[NewListingRule, ...] = (
    NewListingRule("main", date(1996, 12, 16), 1, note="listing day unlimited"),
    NewListingRule("main", date(2013, 12, 13), 0, 0.44, 0.36, note="SSE: listing day 64 %..144 % of issue price",
                   exchanges=("SH",)),
    NewListingRule("main", date(2014, 6, 13), 0, 0.44, 0.36, note="SZSE: listing day 64 %..144 % of issue price",
                   exchanges=("SZ",)),
    NewListingRule("main", date(2023, 4, 10), 5, note="registration IPOs: 5 sessions unlimited"),
    NewListingRule("chinext", date(2009, 10, 30), 1, note="listing day unlimited"),
    NewListingRule("chinext", date(2014, 6, 13), 0, 0.44, 0.36, note="SZSE: listing day 64 %..144 % of issue price"),
    NewListingRule("chinext", date(2020, 8, 24), 5, note="registration reform: 5 sessions unlimited"),
    NewListingRule("star", date(2019, 7, 22), 5, note="5 sessions unlimited"),
    NewListingRule("bse", date(2020, 7, 27), 1, note="NEEQ select layer: listing day unlimited (from memory)"),
    NewListingRule("bse", date(2021, 11, 15), 1, note="BSE: listing day unlimited"),
)

# One-tick floor: where |limit - pre_close| rounds below one tick (0.01), the limit is pre_close
# +- 0.01 (SZSE Trading Rules 2011 revision 3.3.16, in force 2011-02-28: pre_close 0.04 at 10 %
# gives 0.03 / 0.05, not 0.04 / 0.04; SSE from its 2023 revision, 3.3.17, in force 2023-04-10;
# before that SSE's rules had the rounding sentence only). Verified. Not known for the BSE: not
# applied there.
MIN_TICK_RULE_FROM: dict[str, date] = {"SZ": date(2011, 2, 28), "SH": date(2023, 4, 10)}

# Stamp duty (证券交易印花税), a fraction of traded value. Sources: cut from 0.2 % to 0.1 % in
# January 2005 and raised to 0.3 % each side on 2007-05-30 (MOF/SAT circular of 2007-05-30;
# China Daily 2007-05-30); cut to 0.1 % each side on 2008-04-24 and sellers only from
# 2008-09-19 (MOF/SAT 财税明电[2008]2号; reports of 2008-09-19); halved on 2023-08-28 (MOF/SAT
# announcement 2023 No. 39). The rows before 2005 (3 per mille from 1991-10-10, 5 from
# 1997-05-12, 4 from 1998-06-12, 2 from 2001-11-16, each side) and the day 2005-01-24 are from
# memory of the MOF notices, not checked against their text here.
DEFAULT_STAMP: tuple[RateRule, ...] = (
    RateRule(0.003, date(1991, 10, 10), "0.3 % each side (from memory)", sides="both"),
    RateRule(0.005, date(1997, 5, 12), "0.5 % each side (from memory)", sides="both"),
    RateRule(0.004, date(1998, 6, 12), "0.4 % each side (from memory)", sides="both"),
    RateRule(0.002, date(2001, 11, 16), "0.2 % each side (from memory)", sides="both"),
    RateRule(0.001, date(2005, 1, 24), "0.1 % each side (day from memory)", sides="both"),
    RateRule(0.003, date(2007, 5, 30), "0.3 % each side", sides="both"),
    RateRule(0.001, date(2008, 4, 24), "0.1 % each side", sides="both"),
    RateRule(0.001, date(2008, 9, 19), "0.1 %, sellers only", sides="sell"),
    RateRule(0.0005, date(2023, 8, 28), "halved to 0.05 %, sellers only", sides="sell"),
)
# Transfer fee (过户费, China Securities Depository and Clearing), both sides. CSDC's change of
# 2015-08-01 (announced with the exchanges' fee cut, July 2015): SSE charged 0.3 per mille of
# face value (A shares: 1 CNY face, so 0.0003 CNY per share) and SZSE 0.0255 per mille of traded
# value; from 2015-08-01 both 0.02 per mille of traded value; halved to 0.01 per mille from
# 2022-04-29 (CSDC). GUESS: the pre-2015 rates are applied back to the start; earlier SSE rates
# (the often-quoted 1 CNY per 1000 shares with a 1 CNY minimum) are not dated here. The BSE
# before 2022-04-29 is charged 0.02 per mille like SSE/SZSE (unverified).
DEFAULT_TRANSFER: tuple[RateRule, ...] = (
    RateRule(0.0003, date(1990, 12, 19), "SSE 0.3 per mille of face value (CNY per share)",
             exchanges=("SH",), basis="face"),
    RateRule(0.0000255, date(1990, 12, 19), "SZSE 0.0255 per mille of traded value", exchanges=("SZ",)),
    RateRule(0.00002, date(2015, 8, 1), "0.02 per mille of traded value, all exchanges"),
    RateRule(0.00001, date(2022, 4, 29), "halved to 0.01 per mille of traded value"),
)

CENT = Decimal("0.01")


def _as_date(d: date | pd.Timestamp | str) -> date:
    if isinstance(d, pd.Timestamp):
        return d.date()
    if isinstance(d, str):
        return date.fromisoformat(d)
    return d


def price_decimal(x: float | Decimal | str) -> Decimal:
    """The exact decimal a price was written as.

    Prices reach us as floats parsed from text with at most 2 decimals; `repr` of such a float is
    the shortest string that reads back to it, i.e. the text it was parsed from (1.65, not
    1.649999...). A Decimal or str is taken as is.
    """
    if isinstance(x, Decimal):
        return x
    if isinstance(x, str):
        return Decimal(x)
    return Decimal(repr(float(x)))


def round_price(x: float | Decimal | str) -> float:
    """Round half up to the cent, as the exchanges do for limit prices (not banker's rounding).

    Exact only for a value that is itself exact: pass a Decimal for a computed product; a float
    product (1.65 * 0.9) has already lost its half.
    """
    return float(price_decimal(x).quantize(CENT, rounding=ROUND_HALF_UP))


def limit_price(pre_close: float | Decimal | str, pct: float | Decimal | str, up: bool) -> Decimal:
    """pre_close x (1 +- pct), rounded half up to the cent, in exact decimal arithmetic."""
    p, r = price_decimal(pre_close), Decimal(str(pct))
    return (p * (1 + r if up else 1 - r)).quantize(CENT, rounding=ROUND_HALF_UP)


@lru_cache(maxsize=1)
def _sse_sessions() -> np.ndarray | None:
    try:
        import exchange_calendars as xc

        return xc.get_calendar("XSHG", start="1990-12-19").sessions.to_numpy().astype("datetime64[D]")
    except Exception:  # not installed or no data: callers fall back to weekdays
        return None


def sessions_since_listing(list_date: date | pd.Timestamp | str | None,
                           day: date | pd.Timestamp | str) -> int | None:
    """Session number of `day` counted from the listing day (1 = listing day); None if unknown.

    Counted on the SSE calendar (exchange_calendars XSHG; SZSE and BSE close on the same days),
    i.e. exchange sessions, not the stock's own bars: a suspension does not stretch the
    new-listing window ("上市后的前5个交易日"). Outside the calendar's range weekdays are
    counted (a guess).
    """
    if list_date is None or pd.isna(list_date):
        return None
    ld = np.datetime64(pd.Timestamp(list_date).date(), "D")
    d = np.datetime64(pd.Timestamp(day).date(), "D")
    if d < ld:
        return None
    s = _sse_sessions()
    if s is not None and s[0] <= ld and d <= s[-1]:
        return int(np.searchsorted(s, d, "right") - np.searchsorted(s, ld, "left"))
    return int(np.busday_count(ld, d + 1))


@dataclass(frozen=True)
class RuleBook:
    """All dated rules; defaults reflect the exchanges' rules, every table can be replaced."""

    limits: tuple[LimitRule, ...] = DEFAULT_LIMITS
    lots: tuple[LotRule, ...] = DEFAULT_LOTS
    stamp: tuple[RateRule, ...] = DEFAULT_STAMP
    transfer: tuple[RateRule, ...] = DEFAULT_TRANSFER
    new_listings: tuple[NewListingRule, ...] = DEFAULT_NEW_LISTINGS
    _cache: dict = field(default_factory=dict, compare=False, repr=False)

    def limit_pct(self, board: str, is_st: bool, day: date | pd.Timestamp) -> float | None:
        """Limit width in force on `day`, or None when the board did not exist yet."""
        d = _as_date(day)
        key = ("limit", board, bool(is_st), d)
        if key not in self._cache:
            rows = [r for r in self.limits if r.in_force and r.board == board and r.is_st == bool(is_st)
                    and r.effective_from <= d]
            self._cache[key] = max(rows, key=lambda r: r.effective_from).pct if rows else None
        return self._cache[key]

    def new_listing_rule(self, board: str, list_date: date | pd.Timestamp,
                         exchange: str | None = None) -> NewListingRule | None:
        """The new-listing rule for a stock of `board` listed on `list_date` on `exchange`
        (SH/SZ/BJ; None: any exchange's row), or None when none is known."""
        d = _as_date(list_date)
        key = ("ipo", board, d, exchange)
        if key not in self._cache:
            rows = [r for r in self.new_listings if r.board == board and r.effective_from <= d
                    and (exchange is None or exchange in r.exchanges)]
            self._cache[key] = max(rows, key=lambda r: r.effective_from) if rows else None
        return self._cache[key]

    def limit_prices(self, pre_close: float, board: str, is_st: bool, day: date | pd.Timestamp, *,
                     listed_session: int | None = None,
                     list_date: date | pd.Timestamp | None = None,
                     exchange: str | None = None) -> tuple[float, float]:
        """(limit-down, limit-up) from the previous close; (0, inf) when no limit applies.

        Exact: pre_close is read as the decimal it was written as and the product is rounded
        half up to the cent (see the module docstring). `listed_session` (1 = listing day, see
        `sessions_since_listing`) applies the new-listing rules of the board, chosen by
        `list_date` (default: `day`, exact on the listing day itself); on the listing day
        pre_close is the issue price. Without it the stock is taken as long listed.
        `exchange` (SH/SZ/BJ) selects exchange-specific rows: the listing-day band's start date
        and the one-tick floor (`MIN_TICK_RULE_FROM`), which is not applied without it.
        """
        if not pre_close or pre_close != pre_close:
            return 0.0, float("inf")
        if listed_session is not None:
            rule = self.new_listing_rule(board, list_date if list_date is not None else day, exchange)
            if rule is not None:
                if listed_session <= rule.free_sessions:
                    return 0.0, float("inf")
                if listed_session == 1 and rule.first_day_up is not None:
                    return (float(limit_price(pre_close, rule.first_day_down, up=False)),
                            float(limit_price(pre_close, rule.first_day_up, up=True)))
        pct = self.limit_pct(board, is_st, day)
        if pct is None:
            return 0.0, float("inf")
        tick_from = MIN_TICK_RULE_FROM.get(exchange) if exchange else None
        floor = tick_from is not None and _as_date(day) >= tick_from
        key = ("px", pre_close, pct, floor)
        if key not in self._cache:
            down, up = limit_price(pre_close, pct, up=False), limit_price(pre_close, pct, up=True)
            if floor:
                p = price_decimal(pre_close)
                down, up = (min(down, p - CENT), max(up, p + CENT))
            self._cache[key] = (float(down), float(up))
        return self._cache[key]

    def lot(self, board: str, day: date | pd.Timestamp) -> LotRule:
        d = _as_date(day)
        rows = [r for r in self.lots if r.board == board]
        if not rows:
            raise ValueError(f"no lot rule for board {board!r}; expected one of {BOARDS}")
        live = [r for r in rows if r.effective_from <= d]
        # Before a board existed its stocks cannot trade anyway; use its first rule.
        return max(live, key=lambda r: r.effective_from) if live else min(rows, key=lambda r: r.effective_from)

    def buy_qty(self, qty: float, board: str, day: date | pd.Timestamp) -> int:
        """Largest valid buy quantity not above `qty` (0 when below the minimum)."""
        rule = self.lot(board, day)
        q = int(qty)
        if q < rule.min_qty:
            return 0
        return rule.min_qty + (q - rule.min_qty) // rule.step * rule.step

    def sell_qty(self, qty: float, sellable: int, board: str, day: date | pd.Timestamp) -> int:
        """Valid sell quantity not above `qty`: lot steps, or the whole remainder (odd lot).

        Odd lots (below the minimum or off the step) may only be sold as the whole remainder.
        """
        q = min(int(qty), int(sellable))
        if q <= 0:
            return 0
        if q == sellable:
            return q
        rule = self.lot(board, day)
        if q < rule.min_qty:
            return 0
        return rule.min_qty + (q - rule.min_qty) // rule.step * rule.step

    @staticmethod
    def _row(table: tuple[RateRule, ...], day: date | pd.Timestamp, exchange: str | None = None) -> RateRule | None:
        d = _as_date(day)
        rows = [r for r in table if r.effective_from <= d and (exchange is None or exchange in r.exchanges)]
        return max(rows, key=lambda r: r.effective_from) if rows else None

    def stamp_rule(self, day: date | pd.Timestamp) -> RateRule | None:
        """The stamp-duty row in force on `day` (its `sides` says whether buyers pay too)."""
        return self._row(self.stamp, day)

    def stamp_rate(self, day: date | pd.Timestamp) -> float:
        """Stamp duty rate in force on `day` (fraction of traded value), for the sides it covers."""
        r = self.stamp_rule(day)
        return r.rate if r else 0.0

    def transfer_rule(self, day: date | pd.Timestamp, exchange: str = "SH") -> RateRule | None:
        """The transfer-fee row for `exchange` (SH/SZ/BJ) on `day`; its `basis` is value or face."""
        return self._row(self.transfer, day, exchange.upper())

    def transfer_rate(self, day: date | pd.Timestamp, exchange: str = "SH") -> float:
        """Transfer fee rate on `day` for `exchange`, on the basis of `transfer_rule`."""
        r = self.transfer_rule(day, exchange)
        return r.rate if r else 0.0

    def table(self) -> pd.DataFrame:
        """The limit table as a frame, for docs and reports."""
        return pd.DataFrame([r.__dict__ for r in self.limits])


# =====================================================================================
# Dividend income tax of individual investors (股息红利个人所得税), by record date.
# Section owned by the books/tax work (issue 13 item 9); the rules above are edited elsewhere.
# =====================================================================================
@dataclass(frozen=True)
class DividendTaxRule:
    """Tax rate on a cash dividend by holding period, for dividends whose record date (股权登记日)
    is on or after `effective_from`.

    `bands` are (months held at most, rate), ascending; `beyond` is the rate for longer
    holdings. The company withholds the lowest rate (`beyond`) when it pays; the rest is
    withheld when the shares are sold, from the holding period of the shares sold (FIFO).

    Holding period (Caishui [2012] No. 85 art. 4, kept by [2015] No. 101): from the day the
    shares were acquired to the day before the sale; months are calendar months ("one month" =
    from some day of a month to the day before the same day of the next month). So a sale on
    S of shares acquired on A is within n months when S <= A + n calendar months.
    """

    effective_from: date
    bands: tuple[tuple[int, Decimal], ...]
    beyond: Decimal
    source: str

    def rate(self, acquired: date | pd.Timestamp, sold: date | pd.Timestamp) -> Decimal:
        """Rate for a dividend on shares acquired on `acquired` and sold on `sold`."""
        a, s = _as_date(acquired), _as_date(sold)
        for months, r in self.bands:
            if s <= _add_months(a, months):
                return r
        return self.beyond


def _add_months(d: date, n: int) -> date:
    """Same day n calendar months later, clipped to the month's last day (Jan 31 + 1 = Feb 28/29)."""
    y, m = divmod(d.month - 1 + n, 12)
    y, m = d.year + y, m + 1
    last = (date(y + (m == 12), m % 12 + 1, 1) - date(y, m, 1)).days
    return date(y, m, min(d.day, last))


DIVIDEND_TAX: tuple[DividendTaxRule, ...] = (
    # GUESS on the start date only: the 1994 Individual Income Tax Law taxes dividends at 20 %;
    # the date is before the exchanges' first sessions, so every earlier record date gets 20 %.
    DividendTaxRule(date(1990, 1, 1), (), Decimal("0.20"),
                    "个人所得税法 (1994) art. 3: 利息、股息、红利所得 20 %"),
    # Caishui [2005] No. 102: from 2005-06-13, dividends from listed companies count at 50 % -> 10 %.
    DividendTaxRule(date(2005, 6, 13), (), Decimal("0.10"),
                    "财税〔2005〕102号: 自2005年6月13日起暂减按50%计入应纳税所得额"),
    # Caishui [2012] No. 85, in force 2013-01-01: <= 1 month 100 %, 1 month - 1 year 50 %,
    # > 1 year 25 % of the dividend taxed at 20 % (20 / 10 / 5 %); 5 % withheld at payment.
    DividendTaxRule(date(2013, 1, 1), ((1, Decimal("0.20")), (12, Decimal("0.10"))), Decimal("0.05"),
                    "财税〔2012〕85号 art. 1-4 (施行 2013-01-01)"),
    # Caishui [2015] No. 101: record dates from 2015-09-08; > 1 year exempt, nothing withheld at payment.
    DividendTaxRule(date(2015, 9, 8), ((1, Decimal("0.20")), (12, Decimal("0.10"))), Decimal("0"),
                    "财税〔2015〕101号 (自2015年9月8日起施行; keyed on the record date: our reading)"),
)


def dividend_tax_rule(record_date: date | pd.Timestamp,
                      table: tuple[DividendTaxRule, ...] = DIVIDEND_TAX) -> DividendTaxRule:
    """The rule for a dividend with this record date (the latest row not after it)."""
    d = _as_date(record_date)
    rows = [r for r in table if r.effective_from <= d]
    return max(rows, key=lambda r: r.effective_from) if rows else min(table, key=lambda r: r.effective_from)

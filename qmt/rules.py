"""A-share trading rules as dated tables, so a ten-year backtest applies each day's own rule.

Every rule that changed over time (price-limit widths, stamp duty, transfer fee, lot sizes) is a
row with `effective_from`; the rule for a day is the latest row whose date is not after it.
Rows with `in_force=False` document proposals (e.g. the 2025 draft to widen main-board ST limits
to 10 %) without applying them; flip the flag, or pass your own tables, to study them.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from decimal import ROUND_HALF_UP, Decimal

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
    """A cost rate (fraction of traded value) effective from a date."""

    rate: float
    effective_from: date
    note: str = ""


DEFAULT_LIMITS: tuple[LimitRule, ...] = (
    LimitRule("main", False, 0.10, date(1996, 12, 16)),
    LimitRule("main", True, 0.05, date(1998, 4, 22), note="ST/*ST since special treatment began"),
    LimitRule("main", True, 0.10, date(2025, 7, 1), in_force=False,
              note="2025 exchange draft proposing ST ±10 % on the main board; not in force"),
    LimitRule("chinext", False, 0.10, date(2009, 10, 30)),
    LimitRule("chinext", True, 0.05, date(2009, 10, 30)),
    LimitRule("chinext", False, 0.20, date(2020, 8, 24), note="ChiNext registration reform"),
    LimitRule("chinext", True, 0.20, date(2020, 8, 24), note="ChiNext registration reform"),
    LimitRule("star", False, 0.20, date(2019, 7, 22)),
    LimitRule("star", True, 0.20, date(2019, 7, 22)),
    LimitRule("bse", False, 0.30, date(2021, 11, 15)),
    LimitRule("bse", True, 0.30, date(2021, 11, 15)),
)

DEFAULT_LOTS: tuple[LotRule, ...] = (
    LotRule("main", 100, 100, date(1990, 12, 19)),
    LotRule("chinext", 100, 100, date(2009, 10, 30)),
    LotRule("star", 200, 1, date(2019, 7, 22)),
    LotRule("bse", 100, 1, date(2021, 11, 15)),
)

# Stamp duty is charged on sells only (since 2008-09-19); halved from 2023-08-28.
DEFAULT_STAMP: tuple[RateRule, ...] = (
    RateRule(0.001, date(2008, 9, 19), "sell side only, 0.1 %"),
    RateRule(0.0005, date(2023, 8, 28), "halved to 0.05 %, sell side only"),
)
# Transfer fee (过户费), both sides, on traded value: 0.001 % as of 2022-04-29.
DEFAULT_TRANSFER: tuple[RateRule, ...] = (
    RateRule(0.00001, date(1990, 12, 19), "0.001 % both sides (the rate in force since 2022-04-29)"),
)


def _as_date(d: date | pd.Timestamp | str) -> date:
    if isinstance(d, pd.Timestamp):
        return d.date()
    if isinstance(d, str):
        return date.fromisoformat(d)
    return d


def round_price(x: float) -> float:
    """Round half up to the cent, as the exchanges do for limit prices (not banker's rounding)."""
    return float(Decimal(repr(float(x))).quantize(Decimal("0.01"), rounding=ROUND_HALF_UP))


@dataclass(frozen=True)
class RuleBook:
    """All dated rules; defaults reflect the exchanges' rules, every table can be replaced."""

    limits: tuple[LimitRule, ...] = DEFAULT_LIMITS
    lots: tuple[LotRule, ...] = DEFAULT_LOTS
    stamp: tuple[RateRule, ...] = DEFAULT_STAMP
    transfer: tuple[RateRule, ...] = DEFAULT_TRANSFER
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

    def limit_prices(self, pre_close: float, board: str, is_st: bool,
                     day: date | pd.Timestamp) -> tuple[float, float]:
        """(limit-down, limit-up) from the previous close; (0, inf) when no limit applies."""
        pct = self.limit_pct(board, is_st, day)
        if pct is None or not pre_close or pre_close != pre_close:
            return 0.0, float("inf")
        return round_price(pre_close * (1 - pct)), round_price(pre_close * (1 + pct))

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

    def _rate(self, table: tuple[RateRule, ...], day: date | pd.Timestamp) -> float:
        d = _as_date(day)
        rows = [r for r in table if r.effective_from <= d]
        return max(rows, key=lambda r: r.effective_from).rate if rows else 0.0

    def stamp_rate(self, day: date | pd.Timestamp) -> float:
        return self._rate(self.stamp, day)

    def transfer_rate(self, day: date | pd.Timestamp) -> float:
        return self._rate(self.transfer, day)

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

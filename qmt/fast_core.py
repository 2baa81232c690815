"""The fast engine: SimBroker's semantics with its hot paths on integers and precomputed arrays.

Why a second engine: the reference SimBroker (sim_broker.py) computes every fee, slippage and
limit price in Decimal, one order at a time, which is the readable statement of the rules but
dominates a full-market backtest. This module keeps every rule of qmt/rules.py by subclassing
the reference and replacing only how a number is computed, never which rule applies:

- fees and slippage in integer cents with exact rational rates: a rate r written as text (the
  reference reads `Decimal(str(r))`) is the fraction n/d, and "value x r rounded half up to the
  cent" is `(2*V*n + d) // (2*d)` for V in cents, the same integer the Decimal quantize gives;
- the session number since listing (new-listing limits) from calendar indices computed once per
  code and per day instead of two binary searches per order;
- the dated rule rows (lots, stamp duty, transfer fee) looked up once per board/exchange and day;
- a standing stop/target order that the bar does not trigger is answered from the day's arrays
  (the reference returns "untriggered" without touching the book either; its order-id counter
  advances the same way);
- a market order on a traded bar goes through `_submit_market`, SimBroker.submit statement for
  statement with the bar read from the day's lists and the money in integer cents;
- the limit band of a long-listed stock (no new-listing branch applies) is looked up once per
  board, ST flag, day and exchange;
- a day's bars may arrive as data.DayBars (lists cut once for the whole period by
  data.bars_by_day, no DataFrame per day).

Anything outside these fast paths (a price that is not a whole number of cents, e.g. a mark
re-based by a bonus issue; a date outside the exchange calendar) falls back to the reference
code. tests/test_qmt_fast_core.py runs both engines on the sample market and requires identical
logs (every column) and equity. The strategy (`decide`) and `execute_day` are shared, so paper
trading, `aquant live` and both backtest engines make the same decisions.
"""
from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from fractions import Fraction
from functools import lru_cache

import numpy as np
import pandas as pd

from .broker import OrderRequest, OrderResult, Position
from .costs import CostModel, Fee
from .data import DayBars
from .rules import MIN_TICK_RULE_FROM, RuleBook, _as_date, _sse_sessions, sessions_since_listing
from .sim_broker import BAR_COLS, SimBroker, _Holding, _Lot, to_cents

ENGINES = ("fast", "reference")
DEFAULT_ENGINE = "fast"  # identical results to the reference (tests/test_qmt_fast_core.py)


@lru_cache(maxsize=1024, typed=True)
def _ratio(x: float) -> tuple[int, int] | None:
    """A rate as the exact fraction of its text (as `Decimal(str(x))` reads it), or None."""
    f = Fraction(Decimal(str(x)))
    return (f.numerator, f.denominator) if f >= 0 else None


def _half_up(num: int, den: int) -> int:
    """num / den rounded half up, for num >= 0 (the exchanges' and brokers' rounding)."""
    return (2 * num + den) // (2 * den)


def _exact_cents(px: float) -> int | None:
    """The price in cents when it is a whole number of cents (as its text says), else None.

    A float parsed from text with at most two decimals is the float nearest c / 100; c / 100
    in floating point gives that same float, so the test is exact."""
    if px != px or px <= 0 or px > 1e9:
        return None
    c = round(px * 100)
    return c if c / 100 == px else None


@dataclass(frozen=True)
class FastRuleBook(RuleBook):
    """RuleBook whose dated-row lookups are cached per key (the rows are immutable)."""

    def lot(self, board, day):  # noqa: ANN001, ANN201 - same signature as RuleBook.lot
        key = ("lot", board, day)
        hit = self._cache.get(key)
        if hit is None:
            hit = self._cache[key] = RuleBook.lot(self, board, day)
        return hit

    def limit_prices(self, pre_close, board, is_st, day, *, listed_session=None, list_date=None,  # noqa: ANN001, ANN201
                     exchange=None):  # noqa: ANN001
        """RuleBook.limit_prices; for a long-listed stock (no listing arguments) the band's width
        and one-tick floor are looked up once per board, ST flag, day and exchange."""
        if listed_session is not None or not pre_close or pre_close != pre_close:
            return RuleBook.limit_prices(self, pre_close, board, is_st, day, listed_session=listed_session,
                                         list_date=list_date, exchange=exchange)
        key = ("band", board, is_st, day, exchange)
        band = self._cache.get(key)
        if band is None:
            tick_from = MIN_TICK_RULE_FROM.get(exchange) if exchange else None
            band = self._cache[key] = (self.limit_pct(board, is_st, day),
                                       tick_from is not None and _as_date(day) >= tick_from)
        if band[0] is None:
            return 0.0, float("inf")
        hit = self._cache.get(("px", pre_close, band[0], band[1]))
        return hit if hit is not None else RuleBook.limit_prices(self, pre_close, board, is_st, day, exchange=exchange)

    def stamp_rule(self, day):  # noqa: ANN001, ANN201
        key = ("stamp", day)
        if key not in self._cache:
            self._cache[key] = RuleBook.stamp_rule(self, day)
        return self._cache[key]

    def transfer_rule(self, day, exchange="SH"):  # noqa: ANN001, ANN201
        key = ("transfer", day, exchange)
        if key not in self._cache:
            self._cache[key] = RuleBook.transfer_rule(self, day, exchange)
        return self._cache[key]


@dataclass(frozen=True)
class FastCostModel(CostModel):
    """CostModel in integer cents; identical results to the Decimal reference (see module doc)."""

    def __post_init__(self) -> None:
        cm = Decimal(str(self.commission_min)) * 100
        object.__setattr__(self, "_cm_c", int(cm) if cm == cm.to_integral_value() and cm >= 0 else None)
        object.__setattr__(self, "_comm", _ratio(self.commission_rate))
        object.__setattr__(self, "_slip", _ratio(self.slippage))
        object.__setattr__(self, "_day_rates", {})

    def _rates(self, side: str, day: object, exchange: str) -> tuple | None:
        """(stamp n/d or None, transfer basis, n/d or None) for this side, day and exchange."""
        key = (side, day, exchange)
        hit = self._day_rates.get(key)
        if hit is None:
            srule = self.rules.stamp_rule(day)
            stamp = (_ratio(self.rules.stamp_rate(day))
                     if srule is not None and (side == "sell" or srule.sides == "both") else None)
            trule = self.rules.transfer_rule(day, exchange)
            transfer = _ratio(self.rules.transfer_rate(day, exchange)) if trule is not None else None
            hit = self._day_rates[key] = (stamp, trule.basis if trule is not None else "value", transfer)
        return hit

    def fee_cents(self, side: str, price: float, qty: int, day: object, code: str | None) -> int | None:
        """Total fee in cents, or None when the fast path does not apply (caller falls back)."""
        pc = _exact_cents(price)
        if pc is None or qty <= 0 or self._cm_c is None or self._comm is None:
            return None
        exchange = code.rpartition(".")[2].upper() if code and "." in code else "SH"
        stamp, basis, transfer = self._rates(side, day, exchange)
        v = pc * int(qty)
        n, d = self._comm
        total = max(_half_up(v * n, d), self._cm_c)
        if stamp is not None:
            total += _half_up(v * stamp[0], stamp[1])
        if transfer is not None:
            base = int(qty) * 100 if basis == "face" else v  # face value 1 CNY per share, in cents
            total += _half_up(base * transfer[0], transfer[1])
        return total

    def fee(self, side: str, price: float, qty: int, day, code: str | None = None) -> Fee:  # noqa: ANN001
        pc = _exact_cents(price)
        if pc is None or qty <= 0 or self._cm_c is None or self._comm is None:
            return CostModel.fee(self, side, price, qty, day, code)
        exchange = code.rpartition(".")[2].upper() if code and "." in code else "SH"
        stamp, basis, transfer = self._rates(side, day, exchange)
        v = pc * int(qty)
        n, d = self._comm
        c = max(_half_up(v * n, d), self._cm_c)
        s = _half_up(v * stamp[0], stamp[1]) if stamp is not None else 0
        base = int(qty) * 100 if basis == "face" else v
        t = _half_up(base * transfer[0], transfer[1]) if transfer is not None else 0
        return Fee(c / 100, s / 100, t / 100)

    def slipped(self, side: str, price: float, low: float = 0.0, high: float = float("inf")) -> float:
        pc = _exact_cents(price)
        if pc is None or self._slip is None:
            return CostModel.slipped(self, side, price, low, high)
        n, d = self._slip
        num = pc * (d + n if side == "buy" else d - n)
        if num < 0:
            return CostModel.slipped(self, side, price, low, high)
        return min(max(_half_up(num, d) / 100, low), high)


class FastSimBroker(SimBroker):
    """SimBroker with integer-cent fees and array-backed checks (same semantics, see module doc)."""

    def __post_init__(self) -> None:
        super().__post_init__()
        c = self.costs
        if not isinstance(c, FastCostModel):
            rules = c.rules if isinstance(c.rules, FastRuleBook) else FastRuleBook(
                c.rules.limits, c.rules.lots, c.rules.stamp, c.rules.transfer, c.rules.new_listings)
            self.costs = FastCostModel(c.commission_rate, c.commission_min, c.slippage, rules)
        self._cal = _sse_sessions()
        # code -> (board, list date, calendar index of the listing, exchange, new-listing rule)
        self._lim: dict[str, tuple] = {}
        self._day_i: int | None = None
        self._rows: dict[str, list[float]] = {}
        self._oid_day: pd.Timestamp | None = None
        self._oid, self._date = "", None

    def start_day(self, day, bars: pd.DataFrame | DayBars) -> None:  # noqa: ANN001
        """As SimBroker.start_day; the day's columns also kept as Python lists (indexing a list
        is several times cheaper than a numpy scalar), delistings found without sorting the book.
        `bars` may be a data.DayBars (lists already)."""
        self.day = pd.Timestamp(day)
        if isinstance(bars, DayBars):  # the backtest's form: lists already (data.bars_by_day)
            self._idx = dict(zip(bars.codes, range(len(bars.codes))))
            self._arr, self._rows = {}, bars.cols
        else:
            codes = bars["code"].to_numpy() if "code" in bars.columns else bars.index.to_numpy()
            self._idx = dict(zip(codes.tolist(), range(len(codes))))
            self._arr = {c: bars[c].to_numpy(dtype=float) for c in BAR_COLS}
            self._rows = {c: a.tolist() for c, a in self._arr.items()}
        self._used = {}
        for h in self._hold.values():
            h.sellable = h.qty
        self.delisted = sorted(c for c in self._hold if c in self.delist and self.delist[c] <= self.day)
        for code in self.delisted:
            self._delist(code)
        r = self._rows
        self._o, self._h, self._l, self._v = r["open"], r["high"], r["low"], r["volume"]
        s, d = self._cal, np.datetime64(self.day.date(), "D")
        self._day_i = int(np.searchsorted(s, d, "right")) if s is not None and s[0] <= d <= s[-1] else None

    def positions(self) -> dict[str, Position]:
        """As SimBroker.positions, without building a Position per holding per day (at full scale
        the book holds ~2,000 codes and that copy cost more than the day's orders): the values are
        the live holdings, which read as Positions (qty, sellable, cost; every holding in the book
        has qty > 0: a sale to zero deletes it). Read-only, and only until the broker trades again."""
        return dict(self._hold)

    def bar(self, code: str) -> dict[str, float] | None:
        i = self._idx.get(code)
        if i is None:
            return None
        r = self._rows
        return {"open": r["open"][i], "high": r["high"][i], "low": r["low"][i], "close": r["close"][i],
                "pre_close": r["pre_close"][i], "volume": r["volume"][i]}

    def end_day(self) -> float:
        """As SimBroker.end_day: marks, then cash + the marked values in the book's order, added
        by `sum` as the reference does (Python 3.12's sum of floats is compensated, so a `+=`
        loop would differ in the last bit there); one pass, as a holding's mark is its own."""
        close, idx, last = self._rows["close"], self._idx, self.last_close
        values = []
        for code, h in self._hold.items():
            i = idx.get(code)
            if i is not None:
                last[code] = close[i]
            values.append(h.qty * last.get(code, h.cost))
        return self._cash + sum(values)

    def marks(self, codes: set[str]) -> dict[str, float]:
        close, idx = self._rows.get("close", []), self._idx
        out: dict[str, float] = {}
        for c in codes:
            i = idx.get(c)
            if i is not None:
                out[c] = close[i]
        for c, h in self._hold.items():
            if c not in out and h.qty > 0 and c in self.last_close:
                out[c] = self.last_close[c]
        return out

    def _buy_cost_c(self, px: float, q: int, code: str) -> int:
        fee = self.costs.fee_cents("buy", px, q, self.day, code)
        if fee is None:
            return super()._buy_cost_c(px, q, code)
        return q * round(px * 100) + fee

    def limits(self, code: str, pre_close: float) -> tuple[float, float]:
        """As SimBroker.limits; the session number from calendar indices, and the code's
        new-listing rule, cached per code (re-looked-up when its board or listing date changes)."""
        ld = self.list_dates.get(code)
        if ld is None or self._day_i is None:
            return super().limits(code, pre_close)
        board, st = self._board(code)
        hit = self._lim.get(code)
        if hit is None or hit[0] != board or hit[1] != ld:
            s, x = self._cal, np.datetime64(ld, "D")
            li = int(np.searchsorted(s, x, "left")) if s[0] <= x else None
            exchange = code.rpartition(".")[2].upper()
            hit = self._lim[code] = (board, ld, li, exchange, self.rules.new_listing_rule(board, ld, exchange))
        li, exchange, rule, rules = hit[2], hit[3], hit[4], self.rules
        if li is None:
            return super().limits(code, pre_close)
        n = self._day_i - li
        if n <= 0:  # day before the listing date: as sessions_since_listing (None)
            n = sessions_since_listing(ld, self.day)
        if n is not None and rule is not None and (
                n <= rule.free_sessions or (n == 1 and rule.first_day_up is not None)):
            return rules.limit_prices(pre_close, board, st, self.day, listed_session=n, list_date=ld,
                                      exchange=exchange)
        # no new-listing branch applies: RuleBook.limit_prices falls through to the board's band,
        # which is what it gives without the listing arguments (FastRuleBook caches that band per day)
        return rules.limit_prices(pre_close, board, st, self.day, exchange=exchange)

    def _order_id(self) -> str:
        """The reference's `sim-YYYYMMDD-n` id, the date text formatted once per day (formatting a
        Timestamp costs more than the rest of an order's bookkeeping)."""
        self._seq += 1
        return self._oid + str(self._seq)

    def submit(self, order: OrderRequest) -> OrderResult:
        """A standing order the bar does not trigger is answered without the full path; a market
        order on a traded bar takes `_submit_market`; anything else the reference path."""
        if self.day is None:
            return super().submit(order)
        if self._oid_day is not self.day:  # the day's id prefix and date, once per day
            self._oid_day, self._oid, self._date = self.day, f"sim-{self.day:%Y%m%d}-", self.day.date()
        if not order.order_id:
            order.order_id = self._order_id()
        if order.qty <= 0:
            return super().submit(order)
        i = self._idx.get(order.code)
        if i is None or not self._v[i] > 0:
            return super().submit(order)  # suspended: rejected by the reference
        if order.order_type == "market":
            return self._submit_market(order, i)
        if order.order_type in ("stop", "target") and order.side == "sell":
            o, p = self._o[i], order.price
            hit = (o <= p or self._l[i] <= p) if order.order_type == "stop" else (o >= p or self._h[i] >= p)
            if not hit:
                return OrderResult(order.order_id, order.code, order.side, int(order.qty), status="untriggered")
        return super().submit(order)

    def _submit_market(self, order: OrderRequest, i: int) -> OrderResult:
        """SimBroker.submit for a market order on bar row `i` (traded, positive quantity, id set),
        statement for statement, with the bar read from the day's lists and the money in integer
        cents (FastCostModel.fee_cents; the Decimal path where it does not apply)."""
        code, side = order.code, order.side
        res = OrderResult(order.order_id, code, side, int(order.qty))
        px = self._o[i]
        down, up = self.limits(code, self._rows["pre_close"][i])
        if side == "buy" and px >= up:
            return self._reject(order, res, int(order.qty), f"limit up {up:.2f}: no buy when sealed")
        if side == "sell" and px <= down:
            return self._reject(order, res, int(order.qty), f"limit down {down:.2f}: no sell when sealed")
        px = self.costs.slipped(side, px, max(self._l[i], down), min(self._h[i], up))
        pc = _exact_cents(px)  # the execution price in cents, or None (the Decimal paths below)
        board = self._board(code)[0]
        want, why = int(order.qty), ""
        cap = int(self.volume_share * self._v[i]) - self._used.get(code, 0)
        h = self._hold.get(code)
        rules = self.rules
        if side == "sell":
            sellable = h.sellable if h else 0
            if sellable <= 0:
                why = "T+1: shares bought today are not sellable" if h and h.qty > 0 else "no position to sell"
                return self._reject(order, res, want, why)
            q = min(want, sellable)
            if q < want:
                why = "T+1: only %d sellable" % sellable if h.qty > sellable else "exceeds position"
            if cap < q:
                q, why = max(cap, 0), f"volume cap {self.volume_share:.0%} of bar volume"
            q2 = rules.sell_qty(q, sellable, board, self.day)
            if q2 < q:
                why = why or "odd lot: only the whole remainder may be sold below a lot"
            q = q2
        else:
            q = want
            if cap < q:
                q, why = max(cap, 0), f"volume cap {self.volume_share:.0%} of bar volume"
            q2 = rules.buy_qty(q, board, self.day)
            if q2 < q:
                why = why or "lot size: buys in board lots only"
            q = q2
            fee_c = self.costs.fee_cents(side, px, q, self.day, code) if q > 0 and pc is not None else None
            # the buy's cost in cents, fees included (= _buy_cost_c; its fee is reused below when q holds)
            if q > 0 and (q * pc + fee_c if fee_c is not None else self._buy_cost_c(px, q, code)) > self._cash_c:
                q = self._affordable_qty(px, q, board, code)
                why, fee_c = "insufficient cash", None
        if q <= 0:
            return self._reject(order, res, want, why or "nothing to trade")
        if side == "sell" or fee_c is None:
            fee_c = self.costs.fee_cents(side, px, q, self.day, code)
        if fee_c is None:
            fee_c = to_cents(self.costs.fee(side, px, q, self.day, code).total)
        value_c = (pc if pc is not None else to_cents(px)) * q
        tax_c = 0
        pnl = 0.0
        if side == "buy":
            if h is None:
                h = self._hold[code] = _Holding()
            h.cost = (h.cost * h.qty + (value_c + fee_c) / 100) / (h.qty + q)
            h.qty += q
            if h.lots and h.lots[-1].acquired == self._date and not h.lots[-1].divs:
                h.lots[-1].qty += q
            else:
                h.lots.append(_Lot(q, self._date))
            self._cash_c -= value_c + fee_c
        else:
            due = self._take_lots(h, q)  # dividend tax withheld at the sale
            tax_c = to_cents(due) if due else 0
            pnl = (value_c - fee_c - tax_c) / 100 - h.cost * q
            h.qty -= q
            h.sellable -= q
            self._cash_c += value_c - fee_c - tax_c
            if h.qty == 0:
                del self._hold[code]
        self.last_close.setdefault(code, px)
        self._used[code] = self._used.get(code, 0) + q
        self._fill(order, px, q, fee_c + tax_c, tax_c, pnl, res)
        if q < want:
            self._reject(order, res, want - q, why)
            res.status = "partial"
        return res


def broker_class(engine: str) -> type[SimBroker]:
    """The broker class of an engine name (`fast` or `reference`)."""
    if engine not in ENGINES:
        raise ValueError(f"engine must be one of {ENGINES}, got {engine!r}")
    return FastSimBroker if engine == "fast" else SimBroker


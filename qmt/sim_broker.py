"""SimBroker: the backtest and paper-trading broker, honouring A-share rules day by day.

Each day the caller hands it that day's bars (`start_day`), the corporate actions that apply on
that session (`apply_corporate_actions`, scheduled by corporate_actions.schedule), then submits
orders. Market orders fill at the open; stop/target/limit orders are standing orders judged
against the bar. Only the open and the limit prices (from the previous close) decide a fill at
the open, never the close: no look-ahead.

Money is kept exact: cash in integer cents, dividend and tax bases in Decimal. Each holding is a
FIFO list of lots with their acquisition date, because the dividend tax withheld at a sale
depends on how long the shares sold were held (rules.DIVIDEND_TAX).
"""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from decimal import ROUND_HALF_UP, Decimal

import numpy as np
import pandas as pd

from .broker import Fill, OrderRequest, OrderResult, Position
from .corporate_actions import bonus_shares, money
from .costs import CostModel
from .rules import RuleBook, board_of, dividend_tax_rule, sessions_since_listing

DELISTING_RULES = ("last_close", "zero")


def to_cents(x: float | Decimal) -> int:
    """CNY amount -> integer cents, half up (a float that is already a cent amount maps exactly)."""
    return int((money(x) * 100).quantize(Decimal(1), ROUND_HALF_UP))

BAR_COLS = ("open", "high", "low", "close", "pre_close", "volume")


@dataclass
class LogEntry:
    """One line of the broker's record: a fill or a rejection (what ops.backtest_log stores)."""

    trade_date: object
    code: str
    side: str
    status: str  # filled / rejected
    price: float | None
    qty: int
    fee: float  # all costs of the fill, dividend tax withheld at a sale included
    reason: str
    order_id: str = ""
    signal_id: str | None = None
    tax: float = 0.0  # of which dividend income tax (CNY)


@dataclass
class CorporateAction:
    """A dividend / bonus-share event applied to a holding on the first session on/after its ex-date."""

    code: str
    cash: float            # credited to cash (gross less what the company withholds at payment)
    bonus_shares: int
    cash_per_share: float
    bonus_ratio: float
    withheld: float = 0.0  # tax withheld at payment (the rule's lowest rate; 0 since 2015-09-08)


@dataclass
class _Lot:
    """Shares acquired on one day (bonus shares inherit their lot's date: 85号 counts them with it).

    `divs` holds, per dividend received on this lot: [record date, gross, withheld at payment],
    amounts for the lot's current shares (Decimal CNY), the base of the tax due at the sale.
    """

    qty: int
    acquired: date
    divs: list[list] = field(default_factory=list)


@dataclass
class _Holding:
    qty: int = 0
    sellable: int = 0
    cost: float = 0.0
    lots: list[_Lot] = field(default_factory=list)


@dataclass
class SimBroker:
    """Simulated account. `volume_share` caps each stock's fills per day at that share of bar volume.

    `delisting` says what happens to a holding once its delist_date is reached (see
    `_delist`); `dividend_tax` withholds the individual investor's dividend income tax.
    Volume cap assumption: orders fill at the open, but daily bars only carry the whole day's
    volume, so the cap is a share of the *day's* volume used as a proxy for what the opening
    auction and the first minutes could absorb. That proxy is optimistic (the open trades a
    fraction of the day), hence the conservative default of 5 % (`StrategyParams.volume_share`).
    """

    initial_cash: float = 1_000_000.0
    costs: CostModel = field(default_factory=CostModel)
    volume_share: float = 0.05
    info: dict[str, tuple[str, bool]] = field(default_factory=dict)  # code -> (board, is_st)
    delisting: str = "last_close"
    dividend_tax: bool = True
    delist: dict[str, pd.Timestamp] = field(default_factory=dict)  # code -> delist_date
    list_dates: dict[str, date] = field(default_factory=dict)  # code -> listing date (new-listing limits)

    def __post_init__(self) -> None:
        if not 0 < self.volume_share <= 1:
            raise ValueError(f"volume_share must be in (0, 1], got {self.volume_share}")
        if self.delisting not in DELISTING_RULES:
            raise ValueError(f"delisting must be one of {DELISTING_RULES}, got {self.delisting!r}")
        self._cash_c = to_cents(float(self.initial_cash))  # integer cents
        self._hold: dict[str, _Holding] = {}
        self._fills: list[Fill] = []
        self.log: list[LogEntry] = []
        self.day: pd.Timestamp | None = None
        self._idx: dict[str, int] = {}
        self._arr: dict[str, np.ndarray] = {}
        self._used: dict[str, int] = {}
        self.last_close: dict[str, float] = {}
        self._seq = 0
        self.delisted: list[str] = []  # codes closed by the last start_day
        self._div_c = 0  # dividends credited to cash, cents (net of tax withheld at payment)

    @property
    def _cash(self) -> float:
        """Cash in CNY (read-only view of the integer-cent balance)."""
        return self._cash_c / 100

    @property
    def rules(self) -> RuleBook:
        return self.costs.rules

    def set_info(self, info: pd.DataFrame) -> None:
        """Board and ST flag per code from stg_stock_info (board derived from the code if missing)."""
        for code, board, st in zip(info["code"], info.get("board", [None] * len(info)),
                                   info.get("is_st", [False] * len(info))):
            self.info[code] = (board if isinstance(board, str) and board else board_of(code),
                               bool(st) if st == st else False)
        if "delist_date" in info:
            for code, d in zip(info["code"], info["delist_date"]):
                if d is not None and not pd.isna(d):
                    self.delist[code] = pd.Timestamp(d).normalize()
        if "list_date" in info:  # new-listing limit rules count sessions from the listing date
            for code, ld in zip(info["code"], info["list_date"]):
                if ld is not None and not pd.isna(ld):
                    self.list_dates[code] = pd.Timestamp(ld).date()

    def _board(self, code: str) -> tuple[str, bool]:
        return self.info.get(code) or (board_of(code), False)

    # -- day cycle ----------------------------------------------------------------------
    def start_day(self, day: date | pd.Timestamp, bars: pd.DataFrame) -> None:
        """Open a trading day: yesterday's buys become sellable (T+1), volume budgets reset.

        `bars` has one row per code traded today (columns code + BAR_COLS); a code without a
        row, or with zero volume, is suspended.
        """
        self.day = pd.Timestamp(day)
        codes = bars["code"].to_numpy() if "code" in bars.columns else bars.index.to_numpy()
        self._idx = dict(zip(codes, range(len(codes))))
        self._arr = {c: bars[c].to_numpy(dtype=float) for c in BAR_COLS}
        self._used = {}
        for h in self._hold.values():
            h.sellable = h.qty
        self.delisted = [c for c in sorted(self._hold) if c in self.delist and self.delist[c] <= self.day]
        for code in self.delisted:
            self._delist(code)

    def bar(self, code: str) -> dict[str, float] | None:
        i = self._idx.get(code)
        return None if i is None else {c: float(self._arr[c][i]) for c in BAR_COLS}

    def limits(self, code: str, pre_close: float) -> tuple[float, float]:
        """Today's exact limit prices, new-listing rules included: the session number since
        listing is counted on the exchange calendar from stg_stock_info's list_date
        (`rules.sessions_since_listing`), so it is right in paper trading too, where the broker
        sees one day at a time. A code without a list_date is treated as long listed. The
        exchange (code suffix) selects the one-tick floor and the listing-day band's dates."""
        board, st = self._board(code)
        ld = self.list_dates.get(code)
        n = sessions_since_listing(ld, self.day) if ld is not None else None
        return self.rules.limit_prices(pre_close, board, st, self.day, listed_session=n, list_date=ld,
                                       exchange=code.rpartition(".")[2].upper())

    def apply_corporate_actions(self, actions: pd.DataFrame | None) -> list[CorporateAction]:
        """Events applying on this session, for the holdings at the previous close (the record
        date's; call before any order of the day): cash dividend to cash less what the company
        withholds at payment, bonus shares added (sellable from the next day), average cost
        lowered by the cash. `actions` rows: code, cash_div_per_share, bonus_ratio and, from
        corporate_actions.schedule, record_date (else the day before this session)."""
        done: list[CorporateAction] = []
        if actions is None or actions.empty:
            return done
        recs = actions["record_date"] if "record_date" in actions else [None] * len(actions)
        for code, cash_ps, bonus, rec in zip(actions["code"], actions["cash_div_per_share"].fillna(0.0),
                                             actions["bonus_ratio"].fillna(0.0), recs):
            h = self._hold.get(code)
            if not h or h.qty <= 0 or (cash_ps <= 0 and bonus <= 0):
                continue
            rec = pd.Timestamp(rec) if rec is not None and not pd.isna(rec) else self.day - pd.Timedelta(days=1)
            cps = money(float(cash_ps))
            gross_c = to_cents(h.qty * cps)
            floor = dividend_tax_rule(rec).beyond if self.dividend_tax and gross_c else Decimal(0)
            withheld_c = to_cents(gross_c * floor / 100)
            for lot in h.lots:
                if cps > 0:
                    g = lot.qty * cps
                    lot.divs.append([rec.date().isoformat(), g, g * floor])
            extra = bonus_shares(h.qty, float(bonus))
            self._split_bonus(h, extra)
            net_c = gross_c - withheld_c
            self._cash_c += net_c
            self._div_c += net_c
            total_cost = h.cost * h.qty - net_c / 100
            h.qty += extra
            h.cost = total_cost / h.qty
            if code in self.last_close:  # keep marks consistent until today's close arrives
                self.last_close[code] = (self.last_close[code] - float(cash_ps)) / (1 + float(bonus))
            done.append(CorporateAction(code, net_c / 100, extra, float(cash_ps), float(bonus), withheld_c / 100))
        return done

    @staticmethod
    def _split_bonus(h: _Holding, extra: int) -> None:
        """Spread `extra` bonus shares over the lots pro rata (largest remainder, oldest first)."""
        if extra <= 0 or not h.lots:
            if extra > 0:
                h.lots.append(_Lot(extra, date.min))
            return
        total = sum(lot.qty for lot in h.lots) or 1
        shares = [lot.qty * extra // total for lot in h.lots]
        order = sorted(range(len(h.lots)), key=lambda i: (-(h.lots[i].qty * extra % total), i))
        for i in order[:extra - sum(shares)]:
            shares[i] += 1
        for lot, k in zip(h.lots, shares):
            lot.qty += k

    def _take_lots(self, h: _Holding, qty: int) -> Decimal:
        """Remove `qty` shares FIFO from the lots; return the dividend tax due on them now.

        Per dividend the lot received: gross x rate(holding period) - withheld at payment,
        pro rata to the shares sold (财税〔2012〕85号 / 〔2015〕101号: FIFO, withheld at the sale).
        """
        due, left = Decimal(0), qty
        while left > 0 and h.lots:
            lot = h.lots[0]
            k = min(lot.qty, left)
            for d in lot.divs:
                g, w = d[1] * k / lot.qty, d[2] * k / lot.qty
                if self.dividend_tax:
                    due += max(g * dividend_tax_rule(pd.Timestamp(d[0])).rate(lot.acquired, self.day) - w, Decimal(0))
                d[1], d[2] = d[1] - g, d[2] - w
            lot.qty -= k
            left -= k
            if lot.qty == 0:
                h.lots.pop(0)
        return due

    def _delist(self, code: str) -> None:
        """Close a holding whose stock has been delisted (its delist_date has been reached).

        After its last trading day a delisted A share leaves the exchange (退市整理期 first, then
        the NEEQ delisted-companies board, 全国股转系统退市板块), where a backtest has no prices.
        Conventions (knob `delisting`): "last_close" sells the whole holding at the last close
        seen, with the ordinary sell costs and dividend tax, on the first session on or after
        delist_date; "zero" writes it off at 0 (most conservative). Logged as a sell with reason
        'delisted', so the log and ops.trades still account for every share.
        """
        h = self._hold[code]
        px = self.last_close.get(code, 0.0) if self.delisting == "last_close" else 0.0
        order = OrderRequest(code, "sell", h.qty, reason="delisted",
                             order_id=f"delist-{code}-{self.day:%Y%m%d}")
        q = h.qty
        fee_c = to_cents(self.costs.fee("sell", px, q, self.day, code).total) if px > 0 else 0
        tax_c = to_cents(self._take_lots(h, q))
        value_c = to_cents(px) * q
        self._cash_c += value_c - fee_c - tax_c
        pnl = (value_c - fee_c - tax_c) / 100 - h.cost * q
        del self._hold[code]
        self._fill(order, px, q, fee_c + tax_c, tax_c, pnl, OrderResult(order.order_id, code, "sell", q))

    def end_day(self) -> float:
        """Mark held stocks to today's close (suspended ones keep their last close); return equity."""
        for code in self._hold:
            i = self._idx.get(code)
            if i is not None:
                self.last_close[code] = float(self._arr["close"][i])
        return self.equity()

    # -- queries ------------------------------------------------------------------------
    def positions(self) -> dict[str, Position]:
        return {c: Position(c, h.qty, h.sellable, h.cost) for c, h in self._hold.items() if h.qty > 0}

    def position(self, code: str) -> Position | None:
        """One holding, without building the whole book (the per-order hot path)."""
        h = self._hold.get(code)
        return Position(code, h.qty, h.sellable, h.cost) if h and h.qty > 0 else None

    def holds(self, code: str) -> bool:
        h = self._hold.get(code)
        return bool(h and h.qty > 0)

    def marks(self, codes: set[str]) -> dict[str, float]:
        """Today's close for each code traded today, else the last close for a held code."""
        close = self._arr.get("close")
        out: dict[str, float] = {}
        for c in codes:
            i = self._idx.get(c)
            if i is not None:
                out[c] = float(close[i])
        for c in self._hold:
            if c not in out and self.holds(c) and c in self.last_close:
                out[c] = self.last_close[c]
        return out

    def cash(self) -> float:
        return self._cash_c / 100

    def dividends_received(self) -> float:
        """Cash dividends credited so far (net of what was withheld at payment), CNY."""
        return self._div_c / 100

    def fills(self) -> list[Fill]:
        return list(self._fills)

    def market_value(self) -> float:
        return sum(h.qty * self.last_close.get(c, h.cost) for c, h in self._hold.items())

    def equity(self) -> float:
        return self._cash + self.market_value()

    def cancel(self, order_id: str) -> bool:
        """Sim orders execute on submit; nothing stays open to cancel."""
        return False

    # -- state for paper trading ----------------------------------------------------------
    def snapshot(self) -> dict:
        """JSON-ready state: cash (and exact cents), marks, holdings with their lots and the
        dividends each lot received (Decimal as text)."""
        return {"cash": self.cash(), "cash_cents": self._cash_c, "last_close": dict(self.last_close),
                "holdings": {c: [h.qty, h.sellable, h.cost,
                                 [[lot.qty, lot.acquired.isoformat(), [[r, str(g), str(w)] for r, g, w in lot.divs]]
                                  for lot in h.lots]]
                             for c, h in self._hold.items() if h.qty > 0}}

    def restore(self, snap: dict) -> None:
        """Inverse of snapshot. A snapshot from before lots were kept restores one lot of unknown
        date (date.min: held long, so no dividend tax is charged on it)."""
        self._cash_c = int(snap["cash_cents"]) if "cash_cents" in snap else to_cents(float(snap["cash"]))
        self.last_close = {c: float(v) for c, v in snap.get("last_close", {}).items()}
        self._hold = {}
        for c, row in snap["holdings"].items():
            q, s, cost = int(row[0]), int(row[1]), float(row[2])
            lots = ([_Lot(int(n), date.fromisoformat(a), [[r, Decimal(g), Decimal(w)] for r, g, w in divs])
                     for n, a, divs in row[3]] if len(row) > 3 else [_Lot(q, date.min)])
            self._hold[c] = _Holding(q, s, cost, lots)

    # -- execution ------------------------------------------------------------------------
    def _record(self, order: OrderRequest, status: str, price: float | None, qty: int, fee: float,
                reason: str) -> None:
        self.log.append(LogEntry(self.day, order.code, order.side, status, price, qty, fee, reason,
                                 order.order_id, order.signal_id))

    def _reject(self, order: OrderRequest, res: OrderResult, qty: int, why: str) -> OrderResult:
        res.rejected += qty
        res.reason = why
        self._record(order, "rejected", None, qty, 0.0, f"{order.reason}: {why}")
        if res.filled == 0:
            res.status = "rejected"
        return res

    def _trigger_price(self, order: OrderRequest, b: dict[str, float]) -> float | None:
        """Execution price from the bar, or None when a standing order is not triggered."""
        o, hi, lo, p = b["open"], b["high"], b["low"], order.price
        if order.order_type == "market":
            return o
        buyish = order.side == "buy"
        if order.order_type == "limit":
            if buyish:
                return o if o <= p else (p if lo <= p else None)
            return o if o >= p else (p if hi >= p else None)
        if order.order_type == "stop":  # sell stop below, buy stop above; a gap through fills at the open
            if buyish:
                return o if o >= p else (p if hi >= p else None)
            return o if o <= p else (p if lo <= p else None)
        # target: take-profit above for sells
        if buyish:
            return o if o <= p else (p if lo <= p else None)
        return o if o >= p else (p if hi >= p else None)

    def _fill(self, order: OrderRequest, px: float, q: int, cost_c: int, tax_c: int, pnl: float,
              res: OrderResult) -> None:
        """Record one execution: Fill (fee = all costs, dividend tax included) and log line."""
        fee = cost_c / 100
        fill = Fill(order.order_id, order.code, order.side, px, q, fee, self.day, order.reason,
                    f"{order.order_id}-{len(res.fills) + 1}", round(pnl, 2))
        self._fills.append(fill)
        res.fills.append(fill)
        res.filled = q
        self.log.append(LogEntry(self.day, order.code, order.side, "filled", px, q, fee, order.reason,
                                 order.order_id, order.signal_id, tax_c / 100))
        res.status = "filled"

    def _buy_cost_c(self, px: float, q: int, code: str) -> int:
        """Cash a buy of q shares at px takes, fees included, in cents."""
        return q * to_cents(px) + to_cents(self.costs.fee("buy", px, q, self.day, code).total)

    def _affordable_qty(self, px: float, want: int, board: str, code: str) -> int:
        """Largest valid buy quantity (board lot rules) not above `want` that cash pays for.

        Cost rises with quantity, so a binary search over the valid quantities (min_qty + k x step)
        finds it exactly; the old shortcut (cash / (price x 1.001)) bought up to a lot less than
        the cash paid for (found by the RQAlpha cross-check, docs/qmt.md).
        """
        lot = self.rules.lot(board, self.day)
        px_c = to_cents(px)
        if px_c <= 0:
            return 0
        top = self.rules.buy_qty(min(want, self._cash_c // px_c), board, self.day)
        if top < lot.min_qty or self._buy_cost_c(px, lot.min_qty, code) > self._cash_c:
            return 0
        lo, hi = 0, (top - lot.min_qty) // lot.step
        while lo < hi:
            mid = (lo + hi + 1) // 2
            if self._buy_cost_c(px, lot.min_qty + mid * lot.step, code) <= self._cash_c:
                lo = mid
            else:
                hi = mid - 1
        return lot.min_qty + lo * lot.step

    def submit(self, order: OrderRequest) -> OrderResult:
        """Execute against today's bar; the result and the log say what filled and why not."""
        if self.day is None:
            raise RuntimeError("SimBroker.submit before start_day(day, bars): no bar to trade against")
        if not order.order_id:
            self._seq += 1
            order.order_id = f"sim-{self.day:%Y%m%d}-{self._seq}"
        res = OrderResult(order.order_id, order.code, order.side, int(order.qty))
        if order.qty <= 0:
            return self._reject(order, res, 0, "quantity must be positive")
        b = self.bar(order.code)
        if b is None or not b["volume"] > 0:
            return self._reject(order, res, int(order.qty), "suspended (no bar or zero volume)")
        px = self._trigger_price(order, b)
        if px is None:
            res.status = "untriggered"
            return res
        down, up = self.limits(order.code, b["pre_close"])
        if order.side == "buy" and px >= up:
            return self._reject(order, res, int(order.qty), f"limit up {up:.2f}: no buy when sealed")
        if order.side == "sell" and px <= down:
            return self._reject(order, res, int(order.qty), f"limit down {down:.2f}: no sell when sealed")
        px = self.costs.slipped(order.side, px, max(b["low"], down), min(b["high"], up))
        board, _ = self._board(order.code)
        want, why = int(order.qty), ""
        cap = int(self.volume_share * b["volume"]) - self._used.get(order.code, 0)
        h = self._hold.get(order.code)
        if order.side == "sell":
            sellable = h.sellable if h else 0
            if sellable <= 0:
                why = "T+1: shares bought today are not sellable" if h and h.qty > 0 else "no position to sell"
                return self._reject(order, res, want, why)
            q = min(want, sellable)
            if q < want:
                why = "T+1: only %d sellable" % sellable if h.qty > sellable else "exceeds position"
            if cap < q:
                q, why = max(cap, 0), f"volume cap {self.volume_share:.0%} of bar volume"
            q2 = self.rules.sell_qty(q, sellable, board, self.day)
            if q2 < q:
                why = why or "odd lot: only the whole remainder may be sold below a lot"
            q = q2
        else:
            q = want
            if cap < q:
                q, why = max(cap, 0), f"volume cap {self.volume_share:.0%} of bar volume"
            q2 = self.rules.buy_qty(q, board, self.day)
            if q2 < q:
                why = why or "lot size: buys in board lots only"
            q = q2
            # shrink to the largest valid quantity cash pays for, fees included (exact, in cents)
            if q > 0 and self._buy_cost_c(px, q, order.code) > self._cash_c:
                q = self._affordable_qty(px, q, board, order.code)
                why = "insufficient cash"
        if q <= 0:
            return self._reject(order, res, want, why or "nothing to trade")
        fee_c = to_cents(self.costs.fee(order.side, px, q, self.day, order.code).total)
        value_c = to_cents(px) * q
        tax_c = 0
        pnl = 0.0
        if order.side == "buy":
            h = self._hold.setdefault(order.code, _Holding())
            h.cost = (h.cost * h.qty + (value_c + fee_c) / 100) / (h.qty + q)
            h.qty += q
            if h.lots and h.lots[-1].acquired == self.day.date() and not h.lots[-1].divs:
                h.lots[-1].qty += q
            else:
                h.lots.append(_Lot(q, self.day.date()))
            self._cash_c -= value_c + fee_c
        else:
            tax_c = to_cents(self._take_lots(h, q))  # dividend tax withheld at the sale
            pnl = (value_c - fee_c - tax_c) / 100 - h.cost * q
            h.qty -= q
            h.sellable -= q
            self._cash_c += value_c - fee_c - tax_c
            if h.qty == 0:
                del self._hold[order.code]
        self.last_close.setdefault(order.code, px)
        self._used[order.code] = self._used.get(order.code, 0) + q
        self._fill(order, px, q, fee_c + tax_c, tax_c, pnl, res)
        if q < want:
            self._reject(order, res, want - q, why)
            res.status = "partial"
        return res

"""SimBroker: the backtest and paper-trading broker, honouring A-share rules day by day.

Each day the caller hands it that day's bars (`start_day`), corporate actions for the ex-date
(`apply_corporate_actions`), then submits orders. Market orders fill at the open; stop/target/
limit orders are standing orders judged against the bar. Only the open and the limit prices
(from the previous close) decide a fill at the open, never the close: no look-ahead.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field
from datetime import date

import numpy as np
import pandas as pd

from .broker import Fill, OrderRequest, OrderResult, Position
from .costs import CostModel
from .rules import RuleBook, board_of, sessions_since_listing

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
    fee: float
    reason: str
    order_id: str = ""
    signal_id: str | None = None


@dataclass
class CorporateAction:
    """A dividend / bonus-share event applied to a holding on its ex-date."""

    code: str
    cash: float
    bonus_shares: int
    cash_per_share: float
    bonus_ratio: float


@dataclass
class _Holding:
    qty: int = 0
    sellable: int = 0
    cost: float = 0.0


@dataclass
class SimBroker:
    """Simulated account. `volume_share` caps each stock's fills per day at that share of bar volume.

    Volume cap assumption: orders fill at the open, but daily bars only carry the whole day's
    volume, so the cap is a share of the *day's* volume used as a proxy for what the opening
    auction and the first minutes could absorb. That proxy is optimistic (the open trades a
    fraction of the day), hence the conservative default of 5 % (`StrategyParams.volume_share`).
    """

    initial_cash: float = 1_000_000.0
    costs: CostModel = field(default_factory=CostModel)
    volume_share: float = 0.05
    info: dict[str, tuple[str, bool]] = field(default_factory=dict)  # code -> (board, is_st)
    list_dates: dict[str, date] = field(default_factory=dict)  # code -> listing date (new-listing limits)

    def __post_init__(self) -> None:
        if not 0 < self.volume_share <= 1:
            raise ValueError(f"volume_share must be in (0, 1], got {self.volume_share}")
        self._cash = float(self.initial_cash)
        self._hold: dict[str, _Holding] = {}
        self._fills: list[Fill] = []
        self.log: list[LogEntry] = []
        self.day: pd.Timestamp | None = None
        self._idx: dict[str, int] = {}
        self._arr: dict[str, np.ndarray] = {}
        self._used: dict[str, int] = {}
        self.last_close: dict[str, float] = {}
        self._seq = 0

    @property
    def rules(self) -> RuleBook:
        return self.costs.rules

    def set_info(self, info: pd.DataFrame) -> None:
        """Board and ST flag per code from stg_stock_info (board derived from the code if missing)."""
        for code, board, st in zip(info["code"], info.get("board", [None] * len(info)),
                                   info.get("is_st", [False] * len(info))):
            self.info[code] = (board if isinstance(board, str) and board else board_of(code), bool(st) if st == st else False)
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

    def apply_corporate_actions(self, actions: pd.DataFrame) -> list[CorporateAction]:
        """Ex-date events for holdings at the previous close: cash dividend (pre-tax) to cash,
        bonus shares added (sellable from the next day), average cost lowered accordingly."""
        done: list[CorporateAction] = []
        if actions is None or actions.empty:
            return done
        for code, cash_ps, bonus in zip(actions["code"], actions["cash_div_per_share"].fillna(0.0),
                                        actions["bonus_ratio"].fillna(0.0)):
            h = self._hold.get(code)
            if not h or h.qty <= 0 or (cash_ps <= 0 and bonus <= 0):
                continue
            cash = round(h.qty * float(cash_ps), 2)
            extra = int(math.floor(h.qty * float(bonus) + 1e-9))
            self._cash += cash
            total_cost = h.cost * h.qty - cash
            h.qty += extra
            h.cost = total_cost / h.qty
            if code in self.last_close:  # keep marks consistent until today's close arrives
                self.last_close[code] = (self.last_close[code] - float(cash_ps)) / (1 + float(bonus))
            done.append(CorporateAction(code, cash, extra, float(cash_ps), float(bonus)))
        return done

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
        return round(self._cash, 2)

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
        return {"cash": self._cash, "last_close": dict(self.last_close),
                "holdings": {c: [h.qty, h.sellable, h.cost] for c, h in self._hold.items() if h.qty > 0}}

    def restore(self, snap: dict) -> None:
        self._cash = float(snap["cash"])
        self.last_close = {c: float(v) for c, v in snap.get("last_close", {}).items()}
        self._hold = {c: _Holding(int(q), int(s), float(cost)) for c, (q, s, cost) in snap["holdings"].items()}

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
            # shrink to what cash pays for, fees included
            while q > 0 and q * px + self.costs.fee("buy", px, q, self.day, order.code).total > self._cash + 1e-9:
                lot = self.rules.lot(board, self.day)
                afford = int(self._cash / (px * 1.001)) if px > 0 else 0
                q = self.rules.buy_qty(min(q - lot.step, afford), board, self.day)
                why = "insufficient cash"
        if q <= 0:
            return self._reject(order, res, want, why or "nothing to trade")
        fee = self.costs.fee(order.side, px, q, self.day, order.code).total
        value = px * q
        pnl = 0.0
        if order.side == "buy":
            h = self._hold.setdefault(order.code, _Holding())
            h.cost = (h.cost * h.qty + value + fee) / (h.qty + q)
            h.qty += q
            self._cash -= value + fee
        else:
            pnl = value - fee - h.cost * q
            h.qty -= q
            h.sellable -= q
            self._cash += value - fee
            if h.qty == 0:
                del self._hold[order.code]
        self.last_close.setdefault(order.code, px)
        self._used[order.code] = self._used.get(order.code, 0) + q
        fill = Fill(order.order_id, order.code, order.side, px, q, fee, self.day, order.reason,
                    f"{order.order_id}-{len(res.fills) + 1}", round(pnl, 2))
        self._fills.append(fill)
        res.fills.append(fill)
        res.filled = q
        self._record(order, "filled", px, q, fee, order.reason)
        res.status = "filled"
        if q < want:
            self._reject(order, res, want - q, why)
            res.status = "partial"
        return res

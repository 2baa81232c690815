"""The strategy: after day D's close, read D's signals and targets and decide orders for D+1's open.

Pure decisions, no I/O: the backtest, paper trading and the live/QMT paths all call `decide` with
the same inputs, so one strategy runs unchanged on every broker. Risk control lives here too:
stop-loss/take-profit from the signal (standing orders), trailing stops per position and on the
portfolio, caps per stock and industry, and an optional market-crash rule (off by default).

Exits (issue 13, the business document): rotation chooses what ENTERS the offensive portfolio;
a holding leaves on take-profit, stop-loss, score decay (the offense sell signals), the time exit
or a risk rule, never only because it left the week's list (`rotation_exit` false, the default;
true keeps the old rotation that sells everything off the list and re-weights to the targets).
Caps per stock and industry are the dbt vars `max_weight_stock` / `max_weight_industry` (one home,
qmt/knobs.py) and hold for the holdings, not only the buys: each rebalance day trims what a rise
has carried above a cap, in lots, at the next open.
"""
from __future__ import annotations

import json
import math
from dataclasses import asdict, dataclass, field, fields
from functools import lru_cache
from typing import Any, Mapping

import numpy as np
import pandas as pd

from .broker import OrderRequest, Position
from .knobs import dbt_var
from .rules import RuleBook, board_of, round_price


def _dbt(name: str, cast: type) -> Any:
    """A default read from dbt_project.yml's vars at construction (one home for the knob)."""
    return field(default_factory=lambda: cast(dbt_var(name)))


def _schema_of(model: str) -> Any:
    """A default read from aquant.relations at construction: the schema `model` is read from (dbt's
    manifest, or AQUANT_<SCHEMA>_SCHEMA), recorded with the run's params."""
    from aquant import relations

    return field(default_factory=lambda: relations.schema_of(model))


@dataclass
class StrategyParams:
    """Knobs of the strategy and the simulated account (all fractions of equity unless noted)."""

    initial_cash: float = 1_000_000.0
    buy_weight: float = 0.10             # weight bought per buy signal
    max_weight_stock: float = _dbt("max_weight_stock", float)        # cap per stock (dbt var)
    max_weight_industry: float = _dbt("max_weight_industry", float)  # cap per Shenwan L1 industry (dbt var)
    max_positions: int = 20
    trail_stop_position: float | None = 0.15   # sell when the close is 15 % under its peak since entry
    trail_stop_portfolio: float | None = 0.25  # liquidate when equity is 25 % under its peak ...
    cooloff_days: int = 5                      # ... then pause buying this many days
    crash_rule: bool = False                   # cut exposure after a market crash day
    crash_threshold: float = -0.05             # equal-weight market return on D at or below this
    crash_exposure: float = 0.5                # keep this fraction of each holding
    use_targets: bool = True                   # trade the portfolio_targets rotations
    rotation_exit: bool = _dbt("rotation_exit", bool)  # dbt var; false: rotation only enters (see module doc)
    rotation_take_profit_pct: float = _dbt("take_profit_pct", float)  # levels for a rotation entry (dbt var)
    rotation_stop_loss_pct: float = _dbt("stop_loss_pct", float)
    rotation_max_hold_days: int = _dbt("max_hold_days", int)  # time exit of a rotation entry (bars)
    rebalance_tolerance: float = 0.02          # ignore weight gaps smaller than this
    commission_rate: float = 0.00025
    commission_min: float = 5.0
    slippage: float = 0.0
    volume_share: float = 0.05             # share of the DAY's volume a stock may fill per day (see docs/qmt.md)
    staging_schema: str = _schema_of("stg_daily_quote")  # where the staging models are read (docs/qmt.md)
    signals_schema: str = _schema_of("signals")          # where the signal models are read

    @classmethod
    def from_any(cls, params: "StrategyParams | Mapping[str, Any] | None") -> "StrategyParams":
        if params is None:
            return cls()
        if isinstance(params, cls):
            return params
        known = {f.name for f in fields(cls)}
        bad = sorted(set(params) - known)
        if bad:
            raise ValueError(f"unknown strategy parameter(s) {bad}; expected some of {sorted(known)}")
        return cls(**dict(params))

    def to_json(self) -> str:
        return json.dumps(asdict(self), sort_keys=True)


@dataclass
class PositionMeta:
    """What the strategy remembers about a holding (prices unadjusted, re-based on ex-dates)."""

    code: str
    signal_id: str | None = None
    stop_loss: float | None = None
    take_profit: float | None = None
    peak_close: float = 0.0
    industry: str | None = None
    entry_reason: str = ""   # signal / rotation: what opened the position
    bars_held: int = 0       # sessions since the entry (closes seen by `decide`)


@dataclass
class StrategyState:
    """Carried from day to day; JSON-serialisable for paper trading restarts."""

    meta: dict[str, PositionMeta] = field(default_factory=dict)
    pending_meta: dict[str, PositionMeta] = field(default_factory=dict)  # set on buy fill
    equity_peak: float = 0.0
    cooloff_left: int = 0
    retry_sells: dict[str, str] = field(default_factory=dict)  # code -> reason (sell rejected, retry)

    def to_json(self) -> str:
        return json.dumps(asdict(self), sort_keys=True, default=str)

    @classmethod
    def from_json(cls, text: str) -> "StrategyState":
        d = json.loads(text)
        return cls(meta={k: PositionMeta(**v) for k, v in d.get("meta", {}).items()},
                   pending_meta={k: PositionMeta(**v) for k, v in d.get("pending_meta", {}).items()},
                   equity_peak=float(d.get("equity_peak", 0.0)), cooloff_left=int(d.get("cooloff_left", 0)),
                   retry_sells=dict(d.get("retry_sells", {})))

    # -- feedback from the broker ---------------------------------------------------------
    def on_buy_fill(self, code: str, price: float) -> None:
        m = self.meta.get(code) or self.pending_meta.get(code) or PositionMeta(code)
        m.peak_close = max(m.peak_close, price)
        self.meta[code] = m
        self.pending_meta.pop(code, None)

    def on_position_closed(self, code: str) -> None:
        self.meta.pop(code, None)
        self.retry_sells.pop(code, None)

    def on_corporate_action(self, code: str, cash_per_share: float, bonus_ratio: float) -> None:
        """Re-base trigger prices on the ex-date so a dividend gap does not fire a stop."""
        m = self.meta.get(code)
        if not m:
            return
        f = lambda x: None if x is None else (x - cash_per_share) / (1 + bonus_ratio)  # noqa: E731
        m.stop_loss, m.take_profit, m.peak_close = f(m.stop_loss), f(m.take_profit), f(m.peak_close) or 0.0


@dataclass
class Skip:
    """A signal that did not become an order, with the reason (logged, reconciled)."""

    code: str
    side: str
    signal_id: str | None
    reason: str
    qty: int = 0


@dataclass
class Decision:
    """Orders for D+1: at-open orders (sells first, then buys), standing stop/target orders, skips."""

    orders: list[OrderRequest] = field(default_factory=list)
    standing: list[OrderRequest] = field(default_factory=list)
    skipped: list[Skip] = field(default_factory=list)


def _num(x: Any) -> float | None:
    try:
        v = float(x)
    except (TypeError, ValueError):
        return None
    return v if v == v and v > 0 else None


SIGNAL_FIELDS = ("code", "kind", "signal_id", "priority", "composite_score", "stop_loss", "take_profit", "close")


@dataclass
class DaySignals:
    """D's offense signals as plain rows (tuples of SIGNAL_FIELDS, the frame's order), and D's
    rotation targets as (code, target_weight) rows: what `decide` reads.

    Why not the DataFrames: filtering and zipping a small frame costs ~0.1 ms per call, which
    over a full-market backtest weighed more than the decisions. `of` converts a day's frames
    (paper trading, tests); the backtest converts the whole period's columns once and cuts them
    by day (`split_by_day`): the same values either way. A missing column reads as None.
    """

    rows: list[tuple] = field(default_factory=list)
    targets: list[tuple[str, float]] = field(default_factory=list)

    @staticmethod
    def columns(frame: pd.DataFrame | None) -> list[list]:
        """The SIGNAL_FIELDS columns of a signals frame as Python lists (score NaN -> 0, as ranked)."""
        n = 0 if frame is None else len(frame)
        if not n:
            return [[] for _ in SIGNAL_FIELDS]
        return [(frame[c].fillna(0.0) if c == "composite_score" else frame[c]).tolist() if c in frame.columns
                else [None] * n for c in SIGNAL_FIELDS]

    @staticmethod
    def target_rows(targets: pd.DataFrame | None) -> list[tuple[str, float]]:
        if targets is None or targets.empty:
            return []
        return list(zip(targets["code"].tolist(), targets["target_weight"].tolist()))

    @classmethod
    def of(cls, signals: "pd.DataFrame | DaySignals | None", targets: pd.DataFrame | None = None) -> "DaySignals":
        if isinstance(signals, DaySignals):
            return signals
        return cls(list(zip(*cls.columns(signals))), cls.target_rows(targets))

    def sells(self) -> list[tuple[str, str | None]]:
        """(code, signal_id) of the sell signals, in the frame's order."""
        return [(r[0], r[2]) for r in self.rows if r[1] == "sell"]

    def ranked_buys(self) -> list[tuple]:
        """Buy signals best first: priority (NaN last), score descending, code."""
        return sorted(((r[3], r[4], r[0], r[2], r[5], r[6]) for r in self.rows if r[1] == "buy"),
                      key=lambda t: (t[0] != t[0], t[0] if t[0] == t[0] else 0, -t[1], t[2]))


def split_by_day(signals: pd.DataFrame, targets: pd.DataFrame | None) -> dict[pd.Timestamp, DaySignals]:
    """Every day's DaySignals of a backtest at once: columns converted once, cut by day (the rows
    of a day keep the frame's order, as a groupby gives them)."""
    out: dict[pd.Timestamp, DaySignals] = {}
    if signals is not None and not signals.empty:
        order = np.argsort(signals["trade_date"].to_numpy(), kind="stable")
        s = signals.iloc[order]
        rows = list(zip(*DaySignals.columns(s)))
        dates = s["trade_date"].to_numpy()
        cuts = np.flatnonzero(dates[1:] != dates[:-1]) + 1
        for lo, hi in zip(np.r_[0, cuts].tolist(), np.r_[cuts, len(s)].tolist()):
            out[pd.Timestamp(dates[lo])] = DaySignals(rows[lo:hi])
    if targets is not None and not targets.empty:
        for d, g in targets.groupby("rebalance_date"):
            out.setdefault(pd.Timestamp(d), DaySignals()).targets = DaySignals.target_rows(g)
    return out


def decide(day: pd.Timestamp, positions: Mapping[str, Position], cash: float, closes: Mapping[str, float],
           signals: "pd.DataFrame | DaySignals | None", targets: pd.DataFrame | None,
           industries: Mapping[str, str], state: StrategyState,
           params: StrategyParams, rules: RuleBook = RuleBook(), market_return: float | None = None) -> Decision:
    """Orders for the next session from day D's close.

    `signals` are D's offense signals, `targets` D's rotation targets (may be empty), `closes`
    D's close per code (held and signalled codes), `industries` code -> industry_l1. `signals`
    may be a DaySignals with the targets in it (the backtest's form; `targets` is then unused).
    """
    p, out = params, Decision()
    day_sig = DaySignals.of(signals, targets)
    get_close = closes.get
    price = lambda c: get_close(c) or 0.0  # noqa: E731
    selling: dict[str, int] = {}  # code -> qty being sold at the open

    def sell(code: str, qty: int, reason: str, signal_id: str | None = None) -> None:
        qty = min(int(qty), positions[code].qty - selling.get(code, 0))
        if qty > 0:
            selling[code] = selling.get(code, 0) + qty
            out.orders.append(OrderRequest(code, "sell", qty, reason=reason, signal_id=signal_id))

    # One pass over the book (a full-market book holds thousands of codes): each holding's value
    # at D's close (cost if no close), its trailing-stop peak and sessions held, and whether the
    # position stop or the time exit fires (their sells are placed below, in this order).
    meta, values, trailed, timed = state.meta, [], [], []
    keep = 1 - p.trail_stop_position if p.trail_stop_position else None
    max_hold = p.rotation_max_hold_days if not p.rotation_exit and p.rotation_max_hold_days else None
    add_value, get_meta = values.append, meta.get
    for code, pos in positions.items():
        px = get_close(code)
        add_value(pos.qty * (px or pos.cost))
        m = get_meta(code)
        if m is None:
            m = meta[code] = PositionMeta(code, peak_close=pos.cost, industry=industries.get(code))
        if (px or 0.0) > m.peak_close:  # = max(peak, px or 0.0), without the call
            m.peak_close = px or 0.0
        m.bars_held += 1
        if keep is not None and px and px <= m.peak_close * keep:
            trailed.append(code)
        if max_hold is not None and m.entry_reason == "rotation" and m.bars_held >= max_hold:
            timed.append(code)
    equity = cash + sum(values)
    state.equity_peak = max(state.equity_peak, equity)

    block_buys = ""
    if state.cooloff_left > 0:
        state.cooloff_left -= 1
        block_buys = "risk: buying paused after the portfolio drawdown stop"
        if state.cooloff_left == 0:
            state.equity_peak = equity
    elif p.trail_stop_portfolio and equity < state.equity_peak * (1 - p.trail_stop_portfolio):
        for code, pos in positions.items():
            sell(code, pos.qty, "risk")
        state.cooloff_left = max(p.cooloff_days, 1)
        block_buys = (f"risk: portfolio drawdown {equity / state.equity_peak - 1:.1%} beyond "
                      f"-{p.trail_stop_portfolio:.0%}")
    elif p.crash_rule and market_return is not None and market_return <= p.crash_threshold:
        for code, pos in positions.items():
            sell(code, pos.qty * (1 - p.crash_exposure), "risk")
        block_buys = f"risk: market crash day ({market_return:.1%})"

    for code, reason in list(state.retry_sells.items()):  # sells rejected yesterday (limit down, ...)
        if code in positions and reason != "cap":  # a cap trim is re-sized at the next rebalance
            sell(code, positions[code].qty, reason)
        state.retry_sells.pop(code, None)

    for code, sid in day_sig.sells():
        if code in positions:
            sell(code, positions[code].qty, "signal", sid)

    for code in trailed:  # close at or under the peak since entry less trail_stop_position
        sell(code, positions[code].qty, "risk")
    for code in timed:  # time exit of a rotation entry (a signal's comes as a signal)
        sell(code, positions[code].qty, "time")

    tgt = day_sig.targets
    rebalance = bool(tgt) and equity > 0  # the rotation's calendar
    next_day = day + pd.Timedelta(days=1)
    # rotation toward today's targets
    buys: list[tuple[str, float, str, str | None, float | None, float | None]] = []  # code, value, reason, sid, sl, tp
    if p.use_targets and rebalance and not p.rotation_exit:
        # Rotation picks what enters: held codes keep their own exits; only new codes are bought,
        # with take-profit / stop-loss at the signal layer's percentages of D's close.
        for code, w in sorted(tgt):
            w, px = min(float(w), p.max_weight_stock), price(code)
            if code in positions:
                continue
            if not px:
                out.skipped.append(Skip(code, "buy", None, "rotation: no price on the signal day"))
            elif w > p.rebalance_tolerance:
                buys.append((code, w * equity, "rotation", None, px * (1 - p.rotation_stop_loss_pct),
                             px * (1 + p.rotation_take_profit_pct)))
    elif p.use_targets and rebalance:  # rotation_exit: the old rotation, every holding re-weighted
        tw = {c: min(float(w), p.max_weight_stock) for c, w in tgt}
        for code, pos in positions.items():
            if code not in tw:
                sell(code, pos.qty, "rotation")
        for code, w in sorted(tw.items()):
            px = price(code)
            cur = (positions[code].qty - selling.get(code, 0)) * px / equity if code in positions else 0.0
            if not px:
                out.skipped.append(Skip(code, "buy", None, "rotation: no price on the signal day"))
            elif cur > w + p.rebalance_tolerance:
                sell(code, (cur - w) * equity / px, "rotation")
            elif w - cur > p.rebalance_tolerance:
                buys.append((code, (w - cur) * equity, "rotation", None, None, None))

    # buy signals, best first
    for _prio, _score, code, sid, sl, tp in day_sig.ranked_buys():
        w = min(p.buy_weight, p.max_weight_stock)
        buys.append((code, w * equity, "signal", sid, _num(sl), _num(tp)))

    if rebalance:
        _trim_to_caps(positions, selling, price, industries, equity, p, rules, next_day, sell)

    # money and caps after the sells
    budget = cash + sum(q * price(c) for c, q in selling.items()) * 0.998
    sold, held_after, ind_w = selling.get, {}, {}  # value left per code after the sells; weight per industry
    industry_of, weight_of = industries.get, ind_w.get
    for c, pos in positions.items():
        left = pos.qty - sold(c, 0)
        if left > 0:
            v = held_after[c] = left * (get_close(c) or 0.0)
            ind = industry_of(c) or f"?{c}"  # unknown industry: no shared cap
            ind_w[ind] = weight_of(ind, 0.0) + v / equity
    for code, value, reason, sid, sl, tp in buys:
        def skip(why: str) -> None:
            out.skipped.append(Skip(code, "buy", sid, f"{reason}: {why}"))
        if block_buys:
            skip(block_buys)
            continue
        if reason == "signal" and code in positions:
            skip("already held")
            continue
        if code not in held_after and len(held_after) >= p.max_positions:
            skip(f"cap: {p.max_positions} positions held")
            continue
        px = price(code)
        if not px:
            skip("no close price on the signal day")
            continue
        ind = industries.get(code) or f"?{code}"
        room_stock = p.max_weight_stock * equity - held_after.get(code, 0.0)
        room_ind = (p.max_weight_industry - ind_w.get(ind, 0.0)) * equity
        value2 = min(value, room_stock, room_ind)
        if value2 < value and value2 < px * 100:
            skip(f"cap: industry {ind} at {ind_w.get(ind, 0.0):.0%}" if room_ind < room_stock
                 else f"cap: {code} at its {p.max_weight_stock:.0%} stock cap")
            continue
        value3 = min(value2, budget)
        board = board_of(code)
        qty = rules.buy_qty(value3 / (px * 1.001), board, next_day)
        if qty <= 0:
            skip(f"cash: {budget:,.0f} CNY free, one lot costs {px * rules.lot(board, next_day).min_qty:,.0f}")
            continue
        budget -= qty * px * 1.001
        held_after[code] = held_after.get(code, 0.0) + qty * px
        ind_w[ind] = ind_w.get(ind, 0.0) + qty * px / equity
        out.orders.append(OrderRequest(code, "buy", qty, reason=reason, signal_id=sid))
        if sid is not None or sl is not None or tp is not None:
            state.pending_meta[code] = PositionMeta(code, sid, sl, tp, 0.0, ind, entry_reason=reason)

    # standing stop-loss / take-profit for what stays held
    get_meta = state.meta.get
    for code, pos in positions.items():
        m = get_meta(code)
        if not m or not (m.stop_loss or m.take_profit):
            continue
        left = pos.qty - sold(code, 0)
        if left <= 0:
            continue
        if m.stop_loss:
            out.standing.append(OrderRequest(code, "sell", left, "stop", _level(m.stop_loss), "stop", m.signal_id))
        if m.take_profit:
            out.standing.append(OrderRequest(code, "sell", left, "target", _level(m.take_profit), "target",
                                             m.signal_id))
    # sells before buys: sale cash is usable the same day
    out.orders.sort(key=lambda o: o.side != "sell")
    return out


@lru_cache(maxsize=1 << 16, typed=True)
def _level(x: float) -> float:
    """round_price of a standing order's level, remembered: a holding's level stays the same from
    day to day (it moves only on an ex-date), and the Decimal rounding is the costly part."""
    return round_price(x)


def _lots_up(qty: float, board: str, day: pd.Timestamp, rules: RuleBook) -> int:
    """Smallest valid lot quantity at or above `qty` (a trim sells enough to get under the cap)."""
    rule = rules.lot(board, day)
    need = max(math.ceil(qty - 1e-9), 1)
    if need <= rule.min_qty:
        return rule.min_qty
    return rule.min_qty + math.ceil((need - rule.min_qty) / rule.step) * rule.step


def _trim_to_caps(positions: Mapping[str, Position], selling: dict[str, int], price: Any,
                  industries: Mapping[str, str], equity: float, p: StrategyParams, rules: RuleBook,
                  next_day: pd.Timestamp, sell: Any) -> None:
    """Sell what a rise carried above `max_weight_stock`, then `max_weight_industry` (pro rata over
    the industry's holdings), valued at D's close after the sells already planned.

    Quantities are rounded up to lots (so the holding ends at or under the cap) and limited to the
    shares sellable at D+1's open (all of D's holding: T+1 counts from the buy day; the broker
    checks again). A sell the open refuses (limit down, suspension) is not retried in full: the
    next rebalance sizes the trim again (see `decide`'s retry loop).
    """
    left = {c: pos.qty - selling.get(c, 0) for c, pos in positions.items()}

    def trim(code: str, value: float) -> None:
        px = price(code)
        if value <= 0 or not px or left[code] <= 0:
            return
        board = board_of(code)
        q = rules.sell_qty(min(_lots_up(value / px, board, next_day, rules), left[code]), left[code], board, next_day)
        if q > 0:
            sell(code, q, "cap")
            left[code] -= q

    cap_s = p.max_weight_stock * equity
    for code in sorted(left):
        trim(code, left[code] * price(code) - cap_s)
    cap_i = p.max_weight_industry * equity
    members: dict[str, list[str]] = {}
    for code in sorted(left):
        ind = industries.get(code)
        if ind and left[code] > 0 and price(code):
            members.setdefault(ind, []).append(code)
    for ind, codes in sorted(members.items()):
        vals = {c: left[c] * price(c) for c in codes}
        total = sum(vals.values())
        if total > cap_i:
            for c in codes:
                trim(c, (total - cap_i) * vals[c] / total)

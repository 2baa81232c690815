"""Replay of aquant's order intents inside RQAlpha 6.x, fed from our own tables (the other half of
qmt/crosscheck.py). Runs in its own venv (`.crosscheck-venv`, RQAlpha pins numpy<2 on Python
<= 3.11), so it imports nothing from aquant: everything it needs comes as files.

    .crosscheck-venv/bin/python qmt/crosscheck_rqalpha.py IN_DIR OUT_JSON

IN_DIR (written by `aquant.qmt.crosscheck.export_inputs`):
  config.json       initial_cash, commission_rate, commission_min, volume_share, start, end
  calendar.csv      trade_date (every session of the run, plus a few after it)
  instruments.csv   code, board, is_st, list_date, delist_date
  bars.csv          code, trade_date, open, high, low, close, pre_close, volume, amount, limit_pct
  dividends.csv     code, ex_date, cash_div_per_share, bonus_ratio
  intents.csv       intent_id, trade_date, code, side, qty, phase (open|intraday), price

What is RQAlpha's and what is ours (so the check stays independent):
* RQAlpha decides fills and rejections: price limits (`rqalpha.utils.price_limits.reaches_limit`),
  T+1 (`StockPosition._non_closable`), lots (`Instrument.min_order_quantity/order_step_size`,
  STAR and BSE step 1 by `board_type`), the volume cap (`DefaultBarMatcher`, volume_percent),
  cash checks, commission with its minimum per order and stamp duty by date
  (`StockTransactionCostDecider`, pit_tax: 0.1 % before 2023-08-28, 0.05 % from it), dividends
  and bonus shares (`StockPosition._handle_dividend_book_closure/_handle_split`: events whose
  ex-date falls in (previous session, today] apply today).
* This file computes the limit prices from pre_close and the width of the day (exchange rule:
  previous close x (1 +/- width), rounded half up to the cent) in exact decimals, because RQAlpha
  reads limit_up/limit_down from its data bundle rather than computing them; the width by
  board/ST/date comes from aquant's RuleBook via bars.csv.
* Standing stop/target orders that fill inside the bar have no intrabar path in a daily bar: they
  are replayed as limit orders executed at the intent's price (our fill price, or the bar's low
  for a stop our engine rejected at limit-down); RQAlpha still checks limits, T+1, volume, cash
  and fees. `_IntrabarMatcher` is the only matching code that is ours.
"""
from __future__ import annotations

import csv
import json
import sys
from collections import defaultdict
from decimal import ROUND_HALF_UP, Decimal
from pathlib import Path

import numpy as np
import pandas as pd

IN_DIR: Path | None = None  # set by main() before RQAlpha loads the mod below

BAR_DTYPE = [("datetime", "<u8"), ("open", "<f8"), ("high", "<f8"), ("low", "<f8"), ("close", "<f8"),
             ("prev_close", "<f8"), ("volume", "<f8"), ("total_turnover", "<f8"), ("limit_up", "<f8"),
             ("limit_down", "<f8")]
DIV_DTYPE = [("book_closure_date", "<i8"), ("announcement_date", "<i8"), ("dividend_cash_before_tax", "<f8"),
             ("ex_dividend_date", "<i8"), ("payable_date", "<i8"), ("round_lot", "<f8")]
SPLIT_DTYPE = [("ex_date", "<i8"), ("split_coefficient_from", "<f8"), ("split_coefficient_to", "<f8")]
BOARD_TYPE = {"main": "MainBoard", "chinext": "GEM", "star": "KSH", "bse": "BJS"}
EXCHANGE = {"SH": "XSHG", "SZ": "XSHE", "BJ": "BJSE"}


def rq_code(code: str) -> str:
    num, _, ex = code.partition(".")
    return f"{num}.{EXCHANGE[ex.upper()]}"


def limit_prices(pre_close: str, pct: str) -> tuple[float, float]:
    """(limit-down, limit-up): pre_close x (1 -/+ width), half up to the cent, in exact decimals.

    Rule: the SSE/SZSE trading rules compute the limit price as previous close x (1 +/- width),
    rounded half up to the price tick 0.01 (as issue 13 defect 1 states; the article number was
    not verified here)."""
    if not pct or not pre_close:
        return float("nan"), float("nan")
    pc, w = Decimal(pre_close), Decimal(pct)
    cent = Decimal("0.01")
    return (float((pc * (1 - w)).quantize(cent, rounding=ROUND_HALF_UP)),
            float((pc * (1 + w)).quantize(cent, rounding=ROUND_HALF_UP)))


def _dint(d: str) -> int:
    return int(d.replace("-", ""))


def _read(name: str) -> list[dict]:
    with open(IN_DIR / name, newline="") as f:
        return list(csv.DictReader(f))


def build_data_source(base_config):
    """A BaseDataSource whose stores are our tables (no bundle on disk, nothing downloaded)."""
    from rqalpha.const import INSTRUMENT_TYPE, MARKET, TRADING_CALENDAR_TYPE
    from rqalpha.data.base_data_source import BaseDataSource
    from rqalpha.data.base_data_source.storage_interface import (
        AbstractCalendarStore,
        AbstractDayBarStore,
        AbstractDividendStore,
        AbstractSimpleFactorStore,
    )
    from rqalpha.model.instrument import Instrument

    global IN_DIR  # RQAlpha imports this file again as a mod: the folder comes through its config
    IN_DIR = Path(base_config.data_bundle_path)
    cal = pd.DatetimeIndex(sorted(pd.Timestamp(r["trade_date"]) for r in _read("calendar.csv")))
    bars: dict[str, list] = defaultdict(list)
    for r in _read("bars.csv"):
        dn, up = limit_prices(r["pre_close"], r["limit_pct"])
        bars[rq_code(r["code"])].append((_dint(r["trade_date"]) * 1000000, float(r["open"]), float(r["high"]),
                                         float(r["low"]), float(r["close"]), float(r["pre_close"] or "nan"),
                                         float(r["volume"] or 0), float(r["amount"] or 0), up, dn))
    bar_arr = {k: np.array(sorted(v), dtype=BAR_DTYPE) for k, v in bars.items()}
    divs: dict[str, list] = defaultdict(list)
    splits: dict[str, list] = defaultdict(list)
    for r in _read("dividends.csv"):
        code, ex = rq_code(r["code"]), _dint(r["ex_date"])
        cash, bonus = float(r["cash_div_per_share"] or 0), Decimal(r["bonus_ratio"] or "0")
        if cash > 0:  # paid on the ex-date, as aquant credits it (payable_date = ex_date)
            divs[code].append((ex, ex, cash, ex, ex, 1.0))
        if bonus > 0:  # 10 for 13 as integers, so RQAlpha's Decimal ratio is exact
            splits[code].append((ex * 1000000, 10000.0, float(10000 + bonus * 10000)))
    div_arr = {k: np.array(sorted(v), dtype=DIV_DTYPE) for k, v in divs.items()}
    split_arr = {k: np.array(sorted(v), dtype=SPLIT_DTYPE) for k, v in splits.items()}
    st = {rq_code(r["code"]): r["is_st"] in ("True", "true", "1") for r in _read("instruments.csv")}

    class Bars(AbstractDayBarStore):
        def get_bars(self, order_book_id):
            return bar_arr.get(order_book_id, np.empty(0, dtype=BAR_DTYPE))

        def get_date_range(self, order_book_id):
            b = self.get_bars(order_book_id)
            return (int(b["datetime"][0]), int(b["datetime"][-1])) if len(b) else (0, 0)

    class Divs(AbstractDividendStore):
        def get_dividend(self, order_book_id):
            return div_arr.get(order_book_id)

    class Splits(AbstractSimpleFactorStore):
        def get_factors(self, order_book_id):
            return split_arr.get(order_book_id)

    class Calendar(AbstractCalendarStore):
        def get_trading_calendar(self):
            return cal

    class OurDataSource(BaseDataSource):
        def __init__(self) -> None:  # BaseDataSource.__init__ would read a bundle: set its fields instead
            self._market = MARKET.CN
            self._suspend_days = []
            self._ins_id_or_sym_type_map, self._day_bar_stores, self._dividend_stores = {}, {}, {}
            self._split_stores, self._calendar_stores, self._ex_factor_stores = {}, {}, {}
            self._id_instrument_map, self._sym_instrument_map = {}, {}
            from collections import ChainMap
            self._id_or_sym_instrument_map = ChainMap(self._id_instrument_map, self._sym_instrument_map)
            self._grouped_instruments = {}
            ins = []
            for r in _read("instruments.csv"):
                board = r["board"]
                ins.append(Instrument({
                    "order_book_id": rq_code(r["code"]), "symbol": r["code"], "type": "CS", "exchange":
                    rq_code(r["code"]).split(".")[1], "board_type": BOARD_TYPE[board],
                    "round_lot": 200 if board == "star" else 100, "market_tplus": 1,
                    "listed_date": r["list_date"] or "0000-00-00", "de_listed_date": r["delist_date"] or "0000-00-00",
                    "status": "Active", "special_type": "Normal", "sector_code": "Unknown",
                    "industry_code": "Unknown", "industry_name": "Unknown"}))
            self.register_instruments(ins)
            self.register_day_bar_store(INSTRUMENT_TYPE.CS, Bars())
            self.register_dividend_store(INSTRUMENT_TYPE.CS, Divs())
            self.register_split_store(INSTRUMENT_TYPE.CS, Splits())
            self.register_calendar_store(TRADING_CALENDAR_TYPE.CN_STOCK, Calendar())

        def available_data_range(self, frequency):
            return cal[0].date(), cal[-1].date()

        def is_st_stock(self, order_book_id, dates):
            return [st.get(order_book_id, False)] * len(dates)

        def get_share_transformation(self, order_book_id):
            return None

        def get_ex_cum_factor(self, instrument):
            return None

    return OurDataSource()


def load_mod():
    from rqalpha.interface import AbstractMod

    class FeedMod(AbstractMod):
        """Puts our tables in place of RQAlpha's bundle (start_up runs before the default is made)."""

        def start_up(self, env, mod_config):
            env.set_data_source(build_data_source(env.config.base))

        def tear_down(self, code, exception=None):
            pass

    return FeedMod()


def _intrabar_matcher(env):
    from rqalpha.const import ORDER_TYPE
    from rqalpha.mod.rqalpha_mod_sys_simulation.matcher import DefaultBarMatcher

    class _IntrabarMatcher(DefaultBarMatcher):
        """Daily bars have no path inside the bar: a limit order placed after the open (a standing
        stop/target replayed at its trigger price) executes at its own price. Market orders keep
        RQAlpha's own open-auction price."""

        def _get_deal_price(self, order, instrument, open_auction=False):
            if order.type == ORDER_TYPE.LIMIT and not open_auction:
                return order.price
            return super()._get_deal_price(order, instrument, open_auction)

    return _IntrabarMatcher(env, env.config.mod.sys_simulation)


def _transfer_fee_decider(env, cfg: dict):
    """RQAlpha's own stock cost decider (commission with its per-order minimum, stamp duty by date)
    plus the transfer fee, which RQAlpha 6.4 does not charge (`other_fees=0` in
    sys_transaction_cost/deciders.py). The rate by date comes from aquant's RuleBook (config.json
    `transfer`: [[effective_from, rate], ...]); without it the two engines' cash drifts apart by the
    fee and a buy that needs the last few yuan fills in one engine and not in the other."""
    from rqalpha.interface import TransactionCost
    from rqalpha.mod.rqalpha_mod_sys_transaction_cost.deciders import StockTransactionCostDecider

    table = sorted((pd.Timestamp(d), float(r)) for d, r in cfg.get("transfer", []))
    mc = env.config.mod.sys_transaction_cost

    class WithTransferFee(StockTransactionCostDecider):
        def calc(self, args):
            base = super().calc(args)
            day = env.trading_dt
            rate = 0.0
            for d, r in table:
                if d <= day:
                    rate = r
            return TransactionCost(commission=base.commission, tax=base.tax,
                                   other_fees=args.price * args.quantity * rate)

    return WithTransferFee(mc.stock_commission_multiplier, mc.stock_min_commission, mc.tax_multiplier, mc.pit_tax,
                           env.event_bus)


def main(in_dir: str, out_json: str) -> None:
    global IN_DIR
    IN_DIR = Path(in_dir)
    sys.path.insert(0, str(Path(__file__).parent))
    from rqalpha import run_func
    from rqalpha.apis import LimitOrder, order_shares
    from rqalpha.const import INSTRUMENT_TYPE
    from rqalpha.core.events import EVENT
    from rqalpha.environment import Environment

    cfg = json.loads((IN_DIR / "config.json").read_text())
    intents: dict[str, list[dict]] = defaultdict(list)
    for r in _read("intents.csv"):
        intents[r["trade_date"]].append(r)
    orders: dict[str, object] = {}
    trades: dict[str, list] = defaultdict(list)
    daily: list[dict] = []
    current: dict[str, str] = {}   # the intent being submitted: RQAlpha matches inside submit_order
    creation_reject: dict[str, str] = {}
    cash_before: dict[str, float] = {}

    def on_trade(event):
        t = event.trade
        if "id" in current:
            trades[current["id"]].append((t.last_price, t.last_quantity, t.commission, t.tax,
                                          t.transaction_cost - t.commission - t.tax))

    def on_creation_reject(event):
        if "id" in current:
            creation_reject[current["id"]] = str(event.reason)

    def init(context):
        env = Environment.get_instance()
        env.broker.register_matcher(INSTRUMENT_TYPE.CS, _intrabar_matcher(env))
        env.set_transaction_cost_decider(INSTRUMENT_TYPE.CS, _transfer_fee_decider(env, cfg))
        env.event_bus.add_listener(EVENT.TRADE, on_trade)
        env.event_bus.add_listener(EVENT.ORDER_CREATION_REJECT, on_creation_reject)

    def _submit(context, rows, phase):
        for r in rows:
            if r["phase"] != phase:
                continue
            qty = int(r["qty"]) if r["side"] == "buy" else -int(r["qty"])
            style = LimitOrder(float(r["price"])) if phase == "intraday" and r["price"] else None
            current["id"] = r["intent_id"]
            cash_before[r["intent_id"]] = float(context.portfolio.cash)
            orders[r["intent_id"]] = order_shares(rq_code(r["code"]), qty, style)
            current.clear()

    def open_auction(context, bar_dict):
        _submit(context, intents.get(context.now.strftime("%Y-%m-%d"), []), "open")

    def handle_bar(context, bar_dict):
        _submit(context, intents.get(context.now.strftime("%Y-%m-%d"), []), "intraday")

    def after_trading(context):
        p = context.portfolio
        daily.append({"trade_date": context.now.strftime("%Y-%m-%d"), "cash": float(p.cash),
                      "total_value": float(p.total_value),
                      "positions": {pos.order_book_id: int(pos.quantity) for pos in p.get_positions() if pos.quantity}})

    config = {
        "base": {"start_date": cfg["start"], "end_date": cfg["end"], "frequency": "1d",
                 "accounts": {"stock": cfg["initial_cash"]}, "data_bundle_path": str(IN_DIR)},
        "extra": {"log_level": "error"},
        "mod": {
            "aquant_feed": {"enabled": True, "lib": "crosscheck_rqalpha", "priority": 1},
            "sys_simulation": {"matching_type": "current_bar", "volume_limit": True,
                               "volume_percent": cfg["volume_share"], "price_limit": True, "slippage": 0},
            "sys_transaction_cost": {"stock_commission_multiplier": cfg["commission_rate"] / 0.0008,
                                     "stock_min_commission": cfg["commission_min"], "pit_tax": True},
            # a buy the cash does not cover becomes a buy of what the cash covers, as in SimBroker
            "sys_accounts": {"stock_t1": True, "auto_switch_order_value": True,
                             "dividend_tax_enabled": bool(cfg.get("dividend_tax", False))},
            "sys_analyser": {"enabled": False}, "sys_progress": {"enabled": False},
        },
    }
    run_func(config=config, init=init, open_auction=open_auction, handle_bar=handle_bar,
             after_trading=after_trading)
    out = {"orders": {}, "daily": daily, "limits": [
        [r["code"], r["trade_date"], *limit_prices(r["pre_close"], r["limit_pct"])] for r in _read("bars.csv")]}
    for iid, o in orders.items():
        fills = trades.get(iid, [])
        qty = sum(f[1] for f in fills)
        out["orders"][iid] = {
            "status": "creation_failed" if o is None else str(o.status).split(".")[-1].lower(),
            "filled_qty": int(qty), "price": (sum(f[0] * f[1] for f in fills) / qty) if qty else None,
            "commission": sum(f[2] for f in fills), "tax": sum(f[3] for f in fills),
            "transfer": sum(f[4] for f in fills), "cash_before": cash_before.get(iid),
            "message": creation_reject.get(iid, "") if o is None else (o.message or "")}
    Path(out_json).write_text(json.dumps(out, indent=1, sort_keys=True))


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2])

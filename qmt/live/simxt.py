"""A simulated exchange behind xtquant 250807's interfaces, so `--broker sim` and the tests run
the same session code that talks to miniQMT.

Every name below is xtquant 250807.1.2's (the wheel's own files, read for this module; the same
names are in the vendor's reference, https://dict.thinktrader.net/nativeApi/xttrader.html and
.../xtdata.html, and in xtquant/doc/xttrader.md, xtdata.md shipped inside the wheel):
- `SimXtTrader` has XtQuantTrader's methods (xtquant/xttrader.py: register_callback, start, stop,
  connect, subscribe, order_stock(account, stock_code, order_type, order_volume, price_type,
  price, strategy_name='', order_remark=''), cancel_order_stock(account, order_id),
  query_stock_asset/orders(account, cancelable_only=False)/trades/positions) and calls the
  callback methods of XtQuantTraderCallback (xttrader.py lines 24-100: on_disconnected,
  on_stock_order, on_stock_trade, on_order_error, on_cancel_error).
- Records carry the attribute names of xtquant/xttype.py: XtOrder (stock_code, order_id,
  order_sysid, order_time, order_type, order_volume, price_type, price, traded_volume,
  traded_price, order_status, status_msg, strategy_name, order_remark, offset_flag), XtTrade
  (stock_code, order_type, traded_id, traded_time, traded_price, traded_volume, traded_amount,
  order_id, order_remark, offset_flag, commission), XtPosition (stock_code, volume,
  can_use_volume, open_price, avg_price, frozen_volume, yesterday_volume, market_value, last_price),
  XtAsset (cash, frozen_cash, market_value, total_asset), XtOrderError (order_id, error_id,
  error_msg, order_remark), XtCancelError (order_id, market, order_sysid, error_id, error_msg).
- Constants come from the real xtquant/xtconstant.py (STOCK_BUY 23, STOCK_SELL 24, FIX_PRICE 11,
  ORDER_REPORTED 50, ORDER_PART_SUCC 55, ORDER_SUCCEEDED 56, ORDER_CANCELED 54,
  ORDER_PART_CANCEL 53, ORDER_JUNK 57, DIRECTION_FLAG_BUY/SELL 48/49).
- `SimXtData` has xtdata's functions (xtquant/xtdata.py): subscribe_whole_quote(code_list,
  callback) with the tick dict of its docstring (time in epoch ms, lastPrice, open, high, low,
  lastClose, volume in lots, pvolume in shares, amount), get_full_tick(code_list),
  get_market_data_ex(field_list, stock_list, period, start_time, end_time, count, dividend_type,
  fill_data) -> {code: DataFrame indexed by 'YYYYmmddHHMMSS'}, get_instrument_detail(code) with
  PreClose / UpStopPrice / DownStopPrice (doc/xtdata.md).

Guesses, marked as such: the error_id values of a rejected order (-61 / -62: xtquant documents
error_id as the counter's code, not its values); traded_time as epoch seconds; minute-bar volume
in lots (the tick's `volume` is lots per the docstring example; bars are taken to match); the
fill model (a limit order fills at the bar's open if better, else at its limit when the bar
reaches it, at most `participation` of the bar's volume per minute; nothing fills in a bar
sealed at the limit against the order: sells at limit-down, buys at limit-up); XtTrade.commission
carries all costs of the fill (a real counter reports commission alone).

The exchange's book (orders, fills, positions, cash, clock) is written to a JSON file after every
change, so a session killed mid-day and restarted finds the broker as a real counter would have
kept it, including fills it made while our process was dead.
"""
from __future__ import annotations

import bisect
import json
import os
import zlib
from dataclasses import dataclass, field
from datetime import date, datetime
from pathlib import Path
from types import SimpleNamespace
from typing import Any, Callable

import numpy as np
import pandas as pd

from ..costs import CostModel
from ..xt_broker import xtconstant
from .clock import minutes

ERR_NO_SELLABLE = -61  # guess (see module doc)
ERR_NO_CASH = -62      # guess


def derive_minutes(code: str, day: date, o: float, h: float, low: float, c: float, volume: float) -> pd.DataFrame:
    """240 one-minute bars consistent with a daily bar (open, high, low, close, volume), for days
    the warehouse holds no minute bars of. Deterministic (seeded by code and day): a path
    open -> first extreme -> second extreme -> close, which extreme comes first drawn from the seed."""
    ts = minutes(day)
    n = len(ts)
    rng = np.random.default_rng(zlib.crc32(f"{code}{pd.Timestamp(day):%Y%m%d}".encode()))
    first, second = (low, h) if rng.random() < 0.5 else (h, low)
    k1, k2 = sorted(rng.choice(np.arange(20, n - 20), 2, replace=False))
    path = np.interp(np.arange(n), [0, k1, k2, n - 1], [o, first, second, c])
    closes = np.round(path, 2)
    opens = np.concatenate([[o], closes[:-1]])
    vol = np.full(n, np.floor(volume / n / 100) * 100)
    return pd.DataFrame({"code": code, "ts": ts, "open": opens, "high": np.maximum(opens, closes),
                         "low": np.minimum(opens, closes), "close": closes, "volume": vol,
                         "amount": np.round(vol * closes, 2), "source": "derived"})


@dataclass
class Instrument:
    """What the exchange knows of a stock on the day (xtdata get_instrument_detail's fields)."""

    pre_close: float
    down: float
    up: float
    name: str = ""


@dataclass
class Faults:
    """Failures to inject: minutes (Beijing, 'HH:MM') at which the link drops and comes back."""

    disconnect: list[tuple[str, str]] = field(default_factory=list)


class SimExchange:
    """The counter and the market of one simulated day; both fakes read and write it."""

    def __init__(self, day: date, bars: pd.DataFrame, instruments: dict[str, Instrument], state_path: Path,
                 cash: float = 1_000_000.0, positions: dict[str, tuple[int, float]] | None = None,
                 participation: float = 0.25, faults: Faults | None = None, costs: CostModel | None = None):
        self.c = xtconstant()
        self.day = pd.Timestamp(day).date()
        self.bars = {(r.code, pd.Timestamp(r.ts).to_pydatetime()): r for r in bars.itertuples(index=False)}
        self.hist = bars
        self.today: dict[str, list] = {}
        for (code, ts), b in sorted(self.bars.items(), key=lambda kv: kv[0][1]):
            if ts.date() == self.day:
                self.today.setdefault(code, []).append(b)
        self.today_ts = {c: [pd.Timestamp(b.ts).to_pydatetime() for b in bs] for c, bs in self.today.items()}
        self.instruments = instruments
        self.path = Path(state_path)
        self.participation = participation
        self.faults = faults or Faults()
        self.costs = costs or CostModel()
        self.callbacks: list[Any] = []
        self.account_id = self.path.stem.rsplit("_", 1)[0]
        self.quote_callbacks: list[Callable[[dict], None]] = []
        self.connected = True
        self.st: dict[str, Any] = {"day": str(self.day), "now": None, "next_id": 1000, "orders": [], "trades": [],
                                   "cash": float(cash), "positions": {}}
        if self.path.exists():
            self.st = json.loads(self.path.read_text(encoding="utf-8"))
        else:
            for code, (qty, cost) in (positions or {}).items():
                self.st["positions"][code] = {"volume": int(qty), "can_use": int(qty), "cost": float(cost)}
            self._save()

    # -- persistence --------------------------------------------------------------------
    def _save(self) -> None:
        tmp = self.path.with_suffix(".tmp")
        self.path.parent.mkdir(parents=True, exist_ok=True)
        tmp.write_text(json.dumps(self.st, ensure_ascii=False), encoding="utf-8")
        os.replace(tmp, self.path)

    @property
    def now(self) -> datetime | None:
        return None if self.st["now"] is None else datetime.fromisoformat(self.st["now"])

    # -- the market ------------------------------------------------------------------------
    def bar(self, code: str, ts: datetime) -> Any:
        return self.bars.get((code, ts))

    def tick(self, code: str) -> dict | None:
        """xtdata's tick dict of `code` at the exchange's clock (None before its first bar)."""
        now, ins, bars = self.now, self.instruments.get(code), self.today.get(code)
        if now is None or ins is None or not bars:
            return None
        k = bisect.bisect_right(self.today_ts[code], now)
        if k == 0:
            if now.hour * 60 + now.minute < 9 * 60 + 25:
                return None
            o = float(bars[0].open)  # after the call auction: its price (the open) is the last price
            return {"time": int((pd.Timestamp(now) - pd.Timedelta(hours=8)).value // 1_000_000), "lastPrice": o,
                    "open": o, "high": o, "low": o, "lastClose": ins.pre_close, "volume": 0.0, "pvolume": 0.0,
                    "amount": 0.0}
        seen = bars[:k]
        last = seen[-1]
        vol = float(sum(b.volume for b in seen))
        return {"time": int((pd.Timestamp(last.ts) - pd.Timedelta(hours=8)).value // 1_000_000),
                "lastPrice": float(last.close), "open": float(seen[0].open),
                "high": float(max(b.high for b in seen)), "low": float(min(b.low for b in seen)),
                "lastClose": ins.pre_close, "volume": vol / 100, "pvolume": vol,
                "amount": float(sum(b.amount for b in seen))}

    def advance(self, ts: datetime) -> None:
        """The minute ending at `ts` trades: faults, order matching, then the quote push."""
        self.st["now"] = ts.isoformat()
        hm = f"{ts:%H:%M}"
        for down, up in self.faults.disconnect:
            if hm == down and self.connected:
                self.connected = False
                self._emit("on_disconnected")
            if hm == up:
                self.connected = True
        for o in self.st["orders"]:
            if o["order_status"] in (self.c.ORDER_REPORTED, self.c.ORDER_PART_SUCC):
                self._match(o, ts)
        self._save()
        if self.connected:
            ticks = {c: t for c in self.today if (t := self.tick(c))}
            for cb in self.quote_callbacks:
                cb(ticks)

    def _match(self, o: dict, ts: datetime) -> None:
        b = self.bar(o["stock_code"], ts)
        if b is None:
            return
        ins = self.instruments[o["stock_code"]]
        buy = o["order_type"] == self.c.STOCK_BUY
        if b.high == b.low and ((not buy and b.low <= ins.down) or (buy and b.high >= ins.up)):
            return  # sealed at the limit against the order: no counterparty
        p = o["price"]
        if buy and b.low <= p:
            px = min(b.open, p)
        elif not buy and b.high >= p:
            px = max(b.open, p)
        else:
            return
        left = o["order_volume"] - o["traded_volume"]
        cap = int(self.participation * b.volume // 100 * 100)
        qty = left if left <= cap else cap
        if qty <= 0:
            return
        fee = self.costs.fee("buy" if buy else "sell", px, qty, self.day, o["stock_code"]).total
        self.st["next_id"] += 1
        t = {"account_id": o["account_id"], "stock_code": o["stock_code"], "order_type": o["order_type"], "traded_id": f"T{self.st['next_id']}",
             "traded_time": int((pd.Timestamp(ts) - pd.Timedelta(hours=8)).timestamp()), "traded_price": float(px),
             "traded_volume": int(qty), "traded_amount": round(px * qty, 2), "order_id": o["order_id"],
             "order_sysid": o["order_sysid"], "strategy_name": o["strategy_name"], "order_remark": o["order_remark"],
             "offset_flag": o["offset_flag"], "commission": fee, "direction": 48}
        self.st["trades"].append(t)
        done = o["traded_volume"] * o["traded_price"] + qty * px
        o["traded_volume"] += qty
        o["traded_price"] = round(done / o["traded_volume"], 4)
        o["order_status"] = self.c.ORDER_SUCCEEDED if o["traded_volume"] >= o["order_volume"] else self.c.ORDER_PART_SUCC
        pos = self.st["positions"].setdefault(o["stock_code"], {"volume": 0, "can_use": 0, "cost": 0.0})
        if buy:
            pos["cost"] = (pos["cost"] * pos["volume"] + px * qty + fee) / (pos["volume"] + qty)
            pos["volume"] += qty  # T+1: not sellable today
            self.st["cash"] = round(self.st["cash"] - px * qty - fee, 2)
        else:
            pos["volume"] -= qty
            o["frozen"] -= qty
            self.st["cash"] = round(self.st["cash"] + px * qty - fee, 2)
        self._save()
        self._emit("on_stock_trade", _ns(t))
        self._emit("on_stock_order", self._order_obj(o))

    def _emit(self, name: str, *args: Any) -> None:
        if not self.connected and name != "on_disconnected":
            return  # the link is down: the callback is lost, the counter's book is not
        for cb in self.callbacks:
            getattr(cb, name)(*args)

    def _order_obj(self, o: dict) -> SimpleNamespace:
        return _ns({k: v for k, v in o.items() if k != "frozen"})

    # -- the counter's verbs (called by SimXtTrader) -----------------------------------------
    def place(self, code: str, side: int, volume: int, price_type: int, price: float, strategy: str,
              remark: str) -> int:
        if not self.connected:
            return -1
        self.st["next_id"] += 1
        oid = self.st["next_id"]
        pos = self.st["positions"].get(code, {"volume": 0, "can_use": 0, "cost": 0.0})
        o = {"account_id": self.account_id, "stock_code": code, "order_id": oid, "order_sysid": f"S{oid}", "order_time":
             int((pd.Timestamp(self.now or datetime.combine(self.day, datetime.min.time())) -
                  pd.Timedelta(hours=8)).timestamp()),
             "order_type": side, "order_volume": int(volume), "price_type": price_type, "price": float(price),
             "traded_volume": 0, "traded_price": 0.0, "order_status": self.c.ORDER_REPORTED, "status_msg": "",
             "strategy_name": strategy, "order_remark": remark,
             "offset_flag": self.c.DIRECTION_FLAG_BUY if side == self.c.STOCK_BUY else self.c.DIRECTION_FLAG_SELL,
             "frozen": 0}
        error = None
        if price_type != self.c.FIX_PRICE:
            error = (-63, "the simulator takes limit (FIX_PRICE) orders only")  # guess of a code
        elif side == self.c.STOCK_SELL and volume > pos["can_use"]:
            error = (ERR_NO_SELLABLE, f"可用数量不足: sellable {pos['can_use']}, asked {volume}")
        elif side == self.c.STOCK_BUY and price * volume > self.st["cash"]:
            error = (ERR_NO_CASH, f"可用资金不足: cash {self.st['cash']:.2f}, asked {price * volume:.2f}")
        if error:
            o["order_status"], o["status_msg"] = self.c.ORDER_JUNK, error[1]
        elif side == self.c.STOCK_SELL:
            pos["can_use"] -= volume
            o["frozen"] = volume
            self.st["positions"][code] = pos
        self.st["orders"].append(o)
        self._save()
        if error:
            self._emit("on_order_error", _ns({"order_id": oid, "error_id": error[0], "error_msg": error[1],
                                               "strategy_name": strategy, "order_remark": remark}))
        self._emit("on_stock_order", self._order_obj(o))
        return oid

    def cancel(self, order_id: int) -> int:
        if not self.connected:
            return -1
        o = next((x for x in self.st["orders"] if x["order_id"] == order_id), None)
        if o is None or o["order_status"] not in (self.c.ORDER_REPORTED, self.c.ORDER_PART_SUCC):
            self._emit("on_cancel_error", _ns({"order_id": order_id, "market": 0, "order_sysid": "",
                                                "error_id": -1, "error_msg": "order is not cancelable"}))
            return -1
        o["order_status"] = self.c.ORDER_PART_CANCEL if o["traded_volume"] else self.c.ORDER_CANCELED
        if o["frozen"]:
            self.st["positions"][o["stock_code"]]["can_use"] += o["frozen"]
            o["frozen"] = 0
        self._save()
        self._emit("on_stock_order", self._order_obj(o))
        return 0

    def close_day(self) -> None:
        """After 15:00: open orders expire (cancelled by the counter), as an exchange's day ends."""
        for o in self.st["orders"]:
            if o["order_status"] in (self.c.ORDER_REPORTED, self.c.ORDER_PART_SUCC):
                self.cancel(o["order_id"])

    def book_for_next_day(self) -> dict[str, tuple[int, float]]:
        return {c: (p["volume"], p["cost"]) for c, p in self.st["positions"].items() if p["volume"] > 0}


def _ns(d: dict) -> SimpleNamespace:
    return SimpleNamespace(**d)


class SimXtTrader:
    """xttrader.XtQuantTrader over a SimExchange (method names and arguments as in xttrader.py)."""

    def __init__(self, exchange: SimExchange, path: str = "sim", session: int = 1):
        self.x = exchange
        self.path, self.session = path, session

    def register_callback(self, callback: Any) -> None:
        self.x.callbacks = [callback]

    def start(self) -> None:
        pass

    def stop(self) -> None:
        pass

    def connect(self) -> int:
        return 0 if self.x.connected else -1

    def subscribe(self, account: Any) -> int:
        return 0 if self.x.connected else -1

    def order_stock(self, account: Any, stock_code: str, order_type: int, order_volume: int, price_type: int,
                    price: float, strategy_name: str = "", order_remark: str = "") -> int:
        return self.x.place(stock_code, order_type, order_volume, price_type, price, strategy_name, order_remark)

    def cancel_order_stock(self, account: Any, order_id: int) -> int:
        return self.x.cancel(int(order_id))

    def query_stock_asset(self, account: Any) -> Any:
        if not self.x.connected:
            return None
        mv = sum(p["volume"] * p["cost"] for p in self.x.st["positions"].values())
        return _ns({"account_id": getattr(account, "account_id", ""), "cash": self.x.st["cash"], "frozen_cash": 0.0,
                    "market_value": mv, "total_asset": self.x.st["cash"] + mv})

    def query_stock_orders(self, account: Any, cancelable_only: bool = False) -> list[Any] | None:
        if not self.x.connected:
            return None
        live = (self.x.c.ORDER_REPORTED, self.x.c.ORDER_PART_SUCC)
        return [self.x._order_obj(o) for o in self.x.st["orders"] if not cancelable_only or o["order_status"] in live]

    def query_stock_trades(self, account: Any) -> list[Any] | None:
        return None if not self.x.connected else [_ns(t) for t in self.x.st["trades"]]

    def query_stock_positions(self, account: Any) -> list[Any] | None:
        if not self.x.connected:
            return None
        return [_ns({"stock_code": c, "volume": p["volume"], "can_use_volume": p["can_use"], "open_price": p["cost"],
                     "avg_price": p["cost"], "frozen_volume": 0, "yesterday_volume": p["can_use"],
                     "market_value": p["volume"] * p["cost"], "last_price": p["cost"]})
                for c, p in self.x.st["positions"].items() if p["volume"] > 0]


class SimXtData:
    """xtdata's functions over a SimExchange; nothing after the exchange's clock is visible."""

    def __init__(self, exchange: SimExchange):
        self.x = exchange

    def subscribe_whole_quote(self, code_list: list[str], callback: Callable[[dict], None] | None = None) -> int:
        if callback is not None:
            self.x.quote_callbacks.append(callback)
        return len(self.x.quote_callbacks)

    def get_full_tick(self, code_list: list[str]) -> dict[str, dict]:
        return {c: t for c in code_list if (t := self.x.tick(c))}

    def get_instrument_detail(self, stock_code: str) -> dict | None:
        ins = self.x.instruments.get(stock_code)
        return None if ins is None else {"InstrumentID": stock_code.split(".")[0], "InstrumentName": ins.name,
                                         "PreClose": ins.pre_close, "UpStopPrice": ins.up,
                                         "DownStopPrice": ins.down}

    def get_market_data_ex(self, field_list: list[str] = [], stock_list: list[str] = [], period: str = "1d",  # noqa: B006 - xtdata's own signature
                           start_time: str = "", end_time: str = "", count: int = -1, dividend_type: str = "none",
                           fill_data: bool = True) -> dict[str, pd.DataFrame]:
        if period != "1m":
            raise ValueError(f"the simulator serves period '1m' only, got {period!r}")
        lo = pd.Timestamp(start_time) if start_time else pd.Timestamp.min
        hi = min(pd.Timestamp(end_time) if end_time else pd.Timestamp.max,
                 pd.Timestamp(self.x.now) if self.x.now else pd.Timestamp(self.x.day))
        out = {}
        h = self.x.hist
        for code in stock_list:
            g = h[(h.code == code) & (h.ts >= lo) & (h.ts <= hi)].sort_values("ts")
            g = g.assign(time=(g.ts - pd.Timedelta(hours=8)).astype("int64") // 1_000_000, volume=g.volume / 100)
            g.index = g.ts.dt.strftime("%Y%m%d%H%M%S")
            out[code] = g[[f for f in (field_list or ["time", "open", "high", "low", "close", "volume", "amount"])]]
            if count and count > 0:
                out[code] = out[code].tail(count)
        return out

"""XtBroker: the Broker interface over xtquant.xttrader (miniQMT), for live trading.

xtquant's trader works only on Windows beside a running miniQMT, and `import xtquant` makes a
network version check (10 s timeout). So: constants come from `xtquant/xtconstant.py` loaded as a
file (the package __init__ never runs), the trader is imported lazily and only on Windows, and
tests hand in a fake trader shaped exactly like XtQuantTrader.
"""
from __future__ import annotations

import importlib.util
import sys
import threading
from types import ModuleType
from typing import Any

from .broker import Fill, OrderRequest, OrderResult, Position

_XTC: ModuleType | None = None


class XtQuantUnavailable(RuntimeError):
    """xtquant's trader cannot run here; the message says what is needed."""


def xtconstant() -> ModuleType:
    """The real `xtquant.xtconstant` module, loaded without running `xtquant/__init__.py`."""
    global _XTC
    if _XTC is None:
        if "xtquant.xtconstant" in sys.modules:
            _XTC = sys.modules["xtquant.xtconstant"]
        else:
            spec = importlib.util.find_spec("xtquant")  # locates the package; does not import it
            if spec is None or not spec.submodule_search_locations:
                raise XtQuantUnavailable("xtquant is not installed; `pip install xtquant` (or aquant[xtquant])")
            path = f"{list(spec.submodule_search_locations)[0]}/xtconstant.py"
            s = importlib.util.spec_from_file_location("_aquant_xtconstant", path)
            mod = importlib.util.module_from_spec(s)
            s.loader.exec_module(mod)  # type: ignore[union-attr]
            _XTC = mod
    return _XTC


def load_xttrader() -> tuple[Any, Any]:
    """(XtQuantTrader, StockAccount) from xtquant, or a clear error when it cannot work here."""
    if sys.platform != "win32":
        raise XtQuantUnavailable(f"xtquant's trader needs Windows x64 beside a running miniQMT; this is "
                                 f"{sys.platform}. Use the CSV hand-off (`aquant export-qmt`) or run on the "
                                 f"QMT machine")
    try:
        from xtquant.xttrader import XtQuantTrader
        from xtquant.xttype import StockAccount
    except ImportError as exc:
        raise XtQuantUnavailable(f"cannot import xtquant.xttrader ({exc}); install xtquant matching your "
                                 f"Python and start miniQMT (极简模式) first") from exc
    return XtQuantTrader, StockAccount


class XtBroker:
    """Broker over an XtQuantTrader. Our order_id travels as `order_remark` so a restart can match
    broker orders back to ops.orders (see reconcile_on_start)."""

    def __init__(self, account_id: str, path: str | None = None, session: int = 1, *, trader: Any = None,
                 account: Any = None, strategy_name: str = "aquant"):
        self.c = xtconstant()
        self.strategy_name = strategy_name
        self._lock = threading.Lock()
        self._events: list[tuple[str, Any]] = []  # callbacks arrive on xtquant's thread
        self._ids: dict[str, int] = {}            # our order_id -> broker order id
        if trader is None:
            if not path:
                raise ValueError("XtBroker needs the miniQMT userdata path, e.g. D:/国金QMT/userdata_mini")
            XtQuantTrader, StockAccount = load_xttrader()
            trader, account = XtQuantTrader(path, session), StockAccount(account_id)
        self.trader, self.account = trader, account
        self.trader.register_callback(self)
        self.trader.start()
        rc = self.trader.connect()
        if rc != 0:
            raise ConnectionError(f"miniQMT connect() returned {rc}, expected 0: is miniQMT running and "
                                  f"logged in, and is the path {path!r} its userdata_mini folder?")
        rc = self.trader.subscribe(self.account)
        if rc not in (0, None):
            raise ConnectionError(f"subscribe({account_id}) returned {rc}, expected 0: check the account id")

    # -- xtquant callbacks (XtQuantTraderCallback protocol) -----------------------------
    def on_disconnected(self) -> None:
        self._event("disconnected", None)

    def on_stock_order(self, order: Any) -> None:
        self._event("order", order)

    def on_stock_trade(self, trade: Any) -> None:
        self._event("trade", trade)

    def on_order_error(self, err: Any) -> None:
        self._event("order_error", err)

    def on_cancel_error(self, err: Any) -> None:
        self._event("cancel_error", err)

    def _event(self, kind: str, obj: Any) -> None:
        with self._lock:
            self._events.append((kind, obj))

    def events(self) -> list[tuple[str, Any]]:
        with self._lock:
            out, self._events = self._events, []
        return out

    # -- Broker -------------------------------------------------------------------------
    def submit(self, order: OrderRequest) -> OrderResult:
        """Send a market (latest price) or limit (fixed price) order; stops/targets are not sent.

        Standing stop/target orders have no exchange equivalent in xttrader; they are returned
        rejected so the caller sees that intraday stops need QMT-side monitoring.
        """
        res = OrderResult(order.order_id, order.code, order.side, int(order.qty))
        if order.order_type in ("stop", "target"):
            res.reason = f"{order.order_type} orders are not sent to miniQMT; monitor them in QMT"
            return res
        side = self.c.STOCK_BUY if order.side == "buy" else self.c.STOCK_SELL
        if order.order_type == "limit":
            ptype, price = self.c.FIX_PRICE, float(order.price or 0)
        else:
            ptype, price = self.c.LATEST_PRICE, 0.0
        oid = self.trader.order_stock(self.account, order.code, side, int(order.qty), ptype, price,
                                      self.strategy_name, order.order_id)
        if oid is None or oid < 0:
            res.reason = f"order_stock returned {oid}: rejected by miniQMT (see on_order_error)"
            return res
        self._ids[order.order_id] = int(oid)
        res.status, res.broker_order_id = "sent", str(oid)
        return res

    def cancel(self, order_id: str) -> bool:
        """Cancel by our order_id (or the broker's numeric id); True when miniQMT accepted it."""
        bid = self._ids.get(order_id)
        if bid is None:
            bid = next((o.order_id for o in self.orders() if getattr(o, "order_remark", "") == order_id), None)
        if bid is None and str(order_id).isdigit():
            bid = int(order_id)
        return bid is not None and self.trader.cancel_order_stock(self.account, int(bid)) == 0

    def positions(self) -> dict[str, Position]:
        out = {}
        for p in self.trader.query_stock_positions(self.account) or []:
            if p.volume > 0:
                out[p.stock_code] = Position(p.stock_code, int(p.volume), int(p.can_use_volume),
                                             float(getattr(p, "avg_price", 0.0) or getattr(p, "open_price", 0.0)))
        return out

    def cash(self) -> float:
        asset = self.trader.query_stock_asset(self.account)
        if asset is None:
            raise ConnectionError("query_stock_asset returned None: miniQMT disconnected or account not subscribed")
        return float(asset.cash)

    def orders(self) -> list[Any]:
        return list(self.trader.query_stock_orders(self.account, False) or [])

    def fills(self) -> list[Fill]:
        from .live.writeback import xt_fill  # noqa: PLC0415 - one reading of an XtTrade for both paths

        return [xt_fill(t) for t in self.trader.query_stock_trades(self.account) or []]

# coding: utf-8
"""aquant -> QMT hand-off strategy. Paste into QMT's strategy editor (Python), or run with plain
Python to test: `python qmt_strategy_script.py ORDERS_CSV FILLS_CSV [BARS_CSV]` (BARS_CSV: rows of
code, last, sellable, one bar each, replayed through the stop watch).

Reads the order CSV written by `aquant export-qmt`, places each order once with passorder
(order_id travels as the user order id / remark), and appends every fill QMT reports to a fills
CSV that `aquant import-fills` loads, the moment QMT reports it.

Intraday, like `aquant live`, every bar (handlebar) compares the last price of each held stock
with its stop-loss, take-profit and trailing stop (levels from the order CSV's buy rows and from
qmt_stops.csv, which this script keeps beside the orders: one row per held stock, updated on each
buy fill and new high) and sells the sellable shares once with a protected limit price when one is
crossed. The trailing and protection percentages travel in the CSV rows (dbt vars `live:`), so the
knobs keep one home. Unlike `aquant live`, a stop fires once per stock and day here (no re-arm
after a partial fill: QMT's GUI shows the remainder). Standard library only and old-Python compatible, because
QMT embeds its own (old) interpreter. Outside QMT, `passorder` does not exist: a shim logs the
call and reports a fill at the reference price, so the round trip can be tested.
"""
import csv
import decimal
import io
import os
import sys
import time

ACCOUNT_ID = os.environ.get("AQUANT_QMT_ACCOUNT", "YOUR_ACCOUNT_ID")
ORDER_DIR = os.environ.get("AQUANT_QMT_DIR", "C:/aquant/qmt")
ORDERS_CSV = os.environ.get("AQUANT_QMT_ORDERS", "")  # default: today's qmt_orders_YYYYMMDD.csv
FILLS_CSV = os.environ.get("AQUANT_QMT_FILLS", "")    # default: today's qmt_fills_YYYYMMDD.csv
STRATEGY_NAME = "aquant"
OP_BUY = 23             # passorder opType: stock buy
OP_SELL = 24            # stock sell
ORDER_BY_VOLUME = 1101  # single stock, single account, quantity in shares
PR_LATEST = 5           # latest price
PR_FIX = 11             # the given price
QUICK_TRADE = 2         # place immediately, also from handlebar of history bars
FILL_HEADER = ["trade_id", "order_id", "code", "side", "price", "qty", "fee", "traded_at"]
STOPS_HEADER = ["code", "stop_loss", "take_profit", "high_water", "trailing_pct", "protect_pct"]
COMMISSION_RATE = decimal.Decimal("0.00025")  # the shim's simulated commission (qmt/costs.py's default)
COMMISSION_MIN = decimal.Decimal("5.00")
CENT = decimal.Decimal("0.01")


class _State(object):
    rows = []
    placed = set()
    orders_path = ""
    fills_path = ""
    log_path = ""
    shim_seq = 0
    stops_path = ""
    levels = {}     # code -> {"stop_loss", "take_profit", "high_water", "trailing_pct", "protect_pct"}
    fired = set()   # codes whose stop fired today
    prices = None   # outside QMT: {code: [last prices, one per bar]} fed by the caller
    shim_sellable = None  # outside QMT: {code: sellable shares}


def money(x):
    """Exact CNY to the cent, half up (as brokers print it), from a float or a string."""
    return decimal.Decimal(str(x)).quantize(CENT, rounding=decimal.ROUND_HALF_UP)


def _today():
    return time.strftime("%Y%m%d")


def _orders_path():
    return ORDERS_CSV or os.path.join(ORDER_DIR, "qmt_orders_%s.csv" % _today())


def _fills_path():
    return FILLS_CSV or os.path.join(ORDER_DIR, "qmt_fills_%s.csv" % _today())


def _log(msg):
    line = "%s %s\n" % (time.strftime("%Y-%m-%d %H:%M:%S"), msg)
    try:
        print(line.rstrip())
    except Exception:
        pass
    if _State.log_path:
        f = io.open(_State.log_path, "a", encoding="utf-8")
        try:
            f.write(line if isinstance(line, type(u"")) else line.decode("utf-8"))
        finally:
            f.close()


def read_orders(path):
    """Rows of the exported CSV as dicts; a missing file means no orders today."""
    if not os.path.exists(path):
        _log("no order file %s; nothing to place" % path)
        return []
    f = io.open(path, "r", encoding="utf-8")
    try:
        return [dict(r) for r in csv.DictReader(f)]
    finally:
        f.close()


def load_placed(path):
    """Order ids already placed (a sidecar file), so a restarted strategy never places twice."""
    done = set()
    if os.path.exists(path):
        f = io.open(path, "r", encoding="utf-8")
        try:
            for line in f:
                if line.strip():
                    done.add(line.strip())
        finally:
            f.close()
    return done


def mark_placed(path, order_id):
    f = io.open(path, "a", encoding="utf-8")
    try:
        f.write(u"%s\n" % order_id)
    finally:
        f.close()


def append_fill(path, row):
    new = not os.path.exists(path)
    mode = "a" if sys.version_info[0] >= 3 else "ab"
    if sys.version_info[0] >= 3:
        f = io.open(path, mode, encoding="utf-8", newline="")
    else:
        f = open(path, mode)
    try:
        w = csv.writer(f)
        if new:
            w.writerow(FILL_HEADER)
        w.writerow([row[k] for k in FILL_HEADER])
    finally:
        f.close()


def _sellable(code):
    """Sellable shares from QMT's position query; 0 outside QMT (the shim knows no positions)."""
    query = globals().get("get_trade_detail_data")
    if query is None:  # outside QMT: what the replay file says is sellable
        return int((_State.shim_sellable or {}).get(code, 0))
    for p in query(ACCOUNT_ID, "stock", "position"):
        if "%s.%s" % (p.m_strInstrumentID, p.m_strExchangeID) == code:
            return int(p.m_nCanUseVolume)
    return 0


class _ShimDeal(object):
    """The fields of QMT's deal object that deal_callback reads."""

    def __init__(self, code, side, price, qty, remark, trade_id):
        self.m_strInstrumentID, self.m_strExchangeID = code.split(".")
        self.m_nOffsetFlag = 48 if side == "buy" else 49
        self.m_dPrice = price
        self.m_nVolume = qty
        self.m_strRemark = remark
        self.m_strTradeID = trade_id
        self.m_dComssion = float(max(money(decimal.Decimal(str(price)) * qty * COMMISSION_RATE), COMMISSION_MIN))
        self.m_strTradeDate = time.strftime("%Y%m%d")
        self.m_strTradeTime = time.strftime("%H%M%S")


def _num(v):
    try:
        f = float(v)
    except (TypeError, ValueError):
        return 0.0
    return f if f == f else 0.0


def load_levels(path, rows):
    """Levels of held stocks (qmt_stops.csv) plus those the order rows carry for today's buys."""
    levels = {}
    if os.path.exists(path):
        f = io.open(path, "r", encoding="utf-8")
        try:
            for r in csv.DictReader(f):
                levels[r["code"]] = dict((k, _num(r.get(k))) for k in STOPS_HEADER[1:])
        finally:
            f.close()
    return levels


def save_levels(path, levels):
    tmp = path + ".tmp"
    f = io.open(tmp, "w", encoding="utf-8", newline="") if sys.version_info[0] >= 3 else open(tmp, "wb")
    try:
        w = csv.writer(f)
        w.writerow(STOPS_HEADER)
        for code in sorted(levels):
            w.writerow([code] + [levels[code][k] for k in STOPS_HEADER[1:]])
    finally:
        f.close()
    if os.path.exists(path):
        os.remove(path)
    os.rename(tmp, path)


def crossed(lv, last):
    """'stop' / 'target' / 'trail' when `last` crosses a level (the high-water mark moves first)."""
    lv["high_water"] = max(lv.get("high_water") or 0.0, last)
    if lv.get("stop_loss") and last <= lv["stop_loss"]:
        return "stop"
    if lv.get("take_profit") and last >= lv["take_profit"]:
        return "target"
    trail = lv.get("trailing_pct") or 0.0
    if trail > 0 and last <= lv["high_water"] * (1 - trail):
        return "trail"
    return None


def _last_price(C, code):
    """The last price: QMT's ContextInfo.get_full_tick(code_list) -> {code: {"lastPrice": ...}} (the
    terminal's built-in API, dict.thinktrader.net ContextInfo; the tick's fields as xtdata's), or the
    caller's scripted prices outside QMT."""
    if hasattr(C, "get_full_tick"):
        tick = C.get_full_tick([code]) or {}
        return _num((tick.get(code) or {}).get("lastPrice")) or None
    seq = (_State.prices or {}).get(code)
    return seq.pop(0) if seq else None


def watch_stops(C):
    """One pass over the held stocks: fire a protected sell when a level is crossed."""
    moved = False
    for code in sorted(_State.levels):
        lv = _State.levels[code]
        last = _last_price(C, code)
        if not last:
            continue
        before = lv.get("high_water")
        kind = crossed(lv, last)
        moved = moved or lv["high_water"] != before
        if kind is None or code in _State.fired:
            continue
        qty = _sellable(code)
        if qty <= 0:
            continue  # bought today (T+1) or nothing left: not fired, watched again next bar
        protect = decimal.Decimal(str(lv.get("protect_pct") or 0.0))
        price = float(money(decimal.Decimal(str(last)) * (1 - protect)))
        oid = "%s:%s:sell:%s:%s" % (ACCOUNT_ID, code, kind, _today())
        _log("STOP %s %s: last %s crossed (%s); sell %d @ %s" % (kind, code, last, lv, qty, price))
        _passorder(OP_SELL, ORDER_BY_VOLUME, ACCOUNT_ID, code, PR_FIX, price, qty, STRATEGY_NAME, QUICK_TRADE, oid,
                   C, price)
        mark_placed(_State.orders_path + ".placed", oid)
        _State.placed.add(oid)
        _State.fired.add(code)
    if moved and _State.stops_path:
        save_levels(_State.stops_path, _State.levels)


def _passorder(op, order_type, account, code, pr_type, price, qty, name, quick, remark, C, ref_price):
    real = globals().get("passorder")
    if real is not None:
        real(op, order_type, account, code, pr_type, price, qty, name, quick, remark, C)
        return
    # shim: log the call exactly as QMT would receive it, then report a fill at the reference price
    _log("passorder(%d, %d, %s, %s, %d, %s, %d, %s, %d, %s)" % (op, order_type, account, code, pr_type, price,
                                                                 qty, name, quick, remark))
    _State.shim_seq += 1
    fill_price = price if price and price > 0 else ref_price
    deal_callback(C, _ShimDeal(code, "buy" if op == OP_BUY else "sell", fill_price, qty, remark,
                               "shim-%s-%d" % (_today(), _State.shim_seq)))


def place_all(C):
    for row in _State.rows:
        oid = row.get("order_id", "")
        if not oid or oid in _State.placed:
            continue
        code, side = row["code"], row["side"]
        qty = int(float(row.get("qty") or 0))
        if side == "sell" and qty <= 0:
            qty = _sellable(code)
        if qty <= 0:
            _log("skip %s %s %s: quantity 0 (no sellable position)" % (oid, side, code))
            continue
        price = float(row.get("price") or 0)
        pr_type = PR_FIX if row.get("price_type") == "fix" and price > 0 else PR_LATEST
        ref = float(row.get("ref_price") or price or 0) or 10.0
        _passorder(OP_BUY if side == "buy" else OP_SELL, ORDER_BY_VOLUME, ACCOUNT_ID, code, pr_type,
                   price if pr_type == PR_FIX else -1, qty, STRATEGY_NAME, QUICK_TRADE, oid, C, ref)
        mark_placed(_State.orders_path + ".placed", oid)
        _State.placed.add(oid)


def init(ContextInfo):
    """QMT entry point: load today's orders and what was already placed."""
    _State.orders_path = _orders_path()
    _State.fills_path = _fills_path()
    _State.log_path = _State.orders_path + ".log"
    _State.rows = read_orders(_State.orders_path)
    _State.placed = load_placed(_State.orders_path + ".placed")
    _State.stops_path = os.environ.get("AQUANT_QMT_STOPS", "") or os.path.join(
        os.path.dirname(_State.orders_path) or ".", "qmt_stops.csv")
    _State.levels = load_levels(_State.stops_path, _State.rows)
    _State.fired = set(o.split(":")[1] for o in _State.placed if o.count(":") == 4 and o.startswith(ACCOUNT_ID + ":")
                       and o.endswith(":" + _today()))
    if hasattr(ContextInfo, "set_account"):
        ContextInfo.set_account(ACCOUNT_ID)
    _log("loaded %d order(s) from %s, %d already placed" % (len(_State.rows), _State.orders_path,
                                                          len(_State.placed)))


def handlebar(ContextInfo):
    """QMT calls this per bar; orders go out once, on the latest bar; stops are watched on every live bar."""
    if hasattr(ContextInfo, "is_last_bar") and not ContextInfo.is_last_bar():
        return
    place_all(ContextInfo)
    watch_stops(ContextInfo)


def deal_callback(ContextInfo, dealInfo):
    """QMT calls this for every fill: append it to the fills CSV for `aquant import-fills`."""
    side = "buy" if int(dealInfo.m_nOffsetFlag) == 48 else "sell"
    t = dealInfo.m_strTradeDate
    hms = ("%06d" % int(dealInfo.m_strTradeTime)) if str(dealInfo.m_strTradeTime).isdigit() else "000000"
    append_fill(_State.fills_path, {
        "trade_id": dealInfo.m_strTradeID, "order_id": dealInfo.m_strRemark,
        "code": "%s.%s" % (dealInfo.m_strInstrumentID, dealInfo.m_strExchangeID), "side": side,
        "price": dealInfo.m_dPrice, "qty": int(dealInfo.m_nVolume), "fee": getattr(dealInfo, "m_dComssion", 0.0),
        "traded_at": "%s-%s-%s %s:%s:%s" % (t[:4], t[4:6], t[6:8], hms[:2], hms[2:4], hms[4:6])})
    code = "%s.%s" % (dealInfo.m_strInstrumentID, dealInfo.m_strExchangeID)
    row = [r for r in _State.rows if r.get("order_id") == dealInfo.m_strRemark]
    if side == "buy" and row and code not in _State.levels and (_num(row[0].get("stop_loss")) or
                                                                _num(row[0].get("take_profit"))):
        r = row[0]
        _State.levels[code] = {"stop_loss": _num(r.get("stop_loss")), "take_profit": _num(r.get("take_profit")),
                               "high_water": float(dealInfo.m_dPrice), "trailing_pct": _num(r.get("trailing_pct")),
                               "protect_pct": _num(r.get("protect_pct"))}
        if _State.stops_path:
            save_levels(_State.stops_path, _State.levels)


class _Context(object):
    """Stand-in for QMT's ContextInfo under plain Python."""

    def is_last_bar(self):
        return True


def main(argv):
    global ORDERS_CSV, FILLS_CSV
    if len(argv) > 1:
        ORDERS_CSV = argv[1]
    if len(argv) > 2:
        FILLS_CSV = argv[2]
    C = _Context()
    init(C)
    handlebar(C)
    if len(argv) > 3:  # outside QMT: a CSV of (code, last) rows, one bar per row, to replay the stop watch
        _State.prices = {}
        f = io.open(argv[3], "r", encoding="utf-8")
        try:
            bars = [r for r in csv.DictReader(f)]
        finally:
            f.close()
        _State.shim_sellable = {}
        for r in bars:
            _State.prices.setdefault(r["code"], []).append(float(r["last"]))
            _State.shim_sellable[r["code"]] = int(r.get("sellable") or 0)
        while any(_State.prices.values()):
            watch_stops(C)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))

# coding: utf-8
"""aquant -> QMT hand-off strategy. Paste into QMT's strategy editor (Python), or run with plain
Python to test: `python qmt_strategy_script.py ORDERS_CSV FILLS_CSV`.

Reads the order CSV written by `aquant export-qmt`, places each order once with passorder
(order_id travels as the user order id / remark), and appends every fill QMT reports to a fills
CSV that `aquant import-fills` loads. Standard library only and old-Python compatible, because
QMT embeds its own (old) interpreter. Outside QMT, `passorder` does not exist: a shim logs the
call and reports a fill at the reference price, so the round trip can be tested.
"""
import csv
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


class _State(object):
    rows = []
    placed = set()
    orders_path = ""
    fills_path = ""
    log_path = ""
    shim_seq = 0


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
    if query is None:
        return 0
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
        self.m_dComssion = round(max(price * qty * 0.00025, 5.0), 2)
        self.m_strTradeDate = time.strftime("%Y%m%d")
        self.m_strTradeTime = time.strftime("%H%M%S")


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
    if hasattr(ContextInfo, "set_account"):
        ContextInfo.set_account(ACCOUNT_ID)
    _log("loaded %d order(s) from %s, %d already placed" % (len(_State.rows), _State.orders_path,
                                                          len(_State.placed)))


def handlebar(ContextInfo):
    """QMT calls this per bar; orders go out once, on the latest bar."""
    if hasattr(ContextInfo, "is_last_bar") and not ContextInfo.is_last_bar():
        return
    place_all(ContextInfo)


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
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))

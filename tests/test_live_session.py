"""`aquant live`: a whole simulated trading day through the xttrader/xtdata interfaces.

The fake counter and quote server (aquant.qmt.live.simxt) take their method names, callback
names, record fields and constants from xtquant 250807.1.2 itself (xttrader.py, xttype.py,
xtconstant.py, xtdata.py; cited line by line in simxt's docstring). The market is hand-built
so each event of the day is obvious: a buy at the open filled in parts, a buy skipped above its
take-profit, one skipped at limit-up, a held stock whose stop is crossed at 10:41 (on thin
volume, so the stop order fills partly, times out and re-arms), a disconnect in the afternoon
while that stop order still fills at the counter, a held stock sealed at limit-down all day
(its stop cannot fill), and a process killed mid-day and restarted.
"""
from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from aquant.db import Database
from aquant.qmt.live import clock as lclock
from aquant.qmt.live.knobs import LiveKnobs
from aquant.qmt.live.session import EXIT_OK, LiveSession
from aquant.qmt.live.simmarket import sim_parts, state_file
from aquant.qmt.live.simxt import Faults
from aquant.qmt.records import now
from aquant.qmt.tables import TRADES
from aquant.qmt.xt_broker import xtconstant
from aquant.schema import Table

DAYS = pd.to_datetime(["2024-06-07", "2024-06-11", "2024-06-12", "2024-06-13", "2024-06-14", "2024-06-17"])
D = DAYS[-1].date()
ACCT = "acct"
HELD = {"600000.SH": (10_000, 10.0), "600519.SH": (100, 100.0), "601318.SH": (3_000, 40.0)}
# code: (pre_close, open, close) on D; earlier days are flat at pre_close
DAY_BAR = {"600000.SH": (10.0, 10.0, 9.45), "600519.SH": (100.0, 90.0, 90.0), "601318.SH": (40.0, 40.0, 44.1),
           "000001.SZ": (10.0, 10.05, 10.1),
           "300750.SZ": (50.0, 51.0, 51.0), "002415.SZ": (30.0, 33.0, 33.0)}


def _bars(code: str, close: np.ndarray, vol: np.ndarray) -> pd.DataFrame:
    ts = lclock.minutes(D)
    close = close.round(2)
    opens = np.concatenate([[close[0]], close[:-1]])
    return pd.DataFrame({"code": code, "ts": [t - lclock.BJ_OFFSET for t in ts], "open": opens,
                         "high": np.maximum(opens, close), "low": np.minimum(opens, close), "close": close,
                         "volume": vol, "amount": vol * close})


def _at(hm: str) -> int:
    return lclock.minutes(D).index(pd.Timestamp(f"{D} {hm}").to_pydatetime())


def _minutes_600000() -> pd.DataFrame:
    """10.00 drifting to 9.60 by 10:40, 9.49 at 10:41 (below the 9.50 stop), then 9.49; thin
    volume (4,000 shares a minute) until 11:00, so a stop sell fills 1,000 shares a minute."""
    n, k = 240, _at("10:41")
    close = np.concatenate([np.linspace(10.0, 9.6, k), np.full(n - k, 9.49)])
    return _bars("600000.SH", close, np.where(np.arange(n) < _at("11:00"), 4_000.0, 200_000.0))


def _minutes_601318() -> pd.DataFrame:
    """40 rising to 44.10 at 13:05 (above the 44 take-profit), 800 shares a minute: the target
    sell fills 200 a minute, through the 13:10-13:20 outage."""
    n, k = 240, _at("13:05")
    close = np.concatenate([np.linspace(40.0, 43.9, k), np.full(n - k, 44.1)])
    return _bars("601318.SH", close, np.full(n, 800.0))


def _minutes_sealed(code: str, px: float) -> pd.DataFrame:
    ts = lclock.minutes(D)
    return pd.DataFrame({"code": code, "ts": [t - lclock.BJ_OFFSET for t in ts], "open": px, "high": px, "low": px,
                         "close": px, "volume": 1000.0, "amount": 1000.0 * px})


def _market(db: Database) -> None:
    rows = []
    for code, (pre, op, cl) in DAY_BAR.items():
        for d in DAYS:
            if d.date() == D:
                rows.append((code, d, op, max(op, cl), min(op, cl), cl, pre, 2_400_000.0, 2.4e7, 0.01, 1.0))
            else:
                rows.append((code, d, pre, pre, pre, pre, pre, 2_400_000.0, 2.4e7, 0.01, 1.0))
    quotes = pd.DataFrame(rows, columns=["code", "trade_date", "open", "high", "low", "close", "pre_close", "volume",
                                         "amount", "turnover_rate", "adj_factor"])
    n = len(DAY_BAR)
    info = pd.DataFrame({"code": list(DAY_BAR), "name": list("ABCDEF"[:n]), "board": ["main"] * n,
                         "industry_l1": ["银行"] * n, "is_st": [False] * n})
    prev = DAYS[-2]
    sig = pd.DataFrame({"signal_id": ["s1", "s2", "s3"], "trade_date": [prev] * 3,
                        "code": ["000001.SZ", "300750.SZ", "002415.SZ"], "side": ["buy"] * 3,
                        "target_weight": [0.1, 0.1, 0.1], "ref_price": [10.0, 50.0, 30.0],
                        "take_profit": [11.5, 50.5, 34.5], "stop_loss": [9.2, 46.0, 27.6], "priority": [1, 1, 1],
                        "reason": ["test"] * 3})
    minutes = pd.concat([_minutes_600000(), _minutes_601318(), _minutes_sealed("600519.SH", 90.0)],
                        ignore_index=True)
    frames = {("staging", "stg_daily_quote", ("code", "trade_date")): quotes,
              ("staging", "stg_stock_info", ("code",)): info,
              ("signals", "qmt_signals", ("signal_id",)): sig,
              ("staging", "stg_minute_quote", ("code", "ts")): minutes}
    for (schema, name, key), df in frames.items():
        types = {c: ("DATE" if c == "trade_date" else "TIMESTAMP" if c == "ts" else "BOOLEAN" if df[c].dtype == bool
                     else "BIGINT" if pd.api.types.is_integer_dtype(df[c]) else
                     "DOUBLE" if pd.api.types.is_float_dtype(df[c]) else "VARCHAR") for c in df.columns}
        db.append(Table(schema, name, types, key, audit_cols=()), df)
    # the account's history: the held stocks were bought on the previous session, with their stops
    db.ensure_table(TRADES)
    db.append(TRADES, pd.DataFrame([{"trade_id": f"old-{c}", "order_id": f"{ACCT}:old:{c}", "code": c, "side": "buy",
                                     "price": cost, "qty": q, "fee": 5.0, "traded_at": prev + pd.Timedelta(hours=2),
                                     "account": ACCT, "source": "XtBroker"} for c, (q, cost) in HELD.items()]))
    from aquant.qmt.live.tables import LIVE_STOPS

    db.ensure_table(LIVE_STOPS)
    db.append(LIVE_STOPS, pd.DataFrame([
        {"account": ACCT, "code": "601318.SH", "stop_loss": 36.0, "take_profit": 44.0, "high_water": 40.0,
         "signal_id": "old3", "updated_at": now()},
        {"account": ACCT, "code": "600000.SH", "stop_loss": 9.5, "take_profit": 12.0, "high_water": 10.0,
         "signal_id": "old1", "updated_at": now()},
        {"account": ACCT, "code": "600519.SH", "stop_loss": 95.0, "take_profit": 120.0, "high_water": 100.0,
         "signal_id": "old2", "updated_at": now()}]))


def _carry(sim_dir: Path) -> None:
    """The simulated counter's book after the previous session: the held stocks, all sellable."""
    prev = state_file(sim_dir, ACCT, DAYS[-2].date())
    prev.parent.mkdir(parents=True, exist_ok=True)
    prev.write_text(json.dumps({"day": str(DAYS[-2].date()), "now": None, "next_id": 1, "orders": [], "trades": [],
                                "cash": 900_000.0, "positions": {c: {"volume": q, "can_use": q, "cost": cost}
                                                                  for c, (q, cost) in HELD.items()}}))


def _knobs(tmp_path: Path) -> LiveKnobs:
    return LiveKnobs.load(kill_file=str(tmp_path / "live.stop"))


def _run(db: Database, tmp_path: Path, faults: Faults | None = None) -> tuple:
    k = _knobs(tmp_path)
    codes = ["000001.SZ", "300750.SZ", "002415.SZ"]
    connect, xd, clk, x = sim_parts(db, ACCT, D, codes, k, tmp_path / "sim", faults=faults)
    s = LiveSession(db, ACCT, D, connect, xd, clk, k, "sim", exchange=x).run()
    return s, x


@pytest.fixture
def day(duck, tmp_path):
    with Database(duck) as db:
        _market(db)
    _carry(tmp_path / "sim")
    return duck


@pytest.fixture
def any_day(any_db, tmp_path):
    with Database(any_db) as db:
        _market(db)
    _carry(tmp_path / "sim")
    return any_db


def _orders(db: Database) -> pd.DataFrame:
    return db.query_df("select * from ops.orders where account = ? order by created_at, order_id", [ACCT])


def test_full_simulated_day(any_day, tmp_path):
    with Database(any_day) as db:
        s, x = _run(db, tmp_path, Faults(disconnect=[("13:10", "13:20")]))
        o = _orders(db).set_index("order_id")
        tr = db.query_df("select * from ops.trades where account = ? and traded_at >= ?", [ACCT, D])
        alerts = db.query_df("select * from ops.alerts_log order by created_at")
        audit_actions = db.query_df("select action, detail from ops.audit_log")
        vr = db.query_df("select * from ops.live_volume_ratio where code = '600000.SH' order by minute")
        sess = db.query_df("select * from ops.live_session")
    c = xtconstant()
    assert s.exit_code == EXIT_OK, (s.reconcile_end, s.refused)
    # at the open: one buy sent as a protected limit order, two skipped with their reasons
    buy = o.loc[f"{ACCT}:s1:buy"]
    assert (buy.order_type, buy.price, buy.status, int(buy.filled_qty)) == ("limit", 10.15, "filled", 10_000)
    assert buy.trade_date == pd.Timestamp(D) or pd.Timestamp(buy.trade_date).date() == D
    assert "take-profit 50.50" in o.loc[f"{ACCT}:s2:buy", "reason"] and o.loc[f"{ACCT}:s2:buy", "status"] == "skipped"
    assert "limit-up 33.00" in o.loc[f"{ACCT}:s3:buy", "reason"] and o.loc[f"{ACCT}:s3:buy", "status"] == "skipped"
    # the buy filled in parts (25 % of each minute's 10,000 shares), each fill written as it came
    bt = tr[tr.order_id == f"{ACCT}:s1:buy"]
    assert len(bt) == 4 and set(bt.qty) == {2500} and set(bt.price) == {10.05}
    partial = audit_actions[(audit_actions.action == "live_order") & audit_actions.detail.str.contains("s1:buy")]
    assert any('"status": "partial"' in d for d in partial.detail)
    # the stop crossed at 10:41: first stop order created then, an alert with it
    stops = o[(o.code == "600000.SH") & (o.reason == "stop")].sort_values("created_at")
    first = stops.iloc[0]
    assert pd.Timestamp(first.created_at) == pd.Timestamp(f"{D} 10:41") - pd.Timedelta(hours=8)
    assert stops.index[0].endswith("#1")
    st_alerts = alerts[(alerts.kind == "stop") & (alerts.code == "600000.SH")]
    assert "at 10:41 Beijing" in st_alerts.message.iloc[0] and st_alerts.delivered.all()
    # thin volume: the stop order filled in part, timed out, and the stop re-armed for the rest
    assert len(stops) >= 2 and stops.iloc[0].status == "cancelled" and 0 < int(stops.iloc[0].filled_qty) < 10_000
    sold = tr[(tr.code == "600000.SH") & (tr.side == "sell")]
    assert int(sold.qty.sum()) == 10_000  # everything sold by the end, never more than held
    # the disconnect: fills made at the counter while the link was down are in ops.trades all the same
    broker_trades = {f"xt-{ACCT}-{D:%Y%m%d}-{t['traded_id']}" for t in x.st["trades"]}
    assert broker_trades == set(tr.trade_id)
    assert any("on_disconnected" in r for r in s.reconnects) and any("reconnected" in r for r in s.reconnects)
    def bj(t: dict) -> str:
        return (pd.Timestamp(t["traded_time"], unit="s") + pd.Timedelta(hours=8)).strftime("%H:%M")

    down = [t for t in x.st["trades"] if "13:10" <= bj(t) < "13:20"]
    assert down, "the scenario must have fills during the outage"
    # limit-down all day: one stop order queued at the limit, never filled, expired at the close
    ld = o[o.code == "600519.SH"]
    assert len(ld) == 1 and ld.iloc[0].price == 90.0 and ld.iloc[0].status == "expired"
    assert int(ld.iloc[0].filled_qty or 0) == 0 and tr[tr.code == "600519.SH"].empty
    assert "limit-down 90.00" in alerts[alerts.code == "600519.SH"].message.iloc[0]
    # no order twice at the counter; every order status ends final
    remarks = [b["order_remark"] for b in x.st["orders"]]
    assert len(remarks) == len(set(remarks))
    assert set(o.status) <= {"filled", "skipped", "cancelled", "expired"}
    assert all(b["order_status"] in (c.ORDER_SUCCEEDED, c.ORDER_CANCELED, c.ORDER_PART_CANCEL) for b in x.st["orders"])
    # 分时量比 stored per minute (not while the link was down: no fresh quote), against the 5
    # previous days (bars derived from their daily volume, 2.4M shares = 10,000 a minute)
    assert len(vr) == 240 - 10 and (vr.days == 5).all()
    by = vr.set_index("minute").volume_ratio
    assert by["10:30"] == pytest.approx(4_000 * 60 / (10_000 * 60))
    assert by["15:00"] == pytest.approx(_minutes_600000().volume.sum() / 2_400_000)
    assert sess.status.iloc[0] == "done" and sess.exit_code.iloc[0] == 0


def test_kill_switch_stops_sending_and_cancels(day, tmp_path):
    (tmp_path / "live.stop").write_text("test")
    with Database(day) as db:
        s, x = _run(db, tmp_path)
        o = _orders(db)
    assert s.exit_code == 3 and s.status == "killed"
    assert x.st["orders"] == []  # nothing reached the counter
    assert set(o.status) <= {"pending", "skipped"}


def test_daily_cap_refuses_and_logs(day, tmp_path):
    with Database(day) as db:
        k = LiveKnobs.load(kill_file=str(tmp_path / "live.stop"), max_order_value_per_day=50_000)
        connect, xd, clk, x = sim_parts(db, ACCT, D, ["000001.SZ"], k, tmp_path / "sim")
        s = LiveSession(db, ACCT, D, connect, xd, clk, k, "sim", exchange=x).run()
        buy = db.query_df("select status, reason from ops.orders where order_id = ?", [f"{ACCT}:s1:buy"]).iloc[0]
    assert buy.status == "skipped" and "max_order_value_per_day" in buy.reason
    assert any("max_order_value_per_day" in r for r in s.refused)
    assert all(b["order_remark"] != f"{ACCT}:s1:buy" for b in x.st["orders"])


def test_killed_process_restarts_without_sending_twice_or_losing_a_fill(day, tmp_path):
    env = {**os.environ, "AQUANT_DB": str(day.duckdb_path)}
    cmd = [str(Path(sys.executable).parent / "aquant"), "live", "--broker", "sim", "--account", ACCT,
           "--date", str(D), "--sim-dir", str(tmp_path / "sim")]
    state = state_file(tmp_path / "sim", ACCT, D)
    p = subprocess.Popen(cmd + ["--pace", "0.02"], env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if state.exists():
            try:
                st = json.loads(state.read_text())
            except json.JSONDecodeError:
                st = {}
            if (st.get("now") or "") >= f"{D}T10:45":
                break
        time.sleep(0.05)
    p.send_signal(signal.SIGKILL)
    p.wait(timeout=30)
    killed_at = json.loads(state.read_text())["now"]
    assert f"{D}T10:45" <= killed_at < f"{D}T15:00", killed_at
    r = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r.stdout + r.stderr
    st = json.loads(state.read_text())
    with Database(day) as db:
        tr = db.query_df("select trade_id, order_id from ops.trades where account = ? and traded_at >= ?", [ACCT, D])
        o = _orders(db)
    remarks = [b["order_remark"] for b in st["orders"]]
    assert len(remarks) == len(set(remarks))            # nothing sent twice
    assert {f"xt-{ACCT}-{D:%Y%m%d}-{t['traded_id']}" for t in st["trades"]} == set(tr.trade_id)  # no fill lost
    assert o.order_id.is_unique and (o.code == "600000.SH").sum() >= 1
    assert st["positions"]["600000.SH"]["volume"] == 0

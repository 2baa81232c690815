"""XtBroker against a fake trader, the CSV hand-off, the QMT script under plain Python, reconcile, CLI."""
from __future__ import annotations

import csv
import subprocess
import sys
from pathlib import Path
from types import SimpleNamespace

import pandas as pd
import pytest
from click.testing import CliRunner

from aquant.db import Database
from aquant.qmt import handoff, paper, reconcile as recon_mod
from aquant.qmt.broker import Broker, OrderRequest
from aquant.qmt.records import reconcile_on_start, record_intents, send_pending
from aquant.qmt.xt_broker import XtBroker, XtQuantUnavailable, load_xttrader, xtconstant

from test_qmt_backtest import load_market, market

SCRIPT = Path(__file__).resolve().parents[1] / "qmt" / "qmt_strategy_script.py"
C = xtconstant()


class FakeXtTrader:
    """Records calls in the exact shape of xtquant.xttrader.XtQuantTrader."""

    def __init__(self):
        self.calls: list[tuple] = []
        self.orders: list[SimpleNamespace] = []
        self.next_id = 1000

    def register_callback(self, cb):
        self.calls.append(("register_callback", cb))

    def start(self):
        self.calls.append(("start",))

    def connect(self):
        self.calls.append(("connect",))
        return 0

    def subscribe(self, account):
        self.calls.append(("subscribe", account))
        return 0

    def order_stock(self, account, stock_code, order_type, order_volume, price_type, price, strategy_name="",
                    order_remark=""):
        self.calls.append(("order_stock", account, stock_code, order_type, order_volume, price_type, price,
                           strategy_name, order_remark))
        self.next_id += 1
        self.orders.append(SimpleNamespace(order_id=self.next_id, stock_code=stock_code, order_remark=order_remark,
                                           order_type=order_type, order_volume=order_volume,
                                           order_status=C.ORDER_REPORTED))
        return self.next_id

    def cancel_order_stock(self, account, order_id):
        self.calls.append(("cancel_order_stock", account, order_id))
        return 0

    def query_stock_asset(self, account):
        return SimpleNamespace(cash=50_000.0, total_asset=80_000.0)

    def query_stock_positions(self, account):
        return [SimpleNamespace(stock_code="600000.SH", volume=1000, can_use_volume=600, avg_price=10.0,
                                open_price=10.0)]

    def query_stock_orders(self, account, cancelable_only=False):
        return list(self.orders)

    def query_stock_trades(self, account):
        # traded_time: epoch seconds (2024-01-05 09:30 Beijing); account_id as XtTrade carries it (xttype.py)
        return [SimpleNamespace(account_id="8800001", stock_code="600000.SH", order_type=C.STOCK_BUY, traded_id="T1",
                                traded_time=1704418200,
                                traded_price=10.0, traded_volume=1000, order_id=999, order_remark="live:s0:buy",
                                commission=5.0)]


def test_xtconstant_is_the_real_module_and_import_skips_the_network_check():
    assert (C.STOCK_BUY, C.STOCK_SELL, C.FIX_PRICE, C.LATEST_PRICE) == (23, 24, 11, 5)
    code = ("import sys; from aquant.qmt.xt_broker import xtconstant; xtconstant(); "
            "assert 'xtquant' not in sys.modules, 'xtquant package imported'")
    subprocess.run([sys.executable, "-c", code], check=True, timeout=60)


def test_xttrader_absent_gives_a_clear_message(monkeypatch):
    monkeypatch.setattr(sys, "platform", "linux")
    with pytest.raises(XtQuantUnavailable, match="Windows x64 beside a running miniQMT"):
        load_xttrader()


def test_xtbroker_calls_xttrader_in_its_exact_shape():
    t, acct = FakeXtTrader(), SimpleNamespace(account_id="8800001", account_type=2)
    b = XtBroker("8800001", trader=t, account=acct)
    assert isinstance(b, Broker)
    assert [c[0] for c in t.calls] == ["register_callback", "start", "connect", "subscribe"]
    r = b.submit(OrderRequest("600000.SH", "buy", 500, order_id="live:s1:buy"))
    assert r.status == "sent" and r.broker_order_id == "1001"
    assert t.calls[-1] == ("order_stock", acct, "600000.SH", 23, 500, 5, 0.0, "aquant", "live:s1:buy")
    b.submit(OrderRequest("600000.SH", "sell", 100, "limit", 10.5, order_id="live:s2:sell"))
    assert t.calls[-1] == ("order_stock", acct, "600000.SH", 24, 100, 11, 10.5, "aquant", "live:s2:sell")
    assert b.submit(OrderRequest("600000.SH", "sell", 100, "stop", 9.0)).status == "rejected"
    assert b.cancel("live:s1:buy") and t.calls[-1] == ("cancel_order_stock", acct, 1001)
    assert b.positions()["600000.SH"].sellable == 600 and b.cash() == 50_000.0
    f = b.fills()[0]
    assert (f.order_id, f.side, f.qty, f.fee, f.trade_id) == ("live:s0:buy", "buy", 1000, 5.0, "xt-8800001-20240105-T1")
    assert f.trade_date == pd.Timestamp("2024-01-05 01:30")  # naive UTC, as ops.trades.traded_at
    b.on_stock_trade("t")
    assert b.events() == [("trade", "t")]


def test_live_restart_never_resends_an_order(duck):
    t = FakeXtTrader()
    b = XtBroker("8800001", trader=t, account=SimpleNamespace(account_id="8800001"))
    o = [OrderRequest("600000.SH", "buy", 500, signal_id="s9")]
    with Database(duck) as db:
        todo = record_intents(db, "live", pd.Timestamp("2024-01-05").date(), o)
        assert db.scalar("select status from ops.orders") == "pending"  # written before sending
        send_pending(db, b, "live", None, todo)
        assert db.scalar("select status from ops.orders") == "sent"
        # restart: the same intent is re-decided, recorded (no-op) and not sent again
        o2 = [OrderRequest("600000.SH", "buy", 500, signal_id="s9")]
        todo2 = record_intents(db, "live", pd.Timestamp("2024-01-05").date(), o2)
        send_pending(db, b, "live", None, todo2)
        assert sum(c[0] == "order_stock" for c in t.calls) == 1
        # a crash between send and mark: reconcile_on_start finds it at the broker by remark
        db.execute("update ops.orders set status = 'pending'")
        notes = reconcile_on_start(db, b, "live")
        assert any("marked sent" in n for n in notes)
        send_pending(db, b, "live", None, todo2)
        assert sum(c[0] == "order_stock" for c in t.calls) == 1
        assert db.scalar("select count(*) from ops.trades") == 1  # the broker's fill recorded once
        reconcile_on_start(db, b, "live")
        assert db.scalar("select count(*) from ops.trades") == 1


def _qmt_market():
    m = market()
    days = sorted(m["stg_daily_quote"].trade_date.unique())
    d = days[2]
    m["qmt_signals"] = pd.DataFrame({
        "signal_id": ["s0", "s1", "q9"], "trade_date": [d, d, d], "code": ["600000.SH", "300750.SZ", "000001.SZ"],
        "side": ["buy", "buy", "sell"], "target_weight": [0.1, 0.05, 0.0], "ref_price": [10.5, 12.4, 11.0],
        "take_profit": [13.0, 16.0, None], "stop_loss": [9.0, 11.0, None], "priority": [1, 1, 2],
        "reason": ["breakout", "breakout", "exit"]})
    return m, days


def test_export_run_script_import_fills_round_trip(any_db, tmp_path, monkeypatch):
    m, days = _qmt_market()
    monkeypatch.setattr(handoff, "next_session", lambda d, db=None: next(x for x in days if x > pd.Timestamp(d)).date())
    with Database(any_db) as db:
        load_market(db, m)
        path = handoff.export_qmt(db, days[2].date(), tmp_path)
        assert path.name == f"qmt_orders_{days[3]:%Y%m%d}.csv"
        rows = list(csv.DictReader(path.open(encoding="utf-8")))
        assert [(r["order_id"], r["side"], r["qty"]) for r in rows] == [
            ("qmt:q9:sell", "sell", "0"), ("qmt:s0:buy", "buy", "9500"), ("qmt:s1:buy", "buy", "4000")]
        assert set(db.query_df("select status from ops.orders").status) == {"exported"}
        handoff.export_qmt(db, days[2].date(), tmp_path)  # re-export: same ids, no new rows
        assert db.scalar("select count(*) from ops.orders") == 3

        fills = tmp_path / "fills.csv"
        for _ in range(2):  # a restarted QMT strategy places nothing twice
            out = subprocess.run([sys.executable, str(SCRIPT), str(path), str(fills)], capture_output=True,
                                 text=True, timeout=60, cwd=tmp_path)
            assert out.returncode == 0, out.stderr
        log = (Path(str(path) + ".log")).read_text(encoding="utf-8")
        assert log.count("passorder(23, 1101") == 2 and "skip qmt:q9:sell" in log
        assert handoff.import_fills(db, fills) == 2
        assert handoff.import_fills(db, fills) == 0  # idempotent
        st = dict(db.query("select order_id, status from ops.orders"))
        assert st["qmt:s0:buy"] == "filled" and st["qmt:q9:sell"] == "exported"
        t = db.query_df("select * from ops.trades order by order_id")
        assert list(t.qty) == [9500, 4000] and (t.fee >= 5).all()


def test_script_is_old_python_compatible():
    src = SCRIPT.read_text(encoding="utf-8")
    import ast

    tree = ast.parse(src)
    assert not any(isinstance(n, ast.JoinedStr) for n in ast.walk(tree)), "f-string found"
    assert not any(isinstance(n, ast.NamedExpr) for n in ast.walk(tree)), "walrus found"
    for n in ast.walk(tree):
        if isinstance(n, (ast.FunctionDef, ast.AsyncFunctionDef)):
            assert n.returns is None and all(a.annotation is None for a in n.args.args), n.name
        assert not isinstance(n, ast.AnnAssign)
    imported = {a.name.split(".")[0] for n in ast.walk(tree) if isinstance(n, ast.Import) for a in n.names}
    assert imported <= {"csv", "decimal", "io", "os", "sys", "time"}


def test_reconcile_traces_trades_and_explains_missing_orders(duck, monkeypatch):
    m = market()
    days = sorted(m["stg_daily_quote"].trade_date.unique())
    nxt = lambda d, db=None: next(x for x in days if x > pd.Timestamp(d)).date()  # noqa: E731
    monkeypatch.setattr(paper, "next_session", nxt)
    monkeypatch.setattr(recon_mod, "next_session", nxt)
    with Database(duck) as db:
        load_market(db, m)
        paper.run_paper(db, days[2].date())
        paper.run_paper(db, days[3].date())
        assert recon_mod.reconcile(db, days[2].date()) == []
        # a stray trade and a signal nobody acted on
        db.execute("insert into ops.trades values ('X1', 'nobody', '000001.SZ', 'buy', 99.0, 100, 5.0, ?, "
                   "'paper', 'manual')", [days[3].to_pydatetime()])
        db.execute("delete from ops.orders where signal_id = 's1'")
        diffs = recon_mod.reconcile(db, days[2].date())
        kinds = sorted(d.kind for d in diffs)
        # the stray trade, and s1's fill whose order row is gone
        assert kinds == ["price_outside_bar", "signal_without_order", "trade_without_order", "trade_without_order"]
        assert "next session" in next(d for d in diffs if d.kind == "signal_without_order").detail
        assert db.scalar("select count(*) from ops.reconcile_diff") == 4
        recon_mod.reconcile(db, days[2].date())
        assert db.scalar("select count(*) from ops.reconcile_diff") == 4  # rewritten, not appended


def test_cli_commands_print_summaries_and_clear_errors(duck, monkeypatch, tmp_path):
    from aquant.qmt.commands import COMMANDS

    cmds = {c.name: c for c in COMMANDS}
    assert list(cmds) == ["backtest", "sweep", "export-qmt", "import-fills", "reconcile", "paper", "live"]
    monkeypatch.setenv("AQUANT_DB", str(duck.duckdb_path))
    monkeypatch.setenv("AQUANT_TARGET", "duckdb")
    with Database(duck) as db:
        load_market(db, market())
    r = CliRunner().invoke(cmds["backtest"], ["--start", "2024-01-01", "--end", "2024-03-31"])
    assert r.exit_code == 0, r.output
    assert "backtest bt-" in r.output and "sharpe" in r.output
    r = CliRunner().invoke(cmds["backtest"], ["--start", "2024-03-01", "--end", "2024-01-01"])
    assert r.exit_code == 2 and "before --start" in r.output
    r = CliRunner().invoke(cmds["backtest"], ["--start", "2024-01-01", "--end", "2024-03-31", "--params", "{bad"])
    assert r.exit_code == 2 and "JSON object" in r.output
    r = CliRunner().invoke(cmds["backtest"], ["--start", "2024-01-01", "--end", "2024-03-31", "--params",
                                              '{"nope": 1}'])
    assert r.exit_code == 1 and "unknown strategy parameter" in r.output
    r = CliRunner().invoke(cmds["import-fills"], [str(tmp_path / "none.csv")])
    assert r.exit_code == 2 and "does not exist" in r.output
    r = CliRunner().invoke(cmds["export-qmt"], ["--date", "2024-01-04", "--out", str(tmp_path)])
    assert r.exit_code == 1 and "qmt_signals is not built yet" in r.output
    r = CliRunner().invoke(cmds["paper"], ["--date", "2024-01-04"])
    assert r.exit_code == 0 and "new intent" in r.output, r.output
    r = CliRunner().invoke(cmds["reconcile"], ["--date", "2024-01-04"])
    assert r.exit_code == 0 and "reconcile 2024-01-04" in r.output, r.output


def test_live_reconcile_counts_bonus_shares_of_a_weekend_ex_date(duck):
    """A 10-for-3 bonus issue with its ex-date on a Saturday: the broker books 1,300 shares on the
    next session; reconcile_on_start must imply the same, not report a mismatch (issue 13, item 3)."""
    from aquant.qmt.records import implied_holdings
    from aquant.qmt.tables import TRADES

    with Database(duck) as db:
        row = {c: None for c in TRADES.columns}
        row.update(trade_id="t1", order_id="live:s1:buy", account="live", code="600000.SH", side="buy",
                   price=7.0, qty=1000, fee=5.0, traded_at=pd.Timestamp("2024-06-03 02:00"))
        db.append(TRADES, pd.DataFrame([row]))
        db.execute("create schema if not exists staging")
        # a Saturday ex-date; ex_trade_date the Monday session, as models/staging/stg_dividend.sql maps it
        db.execute("create table staging.stg_dividend as select '600000.SH' as code, date '2024-06-15' as ex_date, "
                   "date '2024-06-17' as ex_trade_date, 0.0 as cash_div_per_share, 0.3 as bonus_ratio")
        assert implied_holdings(db, "live", pd.Timestamp("2024-06-14").date()) == {"600000.SH": 1000}
        assert implied_holdings(db, "live", pd.Timestamp("2024-06-17").date()) == {"600000.SH": 1300}

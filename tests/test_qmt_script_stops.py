"""The in-terminal QMT script watches stops like `aquant live`: run under plain Python (its
passorder shim reports a fill at the order's price), replaying bars of last prices."""
from __future__ import annotations

import csv
import subprocess
import sys
import time
from pathlib import Path

import pytest

from aquant.qmt.costs import CostModel

SCRIPT = Path(__file__).resolve().parents[1] / "qmt" / "qmt_strategy_script.py"


def _write(path: Path, header: list[str], rows: list[list]) -> Path:
    with path.open("w", newline="", encoding="utf-8") as f:
        w = csv.writer(f)
        w.writerow(header)
        w.writerows(rows)
    return path


def _run(tmp_path: Path, bars: Path) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, str(SCRIPT), str(tmp_path / "orders.csv"), str(tmp_path / "fills.csv"),
                           str(bars)], capture_output=True, text=True, timeout=60, cwd=tmp_path,
                          env={"AQUANT_QMT_ACCOUNT": "8800001", "PATH": "/usr/bin"})


@pytest.fixture
def terminal(tmp_path):
    _write(tmp_path / "orders.csv", ["order_id", "code", "side", "qty"], [])
    # held stocks and their levels, as the script keeps them between days
    _write(tmp_path / "qmt_stops.csv", ["code", "stop_loss", "take_profit", "high_water", "trailing_pct", "protect_pct"],
           [["600000.SH", 9.5, 12.0, 10.0, 0.06, 0.01], ["601318.SH", 36.0, 44.0, 40.0, 0.0, 0.01],
            ["000001.SZ", 9.0, 20.0, 10.0, 0.06, 0.01]])
    return tmp_path


def test_script_fires_each_crossed_level_once_with_a_protected_price(terminal):
    bars = _write(terminal / "bars.csv", ["code", "last", "sellable"], [
        ["600000.SH", 9.8, 1000], ["601318.SH", 43.0, 3000], ["000001.SZ", 11.0, 500],
        ["600000.SH", 9.49, 1000], ["601318.SH", 44.1, 3000], ["000001.SZ", 10.30, 500],  # stop; target; trail 10.34
        ["600000.SH", 9.3, 1000], ["601318.SH", 45.0, 3000], ["000001.SZ", 10.0, 500]])   # still crossed: no refire
    out = _run(terminal, bars)
    assert out.returncode == 0, out.stderr
    log = (terminal / "orders.csv.log").read_text(encoding="utf-8")
    sells = [line for line in log.splitlines() if "passorder(24" in line]
    assert len(sells) == 3  # one per stock, all on the second bar (stocks in code order)
    assert "000001.SZ, 11, 10.2, 500" in sells[0]    # trail: 10.30 <= 11.00 x 0.94; 10.197 -> 10.20
    assert "600000.SH, 11, 9.4, 1000" in sells[1]    # stop: 9.49 x 0.99 = 9.3951 -> 9.40, a fixed price
    assert "601318.SH, 11, 43.66, 3000" in sells[2]   # target: 44.10 x 0.99 = 43.659
    assert ":sell:trail:" in sells[0] and "8800001:600000.SH:sell:stop:" in sells[1] and ":sell:target:" in sells[2]
    fills = list(csv.DictReader((terminal / "fills.csv").open(encoding="utf-8")))
    assert [(f["code"], f["side"], f["qty"]) for f in fills] == [("000001.SZ", "sell", "500"),
                                                                 ("600000.SH", "sell", "1000"),
                                                                 ("601318.SH", "sell", "3000")]
    # the shim's commission is exact: the same cents as qmt/costs.py's commission (rate and minimum)
    day = time.strftime("%Y-%m-%d")
    for f in fills:
        want = CostModel().fee("sell", float(f["price"]), int(f["qty"]), day, f["code"]).commission
        assert float(f["fee"]) == want
    assert float(fills[0]["fee"]) == 5.0  # 5,100 CNY x 0.025 % = 1.28: the minimum applies
    assert float(fills[2]["fee"]) == 32.75  # 130,980 x 0.025 % = 32.745, half up (a float round gives 32.74)
    # a restarted script (same day) does not fire again
    out = _run(terminal, bars)
    log2 = (terminal / "orders.csv.log").read_text(encoding="utf-8")
    assert log2.count("passorder(24") == 3


def test_script_does_not_sell_what_is_not_sellable(terminal):
    bars = _write(terminal / "bars.csv", ["code", "last", "sellable"], [["600000.SH", 9.0, 0]])
    assert _run(terminal, bars).returncode == 0
    assert "passorder(24" not in (terminal / "orders.csv.log").read_text(encoding="utf-8")

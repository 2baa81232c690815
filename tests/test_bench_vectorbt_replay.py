"""bench/backtest_steps._ours_outcomes: ours' order outcomes as the grids vectorbt replays.

The comparison with vectorbt (bench/RESULTS.md, issue 16) is only meaningful if vectorbt trades
what ours could trade: an entry the volume cap cut must be sized to the filled share, not
dropped, a cut exit sells only its share, and an exit ours could not fill (sealed limit-down)
must not fill in vectorbt either.
"""
from __future__ import annotations

import sys
from pathlib import Path

import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # bench/ is not an installed package
from bench.backtest_steps import _ours_outcomes  # noqa: E402


def _log(rows):
    return pd.DataFrame(rows, columns=["trade_date", "code", "side", "status", "qty", "reason"]).assign(
        trade_date=lambda d: pd.to_datetime(d["trade_date"]))


def test_cut_orders_become_fractions_and_refusals_drop_entries():
    days = pd.DatetimeIndex(["2024-01-02", "2024-01-03", "2024-01-04"])
    codes = pd.Index(["A", "B", "C"])
    log = _log([
        # A: a buy of 1,000 cut by the volume cap to 600 (remainder logged rejected), then a sell
        # of the 600 cut to 150
        ("2024-01-02", "A", "buy", "filled", 600, "signal"),
        ("2024-01-02", "A", "buy", "rejected", 400, "signal: volume cap 100% of bar volume"),
        ("2024-01-03", "A", "sell", "filled", 150, "signal"),
        ("2024-01-03", "A", "sell", "rejected", 450, "signal: volume cap 100% of bar volume"),
        # A again: a buy signal while the remainder is held
        ("2024-01-04", "A", "buy", "rejected", 0, "signal: already held"),
        # B: a buy refused at a sealed limit-up, a sell refused at a sealed limit-down
        ("2024-01-02", "B", "buy", "rejected", 500, "signal: limit up 1.00: no buy when sealed"),
        ("2024-01-03", "B", "sell", "rejected", 500, "signal: limit down 1.33: no sell when sealed"),
        # C: a buy the cap refused entirely
        ("2024-01-03", "C", "buy", "rejected", 700, "signal: volume cap 100% of bar volume"),
        ("2024-01-04", "C", "buy", "filled", 700, "signal"),
    ])
    g = _ours_outcomes(log, days, codes)
    assert g["buy_fraction"].loc["2024-01-02", "A"] == 0.6
    assert g["sell_fraction"].loc["2024-01-03", "A"] == 0.25
    assert g["buy_fraction"].drop(index=pd.Timestamp("2024-01-02"), columns="A").eq(1.0).all().all()
    assert g["sell_fraction"].drop(index=pd.Timestamp("2024-01-03"), columns="A").eq(1.0).all().all()
    refused = {(d, c) for d in days for c in codes if g["refused_buy"].loc[d, c]}
    # the cut entry of A is not refused (it was dropped before the fix); its `already held` is
    assert refused == {(pd.Timestamp("2024-01-04"), "A"), (pd.Timestamp("2024-01-02"), "B"),
                       (pd.Timestamp("2024-01-03"), "C")}
    ld = g["limit_down_sell"]
    assert ld.to_numpy().sum() == 1 and ld.loc["2024-01-03", "B"]
    # vectorbt must not sell B at the sealed limit-down open either; A's cut exit is not refused
    rs = g["refused_sell"]
    assert rs.to_numpy().sum() == 1 and rs.loc["2024-01-03", "B"]

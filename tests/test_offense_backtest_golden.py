"""Golden-file regression of the backtest on a fixed strategy and a fixed sample market.

30 sample stocks, 2022-01-04 .. 2023-12-29, every model built once with the project's default
knobs pinned; `run_backtest(..., run_id='golden')` with fixed StrategyParams. The full trade list
(ops.backtest_log) must equal tests/golden/backtest_sample.csv and the run's metrics
(ops.backtest_run) tests/golden/backtest_sample.json.

A deliberate change of the models or the strategy changes these numbers: regenerate with
    AQUANT_UPDATE_GOLDEN=1 .venv/bin/pytest tests/test_offense_backtest_golden.py
and review the diff of tests/golden/ before committing it. Without that variable a missing or
different golden file fails the test. The metrics are also checked against empyrical on the
run's own equity curve.
"""
from __future__ import annotations

import json
import os
from datetime import date
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from aquant.db import Database
from aquant.extract.ingest_sample import ingest_sample
from aquant.extract.sample import SampleConfig
from aquant.qmt.backtest import run_backtest

from conftest import duck_settings
from test_offense_support import DEFAULTS, build, read

GOLDEN = Path(__file__).parent / "golden"
CSV, JSON = GOLDEN / "backtest_sample.csv", GOLDEN / "backtest_sample.json"
UPDATE = os.environ.get("AQUANT_UPDATE_GOLDEN") == "1"
CFG = SampleConfig(n_stocks=30, start=date(2022, 1, 4), end=date(2023, 12, 29))
PARAMS = {"initial_cash": 1_000_000.0, "buy_weight": 0.10, "max_weight_stock": 0.20, "max_weight_industry": 0.40,
          "max_positions": 20, "trail_stop_position": 0.15, "trail_stop_portfolio": 0.25, "cooloff_days": 5,
          "crash_rule": False, "use_targets": True, "rebalance_tolerance": 0.02, "commission_rate": 0.00025,
          "commission_min": 5.0, "slippage": 0.0005, "volume_share": 0.25}
LOG_COLS = ["seq", "trade_date", "code", "side", "status", "price", "qty", "fee", "reason", "signal_id"]
METRICS = ["start_date", "end_date", "total_return", "annual_return", "volatility", "sharpe", "max_drawdown",
           "calmar", "win_rate", "turnover", "benchmark_return", "final_equity", "n_trades"]


@pytest.fixture(scope="module")
def backtest(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("offense_golden")
    settings = duck_settings(tmp / "warehouse.duckdb")
    with Database(settings) as db:
        ingest_sample(db, CFG, progress=False)
    build(settings, tmp / "target", vars_=DEFAULTS)
    with Database(settings) as db:
        run_backtest(db, CFG.start, CFG.end, PARAMS, run_id="golden")
    log = read(settings, f"select {', '.join(LOG_COLS)} from ops.backtest_log where run_id = 'golden' order by seq")
    run = read(settings, "select * from ops.backtest_run where run_id = 'golden'")
    eq = read(settings, "select * from ops.backtest_equity where run_id = 'golden' order by trade_date")
    return log, run.iloc[0], eq


def _metrics(run: pd.Series) -> dict:
    out = {}
    for k in METRICS:
        v = run[k]
        out[k] = v.date().isoformat() if isinstance(v, pd.Timestamp) else (None if pd.isna(v) else
                                                                             (int(v) if k == "n_trades" else float(v)))
    out["params"] = json.loads(run["params"])
    return out


def test_trade_list_matches_golden_file(backtest):
    log = backtest[0].copy()
    log["trade_date"] = log["trade_date"].dt.date.astype(str)
    if UPDATE:
        GOLDEN.mkdir(exist_ok=True)
        log.to_csv(CSV, index=False, float_format="%.10g")
    assert CSV.exists(), f"{CSV} is missing; generate it with AQUANT_UPDATE_GOLDEN=1 (see the module docstring)"
    want = pd.read_csv(CSV, dtype={"trade_date": str, "code": str, "signal_id": str, "reason": str})
    assert len(log) == len(want), f"{len(log)} log rows, golden file has {len(want)}"
    assert len(log) > 50 and set(log["side"]) == {"buy", "sell"}
    for c in LOG_COLS:
        if c in ("price", "fee"):
            np.testing.assert_allclose(log[c].astype(float), want[c].astype(float), rtol=1e-9, atol=1e-9,
                                       equal_nan=True, err_msg=c)
        else:
            got = log[c].astype(object).fillna("").astype(str).tolist()
            exp = want[c].astype(object).fillna("").astype(str).tolist()
            bad = [i for i, (x, y) in enumerate(zip(got, exp)) if x != y]
            assert not bad, f"backtest_log.{c} differs first at seq {bad[0] + 1}: {got[bad[0]]!r} vs {exp[bad[0]]!r}"


def test_metrics_match_golden_file(backtest):
    got = _metrics(backtest[1])
    if UPDATE:
        JSON.write_text(json.dumps(got, indent=2, sort_keys=True, ensure_ascii=False) + "\n")
    assert JSON.exists(), f"{JSON} is missing; generate it with AQUANT_UPDATE_GOLDEN=1 (see the module docstring)"
    want = json.loads(JSON.read_text())
    assert got["params"] == want["params"]
    for k in METRICS:
        if isinstance(want[k], float):
            assert got[k] == pytest.approx(want[k], rel=1e-9, abs=1e-12), k
        else:
            assert got[k] == want[k], k


def test_metrics_agree_with_empyrical_on_the_equity_curve(backtest):
    import empyrical as ep

    _, run, eq = backtest
    r = eq["equity"].pct_change()
    r.iloc[0] = eq["equity"].iloc[0] / PARAMS["initial_cash"] - 1
    r.index = pd.DatetimeIndex(eq["trade_date"])
    assert run["total_return"] == pytest.approx(eq["equity"].iloc[-1] / PARAMS["initial_cash"] - 1, rel=1e-9)
    assert run["annual_return"] == pytest.approx(ep.annual_return(r), rel=1e-9)
    assert run["sharpe"] == pytest.approx(ep.sharpe_ratio(r), rel=1e-9)
    assert run["max_drawdown"] == pytest.approx(ep.max_drawdown(r), rel=1e-9)
    assert run["volatility"] == pytest.approx(ep.annual_volatility(r), rel=1e-9)
    assert run["final_equity"] == pytest.approx(eq["equity"].iloc[-1], rel=1e-12)
    np.testing.assert_allclose(eq["drawdown"], eq["equity"] / eq["equity"].cummax() - 1, atol=1e-12)

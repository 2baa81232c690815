"""`aquant sweep` on the sample market: every combination run, recorded, ranked; dbt knobs exact.

One sample market (the golden test's: 30 stocks, 2022-2023, built with the project's defaults).
The dbt knob buy_threshold is swept by rebuilding a copy of the warehouse per value
(qmt/sweep.py); the proof of exactness is an independent full `dbt build --full-refresh` of
another copy with `--vars {buy_threshold: 6}` followed by an ordinary `run_backtest`: its log
and equity must equal the sweep's run for that combination row for row.
"""
from __future__ import annotations

import base64
import json
import re
from datetime import date

import numpy as np
import pandas as pd
import pytest
from aquant.extract.ingest_sample import ingest_sample
from aquant.extract.sample import SampleConfig
from aquant.qmt.backtest import run_backtest
from aquant.qmt.commands import sweep as sweep_cmd
from aquant.qmt.sweep import SweepError, models_reading, parse_grid, ranked_table, run_sweep
from click.testing import CliRunner
from conftest import duck_settings
from test_offense_backtest_golden import PARAMS
from test_offense_support import DEFAULTS, build, copy_duck, read

from aquant.db import Database

CFG = SampleConfig(n_stocks=30, start=date(2022, 1, 4), end=date(2023, 12, 29))
OOS = date(2023, 7, 3)
GRID = {"buy_threshold": [5, 6], "trail_stop_position": [0.1, 0.2]}
BASE = {k: v for k, v in PARAMS.items() if k != "trail_stop_position"}
LOG_COLS = "trade_date, code, side, status, price, qty, fee, reason, signal_id"


@pytest.fixture(scope="module")
def market(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("sweep")
    settings = duck_settings(tmp / "warehouse.duckdb")
    with Database(settings) as db:
        ingest_sample(db, CFG, progress=False)
    build(settings, tmp / "target", vars_=DEFAULTS)
    return settings, tmp


@pytest.fixture(scope="module")
def swept(market):
    settings, _ = market
    with Database(settings) as db:
        res = run_sweep(db, GRID, CFG.start, CFG.end, OOS, BASE, jobs=2, sweep_id="sw-test")
    return res


def test_every_combination_and_period_is_recorded_and_ranked(market, swept):
    settings, _ = market
    rows = read(settings, "select * from ops.backtest_sweep where sweep_id = 'sw-test' order by combo, period")
    assert len(rows) == 4 * 2 and set(rows.period) == {"in_sample", "out_of_sample"}
    assert sorted(json.loads(p)["buy_threshold"] for p in rows.params) == [5, 5, 5, 5, 6, 6, 6, 6]
    ins, oos = rows[rows.period == "in_sample"], rows[rows.period == "out_of_sample"]
    assert (ins.end_date < pd.Timestamp(OOS)).all() and (oos.start_date == pd.Timestamp(OOS)).all()
    # rank 1..4 by in-sample Sharpe, best first; each out-of-sample row carries its combination's rank
    assert list(ins.sort_values("rank").sharpe) == sorted(ins.sharpe, reverse=True)
    assert sorted(ins["rank"]) == [1, 2, 3, 4] and dict(zip(oos.combo, oos["rank"])) == dict(zip(ins.combo, ins["rank"]))
    runs = read(settings, "select r.run_id, r.params, r.total_return, r.start_date from ops.backtest_run r "
                          "join ops.backtest_sweep s using (run_id) where s.sweep_id = 'sw-test'")
    assert len(runs) == 8
    merged = rows.merge(runs, on="run_id", suffixes=("", "_run"))
    assert (merged.total_return == merged.total_return_run).all()
    for _, r in merged.iterrows():  # each run's params hold its knobs: the Python one and the dbt var
        p = json.loads(r.params_run)
        knobs = json.loads(r.params)
        assert p["trail_stop_position"] == knobs["trail_stop_position"]
        assert p["dbt_vars"] == {"buy_threshold": knobs["buy_threshold"]}
    t = ranked_table(swept)
    assert list(t["rank"]) == [1, 2, 3, 4] and {"oos_total_return", "oos_sharpe", "buy_threshold"} <= set(t.columns)


def test_a_swept_dbt_knob_equals_a_real_dbt_build_with_that_var(market, swept):
    settings, tmp = market
    other = copy_duck(settings, tmp / "threshold6.duckdb")
    build(other, tmp / "target6", ["build", "--full-refresh"], vars_={**DEFAULTS, "buy_threshold": 6})
    row = swept.table[(swept.table.params == json.dumps({"buy_threshold": 6, "trail_stop_position": 0.1}))
                      & (swept.table.period == "in_sample")].iloc[0]
    with Database(other) as db:
        run_backtest(db, CFG.start, row.end_date.date(), {**BASE, "trail_stop_position": 0.1}, run_id="direct")
    direct = read(other, f"select {LOG_COLS} from ops.backtest_log where run_id = 'direct' order by seq")
    via = read(settings, f"select {LOG_COLS} from ops.backtest_log where run_id = ? order by seq", [row.run_id])
    assert len(direct) > 20
    pd.testing.assert_frame_equal(via, direct, check_exact=True)
    eq = "select trade_date, equity, cash from ops.backtest_equity where run_id = ? order by trade_date"
    pd.testing.assert_frame_equal(read(settings, eq, [row.run_id]), read(other, eq, ["direct"]), check_exact=True)
    # and the knob mattered: threshold 5 traded other signals
    row5 = swept.table[(swept.table.params == json.dumps({"buy_threshold": 5, "trail_stop_position": 0.1}))
                       & (swept.table.period == "in_sample")].iloc[0]
    five = read(settings, f"select {LOG_COLS} from ops.backtest_log where run_id = ? order by seq", [row5.run_id])
    assert set(five.signal_id.dropna()) != set(via.signal_id.dropna())


def test_bad_grids_fail_with_a_clear_error():
    with pytest.raises(SweepError, match="unknown knob.*buy_treshold"):
        parse_grid({"buy_treshold": [5]})
    with pytest.raises(SweepError, match="grid is empty"):
        parse_grid("{}")
    with pytest.raises(SweepError, match="non-empty list"):
        parse_grid({"buy_threshold": []})
    with pytest.raises(SweepError, match="JSON object"):
        parse_grid("buy_threshold=5")
    assert len(parse_grid({"buy_threshold": [5, 6, 7], "stop_loss_pct": [0.05, 0.08]})) == 6
    assert models_reading(["buy_threshold"]) == ["int_offense_signals__chained+"]


def test_cli_sweep_prints_a_ranked_table(market, monkeypatch):
    settings, _ = market
    monkeypatch.setenv("AQUANT_DB", str(settings.duckdb_path))
    monkeypatch.setenv("AQUANT_TARGET", "duckdb")
    out = CliRunner().invoke(sweep_cmd, ["--grid", '{"trail_stop_position": [0.1, 0.2]}', "--start", "2022-06-01",
                                         "--end", "2023-12-29", "--params", json.dumps(BASE), "--jobs", "1"])
    assert out.exit_code == 0, out.output
    # the table's header (tqdm's bar goes to stderr, which CliRunner mixes into the same output)
    assert re.search(r"\|\s*rank\s*\|\s*trail_stop_position\s*\|\s*total_return\s*\|\s*sharpe", out.output), out.output
    assert "ranked by in-sample Sharpe" in out.output
    bad = CliRunner().invoke(sweep_cmd, ["--grid", '{"nope": [1]}'])
    assert bad.exit_code == 2 and "unknown knob" in bad.output


APP_SCRIPT = """
import os
from pathlib import Path
from aquant.config import Settings
from aquant.db import Database
from aquant.app.views.sweep import render
with Database(Settings(target="duckdb", duckdb_path=Path(os.environ["SWEEP_TEST_DB"]), pg={})) as db:
    render(db)
"""


def test_app_section_shows_the_ranked_table_and_a_heatmap_with_its_period(market, swept, monkeypatch):
    from streamlit.testing.v1 import AppTest

    settings, _ = market
    monkeypatch.setenv("SWEEP_TEST_DB", str(settings.duckdb_path))
    at = AppTest.from_string(APP_SCRIPT, default_timeout=60)
    at.run()
    assert not at.exception, [e.message for e in at.exception]
    at.selectbox(key="sweep_id").set_value("sw-test").run()
    table = next(d.value for d in at.dataframe if "oos_sharpe" in d.value.columns)
    assert list(table["rank"]) == [1, 2, 3, 4] and set(table.buy_threshold) == {5, 6}
    want = ranked_table(swept)
    assert list(table.sharpe) == list(want.sharpe) and list(table.oos_sharpe) == list(want.oos_sharpe)
    caption = " ".join(c.value for c in at.caption)
    assert f"out-of-sample (oos_ columns) {OOS}" in caption and "in-sample 2022-01-04" in caption
    charts = at.get("plotly_chart")
    assert len(charts) == 1
    fig = json.loads(charts[0].proto.spec)
    assert "in-sample 2022-01-04" in fig["layout"]["title"]["text"]
    z = fig["data"][0]["z"]  # plotly ships the matrix as a typed array: {"dtype", "bdata", "shape"}
    z = np.frombuffer(base64.b64decode(z["bdata"]), dtype=z["dtype"]).reshape(2, 2) if isinstance(z, dict) else np.array(z)
    ins = swept.table[swept.table.period == "in_sample"]
    knobs = pd.DataFrame([json.loads(p) for p in ins.params], index=ins.index)
    want_z = knobs.assign(s=ins.sharpe).pivot(index="trail_stop_position", columns="buy_threshold", values="s")
    assert fig["data"][0]["x"] == ["5", "6"] and fig["data"][0]["y"] == ["0.1", "0.2"]
    np.testing.assert_array_equal(z, want_z.to_numpy())  # one cell per run, Sharpe of that run
    at.selectbox(key="sweep_period").set_value("out_of_sample").run()
    fig = json.loads(at.get("plotly_chart")[0].proto.spec)
    assert f"out-of-sample {OOS}" in fig["layout"]["title"]["text"]


def test_strategy_knob_sweep_in_processes_on_both_targets(any_db):
    """No dbt involved: the hand-built market of test_qmt_backtest, two processes, DuckDB and
    PostgreSQL; every run recorded with its knob; a dbt var on PostgreSQL is refused clearly."""
    from test_qmt_backtest import load_market
    from test_qmt_backtest import market as tiny_market

    with Database(any_db) as db:
        load_market(db, tiny_market())
        res = run_sweep(db, {"trail_stop_position": [0.02, 0.3], "buy_weight": [0.05, 0.1]}, date(2024, 1, 2),
                        date(2024, 2, 26), date(2024, 2, 1), {"slippage": 0.0005}, jobs=2, sweep_id="sw-tiny")
        rows = db.query_df("select s.run_id, s.params, s.period, s.total_return, r.params as run_params, "
                           "r.total_return as run_return from ops.backtest_sweep s join ops.backtest_run r "
                           "using (run_id) where s.sweep_id = 'sw-tiny'")
        if any_db.is_postgres:
            with pytest.raises(SweepError, match="DuckDB only"):
                run_sweep(db, {"buy_threshold": [5, 6]}, date(2024, 1, 2), date(2024, 2, 26))
    assert len(rows) == 8 and len(res.table) == 8
    assert (rows.total_return == rows.run_return).all()
    for _, r in rows.iterrows():
        knobs, run = json.loads(r.params), json.loads(r.run_params)
        assert run["trail_stop_position"] == knobs["trail_stop_position"] and run["buy_weight"] == knobs["buy_weight"]
    assert rows.total_return.nunique() > 1  # the knobs changed the runs

"""Parameter sweeps: every combination of a grid of knobs backtested, ranked, and recorded.

A knob is either a strategy/bookkeeping knob (StrategyParams, BookParams: applied in Python) or a
dbt var (dbt_project.yml `vars:`, e.g. buy_threshold, the factor weights: applied in SQL when the
signals are built). dbt knobs are swept EXACTLY by building into a separate file per combination:
the DuckDB warehouse is copied and the models that read a swept var, with everything downstream
of them, are rebuilt there with `dbt run --full-refresh --vars ...` (full refresh because
factor_scores and int_offense_signals__chained are incremental). The backtest then reads the copy. So a sweep's
run is, by construction, the run a user would get after `aquant build` with that var; a test
compares the two. A dbt var the strategy also reads (qmt/knobs.py: stop_loss_pct,
take_profit_pct, max_hold_days, caps, rotation_exit) is passed to StrategyParams as well.

Runs go to ops.backtest_run/log/equity as any backtest (params JSON holds every knob); one row
per run and period to ops.backtest_sweep. With an out-of-sample start the same combination runs
on [start, oos_start) and [oos_start, end], each from the initial capital; combinations are
ranked by in-sample Sharpe only (the out-of-sample figures are reported, never used to choose).
Simulations run in parallel processes (one per core by default).
"""
from __future__ import annotations

import itertools
import json
import multiprocessing as mp
import os
import re
import shutil
import tempfile
import uuid
from concurrent.futures import ProcessPoolExecutor, ThreadPoolExecutor, as_completed
from dataclasses import dataclass, fields
from datetime import date, datetime, timedelta, timezone
from pathlib import Path
from typing import Any, Callable, Mapping

import pandas as pd

from aquant.config import Settings, project_root
from aquant import relations
from aquant.db import Database

from . import data
from .backtest import BacktestResult, BookParams, simulate, split_params, write_result
from .fast_core import DEFAULT_ENGINE
from .knobs import dbt_vars
from .strategy import StrategyParams
from .tables import BACKTEST_SWEEP

# dbt vars the strategy also reads, and the StrategyParams field each sets (qmt/strategy.py).
DBT_TO_PARAM = {"max_weight_stock": "max_weight_stock", "max_weight_industry": "max_weight_industry",
                "rotation_exit": "rotation_exit", "take_profit_pct": "rotation_take_profit_pct",
                "stop_loss_pct": "rotation_stop_loss_pct", "max_hold_days": "rotation_max_hold_days"}
NOT_SWEPT = ("staging_schema", "signals_schema")  # where the data is, not how the strategy trades


class SweepError(ValueError):
    """A grid that cannot be swept; the message says what was expected."""


@dataclass(frozen=True)
class Combo:
    """One point of the grid: its swept knobs, split by where each is applied."""

    knobs: dict[str, Any]

    @property
    def dbt(self) -> dict[str, Any]:
        return {k: v for k, v in self.knobs.items() if k in dbt_vars()}

    def params(self, base: Mapping[str, Any]) -> dict[str, Any]:
        """Backtest params: the base, then each Python knob, then the field a dbt knob sets."""
        out = dict(base)
        for k, v in self.knobs.items():
            if k in dbt_vars():
                if k in DBT_TO_PARAM:
                    out[DBT_TO_PARAM[k]] = v
            else:
                out[k] = v
        return out


def python_knobs() -> list[str]:
    return sorted(({f.name for f in fields(StrategyParams)} | {f.name for f in fields(BookParams)})
                  - set(NOT_SWEPT))


def parse_grid(grid: str | Mapping[str, Any]) -> list[Combo]:
    """The grid's combinations in a fixed order (knobs as given, values as listed).

    Errors (SweepError): not a JSON object, an empty grid, a knob that is neither a strategy knob
    nor a dbt var, a value that is not a non-empty list."""
    if isinstance(grid, str):
        try:
            grid = json.loads(grid)
        except json.JSONDecodeError as exc:
            raise SweepError(f"--grid must be a JSON object of knob -> list of values, e.g. "
                             f"'{{\"buy_threshold\": [5, 6]}}'; got {grid!r} ({exc.msg})") from exc
    if not isinstance(grid, Mapping):
        raise SweepError(f"--grid must be a JSON object of knob -> list of values, got {type(grid).__name__}")
    if not grid:
        raise SweepError("the grid is empty: give at least one knob with a list of values, "
                         "e.g. '{\"buy_threshold\": [5, 6, 7]}'")
    known_py, known_dbt = set(python_knobs()), set(dbt_vars())
    unknown = sorted(set(grid) - known_py - known_dbt)
    if unknown:
        raise SweepError(f"unknown knob(s) {unknown}: expected strategy knobs {sorted(known_py)} or dbt vars "
                         f"of dbt_project.yml {sorted(known_dbt)}")
    for k, v in grid.items():
        if not isinstance(v, list) or not v:
            raise SweepError(f"knob {k!r}: expected a non-empty list of values, got {v!r}")
    names = list(grid)
    return [Combo(dict(zip(names, vals))) for vals in itertools.product(*(grid[n] for n in names))]


def steps(grid: str | Mapping[str, Any], oos_start: date | None) -> int:
    """How many progress steps a sweep reports: one per warehouse copy built, one per run."""
    combos = parse_grid(grid)
    builds = len({json.dumps(c.dbt, sort_keys=True) for c in combos if c.dbt})
    return builds + len(combos) * (2 if oos_start else 1)


def models_reading(names: list[str], root: Path | None = None) -> list[str] | None:
    """dbt selectors (`model+`) for the models whose SQL reads one of these vars; None when a
    macro reads one (then every model is rebuilt: a macro may be used anywhere)."""
    root = root or project_root()
    pat = re.compile(r"var\(\s*['\"](" + "|".join(map(re.escape, names)) + r")['\"]")
    if any(pat.search(p.read_text(encoding="utf-8")) for p in (root / "macros").rglob("*.sql")):
        return None
    hits = sorted(p.stem for p in (root / "models").rglob("*.sql") if pat.search(p.read_text(encoding="utf-8")))
    return [f"{m}+" for m in hits]


def build_variant(settings: Settings, knobs: Mapping[str, Any], workdir: Path) -> Settings:
    """A copy of the DuckDB warehouse with the models that read `knobs` rebuilt with them.

    The caller checkpoints the source first (run_sweep does), so the copy holds every write."""
    from aquant.dbt_runner import run_dbt

    if settings.is_postgres:
        raise SweepError("sweeping dbt vars builds a copy of the warehouse per combination, which is done "
                         "for DuckDB only; on PostgreSQL sweep strategy knobs, or build with --dbt-vars")
    workdir.mkdir(parents=True, exist_ok=True)
    dest = workdir / "warehouse.duckdb"
    shutil.copyfile(settings.duckdb_path, dest)
    copy = Settings(target="duckdb", duckdb_path=dest, pg=dict(settings.pg))
    sel = models_reading(list(knobs))
    args = ["run", "--full-refresh"] + (["--select", *sel] if sel else [])
    res = run_dbt(copy, args, vars_=dict(knobs), quiet=True, target_path=str(workdir / "target"))
    if res.returncode != 0:
        raise SweepError(f"dbt {' '.join(args)} with vars {dict(knobs)} failed (output above); the warehouse "
                         f"copy is in {workdir}")
    return copy


@dataclass(frozen=True)
class Period:
    name: str  # in_sample / out_of_sample
    start: date
    end: date


def periods(start: date, end: date, oos_start: date | None) -> list[Period]:
    if oos_start is None:
        return [Period("in_sample", start, end)]
    if not start < oos_start <= end:
        raise SweepError(f"--oos-start {oos_start} must be after --start {start} and not after --end {end}")
    return [Period("in_sample", start, oos_start - timedelta(days=1)), Period("out_of_sample", oos_start, end)]


def signal_range(db: Database, p: StrategyParams | None = None) -> tuple[date, date]:
    """First and last day of the signals relation (the default sweep period)."""
    p = p or StrategyParams()
    src = data.Sources(p.staging_schema, p.signals_schema)
    rel = relations.locate(db, "signals", ["trade_date"], src.schemas)
    lo, hi = db.query(f"select min(trade_date), max(trade_date) from {rel}")[0]
    if lo is None:
        raise SweepError(f"{rel} is empty: run `aquant build` first, or pass --start/--end")
    return pd.Timestamp(lo).date(), pd.Timestamp(hi).date()


def load_frames(db: Database, start: date, end: date, p: StrategyParams) -> tuple:
    src = data.Sources(p.staging_schema, p.signals_schema)
    return (data.load_quotes(db, start, end, src), data.load_stock_info(db, src), data.load_signals(db, start, end, src),
            data.load_targets(db, start, end, src), data.load_dividends(db, start, end, src))


_FRAMES: dict[tuple, tuple] = {}  # inherited by the forked workers: no pickling of the market


def _simulate(key: tuple, params: dict, engine: str) -> BacktestResult:
    return simulate(*_FRAMES[key], params, engine=engine)


@dataclass
class SweepResult:
    sweep_id: str
    table: pd.DataFrame  # one row per run: knobs, period, metrics, run_id, rank


def run_sweep(db: Database, grid: str | Mapping[str, Any], start: date, end: date, oos_start: date | None = None,
              base: Mapping[str, Any] | None = None, jobs: int | None = None, engine: str = DEFAULT_ENGINE,
              progress: Callable[[int], Any] | None = None, sweep_id: str | None = None,
              workdir: Path | None = None) -> SweepResult:
    """Backtest every combination of `grid` on each period and record it (see module doc).

    `db` is the warehouse (its Settings locate the file copied for dbt knobs); `base` are
    params every run shares; `progress(n)` is called as each warehouse copy is built and each run
    finishes (`steps(grid, oos_start)` of them; e.g. tqdm.update)."""
    combos = parse_grid(grid)
    base = dict(base or {})
    split_params(base)  # unknown base keys fail here, before any work
    pers = periods(start, end, oos_start)
    sweep_id = sweep_id or f"sw-{datetime.now(timezone.utc):%Y%m%d-%H%M%S}-{uuid.uuid4().hex[:6]}"
    own_dir = workdir is None
    workdir = Path(workdir or tempfile.mkdtemp(prefix=f"aquant-{sweep_id}-"))
    try:
        keys = list(dict.fromkeys(json.dumps(c.dbt, sort_keys=True) for c in combos))
        jobs = max(1, jobs or os.cpu_count() or 1)
        variants: dict[str, Settings | None] = {k: None for k in keys if k == "{}"}
        todo = [k for k in keys if k != "{}"]
        if todo and db.settings.is_postgres:
            raise SweepError("sweeping dbt vars builds a copy of the warehouse per combination, which is done "
                             "for DuckDB only; on PostgreSQL sweep strategy knobs, or build with --dbt-vars")
        if todo:  # dbt runs are subprocesses: a thread each, `jobs` at a time
            db.execute("checkpoint")  # everything written so far goes to the file that is copied
            with ThreadPoolExecutor(min(jobs, len(todo))) as pool:
                futs = {pool.submit(build_variant, db.settings, json.loads(k), workdir / f"v{i}"): k
                        for i, k in enumerate(todo)}
                for f in as_completed(futs):
                    variants[futs[f]] = f.result()
                    if progress:
                        progress(1)
        _FRAMES.clear()
        p0, _ = split_params(base)
        for vkey, st in variants.items():
            for per in pers:
                if st is None:
                    _FRAMES[(vkey, per.name)] = load_frames(db, per.start, per.end, p0)
                else:
                    with Database(st) as vdb:
                        _FRAMES[(vkey, per.name)] = load_frames(vdb, per.start, per.end, p0)
        tasks = [(i, per, c) for i, c in enumerate(combos) for per in pers]
        results: dict[tuple[int, str], BacktestResult] = {}
        jobs = min(jobs, len(tasks))
        if jobs == 1:
            for i, per, c in tasks:
                results[(i, per.name)] = _simulate((json.dumps(c.dbt, sort_keys=True), per.name), c.params(base), engine)
                if progress:
                    progress(1)
        else:
            with ProcessPoolExecutor(jobs, mp_context=mp.get_context("fork")) as pool:
                futs = {pool.submit(_simulate, (json.dumps(c.dbt, sort_keys=True), per.name), c.params(base), engine):
                        (i, per.name) for i, per, c in tasks}
                for f in as_completed(futs):
                    results[futs[f]] = f.result()
                    if progress:
                        progress(1)
    finally:
        _FRAMES.clear()
        if own_dir:
            shutil.rmtree(workdir, ignore_errors=True)
    return _record(db, sweep_id, combos, pers, results, base)


def _record(db: Database, sweep_id: str, combos: list[Combo], pers: list[Period],
            results: dict[tuple[int, str], BacktestResult], base: Mapping[str, Any]) -> SweepResult:
    """Write every run and the sweep's rows in one transaction per run, then the sweep table."""
    rows = []
    for i, c in enumerate(combos):
        for per in pers:
            res = results[(i, per.name)]
            run_id = f"{sweep_id}-{i + 1:03d}-{'is' if per.name == 'in_sample' else 'oos'}"
            p, _ = split_params(c.params(base))
            if c.dbt:  # the dbt vars the signals were built with belong to the run's params too
                res.summary["params"] = json.dumps({**json.loads(res.summary["params"]), "dbt_vars": c.dbt},
                                                   sort_keys=True)
            write_result(db, run_id, res, per.start, per.end, p)
            s = res.summary
            rows.append({"sweep_id": sweep_id, "run_id": run_id, "combo": i + 1,
                         "params": json.dumps(c.knobs, sort_keys=True), "period": per.name,
                         "start_date": pd.Timestamp(per.start), "end_date": pd.Timestamp(per.end),
                         "total_return": s["total_return"], "sharpe": s["sharpe"], "max_drawdown": s["max_drawdown"],
                         "turnover_annual": s["turnover_annual"], "cost_drag": s["cost_drag"],
                         "n_trades": int(s["n_trades"])})
    df = pd.DataFrame(rows)
    ins = df[df.period == "in_sample"].copy()
    ins["_sh"] = ins["sharpe"].fillna(float("-inf"))
    order = ins.sort_values(["_sh", "total_return", "combo"], ascending=[False, False, True], kind="stable")
    rank = {c: r + 1 for r, c in enumerate(order["combo"])}
    df["rank"] = df["combo"].map(rank).astype("int64")
    df["created_at"] = datetime.now(timezone.utc).replace(tzinfo=None)
    db.ensure_table(BACKTEST_SWEEP)
    with db.transaction():
        db.append(BACKTEST_SWEEP, df[list(BACKTEST_SWEEP.columns)])
    return SweepResult(sweep_id, df.sort_values(["rank", "period"]).reset_index(drop=True))


def ranked_table(res: SweepResult | pd.DataFrame) -> pd.DataFrame:
    """One row per combination: its knobs, in-sample metrics, out-of-sample beside them (from a
    SweepResult or a sweep's ops.backtest_sweep rows)."""
    df = (res.table if isinstance(res, SweepResult) else res).reset_index(drop=True)
    knobs = pd.DataFrame([json.loads(p) for p in df["params"]], index=df.index)
    wide = pd.concat([df[["rank", "period"]], knobs, df[["total_return", "sharpe", "max_drawdown",
                                                         "turnover_annual", "cost_drag"]]], axis=1)
    ins = wide[wide.period == "in_sample"].drop(columns="period").set_index("rank")
    oos = wide[wide.period == "out_of_sample"].drop(columns=["period", *knobs.columns]).set_index("rank")
    if not oos.empty:
        ins = ins.join(oos[["total_return", "sharpe", "max_drawdown"]].add_prefix("oos_"))
    return ins.sort_index().reset_index()

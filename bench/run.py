"""Benchmark the platform at one scale and print (and save) the tables.

    .venv/bin/python -m bench.run --scale small            # 500 stocks x 3 years, a few minutes
    .venv/bin/python -m bench.run --scale full             # 5,000 stocks x 10 years, long: run in background
    .venv/bin/python -m bench.run --scale small --pg       # the same build on PostgreSQL (own database, dropped)
    .venv/bin/python -m bench.run --scale full --reuse-ingest --full-only --hard-limit-gib 4
        # only the full build, inside a 4 GiB memory cgroup (root; cgroup v1 or v2)

Figures are medians of --reps runs (long steps run fewer times; each table says how many).
Every step runs in its own subprocess; "peak MiB" is the largest single process's max RSS (wait4);
a build step also samples the summed RSS of its whole process tree ("tree peak MiB", per model too).
Writes bench/out/results-<scale>[-pg].json and .md; bench/RESULTS.md is assembled from those.
"""
from __future__ import annotations

import argparse
import json
import shutil
import subprocess
import time
from pathlib import Path

from tabulate import tabulate

from bench.common import OUT, SCALES, MemoryCgroup, StepRun, fmt_s, machine, median, run_step


def _copy(src: Path, dst: Path) -> None:
    for suffix in ("", ".wal"):
        s, d = Path(str(src) + suffix), Path(str(dst) + suffix)
        d.unlink(missing_ok=True)
        if s.exists():
            shutil.copyfile(s, d)
    held = src.with_suffix(".lastday")
    if held.exists() and src.with_suffix(".lastday") != dst.with_suffix(".lastday"):
        shutil.rmtree(dst.with_suffix(".lastday"), ignore_errors=True)
        shutil.copytree(held, dst.with_suffix(".lastday"))


def _runs(step: str, args: list[str], n: int, tag: str, env: dict | None = None,
          cgroup: MemoryCgroup | None = None) -> list[StepRun]:
    out = []
    for i in range(n):
        r = run_step(step, args, OUT / "logs" / f"{tag}_{i + 1}.log", env, cgroup)
        tree = r.result.get("tree_peak_mib")
        print(f"  {tag} run {i + 1}/{n}: {r.wall_s:.1f} s, peak {r.max_rss_mib:.0f} MiB"
              + (f", tree peak {tree:.0f} MiB" if tree else "")
              + (f", cgroup {r.result['cgroup']}" if "cgroup" in r.result else ""), flush=True)
        out.append(r)
    return out


def _tree_peak(runs: list[StepRun]) -> str:
    xs = [r.result.get("tree_peak_mib") for r in runs if r.result.get("tree_peak_mib")]
    return f"{max(xs):,.0f}" if xs else "-"


def _model_table(full: list[StepRun], incr: list[StepRun]) -> list[list]:
    """Per model: median seconds in the full and the incremental build, and the largest tree RSS
    sampled while it ran in the full build."""
    def med(runs: list[StepRun]) -> dict[str, float]:
        names = {m["name"] for r in runs for m in r.result["models"]}
        return {n: median([m["s"] for r in runs for m in r.result["models"] if m["name"] == n]) for n in names}
    f, i = med(full), med(incr)
    peak = {}
    for r in full:
        for m in r.result["models"]:
            if m.get("peak_mib"):
                peak[m["name"]] = max(peak.get(m["name"], 0), m["peak_mib"])
    rows = [[n, f.get(n, float("nan")), i.get(n, float("nan")), peak.get(n)] for n in f]
    rows.sort(key=lambda r: -r[1])
    return rows


def bench_duckdb(a: argparse.Namespace, res: dict) -> None:
    sc = SCALES[a.scale]
    db = OUT / f"{sc.name}.duckdb"
    base = OUT / f"{sc.name}.base.duckdb"
    work = OUT / f"{sc.name}.work.duckdb"
    ref = OUT / f"{sc.name}.ref.duckdb"
    tgt = str(OUT / f"target-{sc.name}")
    saved = OUT / f"{sc.name}.ingest.json"
    if a.reuse_ingest and saved.exists() and db.exists():
        print(f"(1) ingest: reusing the measured run in {saved} and its database", flush=True)
        res["ingest"] = [StepRun(**json.loads(saved.read_text()))]
    else:
        print(f"(1) ingest x{a.reps_long}", flush=True)
        res["ingest"] = _runs("ingest", ["--scale", sc.name, "--db", str(db)], a.reps_long, f"{sc.name}_ingest")
        saved.write_text(json.dumps(vars(res["ingest"][-1]), default=str))
    print(f"(2) full dbt build x{a.reps_long}", flush=True)
    res["full"] = _runs("build", ["--db", str(db), "--target", tgt, "--full"], a.reps_long, f"{sc.name}_full")
    if a.hard_limit_gib:
        # the same full build inside a memory cgroup: the kernel, not DuckDB, enforces the limit
        print(f"(2) full dbt build under a hard {a.hard_limit_gib:g} GiB limit (memory cgroup) x1", flush=True)
        cg = MemoryCgroup(f"aquant_bench_{sc.name}", int(a.hard_limit_gib * 2 ** 30))
        try:
            res["full_limited"] = _runs("build", ["--db", str(db), "--target", tgt, "--full"], 1,
                                        f"{sc.name}_full_limited", cgroup=cg)
        finally:
            cg.remove()
    if a.full_only:
        return
    if a.backtest_only:  # ingest, one build, then only the backtest comparison (4)
        _copy(db, ref)
        _bench_backtest(res, sc, ref)
        return
    _copy(db, base)
    print(f"(2) one-day incremental build x{a.reps}", flush=True)
    res["add_day"], res["incr"], res["incr_run"] = [], [], []
    for i in range(a.reps):
        _copy(base, work)
        res["add_day"] += _runs("add_day", ["--db", str(work)], 1, f"{sc.name}_add_day_{i + 1}")
        res["incr"] += _runs("build", ["--db", str(work), "--target", tgt], 1, f"{sc.name}_incr_{i + 1}")
    # the same day with `dbt run` (models only, no data tests)
    _copy(base, work)
    _runs("add_day", ["--db", str(work)], 1, f"{sc.name}_add_day_run")
    res["incr_run"] = _runs("build", ["--db", str(work), "--target", tgt, "--select", "resource_type:model"], 1,
                            f"{sc.name}_incr_run")
    # the daily run's option: data tests on the latest 5 trading days only (macros/tests/recent_rows.sql)
    res["incr_recent"] = []
    for i in range(a.reps):
        _copy(base, work)
        _runs("add_day", ["--db", str(work)], 1, f"{sc.name}_add_day_recent_{i + 1}")
        res["incr_recent"] += _runs("build", ["--db", str(work), "--target", tgt, "--vars", "{test_recent_days: 5}"],
                                    1, f"{sc.name}_incr_recent_{i + 1}")
    print("(2) incremental == full rebuild of the same data?", flush=True)
    _copy(work, ref)
    _runs("build", ["--db", str(ref), "--target", tgt, "--full"], 1, f"{sc.name}_ref_full")
    res["compare"] = _runs("compare", ["--db", str(work), "--other", str(ref)], 1, f"{sc.name}_compare")
    print(f"(3) MACD + volume ratio: SQL vs TA-Lib x{a.reps}", flush=True)
    res["sql_macd"] = _runs("build", ["--db", str(ref), "--target", tgt, "--full", "--select",
                                      "int_macd__recursed", "factor_technical", "--exclude", "resource_type:test"],
                            a.reps, f"{sc.name}_sql_macd")
    res["talib"] = _runs("talib", ["--db", str(ref)], a.reps, f"{sc.name}_talib")
    _bench_backtest(res, sc, ref)


def _bench_backtest(res: dict, sc, ref: Path) -> None:  # noqa: ANN001
    """(4) ours (reference and fast engine, same process) and vectorbt on the same signals."""
    print("(4) backtest: ours vs vectorbt x1", flush=True)
    res["bt_rotation"] = _runs("backtest", ["--db", str(ref), "--mode", "rotation"], 1, f"{sc.name}_bt_rotation")
    res["bt_simple"] = _runs("backtest", ["--db", str(ref), "--mode", "simple"], 1, f"{sc.name}_bt_simple")
    res["vectorbt"] = _runs("vectorbt", ["--db", str(ref)], 1, f"{sc.name}_vectorbt")
    res["broker"] = _runs("broker", ["--db", str(ref)], 1, f"{sc.name}_broker")


def bench_postgres(a: argparse.Namespace, res: dict) -> None:
    sc = SCALES[a.scale]
    name = f"aquant_bench_{sc.name}"
    # -d postgres: a PGDATABASE in the environment (even this very database) must not be the one psql opens
    psql = ["psql", "-h", "127.0.0.1", "-U", "postgres", "-d", "postgres", "-v", "ON_ERROR_STOP=1", "-qc"]
    subprocess.run(psql + [f"drop database if exists {name}"], check=True)
    subprocess.run(psql + [f"create database {name}"], check=True)
    env = {"AQUANT_TARGET": "postgres", "PGDATABASE": name}
    tgt = str(OUT / f"target-{sc.name}-pg")
    try:
        print("(5) PostgreSQL: ingest x1", flush=True)
        res["ingest"] = _runs("ingest", ["--scale", sc.name, "--db", str(OUT / f"{sc.name}.pgheld.duckdb")], 1,
                              f"{sc.name}_pg_ingest", env)
        print("(5) PostgreSQL: full dbt build x1", flush=True)
        res["full"] = _runs("build", ["--pg", name, "--target", tgt, "--full"], 1, f"{sc.name}_pg_full", env)
        _runs("add_day", ["--db", str(OUT / f"{sc.name}.pgheld.duckdb")], 1, f"{sc.name}_pg_add_day", env)
        print("(5) PostgreSQL: one-day incremental build x1", flush=True)
        res["incr"] = _runs("build", ["--pg", name, "--target", tgt], 1, f"{sc.name}_pg_incr", env)
    finally:
        if not a.keep:
            subprocess.run(psql + [f"drop database if exists {name}"], check=False)


def report(a: argparse.Namespace, res: dict, seconds: float) -> str:
    sc = SCALES[a.scale]
    L = [f"## Scale `{sc.name}`: {sc.n_stocks} stocks x {sc.years} years ({sc.start}..{sc.end})"
         f"{' on PostgreSQL' if a.pg else ''}", ""]
    ing = res["ingest"]
    r0 = ing[-1].result
    L += ["### Data and ingest", "",
          tabulate([["daily bars (raw.daily_quote)", f"{r0['daily_rows']:,}"],
                    ["rows loaded, all raw tables", f"{r0['rows']:,}"],
                    ["held back for the incremental run", f"1 trading day ({r0['held_back_day']})"]]
                   + ([["DuckDB file after ingest", f"{r0['db_mib']:.0f} MiB"]] if not a.pg else []),
                   tablefmt="github"), ""]
    rows = [["sample market: universe, fundamentals, prices", len(ing),
             fmt_s(median([r.result['market_s'] for r in ing])), ""],
            ["sample tables: quotes, flows, industry flows", len(ing),
             fmt_s(median([r.result['tables_s'] for r in ing])), ""],
            ["chip distribution (extract/chips.py)", len(ing), fmt_s(median([r.result['chips_s'] for r in ing])), ""],
            ["load into raw (loader upsert)", len(ing), fmt_s(median([r.result['load_s'] for r in ing])),
             f"{median([r.result['rows_per_s'] for r in ing]):,.0f} rows/s"],
            ["whole ingest step (process)", len(ing), fmt_s(median([r.wall_s for r in ing])),
             f"peak {max(r.max_rss_mib for r in ing):,.0f} MiB"]]
    L += [tabulate(rows, headers=["step", "runs", "median s", "note"], tablefmt="github"), ""]
    full, incr = res["full"], res.get("incr", [])
    rows = [["full `dbt build --full-refresh` (raw -> signals, with tests)", len(full),
             fmt_s(median([r.wall_s for r in full])), fmt_s(median([r.result['elapsed_s'] for r in full])),
             fmt_s(median([sum(m['s'] for m in r.result['models']) for r in full])),
             fmt_s(median([r.result['tests_s'] for r in full])), f"{max(r.max_rss_mib for r in full):,.0f}",
             _tree_peak(full)]]
    for r in res.get("full_limited", []):
        cg = r.result.get("cgroup", {})
        rows.append([f"same, in a memory cgroup limited to {cg.get('limit_mib', 0) / 1024:g} GiB (cgroup peak "
                     f"{cg.get('peak_mib', 0):,.0f} MiB incl. page cache, limit hit {cg.get('limit_hits')}x, "
                     f"OOM kills {cg.get('oom_kills')})", 1, fmt_s(r.wall_s), fmt_s(r.result['elapsed_s']),
                     fmt_s(sum(m['s'] for m in r.result['models'])), fmt_s(r.result['tests_s']),
                     f"{r.max_rss_mib:,.0f}", _tree_peak([r])])
    if incr:
        rows.append(["one-day incremental `dbt build` (with tests)", len(incr), fmt_s(median([r.wall_s for r in incr])),
                     fmt_s(median([r.result['elapsed_s'] for r in incr])),
                     fmt_s(median([sum(m['s'] for m in r.result['models']) for r in incr])),
                     fmt_s(median([r.result['tests_s'] for r in incr])), f"{max(r.max_rss_mib for r in incr):,.0f}",
                     _tree_peak(incr)])
    incr_recent = res.get("incr_recent", [])
    if incr_recent:
        rows.append(["one-day incremental `dbt build`, tests on the latest 5 days (`test_recent_days: 5`)",
                     len(incr_recent), fmt_s(median([r.wall_s for r in incr_recent])),
                     fmt_s(median([r.result['elapsed_s'] for r in incr_recent])),
                     fmt_s(median([sum(m['s'] for m in r.result['models']) for r in incr_recent])),
                     fmt_s(median([r.result['tests_s'] for r in incr_recent])),
                     f"{max(r.max_rss_mib for r in incr_recent):,.0f}", _tree_peak(incr_recent)])
    for r in res.get("incr_run", []):
        rows.append(["one-day incremental, models only (`--select resource_type:model`)", 1, fmt_s(r.wall_s),
                     fmt_s(r.result['elapsed_s']), fmt_s(sum(m['s'] for m in r.result['models'])), "-",
                     f"{r.max_rss_mib:,.0f}", _tree_peak([r])])
    if res.get("add_day"):
        ad = res["add_day"]
        rows.append(["load the new day (raw upsert)", len(ad), fmt_s(median([r.result['load_s'] for r in ad])), "-",
                     "-", "-", f"{max(r.max_rss_mib for r in ad):,.0f}", "-"])
    L += ["### dbt build", "",
          tabulate(rows, headers=["what", "runs", "wall s (process)", "dbt elapsed s", "sum of model s",
                                  "sum of test s", "peak MiB", "tree peak MiB"], tablefmt="github"), "",
          "Per model (median execution seconds from run_results.json; the incremental column shows how "
          "little each model does on a one-day run; tree peak: the largest summed RSS sampled while the "
          "model ran in the full build, shared with whatever dbt ran beside it):", "",
          tabulate([[n, fmt_s(f), fmt_s(i), f"{p:,.0f}" if p else "-"]
                    for n, f, i, p in _model_table(full, incr or full)],
                   headers=["model", "full build s", "incremental s", "tree peak MiB"], tablefmt="github"), ""]
    if res.get("compare"):
        c = res["compare"][0].result
        bad = {k: v for k, v in c.items() if v}
        L += ["Incremental result against a `--full-refresh` of the same data (rows differing, compared "
              "at 9 decimals): " + ("**identical** for " + ", ".join(f"`{k}`" for k in c) if not bad
                                    else "**differences**: " + ", ".join(f"`{k}` {v}" for k, v in bad.items())), ""]
    if res.get("talib"):
        sq, ta = res["sql_macd"], res["talib"]
        s_sql = median([sum(m["s"] for m in r.result["models"]) for r in sq])
        s_ta = median([r.result["talib_s"] for r in ta])
        t0 = ta[-1].result
        L += ["### MACD + volume ratio on the full universe", "",
              tabulate([["ours: int_macd__recursed (recursive EMA) + factor_technical, full refresh, model time",
                         len(sq), fmt_s(s_sql), f"{max(r.max_rss_mib for r in sq):,.0f}"],
                        ["TA-Lib MACD per stock + pandas rolling volume ratio (data in memory)", len(ta), fmt_s(s_ta),
                         f"{max(r.max_rss_mib for r in ta):,.0f}"],
                        ["  reading stg_daily_quote into pandas for TA-Lib", len(ta),
                         fmt_s(median([r.result['read_s'] for r in ta])), ""]],
                       headers=["", "runs", "median s", "peak MiB"], tablefmt="github"), "",
              f"Ratio ours / TA-Lib: **{s_sql / s_ta:.2f}** ({t0['rows']:,} rows). Agreement after 250 bars: "
              f"max |dif diff| {t0['max_abs_diff_dif_after_250']:.2e}, max |dea diff| "
              f"{t0['max_abs_diff_dea_after_250']:.2e} (max |dif| {t0['max_abs_dif']:.2f}); max |volume ratio diff| "
              f"{t0['max_abs_diff_volume_ratio']:.2e}.", ""]
    if res.get("vectorbt"):
        rot, sim, vb = res["bt_rotation"][0], res["bt_simple"][0], res["vectorbt"][0]
        v = vb.result
        L += ["### Backtest over the whole period, full universe (1 run each)", "",
              tabulate([["ours, rotation strategy (default params, A-share rules, costs)",
                         fmt_s(rot.result['simulate_s']),
                         f"{rot.result['total_return']:+.2%}", rot.result["n_trades"], f"{rot.max_rss_mib:,.0f}"],
                        ["ours, simple rules (see bench/backtest_steps.py)", fmt_s(sim.result['simulate_s']),
                         f"{v['total_return_ours']:+.2%}", sim.result["n_trades"], f"{sim.max_rss_mib:,.0f}"],
                        ["ours, fast engine (qmt/fast_core.py), rotation strategy",
                         fmt_s(rot.result.get('simulate_fast_s', float('nan'))),
                         "identical" if rot.result.get("fast_identical") else "DIFFERS", "", ""],
                        ["ours, fast engine (qmt/fast_core.py), simple rules",
                         fmt_s(sim.result.get('simulate_fast_s', float('nan'))),
                         "identical" if sim.result.get("fast_identical") else "DIFFERS", "", ""],
                        ["vectorbt from_signals, same simple rules (warm)", f"{v['vbt_s']:.2f}",
                         f"{v['total_return_vbt']:+.2%}", v["orders"], f"{vb.max_rss_mib:,.0f}"],
                        ["vectorbt from_orders, target buy_weight of equity (warm)", f"{v['orders_s']:.2f}",
                         f"{v['total_return_vbt_orders']:+.2%}", "", ""],
                        ["  vectorbt first call (numba compile)", fmt_s(v['vbt_first_call_s']), "", "", ""],
                        ["  vectorbt input prep (pivot to days x codes)", f"{v['prep_s']:.2f}", "", "", ""],
                        ["  loading quotes/signals from DuckDB (both)", f"{rot.result['load_s']:.2f}", "", "", ""]],
                       headers=["", "seconds", "total return", "fills/orders", "peak MiB"], tablefmt="github"), "",
              f"Fast engine / vectorbt (simple rules, warm): "
              f"**{sim.result.get('simulate_fast_s', float('nan')) / v['vbt_s']:.1f}x** "
              f"(from_signals), {sim.result.get('simulate_fast_s', float('nan')) / v['orders_s']:.1f}x (from_orders); "
              f"fast / reference engine: "
              f"{sim.result.get('simulate_fast_s', float('nan')) / sim.result['simulate_s']:.2f} "
              f"(simple), {rot.result.get('simulate_fast_s', float('nan')) / rot.result['simulate_s']:.2f} (rotation); "
              f"CPU seconds reference / fast: {sim.result.get('simulate_cpu_s', float('nan')):.2f} / "
              f"{sim.result.get('simulate_fast_cpu_s', float('nan')):.2f} (simple), "
              f"{rot.result.get('simulate_cpu_s', float('nan')):.2f} / "
              f"{rot.result.get('simulate_fast_cpu_s', float('nan')):.2f} "
              f"(rotation); each the best of two alternating runs. "
              f"Ratio reference engine / vectorbt (simple rules, warm): "
              f"**{sim.result['simulate_s'] / v['vbt_s']:.0f}x** "
              f"(from_signals), {sim.result['simulate_s'] / v['orders_s']:.0f}x (from_orders). "
              f"from_signals buys a fixed value per entry (no compounding): daily returns correlate at "
              f"{v['daily_return_corr']:.4f}, largest daily gap {v['max_abs_daily_return_gap']:.2e}. "
              f"from_orders sizes each entry as a fraction of equity like ours: daily returns correlate at "
              f"{v['daily_return_corr_orders']:.4f}, largest daily gap {v['max_abs_daily_return_gap_orders']:.2e}. "
              f"{sim.result['signals']:,} signals over "
              f"{sim.result['days']} days; cash skips in ours: {sim.result.get('cash_skips')}.", ""]
    if res.get("broker"):
        b = res["broker"][0].result
        L += [f"Broker alone (bench/backtest_steps.py step_broker; {b['orders']:,} orders, best of 5 CPU times): "
              f"reference {b['us_per_order_reference']:.1f} us/order, fast {b['us_per_order_fast']:.1f} us/order "
              f"({b['fast_s'] / b['reference_s']:.2f}x the time); logs "
              f"{'identical' if b['identical'] else 'DIFFER'}.", ""]
    L += [f"Bench wall time: {seconds / 60:.1f} min.", ""]
    return "\n".join(L)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--scale", choices=sorted(SCALES), default="small")
    ap.add_argument("--reps", type=int, default=3, help="runs of the short steps (median)")
    ap.add_argument("--reps-long", type=int, default=1, help="runs of ingest and the full build")
    ap.add_argument("--pg", action="store_true", help="PostgreSQL instead of DuckDB (database dropped after)")
    ap.add_argument("--reuse-ingest", action="store_true",
                    help="reuse the last measured ingest of this scale (bench/out/<scale>.ingest.json + its file)")
    ap.add_argument("--rerun", nargs="*", choices=["vectorbt"],
                    help="re-run these steps of the last bench at this scale and rewrite its report")
    ap.add_argument("--keep", action="store_true", help="keep the PostgreSQL database")
    ap.add_argument("--full-only", action="store_true",
                    help="ingest (or --reuse-ingest) and the full build(s) only")
    ap.add_argument("--hard-limit-gib", type=float,
                    help="also run the full build once inside a memory cgroup with this hard limit (needs root)")
    ap.add_argument("--backtest-only", action="store_true",
                    help="ingest and one full build, then only the backtest comparison (engines and vectorbt)")
    a = ap.parse_args()
    OUT.mkdir(parents=True, exist_ok=True)
    t0 = time.perf_counter()
    res: dict = {}
    tag = f"{a.scale}{'-pg' if a.pg else ''}"
    if a.rerun:
        # re-run some steps of a finished bench (e.g. after changing the vectorbt comparison)
        res = {k: [StepRun(**r) for r in v] for k, v in json.loads((OUT / f"results-{tag}.json").read_text()).items()}
        ref = str(OUT / f"{SCALES[a.scale].name}.ref.duckdb")
        for step in a.rerun:
            res[step] = _runs(step, ["--db", ref], 1, f"{a.scale}_{step}_rerun")
    else:
        (bench_postgres if a.pg else bench_duckdb)(a, res)
    md = "\n".join(["### Machine", "", tabulate(machine(), tablefmt="github", headers=["", ""]), ""]) + "\n" + \
        report(a, res, time.perf_counter() - t0)
    (OUT / f"results-{tag}.md").write_text(md)
    (OUT / f"results-{tag}.json").write_text(json.dumps(
        {k: [vars(r) for r in v] for k, v in res.items()}, default=str, indent=1))
    print("\n" + md)


if __name__ == "__main__":
    main()

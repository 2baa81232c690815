"""Spark local beside DuckDB at one scale: ingest, full build, one more day, incremental build.

    .venv/bin/python -m bench.spark_run --scale tiny     # 60 stocks x 2 years (what bench/RESULTS.md shows)
    .venv/bin/python -m bench.spark_run --scale small    # 500 stocks x 3 years

The same steps as bench/run.py (`python -m bench.steps ...`, each in its own subprocess, peak
memory through wait4), once with AQUANT_TARGET=duckdb and once with AQUANT_TARGET=spark (pyspark
local[2], driver memory AQUANT_SPARK_DRIVER_MEMORY, default 2g). Each Spark step starts its own
JVM, as every `aquant` command does; the JVM start is inside the wall time. Writes
bench/out/spark-<scale>.json and .md.
"""
from __future__ import annotations

import argparse
import json
import shutil

from bench.common import OUT, SCALES, fmt_s, run_step

STEPS = [("ingest (all but the last day)", "ingest", []), ("full dbt build", "build", ["--full"]),
         ("load the last day", "add_day", []), ("one-day incremental dbt build", "build", [])]


def run_target(target: str, scale: str) -> dict:
    db = OUT / f"spark-bench-{scale}-{target}.duckdb"
    spark_dir = OUT / f"spark-bench-{scale}-warehouse"
    env = {"AQUANT_TARGET": target}
    if target == "spark":
        shutil.rmtree(spark_dir, ignore_errors=True)
        env.update({"AQUANT_SPARK_DIR": str(spark_dir), "SPARK_LOCAL_IP": "127.0.0.1"})
    out = {}
    for label, step, extra in STEPS:
        args = ["--scale", scale, "--db", str(db), "--target", str(OUT / f"target-spark-bench-{target}"), *extra]
        r = run_step(step, args, OUT / "logs" / f"spark-bench-{scale}-{target}-{step}{'-full' if extra else ''}.log",
                     env=env)
        # proc_wall_s: the step's whole subprocess (interpreter, JVM start, work); the step's own
        # figures (e.g. dbt's wall_s) are kept beside it. Peak MiB is the Python process tree that
        # wait4 reaps: Spark's JVM (heap capped by AQUANT_SPARK_DRIVER_MEMORY) is not in it.
        out[label] = {**{k: v for k, v in r.result.items() if k not in ("models",)},
                      "proc_wall_s": r.wall_s, "peak_mib": r.max_rss_mib}
        print(f"{target:7s} {label:32s} {fmt_s(r.wall_s):>8s} s  peak {r.max_rss_mib:,.0f} MiB", flush=True)
    return out


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--scale", choices=sorted(SCALES), default="tiny")
    a = ap.parse_args()
    res = {t: run_target(t, a.scale) for t in ("duckdb", "spark")}
    (OUT / f"spark-{a.scale}.json").write_text(json.dumps(res, indent=2, default=str))
    sc = SCALES[a.scale]
    lines = [f"Scale {sc.name}: {sc.n_stocks} stocks x {sc.years} years, wall seconds of each step's process", "",
             "| step | DuckDB | Spark local[2] | Spark / DuckDB |", "|---|---|---|---|"]
    for label, _step, _extra in STEPS:
        d, s = res["duckdb"][label], res["spark"][label]
        lines.append(f"| {label} | {fmt_s(d['proc_wall_s'])} | {fmt_s(s['proc_wall_s'])} "
                     f"| {s['proc_wall_s'] / d['proc_wall_s']:.1f}x |")
    (OUT / f"spark-{a.scale}.md").write_text("\n".join(lines) + "\n")
    print("\n".join(lines))


if __name__ == "__main__":
    main()

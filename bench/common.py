"""Shared helpers of the bench scripts: scales, machine facts, timed subprocess steps, tables.

Every measured step runs in its own subprocess (`python -m bench.steps STEP ...`), so its peak
memory is that process tree's ru_maxrss (os.wait4), not the harness's. A step prints one JSON
line starting with `RESULT ` carrying its own inner timings and counts.
"""
from __future__ import annotations

import json
import os
import platform
import statistics
import subprocess
import sys
import time
from dataclasses import dataclass
from datetime import date
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
OUT = ROOT / "bench" / "out"


@dataclass(frozen=True)
class Scale:
    """A sample market size: stocks x years ending 2024-12-31."""

    name: str
    n_stocks: int
    years: int

    @property
    def start(self) -> date:
        return date(2024 - self.years + 1, 1, 1)

    @property
    def end(self) -> date:
        return date(2024, 12, 31)


SCALES = {
    "full": Scale("full", 5000, 10),
    "small": Scale("small", 500, 3),
    "tiny": Scale("tiny", 60, 2),
}


def machine() -> list[tuple[str, str]]:
    """Cores, memory, OS, Python and the versions of the engines measured."""
    mem = "?"
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal"):
                mem = f"{int(line.split()[1]) / 1024 ** 2:.1f} GiB"
    except OSError:
        pass
    cpu = platform.processor() or "?"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    rows = [("cores (os.cpu_count)", str(os.cpu_count())), ("cpu", cpu), ("memory", mem),
            ("os", platform.platform()), ("python", platform.python_version())]
    from importlib.metadata import PackageNotFoundError, version

    for pkg in ["dbt-core", "dbt-duckdb", "dbt-postgres", "duckdb", "pandas", "numpy", "TA-Lib", "vectorbt",
                "numba"]:
        try:
            rows.append((pkg, version(pkg)))
        except PackageNotFoundError:
            rows.append((pkg, "not installed"))
    try:
        pg = subprocess.run(["psql", "-h", "127.0.0.1", "-U", "postgres", "-tAc", "show server_version"],
                            capture_output=True, text=True, timeout=10)
        rows.append(("postgresql server", pg.stdout.strip() or "unreachable"))
    except (OSError, subprocess.TimeoutExpired):
        rows.append(("postgresql server", "psql not found"))
    return rows


@dataclass
class StepRun:
    """One subprocess run of a step: wall seconds, peak RSS of its process tree, its RESULT."""

    wall_s: float
    max_rss_mib: float
    result: dict


def run_step(step: str, args: list[str], log: Path, env: dict | None = None) -> StepRun:
    """Run `python -m bench.steps STEP ARGS` and read its peak memory through wait4."""
    log.parent.mkdir(parents=True, exist_ok=True)
    cmd = [sys.executable, "-m", "bench.steps", step, *args]
    t0 = time.perf_counter()
    with open(log, "w") as fh:
        fh.write(" ".join(cmd) + "\n")
        fh.flush()
        p = subprocess.Popen(cmd, cwd=ROOT, stdout=fh, stderr=subprocess.STDOUT,
                             env={**os.environ, **(env or {}), "PYTHONUNBUFFERED": "1"})
        _, status, ru = os.wait4(p.pid, 0)
        p.returncode = os.waitstatus_to_exitcode(status)
    wall = time.perf_counter() - t0
    result: dict = {}
    for line in log.read_text().splitlines():
        if line.startswith("RESULT "):
            result = json.loads(line[7:])
    if p.returncode != 0:
        raise RuntimeError(f"bench step {step} failed with exit code {p.returncode}; see {log}")
    return StepRun(wall, ru.ru_maxrss / 1024, result)


def median(xs: list[float]) -> float:
    return float(statistics.median(xs)) if xs else float("nan")


def fmt_s(x: float) -> str:
    return f"{x:.2f}" if x < 100 else f"{x:.0f}"

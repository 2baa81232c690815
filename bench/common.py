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
import threading
import time
from dataclasses import dataclass, field
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
    "mid": Scale("mid", 1500, 5),  # ~1/6 of full: quick enough to compare two builds of one layer
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


def run_step(step: str, args: list[str], log: Path, env: dict | None = None,
             cgroup: "MemoryCgroup | None" = None) -> StepRun:
    """Run `python -m bench.steps STEP ARGS` and read its peak memory through wait4.

    With `cgroup`, the step (and every process it starts) runs inside that memory cgroup: a hard
    limit the kernel enforces, where a process tree above it is reclaimed from and then OOM-killed.
    The cgroup's own figures (peak usage, times the limit was hit, OOM kills) land in the result
    under "cgroup".
    """
    log.parent.mkdir(parents=True, exist_ok=True)
    cmd = [sys.executable, "-m", "bench.steps", step, *args]
    t0 = time.perf_counter()
    if cgroup is not None:
        cgroup.reset()
    with open(log, "w") as fh:
        fh.write(" ".join(cmd) + "\n")
        fh.flush()
        p = subprocess.Popen(cmd, cwd=ROOT, stdout=fh, stderr=subprocess.STDOUT,
                             env={**os.environ, **(env or {}), "PYTHONUNBUFFERED": "1"},
                             preexec_fn=cgroup.enter if cgroup is not None else None)
        _, status, ru = os.wait4(p.pid, 0)
        p.returncode = os.waitstatus_to_exitcode(status)
    wall = time.perf_counter() - t0
    result: dict = {}
    for line in log.read_text().splitlines():
        if line.startswith("RESULT "):
            result = json.loads(line[7:])
    if cgroup is not None:
        result["cgroup"] = cgroup.figures()
        with open(log, "a") as fh:
            fh.write(f"CGROUP {json.dumps(result['cgroup'])}\n")
    if p.returncode != 0:
        raise RuntimeError(f"bench step {step} failed with exit code {p.returncode}; see {log}")
    return StepRun(wall, ru.ru_maxrss / 1024, result)


@dataclass
class MemoryCgroup:
    """A cgroup (v1 `memory` controller, else v2) with a hard memory limit, for one step at a time.

    Needs root (the bench machine runs as root). Swap is kept out (v1 swappiness 0, v2 swap.max 0),
    so the limit is on RAM. Note that the cgroup is also charged for the page cache of the files the
    step reads and writes; the kernel reclaims that cache first, so hitting the limit (failcnt) is
    normal and only an OOM kill (or the step failing) means the step did not fit.
    """

    name: str
    limit_bytes: int
    path: Path = field(init=False)
    v2: bool = field(init=False)

    def __post_init__(self) -> None:
        v1 = Path("/sys/fs/cgroup/memory")
        self.v2 = not v1.is_dir()
        self.path = (Path("/sys/fs/cgroup") if self.v2 else v1) / self.name
        self.path.mkdir(exist_ok=True)
        if self.v2:
            (self.path / "memory.max").write_text(str(self.limit_bytes))
            (self.path / "memory.swap.max").write_text("0")
        else:
            (self.path / "memory.limit_in_bytes").write_text(str(self.limit_bytes))
            (self.path / "memory.swappiness").write_text("0")

    def reset(self) -> None:
        """Zero the peak and the limit-hit counter before a step (v1; v2 keeps them per cgroup)."""
        if not self.v2:
            (self.path / "memory.max_usage_in_bytes").write_text("0")
            (self.path / "memory.failcnt").write_text("0")

    def enter(self) -> None:
        """Move the calling process (a freshly forked step, before exec) into this cgroup."""
        (self.path / "cgroup.procs").write_text(str(os.getpid()))

    def figures(self) -> dict:
        def read(name: str) -> str:
            f = self.path / name
            return f.read_text().strip() if f.exists() else ""

        if self.v2:
            events = dict(line.split() for line in read("memory.events").splitlines())
            peak = read("memory.peak")
            return {"limit_mib": self.limit_bytes / 2 ** 20, "peak_mib": int(peak) / 2 ** 20 if peak else None,
                    "limit_hits": int(events.get("max", 0)), "oom_kills": int(events.get("oom_kill", 0))}
        oom = dict(line.split() for line in read("memory.oom_control").splitlines())
        return {"limit_mib": self.limit_bytes / 2 ** 20,
                "peak_mib": int(read("memory.max_usage_in_bytes")) / 2 ** 20,
                "limit_hits": int(read("memory.failcnt")), "oom_kills": int(oom.get("oom_kill", 0))}

    def remove(self) -> None:
        try:
            self.path.rmdir()
        except OSError:
            pass


class TreeRssSampler:
    """Samples the summed RSS of this process and all its descendants every `interval` seconds.

    wait4's ru_maxrss is the peak of the largest single process, not of the tree; dbt runs in a
    child of the step, DuckDB inside dbt, so this is what "peak memory of the process tree" means
    here. Samples are (unix time, bytes, CPU seconds so far), for mapping onto the nodes dbt ran at
    that time. CPU seconds (user + system of the tree) are the figure to compare on a loaded
    machine, where wall time mostly measures the neighbours.
    """

    def __init__(self, interval: float = 0.2):
        self.interval = interval
        self.samples: list[tuple[float, int, float]] = []
        self._cpu_done: dict[int, float] = {}
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        import psutil

        me = psutil.Process()
        while not self._stop.is_set():
            total, cpu = 0, 0.0
            for proc in [me, *me.children(recursive=True)]:
                try:
                    total += proc.memory_info().rss
                    t = proc.cpu_times()
                    # a process's own CPU (its finished children show up in the parent's children_*)
                    self._cpu_done[proc.pid] = t.user + t.system + (t.children_user + t.children_system
                                                                    if proc.pid != me.pid else 0.0)
                except psutil.Error:
                    pass
            cpu = sum(self._cpu_done.values())
            self.samples.append((time.time(), total, cpu))
            self._stop.wait(self.interval)

    def __enter__(self) -> "TreeRssSampler":
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()

    def _within(self, start: float | None, end: float | None) -> list[tuple[float, int, float]]:
        return [x for x in self.samples if (start is None or x[0] >= start) and (end is None or x[0] <= end)]

    def peak_mib(self, start: float | None = None, end: float | None = None) -> float | None:
        xs = [b for _, b, _ in self._within(start, end)]
        return max(xs) / 2 ** 20 if xs else None

    def cpu_s(self, start: float | None = None, end: float | None = None) -> float | None:
        """CPU seconds the tree spent between two times (about: sampled every `interval`)."""
        xs = [c for _, _, c in self._within(start, end)]
        return xs[-1] - xs[0] if len(xs) > 1 else None


def median(xs: list[float]) -> float:
    return float(statistics.median(xs)) if xs else float("nan")


def fmt_s(x: float) -> str:
    return f"{x:.2f}" if x < 100 else f"{x:.0f}"

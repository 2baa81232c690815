"""Run dbt against the configured database with the project's own profiles.yml."""
from __future__ import annotations

import os
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

from .config import Settings, project_root


@dataclass
class DbtResult:
    """Exit code of one dbt invocation and the invocation id from run_results.json."""

    returncode: int
    invocation_id: str | None
    args: list[str]


def dbt_command() -> list[str]:
    """How to start dbt: the `dbt` script next to this Python (the venv's), else one on PATH, else
    dbt-core's own entry point run by this interpreter (an environment without console scripts)."""
    cand = Path(sys.executable).parent / "dbt"
    if cand.exists():
        return [str(cand)]
    found = shutil.which("dbt")
    if found:
        return [found]
    import importlib.util

    if importlib.util.find_spec("dbt.cli.main") is None:
        raise FileNotFoundError("dbt is not installed in this environment; run `pip install aquant` (or -e .)")
    return [sys.executable, "-c", "import sys; from dbt.cli.main import cli; sys.exit(cli())"]


def run_dbt(settings: Settings, args: list[str], vars_: dict | None = None, quiet: bool = False,
            target_path: str | None = None) -> DbtResult:
    """`dbt <args>` from the project root, target and database taken from `settings`."""
    import json

    root = project_root()
    env = {**os.environ, **settings.dbt_env(), "DBT_SEND_ANONYMOUS_USAGE_STATS": "false"}
    cmd = [*dbt_command(), *args, "--project-dir", str(root), "--profiles-dir", str(root),
           "--target", settings.target]
    if target_path:
        # Separate target/log folders let several builds (tests, helpers) run side by side.
        cmd += ["--target-path", target_path, "--log-path", str(Path(target_path) / "logs")]
    if vars_:
        cmd += ["--vars", json.dumps(vars_)]
    if not settings.is_postgres:
        settings.duckdb_path.parent.mkdir(parents=True, exist_ok=True)
    proc = subprocess.run(cmd, cwd=root, env=env, stdout=subprocess.PIPE if quiet else None,
                          stderr=subprocess.STDOUT if quiet else None, text=True)
    if quiet and proc.returncode != 0:
        sys.stderr.write(proc.stdout or "")
    inv = None
    rr = Path(target_path or root / "target") / "run_results.json"
    if rr.exists():
        try:
            inv = json.loads(rr.read_text())["metadata"]["invocation_id"]
        except (ValueError, KeyError):
            inv = None
    return DbtResult(proc.returncode, inv, cmd)

"""Run dbt against the configured database with the project's own profiles.yml."""
from __future__ import annotations

import os
import shutil
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

from .config import Settings, dbt_target_dir, project_root
from .db import connect_duckdb


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


LOCK_RETRIES = 5
RETRY_NOTICE = "aquant: another process took the database file as dbt opened it; running dbt again"


def _run_tee(cmd: list[str], cwd: Path, env: dict[str, str], quiet: bool) -> tuple[int, str]:
    """Run dbt, echoing its output as it comes unless quiet; return (exit code, all output)."""
    proc = subprocess.Popen(cmd, cwd=cwd, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                            bufsize=1)
    lines = []
    assert proc.stdout is not None
    for line in proc.stdout:
        lines.append(line)
        if not quiet:
            sys.stdout.write(line)
            sys.stdout.flush()
    return proc.wait(), "".join(lines)


def _invocation_id(target: Path) -> str | None:
    """The invocation id of the run that wrote `target`/run_results.json (None if absent or torn)."""
    import json

    rr = target / "run_results.json"
    if not rr.exists():
        return None
    try:
        return json.loads(rr.read_text())["metadata"]["invocation_id"]
    except (ValueError, KeyError):
        return None


def run_dbt(settings: Settings, args: list[str], vars_: dict | None = None, quiet: bool = False,
            target_path: str | None = None) -> DbtResult:
    """`dbt <args>` from the project root, target and database taken from `settings`."""
    import json

    if settings.target == "spark":
        return run_dbt_in_process(settings, args, vars_, quiet, target_path)
    root = project_root()
    env = {**os.environ, **settings.dbt_env(), "DBT_SEND_ANONYMOUS_USAGE_STATS": "false"}
    cmd = [*dbt_command(), *args, "--project-dir", str(root), "--profiles-dir", str(root),
           "--target", settings.target]
    target_path = target_path or os.environ.get("AQUANT_DBT_TARGET_PATH")
    if target_path:
        # Separate target/log folders let several builds (tests, helpers) run side by side.
        cmd += ["--target-path", target_path, "--log-path", str(Path(target_path) / "logs")]
    if vars_:
        cmd += ["--vars", json.dumps(vars_)]
    if not settings.is_postgres:
        settings.duckdb_path.parent.mkdir(parents=True, exist_ok=True)
    for attempt in range(LOCK_RETRIES + 1):
        if not settings.is_postgres:
            # Another process (the app, a live writer) may hold the file for a moment: wait for it
            # to be free instead of letting dbt fail on the lock (aquant.db.connect_duckdb).
            connect_duckdb(settings.duckdb_path).close()
        returncode, output = _run_tee(cmd, root, env, quiet)
        if settings.is_postgres or returncode == 0 or "Could not set lock" not in output:
            break  # a lock taken between our check and dbt's own open is the only thing worth retrying
        if attempt < LOCK_RETRIES:
            # Said on stderr so that whoever reads the log knows the lock error above was retried.
            sys.stderr.write(f"{RETRY_NOTICE} (attempt {attempt + 2} of {LOCK_RETRIES + 1})\n")
        time.sleep(0.5 * (attempt + 1))
    if quiet and returncode != 0:
        sys.stderr.write(output)
    return DbtResult(returncode, _invocation_id(Path(target_path) if target_path else dbt_target_dir()), cmd)


def run_dbt_in_process(settings: Settings, args: list[str], vars_: dict | None = None, quiet: bool = False,
                       target_path: str | None = None) -> DbtResult:
    """dbt in this process (AQUANT_TARGET=spark): dbt-spark's `session` method then finds the
    process's SparkSession (aquant.spark_session) instead of starting a second JVM, which the
    embedded metastore (one process at a time) would refuse."""
    import json

    from dbt.cli.main import dbtRunner

    from .spark_session import get_session

    get_session(settings.spark_dir)  # this warehouse's session, before dbt-spark asks for one
    root = project_root()
    os.environ.update({**settings.dbt_env(), "DBT_SEND_ANONYMOUS_USAGE_STATS": "false"})
    cli = [*args, "--project-dir", str(root), "--profiles-dir", str(root), "--target", settings.target]
    target_path = target_path or os.environ.get("AQUANT_DBT_TARGET_PATH")
    if target_path:
        cli += ["--target-path", target_path, "--log-path", str(Path(target_path) / "logs")]
    if vars_:
        cli += ["--vars", json.dumps(vars_)]
    if quiet:
        cli = ["--quiet", *cli]
    res = dbtRunner().invoke(cli)
    if res.exception is not None and not quiet:
        sys.stderr.write(f"dbt failed: {res.exception}\n")
    return DbtResult(0 if res.success else 1, _invocation_id(Path(target_path) if target_path else dbt_target_dir()),
                     ["dbt", *cli])

"""A wheel install, not the editable one (issue 17, part 5): build the wheel, install it into a fresh
virtual environment and run the commands from a directory that is not the checkout.

The fresh environment borrows this environment's third-party packages through a .pth line (so the
test needs no network), but not its editable `aquant`: .pth files inside a directory added that way
are not processed, so the editable finder never loads and `aquant` must come from the wheel.
"""
from __future__ import annotations

import os
import subprocess
import sys
import sysconfig
from pathlib import Path

import pytest

pytestmark = pytest.mark.slow
ROOT = Path(__file__).resolve().parents[1]


def _run(cmd: list[str], cwd: Path, env: dict[str, str], timeout: int = 900) -> str:
    proc = subprocess.run(cmd, cwd=cwd, env=env, capture_output=True, text=True, timeout=timeout)
    assert proc.returncode == 0, f"{' '.join(cmd)} failed:\n{proc.stdout[-3000:]}\n{proc.stderr[-3000:]}"
    return proc.stdout


def test_wheel_install_runs_demo_notify_and_app_outside_the_checkout(tmp_path):
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AQUANT_", "PYTHON"))}
    wheels = tmp_path / "wheels"
    _run([sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "-q", "-w", str(wheels),
          str(ROOT)], tmp_path, env)
    wheel = next(wheels.glob("aquant-*.whl"))

    venv = tmp_path / "venv"
    _run([sys.executable, "-m", "venv", "--without-pip", str(venv)], tmp_path, env)
    site = next((venv / "lib").glob("python3*/site-packages"))
    (site / "borrowed_deps.pth").write_text(sysconfig.get_paths()["purelib"] + "\n")
    _run([sys.executable, "-m", "pip", "--python", str(venv / "bin" / "python"), "install", "--no-deps", "-q",
          str(wheel)], tmp_path, env)

    work = tmp_path / "elsewhere"
    work.mkdir()
    py, aquant = str(venv / "bin" / "python"), str(venv / "bin" / "aquant")
    where = _run([py, "-c", "import aquant, aquant.notify, aquant.app.views; print(aquant.__file__)"], work, env)
    assert where.strip().startswith(str(venv)), where
    assert "Send new stable alerts" in _run([aquant, "notify", "--help"], work, env)
    assert "--address" in _run([aquant, "app", "--help"], work, env)
    assert "audit" in _run([aquant, "--help"], work, env)

    out = _run([aquant, "demo", "--stocks", "3"], work, {**env, "AQUANT_DBT_TARGET_PATH": str(tmp_path / "t")})
    assert (work / "data" / "warehouse.duckdb").exists(), out  # the current directory's data/, not the venv
    import duckdb

    con = duckdb.connect(str(work / "data" / "warehouse.duckdb"), read_only=True)
    try:
        ops = {r[0] for r in con.execute("select table_name from information_schema.tables "
                                         "where table_schema = 'ops'").fetchall()}
        assert con.execute("select count(*) from signals.factor_scores").fetchone()[0] > 0
    finally:
        con.close()
    # every ops table of the contract exists after the demo, including those only later commands fill
    assert {"backtest_run", "backtest_log", "backtest_equity", "orders", "trades", "alerts_log",
            "audit_log"} <= ops

"""Fake secrets set for every credential the platform reads; commands run for real, down their
failure paths (network unreachable, bad credentials, a malformed setting); no secret may appear in
stdout, stderr, a file the run wrote, ops.audit_log or ops.alerts_log (issue 19, part 5).

The commands run as subprocesses of the installed `aquant` console script, as cron would run them,
so nothing is hidden by an in-process test runner.
"""
from __future__ import annotations

import os
import socket
import subprocess
import sys
from pathlib import Path

from aquant.db import Database

from test_app_data import build_small_db

ROOT = Path(__file__).resolve().parents[1]
TOKEN = "tk-FAKE-TUSHARE-7f3a9c"
SMTP_PW = "smtp-FAKE-pw-51d2"
HOOK_KEY = "hook-FAKE-key-88e0"
APP_PW = "app-FAKE-pw-c0de"
PG_PW = "pg-FAKE-pw-9b9b"
SECRETS = (TOKEN, SMTP_PW, HOOK_KEY, APP_PW, PG_PW)


def _closed_port() -> int:
    """A port nobody listens on (bound, then released)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _run(env: dict[str, str], cwd: Path, *args: str) -> subprocess.CompletedProcess:
    exe = Path(sys.executable).parent / "aquant"
    return subprocess.run([str(exe), *args], cwd=cwd, env=env, capture_output=True, text=True, timeout=300)


def test_no_secret_reaches_output_files_or_the_books(tmp_path):
    small = build_small_db(tmp_path / "w.duckdb")
    port = _closed_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AQUANT_", "PG", "TUSHARE"))}
    env.update({
        "AQUANT_DB": str(small.duckdb_path), "AQUANT_TARGET": "duckdb", "AQUANT_HOME": str(ROOT),
        "TUSHARE_TOKEN": TOKEN, "AQUANT_MIN_INTERVAL": "0",
        "AQUANT_SMTP_HOST": "127.0.0.1", "AQUANT_SMTP_PORT": str(port), "AQUANT_SMTP_USER": "pm",
        "AQUANT_SMTP_PASSWORD": SMTP_PW, "AQUANT_SMTP_TO": "pm@example.com", "AQUANT_SMTP_TLS": "none",
        "AQUANT_WECOM_WEBHOOK": f"http://127.0.0.1:{port}/cgi-bin/webhook/send?key={HOOK_KEY}",
        "AQUANT_APP_USERS": f"analyst:{APP_PW}",
    })
    runs = [
        _run(env, tmp_path, "notify"),                                     # both channels unreachable
        _run(env, tmp_path, "ingest", "--source", "tushare", "--codes", "000001.SZ", "--tables",
             "trade_calendar", "--quiet"),                                  # tushare host does not resolve
        _run({**env, "AQUANT_APP_USERS": f"analyst:{APP_PW},{APP_PW}"}, tmp_path,
             "app", "--address", "0.0.0.0"),                                # malformed login setting
        _run({**env, "AQUANT_TARGET": "postgres",                           # database refuses the connection
              "AQUANT_PG_URL": f"postgresql://postgres:{PG_PW}@127.0.0.1:{port}/aquant"}, tmp_path,
             "ingest", "--source", "sample", "--stocks", "3", "--quiet"),
    ]
    assert [r.returncode != 0 for r in runs] == [True] * len(runs), [r.stdout + r.stderr for r in runs]
    text = "\n".join(r.stdout + r.stderr for r in runs)
    assert "not delivered" in text or "failed" in text  # the failure paths were really taken
    for path in tmp_path.rglob("*"):
        if path.is_file() and path.suffix not in (".duckdb", ".wal"):
            text += path.read_text(errors="replace")
    with Database(small) as db:
        for table in ("audit_log", "alerts_log"):
            if db.table_exists("ops", table):
                text += db.query_df(f"select * from ops.{table}").to_csv()
        assert db.scalar("select count(*) from ops.alerts_log where not delivered") > 0
    leaked = [s for s in SECRETS if s in text]
    assert not leaked, f"secrets in output/files/ops: {leaked}"

"""PostgreSQL's session settings (jit, work_mem) come from one place, aquant.config.pg_options, for
dbt's connections and aquant's own alike, on a real server (docs/configuration.md, "PostgreSQL
engine")."""
from __future__ import annotations

import json
import re

import pytest

from aquant.config import PG_OPTIONS_DEFAULT, pg_options
from aquant.db import Database
from aquant.dbt_runner import run_dbt

pytestmark = pytest.mark.postgres

SHOW = "select current_setting('jit') as jit, current_setting('work_mem') as work_mem"


def _aquant_sees(settings) -> tuple[str, str]:
    with Database(settings) as db:
        return tuple(db.query(SHOW)[0])


def test_default_turns_jit_off_and_sorts_in_memory(pg_db, monkeypatch):
    monkeypatch.delenv("PGOPTIONS", raising=False)
    monkeypatch.delenv("AQUANT_PG_OPTIONS", raising=False)
    assert pg_options() == PG_OPTIONS_DEFAULT
    assert _aquant_sees(pg_db) == ("off", "256MB")
    assert pg_db.dbt_env()["PGOPTIONS"] == PG_OPTIONS_DEFAULT


def test_aquant_pg_options_replaces_the_default_and_a_users_pgoptions_wins(pg_db, monkeypatch):
    monkeypatch.delenv("PGOPTIONS", raising=False)
    monkeypatch.setenv("AQUANT_PG_OPTIONS", "-c work_mem=64MB")
    jit, work_mem = _aquant_sees(pg_db)
    assert work_mem == "64MB"
    with Database(pg_db) as db:  # the server's own jit setting, not ours
        server_jit = db.query("select reset_val from pg_settings where name = 'jit'")[0][0]
    assert jit == server_jit
    monkeypatch.setenv("PGOPTIONS", "-c work_mem=32MB -c jit=off")
    assert _aquant_sees(pg_db) == ("off", "32MB")
    assert pg_db.dbt_env()["PGOPTIONS"] == "-c work_mem=32MB -c jit=off"


def test_dbt_connections_get_the_same_settings(pg_db, monkeypatch, tmp_path, capfd):
    monkeypatch.delenv("PGOPTIONS", raising=False)
    monkeypatch.setenv("AQUANT_PG_OPTIONS", "-c jit=off -c work_mem=48MB")
    res = run_dbt(pg_db, ["show", "--inline", SHOW, "--output", "json"], target_path=str(tmp_path / "t"))
    out = capfd.readouterr().out
    assert res.returncode == 0, out
    shown = json.loads(re.search(r"\{\s*\"show\".*\}", out, re.S).group(0))["show"]
    assert shown == [{"jit": "off", "work_mem": "48MB"}]

"""DuckDB's memory_limit, threads, preserve_insertion_order and temp_directory come from one place
(profiles.yml, overridable by AQUANT_DUCKDB_*), for dbt and for aquant's own connections alike."""
from __future__ import annotations

import yaml

from aquant.config import duckdb_settings, project_root
from aquant.db import connect_duckdb

KNOBS = {"memory_limit": "AQUANT_DUCKDB_MEMORY_LIMIT", "threads": "AQUANT_DUCKDB_THREADS",
         "preserve_insertion_order": "AQUANT_DUCKDB_PRESERVE_INSERTION_ORDER",
         "temp_directory": "AQUANT_DUCKDB_TEMP_DIRECTORY"}


def _setting(con, name: str):
    return con.execute(f"select current_setting('{name}')").fetchall()[0][0]


def test_profile_sets_every_duckdb_knob_once_at_open_from_its_environment_variable():
    profile = yaml.safe_load((project_root() / "profiles.yml").read_text())["aquant"]["outputs"]["duckdb"]
    # config_options (given once at open), not settings (dbt-duckdb re-SETs those on every cursor,
    # and DuckDB refuses a second SET temp_directory once it has spilled)
    assert "settings" not in profile
    opts = profile["config_options"]
    assert set(opts) == set(KNOBS)
    for key, env in KNOBS.items():
        assert f"env_var('{env}'" in opts[key], key


def test_defaults_come_from_the_profile(monkeypatch):
    for env in KNOBS.values():
        monkeypatch.delenv(env, raising=False)
    got = duckdb_settings()
    assert got == {"memory_limit": "3GB", "threads": "2", "preserve_insertion_order": "false"}


def test_aquant_connections_get_the_settings_and_reopen_after_spilling(monkeypatch, tmp_path):
    monkeypatch.setenv("AQUANT_DUCKDB_MEMORY_LIMIT", "64MB")
    monkeypatch.setenv("AQUANT_DUCKDB_THREADS", "1")
    monkeypatch.setenv("AQUANT_DUCKDB_PRESERVE_INSERTION_ORDER", "false")
    spill = tmp_path / "spill"
    monkeypatch.setenv("AQUANT_DUCKDB_TEMP_DIRECTORY", str(spill))
    db = tmp_path / "w.duckdb"
    con = connect_duckdb(db)
    assert _setting(con, "threads") == 1
    assert _setting(con, "preserve_insertion_order") is False
    assert _setting(con, "temp_directory") == str(spill)
    assert _setting(con, "memory_limit") in ("61.0 MiB", "61.0MiB")  # 64 MB, decimal
    # a sort larger than the limit spills to the temp directory instead of failing
    con.execute("create table t as select range as i, random() as r from range(4000000) order by r")
    assert spill.exists()
    # a second connection of the same process re-applies the settings without moving temp_directory
    con2 = connect_duckdb(db)
    assert _setting(con2, "temp_directory") == str(spill)
    assert con2.execute("select count(*) from t").fetchall() == [(4_000_000,)]
    con2.close()
    con.close()

"""aquant.relations, the one way Python finds a dbt model: against a real dbt build on DuckDB and
PostgreSQL, the clear errors for a model or column that is missing, the manifest produced by
`dbt parse` when a project has none (the wheel-install case), and a scan of the Python sources so
no schema-qualified model name creeps back outside the module.
"""
from __future__ import annotations

import dataclasses
import json
import re
import shutil
from datetime import date
from pathlib import Path

import pandas as pd
import pytest

from aquant import relations
from aquant.config import Settings
from aquant.db import Database
from aquant.dbt_runner import run_dbt
from aquant.extract.loader import ensure_raw
from aquant.qmt import data as qmt_data

from conftest import ROOT

OPEN_DAYS = [date(2024, 6, 11), date(2024, 6, 12), date(2024, 6, 13), date(2024, 6, 14), date(2024, 6, 17)]


def _build_calendar(settings: Settings, target_path: Path) -> dict:
    """Load five sessions and a closed day into raw.trade_calendar and `dbt run` stg_trade_calendar
    (the smallest model: one source, no refs); returns the manifest that build wrote."""
    with Database(settings) as db:
        ensure_raw(db)
        for d in [*OPEN_DAYS, date(2024, 6, 15)]:
            db.execute("insert into raw.trade_calendar (trade_date, is_open, source, loaded_at) values (?, ?, ?, ?)",
                       [d, d in OPEN_DAYS, "test", pd.Timestamp("2024-06-18 08:00")])
    res = run_dbt(settings, ["run", "--select", "stg_trade_calendar"], quiet=True, target_path=str(target_path))
    assert res.returncode == 0
    return json.loads((target_path / "manifest.json").read_text())


def test_locate_finds_the_built_model_where_dbt_put_it(any_db, tmp_path):
    built = _build_calendar(any_db, tmp_path / "target")
    with Database(any_db) as db:
        rel = relations.locate(db, "stg_trade_calendar", ["trade_date", "day_seq"])
        rows = db.query(f"select trade_date, day_seq from {rel} order by day_seq")
    node = built["nodes"]["model.aquant.stg_trade_calendar"]
    # the build's own manifest (an independent record of where dbt put it) agrees with the lookup
    assert (rel.schema, rel.name) == (node["schema"], node["alias"])
    assert rel.columns == ("trade_date", "day_seq")
    assert [(pd.Timestamp(d).date(), int(n)) for d, n in rows] == [(d, i + 1) for i, d in enumerate(OPEN_DAYS)]


def test_a_model_that_is_not_built_names_where_it_was_expected(duck):
    with Database(duck) as db:
        with pytest.raises(relations.NotBuilt) as err:
            relations.locate(db, "signals")
        assert "signals.signals" in str(err.value) and "aquant build" in str(err.value)
        assert "found none" in str(err.value)
        assert not relations.exists(db, "signals")


def test_a_model_built_elsewhere_is_found_only_through_the_documented_override(duck, monkeypatch):
    """A build that put the signal layer in `main_signals` (dbt's default naming without our
    generate_schema_name): the lookup does not guess, it names the schema it found and the variable
    to set; AQUANT_SIGNALS_SCHEMA (docs/qmt.md) then moves the whole layer."""
    monkeypatch.delenv("AQUANT_SIGNALS_SCHEMA", raising=False)
    with Database(duck) as db:
        db.execute("create schema main_signals")
        db.execute("create table main_signals.qmt_signals as select 'x' as signal_id")
        with pytest.raises(relations.NotBuilt, match="AQUANT_SIGNALS_SCHEMA=main_signals"):
            relations.locate(db, "qmt_signals")
        monkeypatch.setenv("AQUANT_SIGNALS_SCHEMA", "main_signals")
        assert str(relations.locate(db, "qmt_signals", ["signal_id"])) == '"main_signals"."qmt_signals"'
        # an explicit parameter (qmt's signals_schema) wins over the variable
        with pytest.raises(relations.NotBuilt):
            relations.locate(db, "qmt_signals", schemas=relations.layer_schemas(signals="nowhere"))


def test_an_unknown_model_is_an_error_with_a_suggestion():
    with pytest.raises(relations.UnknownModel, match="did you mean signals"):
        relations.model("signal")


def test_a_missing_column_fails_instead_of_reading_as_null(duck):
    """qmt used to select `null as <col>` for a column the relation lacked; now the reader stops
    and says which columns are missing and which the relation has."""
    with Database(duck) as db:
        db.execute("create schema signals")
        db.execute("create table signals.signals as select 's1' as signal_id, date '2024-06-14' as trade_date, "
                   "'600000.SH' as code, 'offense' as layer, 'buy' as kind")
        with pytest.raises(relations.MissingColumns) as err:
            qmt_data.load_signals(db, date(2024, 6, 1), date(2024, 6, 30))
    msg = str(err.value)
    assert "signals.signals has no column(s) rule, composite_score" in msg
    assert "(it has: signal_id, trade_date, code, layer, kind)" in msg and "aquant build" in msg


def test_an_enforced_contract_must_declare_what_a_reader_reads(duck, monkeypatch):
    """For a public model with `contract: {enforced: true}` the reader's columns are checked against
    the contract too, so a reader cannot depend on a column the model does not promise."""
    real = relations.manifest("duckdb")
    contracted = dataclasses.replace(real.models["qmt_signals"], enforced=True, columns=("signal_id", "code"))
    fake = dataclasses.replace(real, models={**real.models, "qmt_signals": contracted})
    monkeypatch.setattr(relations, "manifest", lambda target=None, root=None: fake)
    with Database(duck) as db:
        db.execute("create schema signals")
        db.execute("create table signals.qmt_signals as select 's1' as signal_id, '600000.SH' as code, 1 as priority")
        assert relations.locate(db, "qmt_signals", ["signal_id", "code"]).columns == ("signal_id", "code", "priority")
        with pytest.raises(relations.MissingColumns, match="contract of qmt_signals .* does not declare priority"):
            relations.locate(db, "qmt_signals", ["signal_id", "priority"])


def test_a_project_without_a_manifest_gets_one_from_dbt_parse_and_notices_edits(tmp_path):
    """The installed-wheel case: a copy of the dbt project with no target/ (as setup.py installs it
    under <prefix>/share/aquant). The first lookup runs `dbt parse`; an edit of dbt_project.yml
    makes the kept manifest stale and the next lookup parses again."""
    root = tmp_path / "share" / "aquant"
    root.mkdir(parents=True)
    for f in ("dbt_project.yml", "profiles.yml"):
        shutil.copy2(ROOT / f, root / f)
    for d in ("models", "macros", "seeds"):
        shutil.copytree(ROOT / d, root / d)
    first = relations.manifest("duckdb", root=root)
    assert first.path == root / "target" / "aquant_lookup" / "duckdb" / "manifest.json"
    assert first.model("signals").schema == "signals"
    assert relations.manifest("duckdb", root=root) is first  # kept, not parsed again
    yml = root / "dbt_project.yml"
    yml.write_text(yml.read_text().replace("+schema: signals", "+schema: signals_v2"))
    again = relations.manifest("duckdb", root=root)
    assert again.model("signals").schema == "signals_v2" and again.model("stg_stock_info").schema == "staging"


# -- no schema-qualified model name outside the module ----------------------------------------
SCANNED = ["src/aquant", "app", "qmt", "extract"]  # the Python that setup.py installs


def qualified_names(text: str, models: dict[str, relations.Model]) -> list[str]:
    """Schema-qualified dbt model names (`signals.signals`, `"staging"."stg_stock_info"`) and
    `table_exists("<dbt schema>", ...)` calls in a source text."""
    schemas = sorted({m.schema for m in models.values()})
    names = sorted({m.identifier for m in models.values()})
    pattern = re.compile(r"""["']?\b(%s)["']?\.["']?(%s)\b""" % ("|".join(schemas), "|".join(names)))
    hits = [f"{a}.{b}" for a, b in pattern.findall(text)]
    exists = re.compile(r"""table_exists\(\s*["'](%s)["']""" % "|".join(schemas))
    return hits + [f"table_exists({s})" for s in exists.findall(text)]


def test_the_scan_recognises_what_it_forbids():
    models = relations.manifest("duckdb").models
    text = ('x = "select * from signals.signals"\n'
            "y = '\"staging\".\"stg_stock_info\"'\n"
            'if db.table_exists("factors", "fundamentals_pit"): pass\n'
            "signals.empty; relations.locate(db, 'signals')\n")
    assert qualified_names(text, models) == ["signals.signals", "staging.stg_stock_info", "table_exists(factors)"]


def test_no_python_outside_relations_names_a_dbt_schema():
    models = relations.manifest("duckdb").models
    found = {}
    for top in SCANNED:
        for path in sorted((ROOT / top).rglob("*.py")):
            if path == ROOT / "src" / "aquant" / "relations.py":
                continue
            hits = qualified_names(path.read_text(encoding="utf-8"), models)
            if hits:
                found[str(path.relative_to(ROOT))] = hits
    assert found == {}, f"find dbt models through aquant.relations, not by schema: {found}"


def test_a_run_without_its_own_target_path_writes_and_reads_aquant_dbt_target_path(duck, tmp_path, monkeypatch):
    """AQUANT_DBT_TARGET_PATH moves dbt's target folder for every caller that does not pass one:
    dbt writes its run_results and manifest there, run_dbt reads the invocation id back from there,
    and the lookup finds the built manifest there (parallel test workers and Meltano rely on it;
    a shared target/ lets one build read another's run_results)."""
    target = tmp_path / "elsewhere"
    monkeypatch.setenv("AQUANT_DBT_TARGET_PATH", str(target))
    with Database(duck) as db:
        ensure_raw(db)
    res = run_dbt(duck, ["run", "--select", "stg_trade_calendar"], quiet=True)
    assert res.returncode == 0 and "--target-path" in res.args
    written = json.loads((target / "run_results.json").read_text())
    assert res.invocation_id == written["metadata"]["invocation_id"]
    monkeypatch.setattr(relations, "_cache", {})  # an empty lookup cache for this test only
    assert relations.manifest("duckdb").path == target / "manifest.json"

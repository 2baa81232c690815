"""The public models carry enforced dbt contracts with every column typed and described, and the
internal steps live apart from them (models/intermediate, schema `intermediate`, `int_` names).

Reads the manifest of a real `dbt parse` of this project (no database needed), the file `dbt docs`
renders: what a reader of the lineage sees is what is checked here. The column lists themselves
are enforced by dbt at build time (a contracted model whose SQL gives another column set or type
fails to build), which every dbt-building test exercises on DuckDB and test_daily_postgres.py on
PostgreSQL.
"""
from __future__ import annotations

import json
from pathlib import Path

import pytest

from aquant.config import Settings
from aquant.dbt_runner import run_dbt

# What the app, the notifier and QMT read (/work/shared/CONTRACT.md "Models the outside reads",
# plus the tables the app and notifier read directly), with the columns the contract names.
PUBLIC = {
    "factor_technical": ["code", "trade_date", "close_adj", "dif", "dea", "macd", "volume_ratio",
                         "is_breakout", "technical_score"],
    "factor_scores": ["code", "trade_date", "industry_score", "valuation_score", "technical_score",
                      "chip_score", "composite_score"],
    "signals": ["signal_id", "trade_date", "code", "layer", "kind", "composite_score", "take_profit",
                "stop_loss", "priority", "reason"],
    "portfolio_targets": ["rebalance_date", "code", "target_weight"],
    "qmt_signals": ["signal_id"],
    "stable_alerts": ["signal_id", "trade_date", "code", "layer", "kind", "rule", "priority", "reason"],
}
PUBLIC_SCHEMAS = {"staging", "factors", "signals", "evaluation"}  # evaluation: research only (docs/evaluation.md)


@pytest.fixture(scope="module")
def manifest(tmp_path_factory) -> dict:
    tmp = tmp_path_factory.mktemp("contracts")
    settings = Settings(target="duckdb", duckdb_path=tmp / "unused.duckdb", pg={})
    res = run_dbt(settings, ["parse"], quiet=True, target_path=str(tmp / "target"))
    assert res.returncode == 0, "dbt parse failed"
    return json.loads((tmp / "target" / "manifest.json").read_text())


def _models(manifest: dict) -> dict[str, dict]:
    return {n["name"]: n for n in manifest["nodes"].values()
            if n["resource_type"] == "model" and n["package_name"] == "aquant"}


@pytest.mark.parametrize("name", sorted(PUBLIC))
def test_public_model_has_enforced_contract_with_every_column_typed_and_described(manifest, name):
    node = _models(manifest)[name]
    assert node["config"]["contract"]["enforced"] is True, f"{name}: no enforced contract"
    assert node["description"].strip(), f"{name}: no model description"
    cols = node["columns"]
    untyped = [c for c, v in cols.items() if not (v.get("data_type") or "").strip()]
    undescribed = [c for c, v in cols.items() if not v["description"].strip()]
    assert not untyped, f"{name}: columns without data_type: {untyped}"
    assert not undescribed, f"{name}: columns without description: {undescribed}"
    # a {% docs %} block that failed to render would leave the jinja in the text
    assert not [c for c, v in cols.items() if "{{" in v["description"]]
    missing = [c for c in PUBLIC[name] if c not in cols]
    assert not missing, f"{name}: contract columns of CONTRACT.md not in the model's yml: {missing}"


def test_internal_steps_live_in_the_intermediate_layer(manifest):
    models = _models(manifest)
    for name, node in models.items():
        folder = Path(node["original_file_path"]).parts[1]
        if folder == "intermediate":
            assert name.startswith("int_") and "__" in name, f"{name}: intermediate models are int_<entity>__<verb>"
            assert node["config"]["schema"] == "intermediate", f"{name} is not in schema intermediate"
        else:
            assert not name.startswith("int_"), f"{name} is internal but sits in models/{folder}"
            assert node["config"]["schema"] in PUBLIC_SCHEMAS, f"{name}: schema {node['config']['schema']}"
    # the public models never sit in the intermediate layer
    assert all(Path(models[p]["original_file_path"]).parts[1] != "intermediate" for p in PUBLIC)


def test_every_dbt_var_is_documented_with_its_default():
    """docs/configuration.md lists every knob of dbt_project.yml with the value the file sets."""
    import re

    import yaml

    from aquant.config import project_root
    from aquant.qmt.knobs import dbt_vars

    doc = (project_root() / "docs" / "configuration.md").read_text(encoding="utf-8")
    rows = {m.group(1): m.group(2) for m in re.finditer(r"^\| `([\w.]+)` \| `([^`]*)` \|", doc, re.M)}
    # a block of knobs (vars.live) is listed knob by knob as `block.knob`
    knobs = {f"{k}.{sub}" if isinstance(v, dict) else k: w
             for k, v in dbt_vars().items() for sub, w in (v.items() if isinstance(v, dict) else [(None, v)])}
    missing = [k for k in knobs if k not in rows]
    assert not missing, f"vars of dbt_project.yml not in docs/configuration.md: {missing}"
    wrong = {k: (v, rows[k]) for k, v in knobs.items() if yaml.safe_load(rows[k]) != v}
    assert not wrong, f"docs/configuration.md default differs from dbt_project.yml (var: (file, doc)): {wrong}"

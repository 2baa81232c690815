"""Lineage guard: nothing that trades may depend on the evaluation layer (the only place the future is read).

The evaluation models (models/evaluation/) read forward returns by design. A signal that read one
would be look-ahead bias no test of the signals could see. So over dbt's own manifest (`dbt parse`,
no database needed) no model upstream of `signals`, `qmt_signals` or `portfolio_targets`, and no
model an exposure reads (the app pages, the notifier, the QMT hand-off), may be an evaluation model;
the one exception is an exposure tagged `research` (the Research page, models/evaluation/exposures.yml).

The guard is proved able to fail: it runs again on a temporary copy of the project in which
the offense-signal model (upstream of signals and qmt_signals) is made to read eval_ic_daily.
"""
from __future__ import annotations

import json
import os
import shutil
import subprocess
from pathlib import Path

import pytest

from aquant.dbt_runner import dbt_command

ROOT = Path(__file__).resolve().parents[1]
TRADING_MODELS = ("signals", "qmt_signals", "portfolio_targets")
RESEARCH_TAG = "research"


def parse_manifest(project_dir: Path, work: Path) -> dict:
    """`dbt parse` of `project_dir` into `work`; the manifest as a dict."""
    env = {**os.environ, "AQUANT_TARGET": "duckdb", "AQUANT_DB": str(work / "parse.duckdb"),
           "DBT_SEND_ANONYMOUS_USAGE_STATS": "false"}
    cmd = [*dbt_command(), "parse", "--project-dir", str(project_dir), "--profiles-dir", str(project_dir),
           "--target-path", str(work / "target"), "--log-path", str(work / "logs")]
    res = subprocess.run(cmd, cwd=project_dir, env=env, capture_output=True, text=True)
    assert res.returncode == 0, f"dbt parse failed:\n{res.stdout}\n{res.stderr}"
    return json.loads((work / "target" / "manifest.json").read_text())


def is_evaluation(node: dict) -> bool:
    """A model of the evaluation layer: its file is under models/evaluation/."""
    return node.get("resource_type") == "model" and node["original_file_path"].startswith("models/evaluation/")


def ancestors(manifest: dict, unique_id: str) -> set[str]:
    """Every node `unique_id` depends on, directly or not (manifest parent_map)."""
    seen: set[str] = set()
    todo = list(manifest["parent_map"].get(unique_id, []))
    while todo:
        uid = todo.pop()
        if uid not in seen:
            seen.add(uid)
            todo.extend(manifest["parent_map"].get(uid, []))
    return seen


def protected_nodes(manifest: dict) -> list[str]:
    """The trading models and every exposure that is not tagged research."""
    models = [uid for uid, n in manifest["nodes"].items()
              if n["resource_type"] == "model" and n["name"] in TRADING_MODELS]
    assert len(models) == len(TRADING_MODELS), f"expected models {TRADING_MODELS}, found {models}"
    exposures = [uid for uid, e in manifest["exposures"].items() if RESEARCH_TAG not in e.get("tags", [])]
    return models + exposures


def future_leaks(manifest: dict) -> dict[str, list[str]]:
    """Protected node -> the evaluation models it depends on (empty when the lineage is clean)."""
    nodes = manifest["nodes"]
    leaks = {}
    for uid in protected_nodes(manifest):
        bad = sorted(a for a in ancestors(manifest, uid) if a in nodes and is_evaluation(nodes[a]))
        if bad:
            leaks[uid] = bad
    return leaks


@pytest.fixture(scope="module")
def manifest(tmp_path_factory) -> dict:
    return parse_manifest(ROOT, tmp_path_factory.mktemp("lineage"))


def test_no_trading_model_or_exposure_depends_on_an_evaluation_model(manifest):
    evaluation = [n["name"] for n in manifest["nodes"].values() if is_evaluation(n)]
    assert {"eval_forward_returns", "eval_ic_daily", "eval_factor_summary"} <= set(evaluation)
    # the exposures of the app and of QMT are all checked, not only the three models
    checked = {manifest["exposures"][u]["name"] for u in protected_nodes(manifest) if u in manifest["exposures"]}
    assert {"qmt_handoff", "app_today", "app_stock", "notify"} <= checked
    assert future_leaks(manifest) == {}


def test_the_research_exposure_is_the_one_reader_of_the_future(manifest):
    """Positive control: the walk does find evaluation ancestors; without its tag the Research page leaks."""
    research = next(u for u, e in manifest["exposures"].items() if e["name"] == "app_research")
    untagged = json.loads(json.dumps(manifest))
    untagged["exposures"][research]["tags"] = []
    leaks = future_leaks(untagged)
    assert set(leaks) == {research}
    assert "model.aquant.eval_forward_returns" in leaks[research]  # reached through eval_ic_daily


def test_guard_fails_when_a_signal_model_reads_an_evaluation_model(manifest, tmp_path):
    """A temp copy of the project where the offense-signal model under `signals` reads
    eval_ic_daily: the guard names the trading models and exposures downstream of it."""
    nodes = manifest["nodes"]
    offense = [nodes[p] for p in manifest["parent_map"]["model.aquant.signals"]
               if p in nodes and nodes[p]["resource_type"] == "model" and "offense" in nodes[p]["name"]]
    assert len(offense) == 1, [n["name"] for n in offense]
    copy = tmp_path / "project"
    copy.mkdir()
    for name in ("dbt_project.yml", "profiles.yml"):
        shutil.copy(ROOT / name, copy / name)
    for folder in ("models", "macros", "seeds"):
        shutil.copytree(ROOT / folder, copy / folder)
    sql = copy / offense[0]["original_file_path"]
    sql.write_text(sql.read_text() + "\n-- depends_on: {{ ref('eval_ic_daily') }}\n")
    leaks = future_leaks(parse_manifest(copy, tmp_path))
    assert {"model.aquant.signals", "model.aquant.qmt_signals"} <= set(leaks)
    assert "exposure.aquant.qmt_handoff" in leaks
    assert "model.aquant.eval_ic_daily" in leaks["model.aquant.signals"]


def test_a_failing_evaluation_test_warns_while_trading_tests_stop_the_build(manifest):
    """Research must not stop the daily job's export: the evaluation layer's data tests warn (their
    pass is required by tests/test_evaluation.py instead); the tests of the trading models stay errors."""
    nodes = manifest["nodes"]
    tests = [n for n in nodes.values() if n["resource_type"] == "test"]
    on_eval = [n for n in tests if any(is_evaluation(nodes[p]) for p in n["depends_on"]["nodes"] if p in nodes)]
    assert len(on_eval) > 50
    assert {n["config"]["severity"].lower() for n in on_eval} == {"warn"}
    trading = [n for n in tests if any(p.split(".")[-1] in TRADING_MODELS + ("factor_scores",)
                                       for p in n["depends_on"]["nodes"])]
    assert len(trading) > 10
    assert {n["config"]["severity"].lower() for n in trading} == {"error"}

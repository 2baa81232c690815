"""The dbt vars the Python strategy shares with the models: one home for every knob.

The caps per stock and industry, the rotation exit switch, the stop/target percentages and the
time exit are dbt vars in dbt_project.yml (documented in docs/configuration.md). The strategy
reads the same file, so `portfolio_targets` and the trading code can never disagree on them.
A run may still override a value explicitly through StrategyParams (recorded in its params JSON).
"""
from __future__ import annotations

from functools import lru_cache
from pathlib import Path
from typing import Any

import yaml

from aquant.config import project_root

# The vars the strategy reads; a missing one is an error naming the file, never a silent default.
STRATEGY_VARS = ("max_weight_stock", "max_weight_industry", "rotation_exit", "take_profit_pct", "stop_loss_pct",
                 "max_hold_days")


@lru_cache(maxsize=4)
def _vars_of(path: Path) -> dict[str, Any]:
    with open(path, encoding="utf-8") as f:
        doc = yaml.safe_load(f) or {}
    return dict(doc.get("vars") or {})


def dbt_vars(path: Path | None = None) -> dict[str, Any]:
    """The `vars:` block of dbt_project.yml (the project's, unless `path` names another file)."""
    return _vars_of((path or project_root() / "dbt_project.yml").resolve())


def dbt_var(name: str, path: Path | None = None) -> Any:
    """One dbt var; KeyError with the file's name when it is missing."""
    v = dbt_vars(path)
    if name not in v:
        raise KeyError(f"dbt var {name!r} is not set in {path or project_root() / 'dbt_project.yml'}; "
                       f"the strategy reads {list(STRATEGY_VARS)} from there")
    return v[name]

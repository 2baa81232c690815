"""The live session's knobs: the `live:` block of dbt_project.yml's vars, read through
aquant.qmt.knobs so every knob of the project has one home. A missing key is an error naming it."""
from __future__ import annotations

from dataclasses import dataclass, fields, replace
from pathlib import Path
from typing import Any

from aquant.config import project_root

from ..knobs import dbt_var


@dataclass(frozen=True)
class LiveKnobs:
    """Documented one per line in dbt_project.yml (vars.live)."""

    capital: float
    max_open_gap_pct: float
    price_protect_pct: float
    trailing_stop_pct: float
    order_timeout_minutes: int
    max_orders_per_day: int
    max_order_value_per_day: float
    stale_after_seconds: float
    reconnect_backoff_seconds: tuple[float, ...]
    volume_ratio_days: int
    sim_participation: float
    kill_file: str

    @classmethod
    def load(cls, path: Path | None = None, **overrides: Any) -> "LiveKnobs":
        block = dict(dbt_var("live", path) or {})
        names = [f.name for f in fields(cls)]
        missing = [n for n in names if n not in block]
        if missing:
            raise KeyError(f"dbt var live.{missing[0]} is not set in dbt_project.yml; `aquant live` reads "
                           f"{names} from vars.live")
        block["reconnect_backoff_seconds"] = tuple(float(x) for x in block["reconnect_backoff_seconds"])
        k = cls(**{n: block[n] for n in names})
        return replace(k, **overrides) if overrides else k

    def kill_path(self) -> Path:
        p = Path(self.kill_file)
        return p if p.is_absolute() else project_root() / p

"""When two sources deliver the same key, the configured primary wins; differences are logged.

Free sources disagree in small ways (rounding, late corrections, different adjustment
conventions). Silently overwriting would make the warehouse depend on which source ran last;
logging every disagreement makes a drifting source visible.
"""
from __future__ import annotations

import logging
from typing import Sequence

import numpy as np
import pandas as pd

log = logging.getLogger("aquant.extract.reconcile")


def _norm_keys(df: pd.DataFrame, key: Sequence[str]) -> pd.DataFrame:
    out = df.copy()
    for k in key:
        if k in ("trade_date", "report_period", "ann_date"):
            out[k] = pd.to_datetime(out[k]).dt.date
        elif k == "ts":
            out[k] = pd.to_datetime(out[k])
    return out


def source_differences(primary: pd.DataFrame, secondary: pd.DataFrame, key: Sequence[str],
                       rtol: float = 1e-6) -> pd.DataFrame:
    """One row per (key, column) where both sources have a value and they differ."""
    key = list(key)
    a, b = _norm_keys(primary, key), _norm_keys(secondary, key)
    both = a.merge(b, on=key, suffixes=("_primary", "_secondary"))
    cols = [c for c in a.columns if c in b.columns and c not in key and c not in ("source", "loaded_at")]
    rows = []
    for c in cols:
        x, y = both[f"{c}_primary"], both[f"{c}_secondary"]
        if pd.api.types.is_numeric_dtype(x) and pd.api.types.is_numeric_dtype(y):
            xv, yv = x.astype("float64").to_numpy(), y.astype("float64").to_numpy()
            diff = ~np.isclose(xv, yv, rtol=rtol, atol=1e-9) & ~np.isnan(xv) & ~np.isnan(yv)
        else:
            diff = (x.astype("string") != y.astype("string")).fillna(False).to_numpy() & x.notna().to_numpy() \
                & y.notna().to_numpy()
        for i in np.flatnonzero(diff):
            rows.append({**{k: both[k].iloc[i] for k in key}, "column": c, "primary": x.iloc[i],
                         "secondary": y.iloc[i]})
    return pd.DataFrame(rows, columns=[*key, "column", "primary", "secondary"])


def reconcile_sources(primary_df: pd.DataFrame, secondary_df: pd.DataFrame, key: Sequence[str],
                      primary_name: str = "primary", secondary_name: str = "secondary") -> pd.DataFrame:
    """Union of both frames on `key`; where both have a key, the primary's row is kept.

    Every differing value is logged at WARNING (first 20 in detail, then a count).
    """
    key = list(key)
    diffs = source_differences(primary_df, secondary_df, key)
    if len(diffs):
        log.warning("%s and %s disagree on %d values (%s wins)", primary_name, secondary_name, len(diffs),
                    primary_name)
        for rec in diffs.head(20).to_dict("records"):
            log.warning("  %s", rec)
    a, b = _norm_keys(primary_df, key), _norm_keys(secondary_df, key)
    seen = pd.MultiIndex.from_frame(a[key]) if len(a) else pd.MultiIndex.from_tuples([], names=key)
    only_b = b[~pd.MultiIndex.from_frame(b[key]).isin(seen)] if len(b) else b
    return pd.concat([a, only_b], ignore_index=True)

"""Unit and code normalisation shared by the network extractors.

Every upstream speaks its own dialect (lots, thousands of yuan, percent, bare 6-digit codes,
`YYYYMMDD` strings); the contract speaks one (shares, CNY, fractions, `600000.SH`, DATE). The
helpers here are the only place those conversions live, so a unit bug is fixed once.
"""
from __future__ import annotations

from datetime import date
from typing import Iterable

import pandas as pd

from .loader import SchemaError

class UpstreamSchemaError(SchemaError):
    """An upstream frame lost a column or came back empty where data is required.

    Systematic (every unit would fail the same way), so the runner stops instead of recording
    thousands of per-stock failures.
    """


LOT = 100  # A-share board lot: volumes quoted in 手 are multiples of 100 shares.


def exchange_of(symbol: str) -> str:
    """Exchange suffix for a bare 6-digit code: 6/9 -> SH, 0/2/3 -> SZ, 4/8/92 -> BJ."""
    s = str(symbol).strip()
    if s.startswith("92") or s[:1] in ("4", "8"):
        return "BJ"
    if s[:1] in ("6", "9"):
        return "SH"
    if s[:1] in ("0", "2", "3"):
        return "SZ"
    raise ValueError(f"cannot tell the exchange of code {symbol!r}: expected 6 digits starting 0/2/3/4/6/8/9")


def to_ts_code(symbol: object) -> str:
    """`1` / `000001` / `sz000001` / `000001.SZ` -> `000001.SZ` (tushare spelling, the contract's)."""
    s = str(symbol).strip().upper()
    if "." in s:
        num, suffix = s.split(".", 1)
        return f"{num.zfill(6)}.{suffix}"
    if s[:2] in ("SH", "SZ", "BJ") and len(s) == 8:
        return f"{s[2:]}.{s[:2]}"
    num = s.zfill(6)
    return f"{num}.{exchange_of(num)}"


def bare(code: str) -> str:
    """`000001.SZ` -> `000001` (what akshare wants)."""
    return code.split(".")[0]


def board_of(code: str) -> str:
    """Board from the code: STAR 688/689, ChiNext 300/301, BSE by suffix, else main."""
    num, _, suffix = code.partition(".")
    if suffix == "BJ":
        return "bse"
    if num.startswith(("688", "689")):
        return "star"
    if num.startswith(("300", "301")):
        return "chinext"
    return "main"


def ymd(d: date | None) -> str:
    """date -> 'YYYYMMDD' (akshare/tushare/xtdata parameter format)."""
    return "" if d is None else d.strftime("%Y%m%d")


def to_date(s: pd.Series) -> pd.Series:
    """Strings (`20240102`, `2024-01-02`), datetimes or dates -> python dates (NaT -> None)."""
    if s.dtype == object or pd.api.types.is_string_dtype(s):
        txt = s.astype("string").str.strip().str.replace("-", "", regex=False).str.slice(0, 8)
        out = pd.to_datetime(txt, format="%Y%m%d", errors="coerce")
    else:
        out = pd.to_datetime(s, errors="coerce")
    return out.dt.date.where(out.notna(), None)


def num(s: pd.Series) -> pd.Series:
    """Numbers that may arrive as strings with thousands separators -> float."""
    if s.dtype == object or pd.api.types.is_string_dtype(s):
        s = s.astype("string").str.replace(",", "", regex=False).str.strip()
    return pd.to_numeric(s, errors="coerce").astype("float64")


def require(df: pd.DataFrame | None, columns: Iterable[str], origin: str, allow_empty: bool = True) -> pd.DataFrame:
    """Fail loudly when an upstream frame lost a column (a rename upstream) or came back empty.

    The message names the upstream function, the columns expected and the ones found, so the
    fix (update the mapping in extract/<source>.py) is obvious.
    """
    cols = list(columns)
    if df is None or not isinstance(df, pd.DataFrame):
        raise UpstreamSchemaError(f"{origin}: expected a DataFrame with columns {cols}, got {type(df).__name__}")
    if df.empty and len(df.columns) == 0:
        if allow_empty:
            return df
        raise UpstreamSchemaError(f"{origin}: returned no rows; expected columns {cols}. Upstream may be down "
                          f"or the parameters select nothing")
    missing = [c for c in cols if c not in df.columns]
    if missing:
        raise UpstreamSchemaError(f"{origin}: expected columns {cols}; missing {missing}; got {list(df.columns)}. "
                          f"Upstream renamed a column: update the mapping in extract/")
    if df.empty and not allow_empty:
        raise UpstreamSchemaError(f"{origin}: returned no rows; expected columns {cols}")
    return df


def check_bars(df: pd.DataFrame, origin: str) -> pd.DataFrame:
    """Reject nonsense bars (negative prices or volume, high below low) instead of loading them."""
    if df.empty:
        return df
    bad = pd.Series(False, index=df.index)
    for c in ("open", "high", "low", "close"):
        if c in df:
            bad |= df[c] <= 0
    if "volume" in df:
        bad |= df["volume"] < 0
    if {"high", "low"} <= set(df.columns):
        bad |= df["high"] < df["low"]
    if bad.any():
        sample = df.loc[bad].head(3).to_dict("records")
        raise SchemaError(f"{origin}: {int(bad.sum())} bars with non-positive prices, negative volume or "
                          f"high < low, e.g. {sample}; check the upstream units/columns")
    return df


def concentration(low: pd.Series, high: pd.Series) -> pd.Series:
    """Chip concentration of a cost range, the Eastmoney way: (high - low) / (high + low)."""
    tot = high + low
    return ((high - low) / tot.where(tot != 0)).round(6)

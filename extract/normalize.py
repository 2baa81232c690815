"""Unit and code normalisation shared by the network extractors.

Every upstream speaks its own dialect (lots, thousands of yuan, percent, bare 6-digit codes,
`YYYYMMDD` strings); the contract speaks one (shares, CNY, fractions, `600000.SH`, DATE). The
helpers here are the only place those conversions live, so a unit bug is fixed once.
"""
from __future__ import annotations

from datetime import date
from decimal import ROUND_HALF_UP, Decimal
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


# Code prefixes of A-share *stocks* (not funds, bonds, B shares), by exchange. Sources: SSE
# 《证券代码编码方案》 (600/601/603/605 main board, 688 STAR since 2019-07-22, 689 STAR CDR since
# 2020-10-29; 900 = B shares, 5xx = funds/ETFs, 1xx = bonds); SZSE 证券编码规则 (000/001/002/003
# main board, 002 = former SME board merged 2021-04-06, 300/301 ChiNext, 302 ChiNext codes in use
# since 2025; 200 = B shares, 15/16/18 = funds/ETFs/LOFs/REITs, 1x = bonds); BSE (43/83/87/88
# inherited from NEEQ, 920 for new listings since 2024-04).
A_SHARE_STOCK_PREFIXES = {
    "SH": ("600", "601", "603", "605", "688", "689"),
    "SZ": ("000", "001", "002", "003", "300", "301", "302"),
    "BJ": ("43", "83", "87", "88", "920"),
}


def a_share_stock_code(symbol: object) -> str | None:
    """`to_ts_code` for A-share stocks only: None for ETFs, funds, bonds, B shares and junk.

    Exchange lists (margin detail, delisting lists) mix stocks with ETFs (510050, 159xxx) and
    B shares (200xxx, 900xxx); callers drop the None rows (with a logged count) instead of
    failing the whole list on one odd code.
    """
    s = str(symbol).strip()
    if not s or s.lower() in ("nan", "none"):
        return None
    try:
        code = to_ts_code(s)
    except ValueError:
        return None
    num, _, suffix = code.partition(".")
    if len(num) != 6 or not num.isdigit():
        return None
    return code if num.startswith(A_SHARE_STOCK_PREFIXES.get(suffix, ())) else None


CENT = Decimal("0.01")


def to_decimal(x: object) -> Decimal:
    """Float or string price -> exact Decimal via its shortest repr (10.44 -> Decimal('10.44'))."""
    return Decimal(repr(x)) if isinstance(x, float) else Decimal(str(x))


def ex_reference_price(prev_close: object, cash_per_share: object = 0, bonus_per_share: object = 0,
                       rights_price: object = 0, rights_per_share: object = 0) -> Decimal:
    """The exchange's ex-right/ex-dividend reference price (除权除息参考价), to the cent.

    SSE 交易规则 (2023 rev.) 4.3.2 / SZSE 交易规则 (2023 rev.) 4.4.2, the same formula since the
    1990s: 除权(息)参考价 = [(前收盘价 − 现金红利) + 配(新)股价格 × 流通股份变动比例]
                          ÷ (1 + 流通股份变动比例),
    where the share change ratio is bonus + transfer (+ rights) shares per share. Prices tick in
    0.01 CNY; the reference price is rounded half-up to the tick (四舍五入). Exact decimals.
    """
    prev = to_decimal(prev_close)
    cash, bonus = to_decimal(cash_per_share or 0), to_decimal(bonus_per_share or 0)
    rp, rr = to_decimal(rights_price or 0), to_decimal(rights_per_share or 0)
    ref = ((prev - cash) + rp * rr) / (1 + bonus + rr)
    return ref.quantize(CENT, rounding=ROUND_HALF_UP)


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

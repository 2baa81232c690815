"""Data access: small functions reading the dbt relations the strategy consumes.

Every relation is found through aquant.relations (dbt's manifest), which also checks that each
column read is there: a model built without one fails with a message naming it, instead of
reading as nulls. `Sources` carries the `staging_schema` / `signals_schema` parameters
(docs/qmt.md) for a build that puts those layers elsewhere. All prices are unadjusted.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import date

import numpy as np
import pandas as pd

from aquant import relations
from aquant.db import Database

from .sim_broker import BAR_COLS

QUOTE_COLS = ["code", "trade_date", "open", "high", "low", "close", "pre_close", "volume", "amount",
              "turnover_rate", "adj_factor"]
INFO_COLS = ["code", "name", "board", "industry_l1", "is_st", "list_date", "delist_date"]
DIV_COLS = ["code", "ex_trade_date", "cash_div_per_share", "bonus_ratio"]
SIGNAL_COLS = ["signal_id", "trade_date", "code", "layer", "kind", "rule", "composite_score", "take_profit",
               "stop_loss", "priority", "reason", "close", "industry_l1"]
TARGET_COLS = ["rebalance_date", "code", "industry_l1", "target_weight", "composite_score"]
QMT_SIGNAL_COLS = ["signal_id", "trade_date", "code", "side", "target_weight", "ref_price", "take_profit",
                   "stop_loss", "priority", "reason"]


@dataclass(frozen=True)
class Sources:
    """Where the staging and signal models are read from when not where dbt builds them (None: as
    aquant.relations says, which honours AQUANT_STAGING_SCHEMA / AQUANT_SIGNALS_SCHEMA)."""

    staging: str | None = None
    signals: str | None = None

    @property
    def schemas(self) -> dict[str, str]:
        return relations.layer_schemas(self.staging, self.signals)


def _exists(db: Database, name: str, src: Sources) -> bool:
    return relations.exists(db, name, src.schemas)


def _read(db: Database, name: str, cols: list[str], src: Sources, where: str = "", params: list | None = None,
          required: bool = True) -> pd.DataFrame:
    """The columns `cols` of a model; a missing column always fails (relations.MissingColumns),
    a missing model only when `required` (else an empty frame with those columns)."""
    if not required and not _exists(db, name, src):
        return pd.DataFrame(columns=cols)
    return _dates(relations.read(db, name, cols, where, params, src.schemas))


def _dates(df: pd.DataFrame) -> pd.DataFrame:
    for c in ("trade_date", "ex_date", "rebalance_date", "list_date", "delist_date"):
        if c in df.columns:
            df[c] = pd.to_datetime(df[c]).astype("datetime64[ns]")
    return df


STATE_COLS = ["board", "is_st", "industry_l1"]


def load_quotes(db: Database, start: date, end: date, src: Sources = Sources()) -> pd.DataFrame:
    """Daily bars in [start, end], sorted by date then code, each with the stock's state THAT day
    (board, is_st, industry_l1 from stg_stock_state_periods): the broker's limit width and the
    strategy's industry caps follow the day's ST flag and industry, never today's."""
    df = _read(db, "stg_daily_quote", QUOTE_COLS, src, "where trade_date between ? and ? order by trade_date, code",
               [start, end])
    for c in QUOTE_COLS[2:]:
        df[c] = pd.to_numeric(df[c], errors="coerce").astype(float)
    return _with_state(db, df, start, end, src)


def _with_state(db: Database, quotes: pd.DataFrame, start: date, end: date, src: Sources) -> pd.DataFrame:
    """Add the point-in-time STATE_COLS to `quotes` (unchanged when the relation is not built)."""
    if quotes.empty or not _exists(db, "stg_stock_state_periods", src):
        return quotes
    per = _read(db, "stg_stock_state_periods", ["code", "valid_from", "valid_to", *STATE_COLS], src,
                "where valid_to >= ? and valid_from <= ?", [start, end])
    if per.empty:
        return quotes
    per["valid_from"] = pd.to_datetime(per["valid_from"]).astype("datetime64[ns]")
    per["valid_to"] = pd.to_datetime(per["valid_to"].astype(str).str.replace("9999-12-31", "2262-04-01"))
    per = per.sort_values(["valid_from", "code"], kind="stable")
    q = quotes.reset_index().sort_values(["trade_date", "code"], kind="stable")
    m = pd.merge_asof(q, per.drop(columns="valid_to").rename(columns={"valid_from": "trade_date_from"}),
                      left_on="trade_date", right_on="trade_date_from", by="code", direction="backward")
    m["is_st"] = m["is_st"].astype("boolean").fillna(False).astype(bool)
    # state_changed: the first bar of a code in this load, or its state differs from its previous
    # bar. The backtest's hot path hands only these rows to the broker and the caps (a few per day
    # instead of every stock: 25 ms a day at 5,000 stocks otherwise).
    m = m.sort_values(["code", "trade_date"], kind="stable")
    prev = m.groupby("code", sort=False)[STATE_COLS].shift(1)
    same = pd.Series(True, index=m.index)
    for c in STATE_COLS:
        same &= (m[c] == prev[c]) | (m[c].isna() & prev[c].isna())
    m["state_changed"] = ~same | m["code"].ne(m["code"].shift(1))
    m = m.sort_values("index").set_index("index")
    m.index.name = None
    return m.drop(columns="trade_date_from")


@dataclass
class DayBars:
    """One session's bars as Python lists, the fast engine's form of a day (fast_core.FastSimBroker
    reads it without pandas): `codes`, `cols` (BAR_COLS, floats) and `state`, day_state's rows as
    lists per column. Cut from the whole period's arrays by `bars_by_day`."""

    codes: list
    cols: dict[str, list]
    state: dict[str, list]


def bars_by_day(quotes: pd.DataFrame):  # noqa: ANN201 - a generator of (day, DayBars)
    """(day, DayBars) for each day of `quotes` (sorted by trade_date, code), in order: the columns
    converted to numpy once, each day's slice to lists when it is reached (lists for the whole
    period would not fit in memory at full scale). Same values as day_state and SimBroker.start_day
    read from the day's DataFrame."""
    dates = quotes["trade_date"].to_numpy()
    codes = quotes["code"].to_numpy()
    arr = {c: quotes[c].to_numpy(dtype=float) for c in BAR_COLS}
    has_state = "is_st" in quotes.columns
    scols = ["code", "board", "is_st", "industry_l1"] if "industry_l1" in quotes.columns else ["code", "board", "is_st"]
    cuts = np.flatnonzero(dates[1:] != dates[:-1]) + 1
    if has_state and "state_changed" in quotes.columns:  # only the changed rows' text is converted
        at = np.flatnonzero(quotes["state_changed"].to_numpy())
        sarr = {c: quotes[c].iloc[at].to_numpy() for c in scols}
        bounds = np.searchsorted(at, np.r_[0, cuts, len(dates)]).tolist()
    else:
        sarr, bounds = ({c: quotes[c].to_numpy() for c in scols} if has_state else {}), None
    for k, (lo, hi) in enumerate(zip(np.r_[0, cuts].tolist(), np.r_[cuts, len(dates)].tolist())):
        if not has_state:
            state = {c: [] for c in ("code", "board", "is_st", "industry_l1")}
        elif bounds is None:
            state = {c: sarr[c][lo:hi].tolist() for c in scols}
        else:
            state = {c: sarr[c][bounds[k]:bounds[k + 1]].tolist() for c in scols}
        yield (pd.Timestamp(dates[lo]), DayBars(codes[lo:hi].tolist(), {c: arr[c][lo:hi].tolist() for c in BAR_COLS},
                                                state))


def day_state(bars: pd.DataFrame | DayBars) -> pd.DataFrame | dict[str, list]:
    """The rows of a day's bars whose point-in-time state is new (for SimBroker.set_info and the
    industry caps): all rows when the bars do not say which changed."""
    if isinstance(bars, DayBars):
        return bars.state
    if "is_st" not in bars.columns:
        return _NO_STATE
    cols = ["code", "board", "is_st", "industry_l1"] if "industry_l1" in bars.columns else ["code", "board", "is_st"]
    if "state_changed" not in bars.columns:
        return bars[cols]
    mask = bars["state_changed"].to_numpy()
    if not mask.any():
        return _NO_STATE
    idx = np.flatnonzero(mask)  # take the few changed rows, column by column: cheaper than .loc here
    return pd.DataFrame({c: bars[c].take(idx).to_numpy() for c in cols})


_NO_STATE = pd.DataFrame({"code": [], "board": [], "is_st": [], "industry_l1": []})


def load_stock_info(db: Database, src: Sources = Sources(), as_of: date | None = None) -> pd.DataFrame:
    """One row per stock: today's values, or with `as_of` the name, ST flag and industry of that day
    (stg_stock_state_periods), so a replay of a past day sees that day's state."""
    df = _read(db, "stg_stock_info", INFO_COLS, src, "order by code")
    if as_of is not None and not df.empty and _exists(db, "stg_stock_state_periods", src):
        st = _read(db, "stg_stock_state_periods", ["code", "name", "is_st", "industry_l1"], src,
                   "where ? between valid_from and valid_to", [as_of]).set_index("code")
        df = df.set_index("code")
        df.update(st)
        df = df.reset_index()
    df["is_st"] = df["is_st"].astype("boolean").fillna(False).astype(bool)
    return df


def load_dividends(db: Database, start: date, end: date, src: Sources = Sources()) -> pd.DataFrame:
    """Corporate actions with an ex-date in [start, end] (optional relation)."""
    # ex_trade_date: the session the action takes effect (an ex-date on a non-trading day moves to the next)
    df = _read(db, "stg_dividend", DIV_COLS, src, "where ex_trade_date between ? and ? order by ex_trade_date, code",
               [start, end], required=False).rename(columns={"ex_trade_date": "ex_date"})
    df["ex_date"] = pd.to_datetime(df["ex_date"]).astype("datetime64[ns]")
    for c in ("cash_div_per_share", "bonus_ratio"):
        df[c] = pd.to_numeric(df[c], errors="coerce").fillna(0.0).astype(float)
    return df


def load_signals(db: Database, start: date, end: date, src: Sources = Sources()) -> pd.DataFrame:
    """Tradeable signals (layer 'offense' only) dated in [start, end]."""
    df = _read(db, "signals", SIGNAL_COLS, src,
               "where trade_date between ? and ? and layer = 'offense' order by trade_date, priority, code",
               [start, end])
    for c in ("composite_score", "take_profit", "stop_loss", "close"):
        df[c] = pd.to_numeric(df[c], errors="coerce").astype(float)
    return df


def load_targets(db: Database, start: date, end: date, src: Sources = Sources()) -> pd.DataFrame:
    """Rotation targets with a rebalance date in [start, end] (optional relation)."""
    df = _read(db, "portfolio_targets", TARGET_COLS, src,
               "where rebalance_date between ? and ? order by rebalance_date, code", [start, end], required=False)
    df["target_weight"] = pd.to_numeric(df["target_weight"], errors="coerce").fillna(0.0).astype(float)
    return df


def load_qmt_signals(db: Database, day: date, src: Sources = Sources()) -> pd.DataFrame:
    return _read(db, "qmt_signals", QMT_SIGNAL_COLS, src,
                 "where trade_date = ? order by priority, code", [day])


MINUTE_COLS = ["code", "ts", "open", "high", "low", "close", "volume", "amount"]


def load_minute_bars(db: Database, codes: list[str], start: date, end: date, src: Sources = Sources()) -> pd.DataFrame:
    """1-minute bars of `codes` on days [start, end] (optional relation), ts in UTC as stored."""
    if not codes:
        return pd.DataFrame(columns=MINUTE_COLS)
    marks = ", ".join("?" * len(codes))
    df = _read(db, "stg_minute_quote", MINUTE_COLS, src,
               f"where code in ({marks}) and ts >= ? and ts < ? order by code, ts",
               [*codes, pd.Timestamp(start), pd.Timestamp(end) + pd.Timedelta(days=1)], required=False)
    df["ts"] = pd.to_datetime(df["ts"]).astype("datetime64[ns]")
    for c in MINUTE_COLS[2:]:
        df[c] = pd.to_numeric(df[c], errors="coerce").astype(float)
    return df

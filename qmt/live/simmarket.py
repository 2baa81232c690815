"""The simulated exchange of one day built from the warehouse, for `aquant live --broker sim`.

Minute bars come from stg_minute_quote (the sample market holds them for a few stocks on its
last days); a stock-day without them gets bars derived from its daily bar (simxt.derive_minutes,
deterministic), so any sample day can be watched. Limit prices follow the rule book from the
day's pre_close, board and ST flag, as the exchange sets them. The counter's book carries from
the previous simulated day (its positions become sellable: T+1).
"""
from __future__ import annotations

import json
from datetime import date, timedelta
from pathlib import Path
from typing import Any, Callable

import pandas as pd

from aquant.db import Database

from .. import data
from ..rules import RuleBook
from .clock import BJ_OFFSET, SimClock
from .simxt import Faults, Instrument, SimExchange, SimXtData, SimXtTrader, derive_minutes


def state_file(sim_dir: Path, account: str, day: date) -> Path:
    return Path(sim_dir) / f"{account}_{pd.Timestamp(day):%Y%m%d}.json"


def carried_book(sim_dir: Path, account: str, day: date) -> tuple[dict[str, tuple[int, float]], float | None]:
    """Positions (qty, cost) and cash at the end of the latest simulated day before `day`."""
    prev = sorted(p for p in Path(sim_dir).glob(f"{account}_*.json") if p.stem.rsplit("_", 1)[1] < f"{pd.Timestamp(day):%Y%m%d}")
    if not prev:
        return {}, None
    st = json.loads(prev[-1].read_text(encoding="utf-8"))
    return {c: (int(p["volume"]), float(p["cost"])) for c, p in st["positions"].items() if p["volume"] > 0}, float(st["cash"])


def build_exchange(db: Database, day: date, codes: list[str], sim_dir: Path, account: str, cash: float,
                   participation: float, history_days: int, faults: Faults | None = None,
                   positions: dict[str, tuple[int, float]] | None = None) -> SimExchange:
    """The day's SimExchange for `codes` plus whatever the carried book holds."""
    path = state_file(sim_dir, account, day)
    carried, carried_cash = carried_book(sim_dir, account, day)
    if positions is None:
        positions = carried
    codes = sorted(set(codes) | set(positions))
    daily = data.load_quotes(db, pd.Timestamp(day).date() - timedelta(days=history_days * 3 + 15), day)
    daily = daily[daily["code"].isin(codes)]
    days = sorted(daily["trade_date"].unique())[-(history_days + 1):]
    if not days or pd.Timestamp(days[-1]).date() != pd.Timestamp(day).date():
        raise LookupError(f"no daily bars on {day} for {codes or 'any code'}: is {day} a session of the loaded "
                          f"market? Run `aquant demo` (or `aquant build`) first")
    raw = data.load_minute_bars(db, codes, pd.Timestamp(days[0]).date(), day)
    raw["ts"] = raw["ts"] + pd.Timedelta(BJ_OFFSET)
    raw["source"] = "stg_minute_quote"
    frames, rules, ins = [raw], RuleBook(), {}
    have = set(zip(raw["code"], raw["ts"].dt.normalize()))
    for r in daily[daily["trade_date"].isin(days)].itertuples(index=False):
        if (r.code, pd.Timestamp(r.trade_date)) not in have:
            frames.append(derive_minutes(r.code, r.trade_date, r.open, r.high, r.low, r.close, r.volume))
        if pd.Timestamp(r.trade_date).date() == pd.Timestamp(day).date():
            board = getattr(r, "board", None) or "main"
            down, up = rules.limit_prices(r.pre_close, board, bool(getattr(r, "is_st", False)), day,
                                          exchange=r.code.rsplit(".", 1)[-1])
            ins[r.code] = Instrument(float(r.pre_close), down, up)
    bars = pd.concat([f for f in frames if len(f)], ignore_index=True)
    bars["ts"] = pd.to_datetime(bars["ts"]).astype("datetime64[ns]")
    return SimExchange(day, bars, ins, path, cash=carried_cash if carried_cash is not None else cash,
                       positions=positions, participation=participation, faults=faults)


def sim_parts(db: Database, account: str, day: date, codes: list[str], knobs: Any, sim_dir: Path, pace: float = 0.0,
              faults: Faults | None = None) -> tuple[Callable[[], Any], SimXtData, SimClock, SimExchange]:
    """(connect, xtdata, clock, exchange) of a simulated session, as `aquant live --broker sim` runs it.

    A restart finds the counter's book of the day on disk and resumes its clock after the last
    minute the exchange traded."""
    from types import SimpleNamespace

    from ..xt_broker import XtBroker

    x = build_exchange(db, day, codes, sim_dir, account, knobs.capital, knobs.sim_participation,
                       knobs.volume_ratio_days, faults)
    acct = SimpleNamespace(account_id=account, account_type=2)  # xttype.StockAccount's fields

    def connect() -> XtBroker:
        return XtBroker(account, trader=SimXtTrader(x), account=acct)

    return connect, SimXtData(x), SimClock(day, pace, start_after=x.now), x

"""Shared helpers of the offense-layer tests (issue 4); this module holds no tests itself.

Everything here is a thin wrapper over the real pieces: the sample market through the real
loader, `dbt build` through `aquant.dbt_runner.run_dbt` with a private target folder (so builds
of parallel sessions never collide), and plain SQL reads. The pandas references in this module
restate each model's documented rule independently of its SQL; tests compare against them.
"""
from __future__ import annotations

import hashlib
import shutil
from datetime import date
from pathlib import Path

import numpy as np
import pandas as pd

from aquant.config import Settings
from aquant.db import Database
from aquant.dbt_runner import run_dbt
from aquant.extract.ingest_sample import _chunks
from aquant.extract.loader import ensure_raw, load_frame
from aquant.extract.sample import SOURCE, SampleConfig, SampleMarket

from conftest import duck_settings

# The project's defaults, restated so a change of dbt_project.yml does not silently change what
# the tests prove (the tests pass these explicitly with --vars where it matters).
DEFAULTS = {
    "macd_fast": 12, "macd_slow": 26, "macd_signal": 9, "golden_cross_lookback": 3,
    "volume_ratio_window": 5, "volume_ratio_active": 1.2, "volume_ratio_surge": 2.0,
    "breakout_window": 20, "breakout_volume_ratio": 1.5,
    "buy_threshold": 5, "high_priority_margin": 2, "exit_threshold": 4, "exit_days": 3,
    "max_hold_days": 60, "min_listed_days": 60, "stop_mode": "pct", "take_profit_pct": 0.15,
    "stop_loss_pct": 0.08, "atr_window": 14, "take_profit_atr": 3, "stop_loss_atr": 2,
    "rotation_frequency": "week", "rotation_top_industries": 3, "rotation_top_stocks": 3,
    "rotation_min_score": 5, "max_weight_stock": 0.10, "max_weight_industry": 0.30,
}
OFFENSE_TARGETS = ["+signals", "+portfolio_targets", "+qmt_signals"]


# -- loading and building -------------------------------------------------------------------
def sample_tables(cfg: SampleConfig, until: date | None = None) -> dict[str, pd.DataFrame]:
    """The sample market's raw tables, optionally cut to rows dated on or before `until`."""
    from aquant.extract.ingest_sample import DATE_COL

    market = SampleMarket(cfg)
    frames = market.tables()
    frames["finance_restated"] = market.restated
    if until is not None:
        cut = pd.Timestamp(until)
        for name, df in frames.items():
            col = DATE_COL.get("finance_data" if name == "finance_restated" else name)
            if name == "minute_quote":
                frames[name] = df[pd.to_datetime(df["ts"]) < cut + pd.Timedelta(days=1)]
            elif col:
                frames[name] = df[pd.to_datetime(df[col]) <= cut]
    return frames


def load_tables(db: Database, frames: dict[str, pd.DataFrame], source: str = SOURCE) -> None:
    """Load raw frames through the real loader (restatements after the originals)."""
    ensure_raw(db)
    for name, df in frames.items():
        table = "finance_data" if name == "finance_restated" else name
        for _, chunk in _chunks(table, df):
            if not chunk.empty:
                load_frame(db, table, chunk, source)


def build(settings: Settings, target_path: Path, args: list[str] | None = None,
          vars_: dict | None = None) -> None:
    """One real `dbt build` (default: every model) into a private target folder."""
    args = args or ["build"]
    res = run_dbt(settings, args, vars_=vars_, quiet=True, target_path=str(target_path))
    assert res.returncode == 0, f"dbt {' '.join(args)} failed; see the output above"


def build_selected(settings: Settings, target_path: Path, select: list[str], vars_: dict | None = None,
                   full_refresh: bool = False) -> None:
    args = ["build", "--select", *select, "--indirect-selection", "cautious"]
    if full_refresh:
        args.append("--full-refresh")
    build(settings, target_path, args, vars_)


def copy_duck(settings: Settings, dest: Path) -> Settings:
    """A byte copy of a built DuckDB file, to rebuild part of it with other knobs."""
    shutil.copyfile(settings.duckdb_path, dest)
    return duck_settings(dest)


def read(settings: Settings, sql: str, params: list | None = None) -> pd.DataFrame:
    with Database(settings) as db:
        df = db.query_df(sql, params)
    for c in df.columns:
        first = df[c].dropna().head(1).tolist()
        if c.endswith("date") or (first and isinstance(first[0], date)):
            df[c] = pd.to_datetime(df[c])
    return df


def signal_id(*parts: object) -> str:
    """md5 of 'offense|kind|code|date[|date]', as int_offense_signals__chained hashes it."""
    return hashlib.md5("|".join(str(p) for p in parts).encode()).hexdigest()


def assert_frames_close(a: pd.DataFrame, b: pd.DataFrame, key: list[str], atol: float, what: str) -> None:
    """Same keys, same columns; floats within atol, everything else equal."""
    a = a.sort_values(key).reset_index(drop=True)
    b = b.sort_values(key).reset_index(drop=True)
    assert list(a.columns) == list(b.columns), f"{what}: columns differ: {list(a.columns)} vs {list(b.columns)}"
    assert len(a) == len(b), f"{what}: {len(a)} rows vs {len(b)} rows"
    pd.testing.assert_frame_equal(a[key], b[key], check_dtype=False, obj=f"{what} keys")
    for c in a.columns:
        x, y = a[c], b[c]
        if pd.api.types.is_float_dtype(x) or pd.api.types.is_float_dtype(y):
            xv, yv = x.astype(float).to_numpy(), y.astype(float).to_numpy()
            same_nan = np.isnan(xv) == np.isnan(yv)
            assert same_nan.all(), f"{what}.{c}: nulls differ at rows {np.nonzero(~same_nan)[0][:5]}"
            ok = np.isnan(xv) | (np.abs(xv - yv) <= atol)
            assert ok.all(), (f"{what}.{c}: {int((~ok).sum())} values differ by more than {atol}, e.g. "
                              f"{a.loc[~ok, key + [c]].head(3).to_dict('records')} vs {yv[~ok][:3]}")
        else:
            xs = x.astype(object).where(x.notna(), None).tolist()
            ys = y.astype(object).where(y.notna(), None).tolist()
            bad = [i for i, (u, v) in enumerate(zip(xs, ys)) if u != v and str(u) != str(v)]
            assert not bad, (f"{what}.{c}: {len(bad)} values differ, e.g. row {a.loc[bad[0], key].to_dict()}: "
                             f"{xs[bad[0]]!r} vs {ys[bad[0]]!r}")


# -- pandas references of the documented rules -------------------------------------------------
def expected_offense(scores: pd.DataFrame, quotes: pd.DataFrame, v: dict) -> pd.DataFrame:
    """int_offense_signals__chained restated in pandas, one stock at a time, from factor_scores and the bars.

    Buy on the first bar a buy-eligible stock's composite reaches buy_threshold from below (or on
    its first bar), unless a trade in that stock is still open; that trade is closed on the first
    later bar (within max_hold_days bars) where close x adj_factor <= stop x adj_factor(buy day),
    likewise >= target (quotes without adj_factor count as 1), the composite was
    below exit_threshold on each of the last exit_days bars, or max_hold_days bars have passed.
    A candidate on or before the exit bar of the open trade is dropped; a trade with no exit yet
    stays open and ends the chain.
    """
    thr, margin = v["buy_threshold"], v["high_priority_margin"]
    rows = []
    q = quotes if "adj_factor" in quotes else quotes.assign(adj_factor=1.0)
    data = scores.merge(q[["code", "trade_date", "high", "low", "pre_close", "adj_factor"]], on=["code", "trade_date"])
    for code, g in data.sort_values(["code", "trade_date"]).groupby("code", sort=True):
        g = g.reset_index(drop=True)
        comp = g["composite_score"].to_numpy(float)
        close = g["close"].to_numpy(float)
        adj = g["adj_factor"].to_numpy(float)  # stop/target compared on close x adj_factor (ex-dates)
        close_adj = close * adj
        elig = g["buy_eligible"].to_numpy(bool)
        low = comp < v["exit_threshold"]
        k = v["exit_days"]
        score_exit = np.array([i >= k - 1 and bool(low[i - k + 1:i + 1].all()) for i in range(len(g))])
        tr = np.maximum.reduce([g["high"] - g["low"], (g["high"] - g["pre_close"]).abs(),
                                (g["low"] - g["pre_close"]).abs()])
        atr = pd.Series(tr).rolling(v["atr_window"], min_periods=1).mean().to_numpy()
        cand = [i for i in range(len(g)) if elig[i] and comp[i] >= thr and (i == 0 or comp[i - 1] < thr)]
        busy_until = -1
        for i in cand:
            if i <= busy_until:
                continue
            if v["stop_mode"] == "atr":
                tp, sl = close[i] + v["take_profit_atr"] * atr[i], max(close[i] - v["stop_loss_atr"] * atr[i], 0.01)
            else:
                tp, sl = close[i] * (1 + v["take_profit_pct"]), close[i] * (1 - v["stop_loss_pct"])
            buy_date = g["trade_date"][i]
            prio = 1 if comp[i] >= thr + margin else 2 if comp[i] >= thr + margin / 2 else 3
            rows.append({"signal_id": signal_id("offense", "buy", code, buy_date.date()), "trade_date": buy_date,
                         "code": code, "kind": "buy", "rule": "composite_buy", "composite_score": comp[i],
                         "close": close[i], "take_profit": tp, "stop_loss": sl, "priority": prio,
                         "entry_signal_id": None})
            exit_at, rule = None, None
            for j in range(i + 1, min(i + v["max_hold_days"], len(g) - 1) + 1):
                if close_adj[j] <= sl * adj[i]:
                    rule = "stop_loss"
                elif close_adj[j] >= tp * adj[i]:
                    rule = "take_profit"
                elif score_exit[j]:
                    rule = "score_decay"
                elif j == i + v["max_hold_days"]:
                    rule = "time_exit"
                if rule:
                    exit_at = j
                    break
            if exit_at is None:
                break  # still open at the end of the data: no later buy in this stock
            d = g["trade_date"][exit_at]
            rows.append({"signal_id": signal_id("offense", "sell", code, d.date(), buy_date.date()), "trade_date": d,
                         "code": code, "kind": "sell", "rule": rule, "composite_score": comp[exit_at],
                         "close": close[exit_at], "take_profit": tp, "stop_loss": sl,
                         "priority": 1 if rule == "stop_loss" else 2,
                         "entry_signal_id": signal_id("offense", "buy", code, buy_date.date())})
            busy_until = exit_at
    cols = ["signal_id", "trade_date", "code", "kind", "rule", "composite_score", "close", "take_profit",
            "stop_loss", "priority", "entry_signal_id"]
    return pd.DataFrame(rows, columns=cols)


def expected_targets(scores: pd.DataFrame, industry_flow: pd.DataFrame, calendar: pd.DataFrame,
                     v: dict) -> pd.DataFrame:
    """portfolio_targets restated: last trading day of each week/month, top N industries by
    industry score (ties by name), top M buy-eligible stocks with composite >= rotation_min_score
    (ties by code), equal weight min(1/picked, max_weight_stock), each industry scaled down to
    max_weight_industry."""
    cal = pd.to_datetime(calendar["trade_date"])
    period = cal.dt.to_period("W-SUN" if v["rotation_frequency"] == "week" else "M")
    rebal = set(cal.groupby(period).max())
    last = scores["trade_date"].max()
    out = []
    for d, ind in industry_flow[industry_flow["trade_date"].isin(rebal)].groupby("trade_date"):
        if d > last:
            continue
        ind = ind.sort_values(["industry_score", "industry_l1"], ascending=[False, True])
        top = ind.head(v["rotation_top_industries"])["industry_l1"].tolist()
        day = scores[(scores["trade_date"] == d) & scores["industry_l1"].isin(top) & scores["buy_eligible"]
                     & (scores["composite_score"] >= v["rotation_min_score"])]
        picked = (day.sort_values(["industry_l1", "composite_score", "code"], ascending=[True, False, True])
                  .groupby("industry_l1").head(v["rotation_top_stocks"]))
        if picked.empty:
            continue
        w = min(1.0 / len(picked), v["max_weight_stock"])
        for industry, grp in picked.groupby("industry_l1"):
            scale = min(1.0, v["max_weight_industry"] / (w * len(grp)))
            for code in grp["code"]:
                out.append({"rebalance_date": d, "code": code, "industry_l1": industry, "target_weight": w * scale})
    return pd.DataFrame(out, columns=["rebalance_date", "code", "industry_l1", "target_weight"])


def reference_macd(close: pd.Series, fast: int = 12, slow: int = 26, signal: int = 9) -> pd.DataFrame:
    """Terminal MACD: EMAs seeded with the first value (pandas ewm, adjust=False)."""
    ef = close.ewm(span=fast, adjust=False).mean()
    es = close.ewm(span=slow, adjust=False).mean()
    dif = ef - es
    dea = dif.ewm(span=signal, adjust=False).mean()
    return pd.DataFrame({"dif": dif, "dea": dea, "macd": 2 * (dif - dea)})

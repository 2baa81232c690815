"""Cross-check of the backtest against an independent engine, RQAlpha 6.x (issue 13).

Our backtest runs as usual; every order that reached SimBroker (fills and rejections in the log,
grouped by order_id) becomes an intent (day, code, side, quantity, at the open or inside the bar)
that RQAlpha replays on the same unadjusted bars, the same corporate actions and the same cost
knobs. Then, per order: filled or rejected, quantity, price, commission and stamp duty; per day:
cash and equity. RQAlpha runs in its own venv (`.crosscheck-venv`): on Python <= 3.11 it pins
numpy<2, which must not leak into the project's venv. `qmt/crosscheck_rqalpha.py` is its half.

    python -m aquant.qmt.crosscheck --setup                      # make .crosscheck-venv (once)
    python -m aquant.qmt.crosscheck --start 2022-01-04 --end 2023-12-29 [--params JSON] [--db PATH]

Tolerance (what "agree" means; docs/qmt.md, "Cross-check against RQAlpha"):
* fills identical: same status, same quantity, same price to 1e-9 CNY;
* commission and stamp duty each within 0.005 CNY + 1e-9 (ours rounds each to the cent, RQAlpha
  does not round); the transfer fee is ours alone (RQAlpha charges none) and is added back;
* daily cash and equity within 1e-6 relative after adding back those fee differences.
Every difference is given a cause (`CAUSES`); a difference with no known cause is "unexplained".
"""
from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from types import SimpleNamespace
from datetime import date
from importlib import metadata
from pathlib import Path
from typing import Any, Mapping

import numpy as np
import pandas as pd

from aquant.config import project_root
from aquant.db import Database

from . import data
from .backtest import BacktestResult, simulate
from .costs import CostModel
from .rules import RuleBook, board_of
from .strategy import StrategyParams

HERE = Path(__file__).resolve().parent
RUNNER = HERE / "crosscheck_rqalpha.py"
STANDING = ("stop", "target")  # reasons of standing orders (qmt/strategy.py), judged inside the bar
FEE_TOL = 0.005 + 1e-9   # CNY per fee component: half a cent of rounding
PRICE_TOL = 1e-9         # CNY
EQUITY_RTOL = 1e-6       # relative, daily cash and equity
CAUSES = {
    "ex_date_not_session": "a dividend/bonus ex-date that is not a session: RQAlpha applies it at the next "
                           "session, aquant drops it (issue 13 defect 3)",
    "after_divergence": "follows an earlier explained difference (positions or cash already differ)",
    "limit_price": "limit price differs from the exact half-up price (issue 13 defect 1)",
    "cash_shrink": "not enough cash: aquant buys fewer lots, RQAlpha rejects the order "
                   "(partial_fill_on_insufficient_cash: false)",
    "bonus_rounding": "bonus shares: aquant floors, RQAlpha rounds half up",
    "volume_cap_rounding": "volume cap: aquant floors share x volume, RQAlpha rounds it (half to even) "
                           "before the lot step",
}


def venv_python() -> Path:
    return Path(os.environ.get("AQUANT_CROSSCHECK_PYTHON") or project_root() / ".crosscheck-venv" / "bin" / "python")


def requirement() -> str:
    """RQAlpha's pin, from pyproject's `crosscheck` extra (one place for the version)."""
    for r in metadata.requires("aquant") or []:
        if 'extra == "crosscheck"' in r:
            return r.split(";")[0].strip()
    return "rqalpha==6.4.2"


def setup_venv() -> Path:
    """Create .crosscheck-venv with RQAlpha (about 1-3 min on a shared 2-core machine)."""
    py = venv_python()
    if not py.exists():
        subprocess.run([sys.executable, "-m", "venv", str(py.parent.parent)], check=True)
    subprocess.run([str(py), "-m", "pip", "install", "-q", requirement()], check=True)
    return py


def have_rqalpha() -> bool:
    py = venv_python()
    return py.exists() and subprocess.run([str(py), "-c", "import rqalpha"], capture_output=True).returncode == 0


# -- inputs --------------------------------------------------------------------------------------
@dataclass
class Market:
    """Everything the backtest read, so both engines see the same bars."""

    quotes: pd.DataFrame
    info: pd.DataFrame
    signals: pd.DataFrame
    targets: pd.DataFrame
    dividends: pd.DataFrame


def load_market(db: Database, start: date, end: date, p: StrategyParams) -> Market:
    """The relations run_backtest reads (qmt/backtest.py), with the same loaders."""
    src = data.Sources(p.staging_schema, p.signals_schema)
    return Market(data.load_quotes(db, start, end, src), data.load_stock_info(db, src),
                  data.load_signals(db, start, end, src), data.load_targets(db, start, end, src),
                  data.load_dividends(db, start, end, src))


def intents(log: pd.DataFrame, quotes: pd.DataFrame) -> pd.DataFrame:
    """One row per order that reached the broker: what we asked and what we got.

    Skipped signals (no order_id) never reached the broker and are not replayed. A standing
    stop/target is replayed inside the bar at our fill price, or at the bar's low when we
    rejected it (it triggered at or under the limit-down price)."""
    lg = log[log["order_id"].astype(str) != ""].copy()
    lg["base_reason"] = lg["reason"].astype(str).str.split(":").str[0]
    low = quotes.set_index(["trade_date", "code"])["low"]
    opens = quotes.set_index(["trade_date", "code"])["open"]
    rows = []
    for oid, g in lg.groupby("order_id", sort=False):
        f = g[g["status"] == "filled"]
        r = g[g["status"] == "rejected"]
        first = g.iloc[0]
        day, code = first["trade_date"], first["code"]
        phase = "intraday" if first["base_reason"] in STANDING else "open"
        price = float(f["price"].iloc[0]) if len(f) else float(low.get((day, code), np.nan))
        why = "; ".join(r["reason"].astype(str)) if len(r) else ""
        # a buy we cut to what the cash paid for is replayed at the quantity we bought, so both
        # engines keep the same cash; whether the cut was right is checked on RQAlpha's own cash
        # before the order (`compare`, cause cash_shrink)
        cut = first["side"] == "buy" and "insufficient cash" in why
        rows.append({"intent_id": oid, "seq": int(first["seq"]), "trade_date": day, "code": code,
                     "side": first["side"], "requested": int(g["qty"].sum()),
                     # a buy we refused outright for cash is replayed as 0 shares (RQAlpha refuses to
                     # create it): RQAlpha does not withhold our dividend tax, so its ledger could
                     # pay where ours rightly could not; `compare` checks the refusal on our cash
                     "qty": int(f["qty"].sum()) if cut else int(g["qty"].sum()), "phase": phase,
                     "bar_open": float(opens.get((day, code), np.nan)),
                     "price": price if phase == "intraday" else None, "reason": first["base_reason"],
                     "our_filled": int(f["qty"].sum()), "our_price": float(f["price"].iloc[0]) if len(f) else None,
                     # trading costs only: the dividend tax SimBroker withholds at a sale is in that
                     # fill's fee (contract: all costs of the fill) but is not compared here (the
                     # RQAlpha side runs with its dividend tax off; tests/test_qmt_dividend_tax*.py)
                     "our_fee": float(f["fee"].sum() - (f["dividend_tax"].sum() if "dividend_tax" in f else 0.0)),
                     "our_div_tax": float(f["dividend_tax"].sum()) if "dividend_tax" in f else 0.0,
                     "our_why": why})
    return pd.DataFrame(rows).sort_values("seq", kind="stable").reset_index(drop=True)


def _board_st(info: pd.DataFrame) -> dict[str, tuple[str, bool]]:
    out = {}
    for code, board, st in zip(info["code"], info["board"], info["is_st"]):
        out[code] = (board if isinstance(board, str) and board else board_of(code), bool(st))
    return out


def export_inputs(out: Path, m: Market, it: pd.DataFrame, p: StrategyParams, rules: RuleBook,
                  start: date, end: date) -> None:
    """Files for crosscheck_rqalpha.py. Limit widths come from our RuleBook by board/ST/date; the
    limit prices themselves are computed on the other side."""
    out.mkdir(parents=True, exist_ok=True)
    days = pd.DatetimeIndex(sorted(m.quotes["trade_date"].unique()))
    # RQAlpha looks one session back and one ahead of the run: pad with weekdays (never traded).
    pad_before = pd.bdate_range(end=days[0] - pd.Timedelta(days=1), periods=5)
    pad_after = pd.bdate_range(start=days[-1] + pd.Timedelta(days=1), periods=10)
    cal = pad_before.append(days).append(pad_after)
    pd.DataFrame({"trade_date": cal.strftime("%Y-%m-%d")}).to_csv(out / "calendar.csv", index=False)
    bs = _board_st(m.info)
    codes = sorted(set(m.quotes["code"]) | set(m.info["code"]))
    info = m.info.set_index("code")
    rows = []
    for c in codes:
        board, st = bs.get(c, (board_of(c), False))
        ld = info["list_date"].get(c) if c in info.index else None
        dd = info["delist_date"].get(c) if c in info.index else None
        rows.append({"code": c, "board": board, "is_st": st,
                     "list_date": "" if ld is None or pd.isna(ld) else pd.Timestamp(ld).strftime("%Y-%m-%d"),
                     "delist_date": "" if dd is None or pd.isna(dd) else pd.Timestamp(dd).strftime("%Y-%m-%d")})
    pd.DataFrame(rows).to_csv(out / "instruments.csv", index=False)
    q = m.quotes
    pct = []
    for c, d in zip(q["code"], q["trade_date"]):
        board, st = bs.get(c, (board_of(c), False))
        w = rules.limit_pct(board, st, d)
        pct.append("" if w is None else repr(float(w)))
    bars = pd.DataFrame({"code": q["code"], "trade_date": q["trade_date"].dt.strftime("%Y-%m-%d"),
                         **{k: [repr(float(v)) if v == v else "" for v in q[k]]
                            for k in ("open", "high", "low", "close", "pre_close", "volume", "amount")},
                         "limit_pct": pct})
    bars.to_csv(out / "bars.csv", index=False)
    dv = m.dividends
    pd.DataFrame({"code": dv["code"], "ex_date": pd.to_datetime(dv["ex_date"]).dt.strftime("%Y-%m-%d"),
                  "cash_div_per_share": [repr(float(x)) for x in dv["cash_div_per_share"]],
                  "bonus_ratio": [repr(float(x)) for x in dv["bonus_ratio"]]}).to_csv(out / "dividends.csv",
                                                                                      index=False)
    x = it[["intent_id", "trade_date", "code", "side", "qty", "phase", "price"]].copy()
    x["trade_date"] = x["trade_date"].dt.strftime("%Y-%m-%d")
    x["price"] = [repr(float(v)) if v is not None and v == v else "" for v in x["price"]]
    x.to_csv(out / "intents.csv", index=False)
    (out / "config.json").write_text(json.dumps({
        "initial_cash": p.initial_cash, "commission_rate": p.commission_rate, "commission_min": p.commission_min,
        "volume_share": p.volume_share,
        "transfer": [[r.effective_from.isoformat(), float(r.rate)] for r in rules.transfer],
        # RQAlpha's dividend tax stays off: SimBroker's (withheld at the sale by holding period) is
        # taken out of the compared fees (intents) and out of the daily cash by the fee adjustment
        "dividend_tax": False, "start": days[0].strftime("%Y-%m-%d"), "end": days[-1].strftime("%Y-%m-%d")}))


def run_rqalpha(in_dir: Path, timeout: float = 600) -> dict:
    py = venv_python()
    if not py.exists():
        raise FileNotFoundError(f"{py} not found; run `python -m aquant.qmt.crosscheck --setup` first")
    out = in_dir / "rqalpha_out.json"
    res = subprocess.run([str(py), str(RUNNER), str(in_dir), str(out)], capture_output=True, text=True,
                         timeout=timeout)
    if res.returncode != 0:
        raise RuntimeError(f"RQAlpha replay failed ({res.returncode}):\n{res.stdout[-3000:]}\n{res.stderr[-3000:]}")
    return json.loads(out.read_text())


# -- comparison ----------------------------------------------------------------------------------
@dataclass
class CrossCheck:
    orders: pd.DataFrame   # one row per intent: ours vs RQAlpha, ok flag, cause
    daily: pd.DataFrame    # one row per session: cash and equity, both engines
    result: BacktestResult
    limits: pd.DataFrame   # bars whose limit prices differ: ours (RuleBook) vs the exact half-up price

    def summary(self) -> dict[str, Any]:
        o, d = self.orders, self.daily
        return {"orders": len(o), "orders_agree": int(o["ok"].sum()),
                "fills": int((o["our_filled"] > 0).sum()), "rejections": int((o["our_filled"] < o["qty"]).sum()),
                "order_causes": o.loc[~o["ok"], "cause"].value_counts().to_dict(),
                "days": len(d), "days_agree": int(d["ok"].sum()),
                "day_causes": d.loc[~d["ok"], "cause"].value_counts().to_dict(),
                "max_fee_diff": float(o["fee_diff"].abs().max()) if len(o) else 0.0,
                "limit_price_differences": len(self.limits),
                "max_equity_rdiff_agreeing": (float(d.loc[d["ok"], "equity_rdiff"].abs().max())
                                              if d["ok"].any() else 0.0)}


def compare(it: pd.DataFrame, rq: dict, res: BacktestResult, m: Market, costs: CostModel) -> CrossCheck:
    ro = rq["orders"]
    sessions = pd.DatetimeIndex(sorted(m.quotes["trade_date"].unique()))
    rows = []
    fee_adj_by_day: dict[pd.Timestamp, float] = {}
    tax_by_day: dict[pd.Timestamp, float] = {}
    fee_adj_so_far = 0.0
    for r in it.itertuples(index=False):
        t = ro.get(r.intent_id, {"status": "missing", "filled_qty": 0, "price": None, "commission": 0.0, "tax": 0.0,
                                 "transfer": 0.0, "message": ""})
        fee = costs.fee(r.side, r.our_price, r.our_filled, r.trade_date, r.code) if r.our_filled else None
        # floats whatever type the cost model returns (Decimal is welcome there)
        ours = None if fee is None else SimpleNamespace(commission=float(fee.commission), stamp=float(fee.stamp),
                                                        transfer=float(fee.transfer), total=float(fee.total))
        comm_d = (ours.commission - t["commission"]) if ours else -t["commission"]
        stamp_d = (ours.stamp - t["tax"]) if ours else -t["tax"]
        transfer_d = (ours.transfer - t["transfer"]) if ours else -t["transfer"]
        same_qty = r.our_filled == t["filled_qty"]
        no_px, no_rq_px = r.our_price is None or pd.isna(r.our_price), t["price"] is None
        same_px = (no_px and no_rq_px) or (not no_px and not no_rq_px and abs(r.our_price - t["price"]) <= PRICE_TOL)
        fee_ok = abs(comm_d) <= FEE_TOL and abs(stamp_d) <= FEE_TOL and abs(transfer_d) <= FEE_TOL and (
            ours is None or abs(ours.total - r.our_fee) <= 1e-9)
        ok = bool(same_qty and same_px and fee_ok)
        affordable = _affordable(r, t.get("cash_before"), costs, fee_adj_so_far)
        if r.side == "buy" and r.requested > r.qty:  # replayed at our cut quantity: was the cut right?
            ok = ok and affordable == r.our_filled
        # cash the two engines differ by, by construction: our transfer fee, cent rounding and the
        # dividend tax we withhold at the sale (RQAlpha's is switched off)
        adj = (r.our_fee - t["commission"] - t["tax"] - t["transfer"]) if same_qty and same_px else 0.0
        tax = r.our_div_tax if same_qty and same_px else 0.0
        fee_adj_by_day[r.trade_date] = fee_adj_by_day.get(r.trade_date, 0.0) + adj
        tax_by_day[r.trade_date] = tax_by_day.get(r.trade_date, 0.0) + tax
        fee_adj_so_far += adj + tax
        rows.append({**r._asdict(), "rq_status": t["status"], "rq_filled": t["filled_qty"], "rq_price": t["price"],
                     "rq_commission": t["commission"], "rq_tax": t["tax"],
                     "rq_transfer": t["transfer"], "rq_cash_before": t.get("cash_before"),
                     "affordable": affordable, "rq_why": t["message"],
                     "our_commission": ours.commission if ours else 0.0, "our_stamp": ours.stamp if ours else 0.0,
                     "our_transfer": ours.transfer if ours else 0.0,
                     "fee_diff": max(abs(comm_d), abs(stamp_d), abs(transfer_d)),
                     "ok": ok, "cause": ""})
    orders = pd.DataFrame(rows)
    eq = res.equity.set_index("trade_date")
    rqd = {pd.Timestamp(x["trade_date"]): x for x in rq["daily"]}
    adj, tax, drow = 0.0, 0.0, []
    for d in sessions:
        adj += fee_adj_by_day.get(d, 0.0)
        tax += tax_by_day.get(d, 0.0)
        x = rqd.get(d)
        our_eq, our_cash = float(eq.at[d, "equity"]), float(eq.at[d, "cash"])
        rq_eq = x["total_value"] - adj - tax if x else float("nan")
        rq_cash = x["cash"] - adj - tax if x else float("nan")
        ed, cd = (our_eq - rq_eq) / our_eq, (our_cash - rq_cash) / our_eq
        drow.append({"trade_date": d, "our_cash": our_cash, "rq_cash_adj": rq_cash, "our_equity": our_eq,
                     "rq_equity_adj": rq_eq, "fee_adj": adj, "dividend_tax_adj": tax, "equity_rdiff": ed,
                     "cash_rdiff": cd,
                     "ok": bool(abs(ed) <= EQUITY_RTOL and abs(cd) <= EQUITY_RTOL), "cause": ""})
    daily = pd.DataFrame(drow)
    explain(orders, daily, m, sessions)
    return CrossCheck(orders, daily, res, limit_differences(rq.get("limits", []), m, costs.rules))


def limit_differences(exact: list, m: Market, rules: RuleBook) -> pd.DataFrame:
    """Bars where SimBroker's limit prices (RuleBook.limit_prices) differ from the exact ones the
    replay computed. RQAlpha takes limit prices as data, so this is where they are checked."""
    bs = _board_st(m.info)
    pre = {(c, d): pc for c, d, pc in zip(m.quotes["code"], m.quotes["trade_date"], m.quotes["pre_close"])}
    rows = []
    for code, day, dn, up in exact:
        d = pd.Timestamp(day)
        board, st = bs.get(code, (board_of(code), False))
        pc = pre.get((code, d))
        if pc is None or dn is None or dn != dn:
            continue
        our_dn, our_up = rules.limit_prices(pc, board, st, d)
        if abs(our_dn - dn) > 1e-9 or abs(our_up - up) > 1e-9:
            rows.append({"trade_date": d, "code": code, "pre_close": pc, "our_down": our_dn, "exact_down": dn,
                         "our_up": our_up, "exact_up": up})
    return pd.DataFrame(rows, columns=["trade_date", "code", "pre_close", "our_down", "exact_down", "our_up",
                                       "exact_up"])


def _affordable(r: Any, rq_cash: float | None, costs: CostModel, adj_before: float) -> int | None:
    """Largest buy quantity up to the request that our cash pays for, fees included, exactly.

    Our cash just before the order is RQAlpha's (an independent ledger) less the fee differences
    so far (cent rounding; both charge the transfer fee). Lots from our RuleBook."""
    price = r.our_price if r.our_price is not None and not pd.isna(r.our_price) else r.bar_open
    if r.side != "buy" or rq_cash is None or price is None or pd.isna(price):
        return None
    cash, px = rq_cash - adj_before, float(price)
    board = board_of(r.code)
    lot = costs.rules.lot(board, r.trade_date)
    best, q = 0, costs.rules.buy_qty(r.requested, board, r.trade_date)
    lo, hi = 0, q
    ok = lambda n: n * px + float(costs.fee("buy", px, n, r.trade_date, r.code).total) <= cash + 1e-9  # noqa: E731
    # quantities are min_qty + k*step: binary search on k (cost rises with n)
    if q < lot.min_qty or not ok(lot.min_qty):
        return 0
    lo, hi = 0, (q - lot.min_qty) // lot.step
    while lo < hi:
        mid = (lo + hi + 1) // 2
        if ok(lot.min_qty + mid * lot.step):
            lo = mid
        else:
            hi = mid - 1
    best = lot.min_qty + lo * lot.step
    return best


def explain(orders: pd.DataFrame, daily: pd.DataFrame, m: Market, sessions: pd.DatetimeIndex) -> None:
    """Give each difference its cause (in place). The first day that differs names the day's
    cause and later days inherit `after_divergence`; an order is named by its own rule when its
    reasons show one (cash cut, volume cap, limit), else `after_divergence` once days differ."""
    sess = set(sessions)
    dv = m.dividends.copy()
    dv["ex_date"] = pd.to_datetime(dv["ex_date"])
    # ex-dates off-session: the session RQAlpha applies them on
    pos = sessions.searchsorted(dv["ex_date"])
    dv["applied"] = [sessions[i] if i < len(sessions) else pd.NaT for i in pos]
    off = dv[~dv["ex_date"].isin(sess) & dv["applied"].notna()]
    held_codes = _held_by_day(orders, sessions)
    first_bad = None
    for i, row in daily.iterrows():
        if row["ok"]:
            continue
        d = row["trade_date"]
        if first_bad is None:
            hit = off[(off["applied"] == d) & off["code"].isin(held_codes.get(d, set()))]
            if len(hit):
                daily.at[i, "cause"] = "ex_date_not_session"
            else:
                daily.at[i, "cause"] = _order_cause(orders, d) or "unexplained"
            first_bad = d
        else:
            hit = off[(off["applied"] == d)]
            daily.at[i, "cause"] = "ex_date_not_session" if len(hit) else "after_divergence"
    for i, row in orders.iterrows():
        if row["ok"]:
            continue
        if "volume cap" in row["our_why"] or "volume limit" in str(row["rq_why"]):
            orders.at[i, "cause"] = "volume_cap_rounding"
        elif "limit" in row["our_why"] or "limit" in str(row["rq_why"]):
            orders.at[i, "cause"] = "limit_price"
        elif first_bad is not None and row["trade_date"] > first_bad:
            orders.at[i, "cause"] = "after_divergence"  # the two cash ledgers already differ
        elif row["requested"] > row["qty"] or "not enough money" in str(row["rq_why"]):
            orders.at[i, "cause"] = "cash_shrink"
        else:
            orders.at[i, "cause"] = "unexplained"


def _order_cause(orders: pd.DataFrame, d: pd.Timestamp) -> str:
    bad = orders[(orders["trade_date"] == d) & ~orders["ok"]]
    return "order_difference" if len(bad) else ""


def _held_by_day(orders: pd.DataFrame, sessions: pd.DatetimeIndex) -> dict[pd.Timestamp, set[str]]:
    """Codes held at the start of each session, from our fills (bonus shares do not change who holds)."""
    qty: dict[str, int] = {}
    out: dict[pd.Timestamp, set[str]] = {}
    by_day = {d: g for d, g in orders.groupby("trade_date")}
    for d in sessions:
        out[d] = {c for c, q in qty.items() if q > 0}
        g = by_day.get(d)
        if g is not None:
            for c, s, q in zip(g["code"], g["side"], g["our_filled"]):
                qty[c] = qty.get(c, 0) + (q if s == "buy" else -q)
    return out


def ex_dates_on_sessions(m: Market) -> Market:
    """The same events, each ex-date moved to the first session on or after it (what RQAlpha
    does, and what issue 13 defect 3 asks of aquant). Feeding both engines this isolates every
    other difference from the one our engine is known to have."""
    sessions = pd.DatetimeIndex(sorted(m.quotes["trade_date"].unique()))
    dv = m.dividends.copy()
    ex = pd.to_datetime(dv["ex_date"])
    pos = sessions.searchsorted(ex)
    keep = pos < len(sessions)
    dv = dv[keep].copy()
    dv["ex_date"] = sessions[pos[keep]]
    return Market(m.quotes, m.info, m.signals, m.targets, dv.sort_values(["ex_date", "code"], kind="stable"))


def crosscheck(db: Database, start: date | str, end: date | str,
               params: StrategyParams | Mapping[str, Any] | None = None, work_dir: Path | None = None,
               move_ex_dates: bool = False) -> CrossCheck:
    """Backtest [start, end] with our engine, replay its orders in RQAlpha, compare.

    `move_ex_dates`: give both engines the corporate actions with ex-dates moved onto sessions
    (see `ex_dates_on_sessions`)."""
    start, end = pd.Timestamp(start).date(), pd.Timestamp(end).date()
    p = StrategyParams.from_any(params)
    m = load_market(db, start, end, p)
    if move_ex_dates:
        m = ex_dates_on_sessions(m)
    res = simulate(m.quotes, m.info, m.signals, m.targets, m.dividends, p)
    it = intents(res.log, m.quotes)
    costs = CostModel(p.commission_rate, p.commission_min, p.slippage)
    with tempfile.TemporaryDirectory(prefix="aquant-crosscheck-") as tmp:
        d = Path(work_dir) if work_dir else Path(tmp)
        export_inputs(d, m, it, p, costs.rules, start, end)
        rq = run_rqalpha(d)
        cc = compare(it, rq, res, m, costs)
        if work_dir:
            cc.orders.to_csv(d / "compare_orders.csv", index=False)
            cc.daily.to_csv(d / "compare_daily.csv", index=False)
    return cc


def table(cc: CrossCheck, limit: int = 40) -> str:
    from tabulate import tabulate

    s = cc.summary()
    bad = cc.orders[~cc.orders["ok"]].head(limit)
    cols = ["trade_date", "code", "side", "qty", "phase", "our_filled", "rq_filled", "our_price", "rq_price",
            "our_why", "rq_why", "cause"]
    days = cc.daily[~cc.daily["ok"]].head(limit)
    out = [f"orders: {s['orders_agree']}/{s['orders']} agree; days: {s['days_agree']}/{s['days']} agree; "
           f"max fee diff {s['max_fee_diff']:.4f} CNY; max equity rdiff on agreeing days "
           f"{s['max_equity_rdiff_agreeing']:.2e}",
           f"order causes: {s['order_causes']}", f"day causes: {s['day_causes']}",
           f"limit prices differing from the exact half-up price: {s['limit_price_differences']} bars"]
    if len(bad):
        b = bad[cols].copy()
        b["trade_date"] = b["trade_date"].dt.date
        b["rq_why"] = b["rq_why"].astype(str).str[:60]
        out.append(tabulate(b, headers="keys", showindex=False))
    if len(cc.limits):
        lim = cc.limits.head(limit).copy()
        lim["trade_date"] = lim["trade_date"].dt.date
        out.append("limit prices that differ from the exact half-up price:\n"
                   + tabulate(lim, headers="keys", showindex=False))
    if len(days):
        dd = days[["trade_date", "our_equity", "rq_equity_adj", "equity_rdiff", "cause"]].copy()
        dd["trade_date"] = dd["trade_date"].dt.date
        out.append(tabulate(dd, headers="keys", showindex=False, floatfmt=".6g"))
    return "\n\n".join(out)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m aquant.qmt.crosscheck", description=__doc__.split("\n\n")[0])
    ap.add_argument("--setup", action="store_true", help="create .crosscheck-venv with RQAlpha and exit")
    ap.add_argument("--start")
    ap.add_argument("--end")
    ap.add_argument("--params", default="{}", help="StrategyParams as JSON (slippage is forced to 0)")
    ap.add_argument("--db", help="DuckDB file (default AQUANT_DB / data/warehouse.duckdb)")
    ap.add_argument("--keep", help="keep the exchanged files in this folder")
    ap.add_argument("--move-ex-dates", action="store_true",
                    help="move ex-dates that are not sessions to the next session, for both engines")
    a = ap.parse_args(argv)
    if a.setup:
        print(setup_venv())
        return 0
    if not (a.start and a.end):
        ap.error("--start and --end are required (or --setup)")
    from aquant.config import Settings, load_settings

    settings = load_settings()
    if a.db:
        settings = Settings(target="duckdb", duckdb_path=Path(a.db), pg=settings.pg)
    params = {**json.loads(a.params), "slippage": 0.0}
    with Database(settings) as db:
        cc = crosscheck(db, a.start, a.end, params, Path(a.keep) if a.keep else None, a.move_ex_dates)
    print(table(cc))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

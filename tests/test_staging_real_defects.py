"""Staging catches the defects real upstream files carry (issue 12): real Eastmoney bars of 000001.SZ
(tests/fixtures/eastmoney/PROVENANCE.md) mapped exactly as extract/akshare.py maps them, loaded
through the real loader, staged by a real dbt run.

- 2026-03-20 is another stock's bar (close 5.90 between 10.88 and 10.45); its own 涨跌额 makes
  it self-consistent, so only continuity with both neighbours can tell.
- 2025-12-31 is an intraday snapshot (partial volume). The real file does not say when it was
  fetched; the test stamps it 11:00 Asia/Shanghai that day, which is how such a row arises.
"""
from __future__ import annotations

from datetime import date, datetime
from pathlib import Path

import pandas as pd
import pytest

from aquant.db import Database
from aquant.dbt_runner import run_dbt
from aquant.extract.akshare import raw_prev_close
from aquant.extract.loader import ensure_raw, load_frame
from aquant.extract.normalize import LOT, to_date
from aquant.trading_calendar import _xshg

FIX = Path(__file__).parent / "fixtures" / "eastmoney"
FOREIGN = FIX / "000001_raw_20260316_20260327_foreign_bar.csv"
INTRADAY = FIX / "000001_raw_20251222_20251231_intraday_last_row.csv"


def _bars(path: Path) -> pd.DataFrame:
    """The extractor's own mapping (extract/akshare.py daily_quote) of an Eastmoney frame.
    adj_factor is constant: 000001 has no ex-date inside either window (2025-10-15, then 2026-06)."""
    raw = pd.read_csv(path, dtype={"股票代码": str})
    df = pd.DataFrame({"code": "000001.SZ", "trade_date": to_date(raw["日期"]), "open": raw["开盘"],
                       "high": raw["最高"], "low": raw["最低"], "close": raw["收盘"],
                       "volume": raw["成交量"] * LOT, "amount": raw["成交额"], "turnover_rate": raw["换手率"] / 100,
                       "adj_factor": 1.0})
    df["pre_close"] = [float(x) for x in raw_prev_close(raw)]
    return df


CASES = [  # fixture, the bar staging must quarantine and its reason, neighbours that must stay
    (FOREIGN, date(2026, 3, 20), "breaks price continuity", [date(2026, 3, 19), date(2026, 3, 23)]),
    (INTRADAY, date(2025, 12, 31), "loaded before the day was final", [date(2025, 12, 30)]),
]


@pytest.mark.parametrize("fixture,bad,reason,kept_days", CASES, ids=["foreign_bar", "intraday_snapshot"])
def test_real_defects_are_quarantined_and_their_neighbours_kept(duck, tmp_path, fixture, bad, reason, kept_days):
    bars = _bars(fixture)
    cal = _xshg()
    days = pd.date_range(bars.trade_date.min(), bars.trade_date.max()).date
    with Database(duck) as db:
        ensure_raw(db)
        load_frame(db, "trade_calendar", pd.DataFrame({"trade_date": days,
                                                       "is_open": [cal.is_session(pd.Timestamp(d)) for d in days]}),
                   "akshare")
        load_frame(db, "stock_info", pd.DataFrame([{"code": "000001.SZ", "name": "平安银行", "exchange": "SZ",
                                                     "board": "main", "industry_l1": "银行",
                                                     "list_date": date(1991, 4, 3), "is_st": False}]), "akshare")
        load_frame(db, "daily_quote", bars, "akshare", "akshare.stock_zh_a_hist (recorded)")
        db.execute("update raw.daily_quote set loaded_at = ? where trade_date = ?",
                   [datetime(2025, 12, 31, 3, 0), date(2025, 12, 31)])  # fetched at 11:00 CST, mid-session
    res = run_dbt(duck, ["run", "--select", "+quarantine", "+stg_daily_quote_base"], quiet=True,
                  target_path=str(tmp_path / "target"))
    assert res.returncode == 0
    with Database(duck) as db:
        q = db.query_df("select * from staging.quarantine")
        kept = {pd.Timestamp(d).date() for d in db.query_df("select trade_date from staging.stg_daily_quote_base")
                .trade_date}
    reasons = {pd.Timestamp(r["row_date"]).date(): r["reason"] for _, r in q.iterrows()
               if r["source_table"] == "daily_quote"}
    assert set(reasons) == {bad}, reasons  # fails before: nothing was quarantined
    assert reasons[bad].startswith(reason)
    assert set(kept_days) <= kept and bad not in kept

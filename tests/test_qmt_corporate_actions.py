"""Corporate actions on non-trading ex-dates apply on the next session (issue 13, item 3).

Hand-built events: one ex-date on a Saturday, one on a holiday (a weekday without a session),
in the backtest, in paper trading (runs spanning the ex-date, a restart, a skipped session) and
in reconciliation. On the old code each of these events was silently dropped.
"""
from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from aquant.db import Database
from aquant.qmt import paper, reconcile as recon_mod
from aquant.qmt.backtest import simulate
from aquant.qmt.corporate_actions import bonus_shares, schedule
from aquant.qmt.paper import run_paper

from test_qmt_backtest import CODES, load_market, market

SAT = pd.Timestamp("2024-01-13")      # a Saturday inside market()'s range (sessions from 2024-01-02)
HOLIDAY = pd.Timestamp("2024-01-24")  # a Wednesday removed from the sessions below


def test_schedule_maps_weekend_and_holiday_ex_dates_to_the_next_session():
    sessions = [d for d in pd.bdate_range("2024-09-23", "2024-10-11")
                if not pd.Timestamp("2024-10-01") <= d <= pd.Timestamp("2024-10-07")]  # National Day 2024
    ev = pd.DataFrame({"code": ["A", "B", "C", "D", "E"],
                       "ex_date": pd.to_datetime(["2024-09-28", "2024-10-01", "2024-09-26", "2024-10-12",
                                                  "2024-09-23"]),
                       "cash_div_per_share": [0.1] * 5, "bonus_ratio": [0.0] * 5})
    out = schedule(ev, sessions).set_index("code")
    assert out.loc["A", "apply_date"] == pd.Timestamp("2024-09-30")   # Saturday -> Monday
    assert out.loc["A", "record_date"] == pd.Timestamp("2024-09-27")  # holders at Friday's close
    assert out.loc["B", "apply_date"] == pd.Timestamp("2024-10-08")   # holiday -> first session after
    assert out.loc["B", "record_date"] == pd.Timestamp("2024-09-30")
    assert out.loc["C", "apply_date"] == pd.Timestamp("2024-09-26")   # a session: itself
    assert pd.isna(out.loc["E", "record_date"])                       # no session before the first
    assert "D" not in out.index                                        # after the last known session
    assert schedule(ev.iloc[:0], sessions).empty and schedule(None, sessions).empty


def test_bonus_shares_are_exact():
    assert bonus_shares(1000, 0.3) == 300      # float 1000 * 0.3 = 300.00000000000006, 0.29 * 100 = 28.999...
    assert bonus_shares(100, 0.29) == 29
    assert bonus_shares(333, 0.1) == 33 and bonus_shares(0, 0.5) == 0


def _market_with_events() -> dict[str, pd.DataFrame]:
    """market() with HOLIDAY removed and two events on CODES[2] (bought on days[3] by signal s1)."""
    m = market()
    q = m["stg_daily_quote"]
    m["stg_daily_quote"] = q[q.trade_date != HOLIDAY].reset_index(drop=True)
    m["stg_dividend"] = pd.DataFrame({
        "code": [CODES[2], CODES[2]], "report_period": pd.to_datetime(["2023-06-30", "2023-12-31"]),
        "ann_date": pd.to_datetime(["2024-01-03", "2024-01-03"]), "ex_date": [SAT, HOLIDAY],
        "cash_div_per_share": [0.2, 0.1], "bonus_ratio": [0.3, 0.0], "payout_ratio": [0.3, 0.3]})
    return m


def _held_before(log: pd.DataFrame, code: str, day: pd.Timestamp) -> int:
    f = log[(log.status == "filled") & (log.code == code) & (log.trade_date < day)]
    return int((np.where(f.side == "buy", 1, -1) * f.qty).sum())


def test_backtest_applies_saturday_and_holiday_events_on_the_next_session():
    m = _market_with_events()
    sig = m["signals"][m["signals"].layer == "offense"]
    res = simulate(m["stg_daily_quote"], m["stg_stock_info"], sig, m["portfolio_targets"], m["stg_dividend"],
                   {"slippage": 0.0005, "dividend_tax": False})
    log = res.log
    held_sat = _held_before(log, CODES[2], SAT)          # holders at Friday 2024-01-12's close
    assert held_sat > 0
    bonus = bonus_shares(held_sat, 0.3)
    # the 30 % bonus issue is in the book: the shares bought + the bonus are what was sold / is held
    held_hol = _held_before(log, CODES[2], HOLIDAY) + bonus  # at the close of 2024-01-23
    filled = log[log.status == "filled"]
    flows = (np.where(filled.side == "buy", -1, 1) * filled.price * filled.qty - filled.fee).sum()
    dividends = round(0.2 * held_sat, 2) + round(0.1 * held_hol, 2)
    assert res.equity.cash.iloc[-1] == pytest.approx(1_000_000 + flows + dividends, abs=1e-6)
    assert res.summary["dividends"] == pytest.approx(dividends, abs=1e-9)
    sold_after = filled[(filled.code == CODES[2]) & (filled.side == "sell") & (filled.trade_date > SAT)]
    if len(sold_after):  # a full exit after the issue sells the bonus shares too
        bought = filled[(filled.code == CODES[2]) & (filled.side == "buy")].qty.sum()
        assert filled[(filled.code == CODES[2]) & (filled.side == "sell")].qty.sum() <= bought + bonus


def _calendar(monkeypatch, days):
    nxt = lambda d, db=None: next(x for x in days if x > pd.Timestamp(d)).date()  # noqa: E731
    monkeypatch.setattr(paper, "next_session", nxt)
    monkeypatch.setattr(recon_mod, "next_session", nxt)


def _holding(db, day) -> tuple[int, int]:
    st = json.loads(db.scalar("select state from ops.paper_state where account = 'paper' and as_of = ?",
                              [day.date()]))["broker"]
    return int(st["holdings"].get(CODES[2], [0])[0]), int(st["cash_cents"])


def test_paper_applies_a_saturday_event_once_across_runs_and_restarts(duck, monkeypatch):
    m = _market_with_events()
    days = sorted(m["stg_daily_quote"].trade_date.unique())
    _calendar(monkeypatch, days)
    fri, mon = pd.Timestamp("2024-01-12"), pd.Timestamp("2024-01-15")
    with Database(duck) as db:
        load_market(db, m)
        for d in [x for x in days if x <= fri]:
            run_paper(db, d.date(), {"dividend_tax": False})
        held, cash_fri = _holding(db, fri)
        assert held > 0
        # Monday crashes after executing, before saving: nothing may be half-applied
        monkeypatch.setattr(paper, "record_intents", lambda *a, **k: (_ for _ in ()).throw(RuntimeError("boom")))
        with pytest.raises(RuntimeError):
            run_paper(db, mon.date(), {"dividend_tax": False})
        monkeypatch.undo()
        _calendar(monkeypatch, days)
        run_paper(db, mon.date(), {"dividend_tax": False})
        assert run_paper(db, mon.date(), {"dividend_tax": False}).already_done
        held_mon, cash_mon = _holding(db, mon)
        mon_fills = db.query_df("select side, price, qty, fee from ops.trades where cast(traded_at as date) = ? "
                                "and code = ?", [mon.date(), CODES[2]])
        traded = int((np.where(mon_fills.side == "buy", 1, -1) * mon_fills.qty).sum())
        assert held_mon == held + bonus_shares(held, 0.3) + traded
        # cash: Friday's + the 0.20 dividend once + Monday's fills of every code
        allf = db.query_df("select side, price, qty, fee from ops.trades where cast(traded_at as date) = ?",
                           [mon.date()])
        flows_c = int(round(sum((1 if s == "sell" else -1) * (p * q * 100) - f * 100
                                for s, p, q, f in zip(allf.side, allf.price, allf.qty, allf.fee))))
        assert cash_mon == cash_fri + round(held * 20) + flows_c
        # the next run (Tuesday) does not apply it again
        tue = pd.Timestamp("2024-01-16")
        run_paper(db, tue.date(), {"dividend_tax": False})
        tue_fills = db.query_df("select side, qty from ops.trades where cast(traded_at as date) = ? and code = ?",
                                [tue.date(), CODES[2]])
        assert _holding(db, tue)[0] == held_mon + int((np.where(tue_fills.side == "buy", 1, -1) * tue_fills.qty).sum())
        # reconciliation agrees: fills + the Saturday bonus issue = the saved holdings
        assert [d for d in recon_mod.reconcile(db, fri.date()) if d.kind == "position_mismatch"] == []


def test_paper_applies_an_event_on_a_session_it_did_not_run(duck, monkeypatch):
    """Runs on Friday and Wednesday; the holiday event (ex 2024-01-24, applies 2024-01-25) and a
    Monday ex-date on a skipped session are both applied once, on the next run."""
    m = _market_with_events()
    m["stg_dividend"].loc[0, "ex_date"] = pd.Timestamp("2024-01-22")  # a Monday session we skip
    days = sorted(m["stg_daily_quote"].trade_date.unique())
    _calendar(monkeypatch, days)
    fri, wed = pd.Timestamp("2024-01-19"), pd.Timestamp("2024-01-31")
    with Database(duck) as db:
        load_market(db, m)
        for d in [x for x in days if x <= fri]:
            run_paper(db, d.date(), {"dividend_tax": False, "use_targets": False})
        held, cash_fri = _holding(db, fri)
        assert held > 0
        q = m["stg_daily_quote"]
        # no orders on the skipped days: what was pending for Monday expires, so only events move the book
        run_paper(db, wed.date(), {"dividend_tax": False, "use_targets": False})
        wed_fills = db.query_df("select side, qty from ops.trades where cast(traded_at as date) = ? and code = ?",
                                [wed.date(), CODES[2]])
        assert wed_fills.empty, "the expired Monday intents must not trade on Wednesday"
        held_wed, cash_wed = _holding(db, wed)
        bonus = bonus_shares(held, 0.3)
        assert held_wed == held + bonus
        assert cash_wed == cash_fri + round(held * 20) + round((held + bonus) * 10)
        assert not q.empty
        # reconciliation of the skipped sessions' account on Wednesday agrees too
        assert [d for d in recon_mod.reconcile(db, fri.date()) if d.kind == "position_mismatch"] == []


def test_reconcile_flags_holdings_that_ignore_a_weekend_bonus_issue(any_db, monkeypatch):
    m = _market_with_events()
    days = sorted(m["stg_daily_quote"].trade_date.unique())
    _calendar(monkeypatch, days)
    fri, mon = pd.Timestamp("2024-01-12"), pd.Timestamp("2024-01-15")
    with Database(any_db) as db:
        load_market(db, m)
        for d in [x for x in days if x <= mon]:
            run_paper(db, d.date())
        held_mon = _holding(db, mon)[0]
        # a book that forgot the bonus issue, as the old paper trading kept it
        st = json.loads(db.scalar("select state from ops.paper_state where as_of = ?", [mon.date()]))
        before = _holding(db, fri)[0]
        st["broker"]["holdings"][CODES[2]][0] = held_mon - bonus_shares(before, 0.3)
        db.execute("update ops.paper_state set state = ? where as_of = ?", [json.dumps(st), mon.date()])
        diffs = [d for d in recon_mod.reconcile(db, fri.date()) if d.kind == "position_mismatch"]
        assert [(d.code, f"imply {held_mon}" in d.detail) for d in diffs] == [(CODES[2], True)]


def test_schedule_matches_real_record_dates_on_the_exchange_calendar():
    """Real Eastmoney 分红送配 rows (tests/fixtures, provenance in the file): on real data every
    ex-date is a session and the record date is the session before it, which is what schedule
    derives. The sample market, by contrast, draws ex-dates on calendar days."""
    from pathlib import Path

    import exchange_calendars as xc

    real = pd.read_csv(Path(__file__).parent / "fixtures" / "fhps_em_record_ex_dates.csv", comment="#",
                       dtype={"代码": str}, parse_dates=["股权登记日", "除权除息日"])
    sessions = xc.get_calendar("XSHG").sessions_in_range("2023-06-01", "2024-12-31")
    ev = pd.DataFrame({"code": real["代码"], "ex_date": real["除权除息日"]})
    out = schedule(ev, sessions)
    assert len(out) == len(real) == 100
    got = out.set_index("code")
    want = real.set_index("代码")
    assert (got.loc[want.index, "apply_date"].to_numpy() == want["除权除息日"].to_numpy()).all()
    assert (got.loc[want.index, "record_date"].to_numpy() == want["股权登记日"].to_numpy()).all()

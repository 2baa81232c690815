"""Sell signals across an ex-date: stop and target are compared on the adjusted basis.

issue 13 item 4. The hand-made market of test_offense_formulas (composite pinned to the technical
score) plus two stocks that go ex a 10送3 bonus issue (bonus_ratio 0.3: 3 shares per 10) a few bars
after their buy. On the ex-date the exchange's reference price is close / 1.3, so the unadjusted
close drops ~23 % while nothing happened to the holder's wealth; the adj_factor (tushare/akshare
convention: cumulative back-adjustment factor, close x adj_factor continuous) steps 1.0 -> 1.3.

  600105.SH  rise, dip, +3 % x4 (buy), then +0.2 %/day; ex 10送3 on bar EX -> no stop_loss
  600106.SH  rise, dip, then +2.5 %/day throughout; ex 10送3 on bar EX -> take_profit once the real
             (adjusted) rise reaches 15 %, although the unadjusted close stays under the target

On the old rule (unadjusted close against the buy day's levels) both fire stop_loss on EX.
An incremental build cut between the buys and EX (both trades open) ends with the same rows.
"""
from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from aquant.db import Database

from conftest import duck_settings
from test_offense_formulas import DAYS, VARS, _steps, market
from aquant.extract.ingest_sample import DATE_COL

from test_offense_support import assert_frames_close, build_selected, expected_offense, load_tables, read

FLAT, RISE = "600105.SH", "600106.SH"
EX = 54          # ex-date bar: a few bars after both buys (bar 51 on these paths)
BONUS = 0.3      # 10送3
KNOBS = {**VARS, "max_hold_days": 30}


def _bonus_market() -> dict[str, pd.DataFrame]:
    m = market()
    base = [(45, 1.002), (3, 0.985)]
    paths = {FLAT: _steps(base + [(4, 1.03), (60, 1.002)]), RISE: _steps(base + [(60, 1.025)])}
    q = m["daily_quote"]
    tmpl = q[q.code == "600102.SH"].reset_index(drop=True)  # same dates, volume, PE, PB as a twin
    rows = []
    for code, real in paths.items():
        adj = np.where(np.arange(len(DAYS)) >= EX, 1 + BONUS, 1.0)
        close = np.round(real / adj, 2)                    # unadjusted: the price drops on EX
        pre = np.concatenate([[close[0]], close[:-1]])
        pre[EX] = round(close[EX - 1] / (1 + BONUS), 2)    # exchange's ex-right reference price
        g = tmpl.copy()
        g["code"], g["close"], g["pre_close"], g["adj_factor"] = code, close, pre, adj
        g["high"] = np.round(np.maximum(close, pre) * 1.003, 2)
        g["low"] = np.round(np.minimum(close, pre) * 0.997, 2)
        g["open"] = pre
        g["amount"] = np.round(g["volume"] * close, 2)
        g["total_mv"], g["circ_mv"] = close * 1.2e8, close * 1e8
        rows.append(g)
    m["daily_quote"] = pd.concat([q, *rows], ignore_index=True)
    info = m["stock_info"]
    extra = info[info.code == "600102.SH"].copy()
    m["stock_info"] = pd.concat([info, extra.assign(code=FLAT, name="SBF"), extra.assign(code=RISE, name="SBR")],
                                ignore_index=True)
    for t in ("funds_flow", "chip_distribution"):
        f = m[t]
        twin = f[f.code == "600102.SH"]
        m[t] = pd.concat([f, twin.assign(code=FLAT), twin.assign(code=RISE)], ignore_index=True)
    return m


@pytest.fixture(scope="module")
def bonus_built(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("offense_bonus")
    settings = duck_settings(tmp / "warehouse.duckdb")
    with Database(settings) as db:
        load_tables(db, _bonus_market(), "test")
    build_selected(settings, tmp / "target", ["+int_offense_signals__chained"], vars_=KNOBS)
    return settings


@pytest.fixture(scope="module")
def bonus_incremental(tmp_path_factory):
    """Built to the bar before EX (both buys open), then the rest loaded and built incrementally."""
    tmp = tmp_path_factory.mktemp("offense_bonus_incremental")
    settings = duck_settings(tmp / "warehouse.duckdb")
    full = _bonus_market()
    cut = pd.Timestamp(DAYS[EX - 1])
    first = {k: (df[pd.to_datetime(df[DATE_COL[k]]) <= cut] if k in DATE_COL else df) for k, df in full.items()}
    with Database(settings) as db:
        load_tables(db, first, "test")
    build_selected(settings, tmp / "t1", ["+int_offense_signals__chained"], vars_=KNOBS)
    open_buys = read(settings, "select code from intermediate.int_offense_signals__chained as b where kind = 'buy' and not exists "
                               "(select 1 from intermediate.int_offense_signals__chained as s where s.entry_signal_id = b.signal_id)")
    with Database(settings) as db:
        load_tables(db, full, "test")
    build_selected(settings, tmp / "t2", ["+int_offense_signals__chained"], vars_=KNOBS)
    return settings, set(open_buys["code"])


def _sig(settings, code: str) -> pd.DataFrame:
    return read(settings, "select signal_id, trade_date, code, kind, rule, composite_score, close, take_profit, "
                          "stop_loss, priority, entry_signal_id from intermediate.int_offense_signals__chained where code = ? "
                          "order by trade_date", [code])


def _first_trade(settings, code: str) -> tuple[pd.Series, pd.Series | None]:
    sig = _sig(settings, code)
    buy = sig[sig.kind == "buy"].iloc[0]
    sells = sig[sig.entry_signal_id == buy.signal_id]
    return buy, (sells.iloc[0] if len(sells) else None)


def test_bonus_issue_after_a_buy_is_no_stop_loss(bonus_built):
    buy, sell = _first_trade(bonus_built, FLAT)
    assert buy.trade_date < DAYS[EX], "the path was built to buy before the ex-date"
    q = read(bonus_built, "select close from staging.stg_daily_quote where code = ? and trade_date = ?",
             [FLAT, DAYS[EX].date()])
    assert q["close"][0] < buy.stop_loss, "the unadjusted close on the ex-date is under the stop"
    assert sell is None or sell.rule != "stop_loss"
    assert sell is None or sell.trade_date != DAYS[EX]


def test_real_rise_through_the_target_is_a_take_profit(bonus_built):
    buy, sell = _first_trade(bonus_built, RISE)
    assert buy.trade_date < DAYS[EX]
    assert sell is not None and sell.rule == "take_profit"
    assert sell.close < buy.take_profit, "unadjusted, the target is not reached: only the adjusted basis sees it"
    assert sell.close * (1 + BONUS) >= buy.take_profit
    # levels stay in the buy day's unadjusted prices (contract), on the buy and its sell alike
    assert sell.take_profit == buy.take_profit and sell.stop_loss == buy.stop_loss
    np.testing.assert_allclose(buy.take_profit, buy.close * 1.15, rtol=1e-12)


def test_signals_match_the_adjusted_reference(bonus_built):
    sig = read(bonus_built, "select signal_id, trade_date, code, kind, rule, composite_score, close, take_profit, "
                            "stop_loss, priority, entry_signal_id from intermediate.int_offense_signals__chained")
    scores = read(bonus_built, "select * from signals.factor_scores")
    quotes = read(bonus_built, "select code, trade_date, high, low, pre_close, adj_factor from staging.stg_daily_quote")
    assert_frames_close(sig, expected_offense(scores, quotes, KNOBS), ["signal_id"], 1e-9, "int_offense_signals__chained")


def test_incremental_build_across_the_ex_date_equals_the_full_build(bonus_built, bonus_incremental):
    inc, open_at_cut = bonus_incremental
    assert {FLAT, RISE} <= open_at_cut, "both trades were open when the first build stopped"
    cols = ("signal_id, trade_date, code, kind, rule, composite_score, close, take_profit, stop_loss, priority, "
            "entry_signal_id, rule_params")
    a = read(inc, f"select {cols} from intermediate.int_offense_signals__chained")
    b = read(bonus_built, f"select {cols} from intermediate.int_offense_signals__chained")
    assert_frames_close(a, b, ["signal_id"], 1e-9, "int_offense_signals__chained incremental vs full")

"""The loader: idempotent upserts, schema errors, restatement versions, on both databases."""
from __future__ import annotations

import pandas as pd
import pytest

from aquant.db import Database
from aquant.extract.loader import SchemaError, load_frame


def _quotes(close: float = 10.0) -> pd.DataFrame:
    return pd.DataFrame({
        "code": ["600000.SH", "600000.SH"], "trade_date": ["2024-01-02", "2024-01-03"],
        "open": [9.9, 10.0], "high": [10.2, 10.3], "low": [9.8, 9.9], "close": [10.0, close],
        "pre_close": [9.9, 10.0], "volume": [1e6, 2e6], "amount": [1e7, 2e7], "turnover_rate": [0.01, 0.02],
        "adj_factor": [1.0, 1.0],
    })


def test_reloading_same_rows_changes_nothing(any_db):
    with Database(any_db) as db:
        first = load_frame(db, "daily_quote", _quotes(), "test")
        stamp = db.query("select loaded_at from raw.daily_quote order by trade_date")
        again = load_frame(db, "daily_quote", _quotes(), "test")
        assert (first.inserted, first.updated) == (2, 0)
        assert (again.inserted, again.updated) == (0, 0)
        assert db.query("select loaded_at from raw.daily_quote order by trade_date") == stamp


def test_changed_value_updates_only_that_row(any_db):
    with Database(any_db) as db:
        load_frame(db, "daily_quote", _quotes(), "test")
        res = load_frame(db, "daily_quote", _quotes(close=10.5), "test")
        assert (res.inserted, res.updated) == (0, 1)
        assert db.scalar("select close from raw.daily_quote where trade_date = '2024-01-03'") == 10.5


def test_missing_key_column_names_source_and_columns(duck):
    with Database(duck) as db:
        bad = _quotes().drop(columns=["trade_date"])
        with pytest.raises(SchemaError, match=r"akshare.stock_zh_a_hist -> raw.daily_quote.*trade_date"):
            load_frame(db, "daily_quote", bad, "akshare", origin="akshare.stock_zh_a_hist")


def test_uncastable_value_writes_nothing(duck):
    with Database(duck) as db:
        bad = _quotes()
        bad["close"] = ["10.0", "n/a"]
        with pytest.raises(SchemaError, match="close"):
            load_frame(db, "daily_quote", bad, "test")
        assert not db.table_exists("raw", "daily_quote") or db.scalar("select count(*) from raw.daily_quote") == 0


def test_restated_report_keeps_superseded_version(any_db):
    row = {"code": "600000.SH", "report_period": "2024-06-30", "ann_date": "2024-08-20", "roe": 0.05,
           "eps": 0.5, "revenue": 1e9, "net_profit": 1e8, "net_profit_yoy": 0.1, "bps": 5.0}
    with Database(any_db) as db:
        load_frame(db, "finance_data", pd.DataFrame([row]), "test")
        load_frame(db, "finance_data", pd.DataFrame([{**row, "ann_date": "2024-11-01", "net_profit": 0.9e8}]), "test")
        assert db.query("select ann_date, net_profit from raw.finance_data")[0][1] == 0.9e8
        old = db.query("select cast(ann_date as varchar), net_profit from raw.finance_data_versions")
        assert old == [("2024-08-20", 1e8)]


def test_values_survive_the_load_exactly(any_db):
    """Floats to the last bit, NULLs, and strings CSV must quote (the PostgreSQL path stages a CSV)."""
    names = ["逗号,引号\"", "line\nbreak", "\\N", "", None, "tab\there", "plain"]
    shares = [0.1, 1 / 3, 1e-300, 123456789.12345679, -2.5e17, None, 5e-324]
    frame = pd.DataFrame({
        "code": [f"60000{i}.SH" for i in range(7)], "name": names, "exchange": "SSE", "board": "main",
        "industry_l1": "银行", "industry_l2": None, "list_date": ["2001-01-02"] * 6 + [None],
        "delist_date": None, "is_st": [True, False, None, True, False, True, False],
        "total_shares": shares, "float_shares": [2.0 ** -1074 * 3, 1e308, 7.0, 0.0, -0.5, 1e-7, 42.0],
    })
    with Database(any_db) as db:
        assert load_frame(db, "stock_info", frame, "test").inserted == 7
        got = db.query("select code, name, list_date, is_st, total_shares, float_shares from raw.stock_info "
                       "order by code")
    assert [r[1] for r in got] == names  # "\N" stays a string, "" stays empty, None is NULL
    assert [r[2] is None for r in got] == [False] * 6 + [True]
    assert [r[3] for r in got] == [True, False, None, True, False, True, False]
    assert [r[4] for r in got] == shares  # exact, not approximately
    assert [r[5] for r in got] == list(frame["float_shares"])

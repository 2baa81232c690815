"""The ingest runner: incremental, idempotent, resumable, retrying, on DuckDB and PostgreSQL."""
from __future__ import annotations

import json
import logging
import time
from datetime import date

import pandas as pd
import pytest
import requests

from aquant.db import Database
from aquant.extract.calls import CallPolicy, is_transient
from aquant.extract.loader import get_watermark, load_frame
from aquant.extract.reconcile import reconcile_sources, source_differences
from aquant.extract.runner import run_ingest

from fake_upstreams import DAYS, FakeAkshare

CODES = ["000001", "600000", "430047"]
EXPECTED_BARS = 3 * len(DAYS) - 1  # 600000 suspended one day


def ingest(db, fake, tables=("daily_quote",), codes=CODES, start=DAYS[0], end=DAYS[-1], **kw):
    kw.setdefault("sleep", lambda s: None)
    return run_ingest(db, "akshare", tables=list(tables), codes=codes, start=start, end=end, client=fake,
                      progress=False, min_interval=0, **kw)


def snapshot(db):
    return db.query("select code, cast(trade_date as varchar), close, loaded_at from raw.daily_quote "
                    "order by code, trade_date")


def test_second_identical_run_changes_no_row(any_db):
    with Database(any_db) as db:
        first = ingest(db, FakeAkshare())
        before = snapshot(db)
        fake = FakeAkshare()
        again = ingest(db, fake)
        assert first.tables["daily_quote"].inserted == EXPECTED_BARS
        assert "daily_quote" not in again.tables or again.tables["daily_quote"].changed == 0
        assert snapshot(db) == before
        assert again.units_skipped == 3 and not fake.calls  # all up to date: no upstream call at all


def test_incremental_run_fetches_only_days_after_the_watermark(any_db):
    with Database(any_db) as db:
        ingest(db, FakeAkshare(), end=DAYS[3])
        assert get_watermark(db, "akshare", "daily_quote", "000001.SZ") == DAYS[3]
        fake = FakeAkshare()
        s = ingest(db, fake, end=DAYS[-1])
        assert s.tables["daily_quote"].inserted == EXPECTED_BARS - (3 * 4 - 1)
        assert s.tables["daily_quote"].updated == 0
        assert db.scalar("select count(*) from raw.daily_quote") == EXPECTED_BARS
        # the fake saw a window starting the day after the watermark
        assert all(d == DAYS[-1] for d in [get_watermark(db, "akshare", "daily_quote", f"{c}") for c in
                                           ["000001.SZ", "600000.SH", "430047.BJ"]])


def test_interrupted_run_resumes_without_duplicates_or_gaps(any_db):
    fake = FakeAkshare()
    fake.fail_on[("stock_zh_a_hist", "600000")] = KeyboardInterrupt()
    with Database(any_db) as db:
        with pytest.raises(KeyboardInterrupt):
            ingest(db, fake)
        assert db.scalar("select count(distinct code) from raw.daily_quote") == 1  # 000001 done, 600000 not
        assert get_watermark(db, "akshare", "daily_quote", "600000.SH") is None
        audit = json.loads(db.scalar("select detail from ops.audit_log"))
        assert audit["status"] == "interrupted"
        fake2 = FakeAkshare()
        ingest(db, fake2)
        assert ("stock_zh_a_hist", "000001") not in fake2.calls  # finished unit not fetched again
        assert db.scalar("select count(*) from raw.daily_quote") == EXPECTED_BARS
        assert db.scalar("select count(*) from (select code, trade_date from raw.daily_quote "
                         "group by code, trade_date having count(*) > 1) d") == 0


def test_exception_mid_run_records_failure_and_rerun_fills_the_gap(any_db):
    fake = FakeAkshare()
    fake.fail_on[("stock_value_em", "600000")] = RuntimeError("upstream returned garbage")
    with Database(any_db) as db:
        s = ingest(db, fake)
        assert [(f.unit, "garbage" in f.error) for f in s.failures] == [("600000.SH", True)]
        assert s.status == "partial"
        assert db.scalar("select count(*) from raw.daily_quote where code = '600000.SH'") == 0  # nothing half-written
        assert db.scalar("select count(*) from raw.daily_quote where code = '430047.BJ'") == len(DAYS)  # went on
        s2 = ingest(db, FakeAkshare())
        assert not s2.failures and db.scalar("select count(*) from raw.daily_quote") == EXPECTED_BARS
        assert "failures=1" in str(s) and "600000.SH" in str(s)


def test_network_errors_are_retried_with_exponential_backoff():
    sleeps: list[float] = []
    attempts = {"n": 0}

    def flaky():
        attempts["n"] += 1
        if attempts["n"] < 3:
            raise requests.exceptions.ConnectionError("reset by peer")
        return "ok"

    policy = CallPolicy(min_interval=0, retries=3, backoff=1.0, timeout=None, sleep=sleeps.append)
    assert policy.call("flaky", flaky) == "ok"
    assert sleeps == [1.0, 2.0]


def test_schema_errors_are_not_retried():
    calls = {"n": 0}

    def broken():
        calls["n"] += 1
        raise KeyError("日期")

    policy = CallPolicy(min_interval=0, retries=3, timeout=None, sleep=lambda s: None)
    with pytest.raises(KeyError):
        policy.call("broken", broken)
    assert calls["n"] == 1


def test_transient_classification_covers_akshare_and_tushare_quota():
    from akshare.exceptions import NetworkError

    assert is_transient(NetworkError("boom")) and is_transient(requests.exceptions.Timeout())
    assert is_transient(Exception("抱歉，您每分钟最多访问该接口200次"))
    assert not is_transient(ValueError("bad")) and not is_transient(KeyError("x"))


def test_persistent_network_failure_is_reported_per_stock(duck):
    fake = FakeAkshare()
    fake.fail_on[("stock_zh_a_hist", "430047")] = requests.exceptions.ConnectionError("down")
    sleeps: list[float] = []
    with Database(duck) as db:
        s = ingest(db, fake, retries=2, backoff=0.5, sleep=sleeps.append)
        assert [f.unit for f in s.failures] == ["430047.BJ"] and "ConnectionError" in s.failures[0].error
        assert sleeps == [0.5, 1.0]
        assert db.scalar("select count(distinct code) from raw.daily_quote") == 2


def test_hanging_call_times_out(duck):
    class Hang(FakeAkshare):
        def stock_value_em(self, symbol="x"):
            if symbol == "600000":
                time.sleep(2)
            return super().stock_value_em(symbol)

    with Database(duck) as db:
        s = ingest(db, Hang(), codes=["600000", "000001"], timeout=0.3, retries=0)
        assert [f.unit for f in s.failures] == ["600000.SH"] and "CallTimeout" in s.failures[0].error
        assert db.scalar("select count(*) from raw.daily_quote where code = '000001.SZ'") == len(DAYS)


def test_rate_limit_spaces_calls():
    sleeps: list[float] = []
    policy = CallPolicy(min_interval=10.0, timeout=None, sleep=sleeps.append)
    policy.call("a", lambda: 1)
    policy.call("b", lambda: 2)
    assert len(sleeps) == 1 and 9.0 < sleeps[0] <= 10.0


def test_full_refresh_refetches_everything(duck):
    with Database(duck) as db:
        ingest(db, FakeAkshare())
        fake = FakeAkshare()
        s = ingest(db, fake, full_refresh=True)
        assert ("stock_zh_a_hist", "000001") in fake.calls and s.tables["daily_quote"].changed == 0


def test_audit_row_records_the_run(duck):
    with Database(duck) as db:
        s = ingest(db, FakeAkshare())
        action, detail = db.query("select action, detail from ops.audit_log")[0]
        d = json.loads(detail)
        assert action == "ingest" and d["source"] == "akshare" and d["status"] == "ok"
        assert d["rows"]["daily_quote"] == [EXPECTED_BARS, 0] and s.event_id


def test_unknown_table_or_source_is_a_clear_error(duck):
    with Database(duck) as db:
        with pytest.raises(ValueError, match="cannot fill"):
            run_ingest(db, "xtdata", tables=["industry_flow"], client=object(), progress=False)
        with pytest.raises(ValueError, match="unknown source"):
            run_ingest(db, "wind", progress=False)


def test_reconcile_keeps_primary_and_logs_differences(caplog):
    p = pd.DataFrame({"code": ["A", "B"], "trade_date": ["2024-01-02"] * 2, "close": [10.0, 20.0]})
    s = pd.DataFrame({"code": ["A", "C"], "trade_date": ["2024-01-02"] * 2, "close": [10.5, 30.0]})
    with caplog.at_level(logging.WARNING, logger="aquant.extract.reconcile"):
        out = reconcile_sources(p, s, ["code", "trade_date"], "tushare", "akshare")
    assert sorted(zip(out.code, out.close)) == [("A", 10.0), ("B", 20.0), ("C", 30.0)]
    assert "disagree on 1 values" in caplog.text
    d = source_differences(p, s, ["code", "trade_date"])
    assert d[["code", "column", "primary", "secondary"]].values.tolist() == [["A", "close", 10.0, 10.5]]


def test_primary_source_rows_are_not_overwritten(any_db, caplog):
    with Database(any_db) as db:
        ingest(db, FakeAkshare(), codes=["000001"])
        row = db.query_df("select * from raw.daily_quote where trade_date = ?", [DAYS[0]])
        row["close"] = row["close"] + 1  # the primary says something else for this day
        load_frame(db, "daily_quote", row, "tushare")
        with caplog.at_level(logging.WARNING, logger="aquant.extract.reconcile"):
            ingest(db, FakeAkshare(), codes=["000001"], full_refresh=True, primary_source="tushare")
        kept = db.query("select source, close from raw.daily_quote where trade_date = ?", [DAYS[0]])
        assert kept == [("tushare", row["close"].iloc[0])]
        assert "disagree" in caplog.text
        assert db.scalar("select count(*) from raw.daily_quote where source = 'akshare'") == len(DAYS) - 1


def test_period_units_settle_then_are_skipped(duck):
    with Database(duck) as db:
        ingest(db, FakeAkshare(), ["finance_data"], start=date(2023, 1, 1), end=date(2023, 12, 31))
        fake = FakeAkshare()
        ingest(db, fake, ["finance_data"], start=date(2023, 1, 1), end=date(2023, 12, 31))
        # fetched long after each period settled -> no refetch
        assert not [c for c in fake.calls if c[0] == "stock_yjbb_em"]


def test_rows_of_another_real_source_are_kept_unless_replacement_is_asked(duck, caplog):
    """issue 19: the loader never replaces a row from another real source without an explicit flag
    (the configured primary source, tushare by default, is the one standing exception)."""
    with Database(duck) as db:
        ingest(db, FakeAkshare(), codes=["000001"])
        db.execute("update raw.daily_quote set source = 'xtdata', close = close + 1 where trade_date = ?", [DAYS[0]])
        theirs = db.query("select close from raw.daily_quote where trade_date = ?", [DAYS[0]])
        with caplog.at_level(logging.WARNING, logger="aquant.extract.runner"):
            ingest(db, FakeAkshare(), codes=["000001"], full_refresh=True)
        assert db.query("select source, close from raw.daily_quote where trade_date = ?", [DAYS[0]]) == \
            [("xtdata", theirs[0][0])]
        assert "kept 1 akshare row(s) delivered by xtdata" in caplog.text
        ingest(db, FakeAkshare(), codes=["000001"], full_refresh=True, replace_other_sources=True)
        assert db.scalar("select source from raw.daily_quote where trade_date = ?", [DAYS[0]]) == "akshare"

"""aquant.spark_db's SQL text handling, without a JVM: `?` inlining, identifier quoting, DML split.

The statements are the ones the ops writers send (qmt/records.py, extract/loader.py); on Spark they
run with parameters inlined as literals (tests/test_spark_parity.py runs them on a real Spark).
"""
from __future__ import annotations

from datetime import date, datetime

from aquant.schema import OPS_TABLES, RAW_TABLES
from aquant.spark_db import _DELETE, _UPDATE, _split_top, create_sql_spark, literal, translate


def test_parameters_become_literals_outside_strings_only():
    sql = translate("select * from ops.orders where account = ? and note <> 'why?' and trade_date < ? and qty > ?",
                    ["o'neil", date(2024, 6, 14), 1.5])
    assert sql == ("select * from ops.orders where account = 'o\\'neil' and note <> 'why?' "
                   "and trade_date < DATE '2024-06-14' and qty > 1.5D")


def test_literals():
    assert literal(None) == "NULL" and literal(float("nan")) == "NULL"
    assert literal(True) == "TRUE" and literal(3) == "3"
    assert literal(datetime(2024, 6, 14, 7, 30)) == "TIMESTAMP '2024-06-14 07:30:00'"


def test_double_quoted_identifiers_become_backticks():
    assert translate('select "at", "rows" from ops.audit_log where actor = \'"x"\'') == \
        "select `at`, `rows` from ops.audit_log where actor = '\"x\"'"


def test_update_and_delete_are_recognised_and_split():
    m = _UPDATE.match(translate("update ops.orders set status = ?, filled_qty = coalesce(?, filled_qty) "
                                "where order_id = ?", ["filled", None, "o1"]))
    assert m and m.group(1) == "ops.orders" and m.group(3) == "order_id = 'o1'"
    assert _split_top(m.group(2)) == ["status = 'filled'", "filled_qty = coalesce(NULL, filled_qty)"]
    m = _DELETE.match("delete from ops.ingest_state where source = 'sample'")
    assert m and m.group(1) == "ops.ingest_state" and m.group(2) == "source = 'sample'"


def test_daily_tables_are_partitioned_by_month_others_not():
    assert "PARTITIONED BY (`trade_month`)" in create_sql_spark(RAW_TABLES["daily_quote"])
    assert "PARTITIONED BY (`trade_month`)" in create_sql_spark(RAW_TABLES["minute_quote"])
    assert "PARTITIONED" not in create_sql_spark(RAW_TABLES["stock_info"])
    assert "`rows` BIGINT" in create_sql_spark(OPS_TABLES["ingest_state"])

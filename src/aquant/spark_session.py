"""The one in-process SparkSession of an `AQUANT_TARGET=spark` process.

Why one session per process: the local warehouse keeps its table catalog in an embedded Derby
metastore, and embedded Derby admits ONE process at a time (the same single-writer rule as a
DuckDB file). So dbt does not run in a subprocess on this target: `aquant build` runs dbt
in-process (dbtRunner), and dbt-spark's `session` method calls `SparkSession.builder
.getOrCreate()`, which returns the session made here, with this warehouse and metastore. The
Python side (loader, backtest, app) reads and writes through the same session.

Settings (all optional, read once when the JVM starts):
  AQUANT_SPARK_DIR            warehouse root: <dir>/warehouse (Parquet), <dir>/metastore_db (Derby)
  AQUANT_SPARK_MASTER         default local[2]
  AQUANT_SPARK_DRIVER_MEMORY  default 2g (the machine is shared; the sample needs far less)
"""
from __future__ import annotations

import logging
import os
from pathlib import Path

log = logging.getLogger("aquant.spark")

_SESSION = None
_DIR: Path | None = None


def spark_conf(root: Path) -> dict[str, str]:
    """Every Spark setting the warehouse relies on, in one place (docs/scaling.md explains each)."""
    root = root.resolve()
    return {
        "spark.master": os.environ.get("AQUANT_SPARK_MASTER", "local[2]"),
        "spark.app.name": "aquant",
        "spark.driver.memory": os.environ.get("AQUANT_SPARK_DRIVER_MEMORY", "2g"),
        "spark.sql.warehouse.dir": str(root / "warehouse"),
        "spark.hadoop.javax.jdo.option.ConnectionURL": f"jdbc:derby:;databaseName={root / 'metastore_db'};create=true",
        "spark.driver.extraJavaOptions": f"-Dderby.system.home={root} -Duser.timezone=UTC",
        # Timestamps are UTC everywhere (the contract); a TIMESTAMP column then reads back unchanged.
        "spark.sql.session.timeZone": "UTC",
        # An upsert rewrites only the month partitions it touched.
        "spark.sql.sources.partitionOverwriteMode": "dynamic",
        "spark.sql.execution.arrow.pyspark.enabled": "true",
        # The sample and one machine: few, small shuffle partitions (Spark's 200 cost seconds per query).
        "spark.sql.shuffle.partitions": os.environ.get("AQUANT_SPARK_SHUFFLE_PARTITIONS", "2"),
        "spark.sql.adaptive.enabled": "true",
        "spark.ui.enabled": "false",
        "spark.ui.showConsoleProgress": "false",
        # signal_offense follows each stock's chain of trades recursively: one level per trade.
        "spark.sql.cteRecursionLevelLimit": "10000",
        "spark.sql.cteRecursionRowLimit": "-1",
        # CREATE TABLE without USING makes a Parquet (data source) table, not a Hive SerDe table.
        "spark.sql.legacy.createHiveTableByDefault": "false",
    }


def spark_dir_default() -> Path:
    from .config import data_dir

    return data_dir() / "spark"


def get_session(root: Path | None = None):
    """The process's SparkSession on warehouse `root`, started on first use (JVM start ~5-10 s)."""
    global _SESSION, _DIR
    root = (root or Path(os.environ.get("AQUANT_SPARK_DIR") or spark_dir_default())).resolve()
    if _SESSION is not None:
        if _DIR != root:
            raise RuntimeError(f"this process already runs Spark on {_DIR}; one warehouse per process "
                               f"(the embedded metastore is per JVM), asked for {root}")
        return _SESSION
    import sys
    import warnings

    # pyspark 4.3 warns on every pandas conversion that it does not "fully support" pandas 3; the
    # conversions used here (flat frames of str/float/int/bool/date/timestamp) are covered by
    # tests/test_spark_parity.py.
    warnings.filterwarnings("ignore", message="PySpark does not yet fully support pandas", category=FutureWarning)
    os.environ.setdefault("PYSPARK_PYTHON", sys.executable)
    os.environ.setdefault("SPARK_LOCAL_IP", "127.0.0.1")  # local mode: no lookup of the host's address
    from pyspark.sql import SparkSession

    root.mkdir(parents=True, exist_ok=True)
    builder = SparkSession.builder.enableHiveSupport()
    for k, v in spark_conf(root).items():
        builder = builder.config(k, v)
    try:
        session = builder.getOrCreate()
    except Exception as exc:  # noqa: BLE001 - the JVM's message is the useful part
        if "XSDB6" in str(exc) or "Another instance of Derby" in str(exc):
            raise ConnectionError(f"the Spark warehouse {root} is open in another process (embedded Derby "
                                  f"metastore: one process at a time); wait for it or use a metastore server") from exc
        raise
    session.sparkContext.setLogLevel(os.environ.get("AQUANT_SPARK_LOG_LEVEL", "ERROR"))
    # pyspark logs every failed statement with its whole Java stack (pyspark.errors...base); the
    # exception raised carries the message, and dbt reports it.
    from pyspark.logger import PySparkLogger

    PySparkLogger.getLogger("SQLQueryContextLogger").disabled = True
    _SESSION, _DIR = session, root
    return session

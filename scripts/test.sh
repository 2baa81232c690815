#!/usr/bin/env bash
# The test command of the README: installs the test extras into .venv (created by the set-up
# command), the system browser for the end-to-end app test, and runs every test: the linters
# (ruff on the Python, [tool.ruff] in pyproject.toml; sqlfluff on the dbt models, .sqlfluff),
# pytest (which drives real dbt builds on DuckDB and on the PostgreSQL server at 127.0.0.1:5432)
# and the Meltano smoke run when its script is present. With pytest arguments (a single test) it
# skips the linters.
set -euo pipefail
cd "$(dirname "$0")/.."

PY=.venv/bin/python
if [ ! -x "$PY" ]; then
  python3 -m venv .venv
fi
"$PY" -m pip install -q --upgrade pip
"$PY" -m pip install -q -e ".[dev]"
# RQAlpha for the engine cross-check (tests/test_crosscheck_engine.py), in its own venv
# .crosscheck-venv: it pins numpy<2 on Python <= 3.11 (about 1-3 min the first time).
"$PY" -m aquant.qmt.crosscheck --setup >/dev/null

# Debian's Chromium for the browser test (a test tool's own browser download cannot work here).
if [ ! -x /usr/bin/chromium ] && [ "$(id -u)" = "0" ] && command -v apt-get >/dev/null; then
  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium fonts-wqy-zenhei >/dev/null
fi

# Java 17 for the Spark target's parity test (tests/test_spark_parity.py): pyspark carries Spark,
# not the JVM.
if ! command -v java >/dev/null && [ "$(id -u)" = "0" ] && command -v apt-get >/dev/null; then
  # (slim Debian images lack the man1 folder the package's update-alternatives step writes to)
  mkdir -p /usr/share/man/man1
  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq openjdk-17-jre-headless >/dev/null
fi

# Linters, only on a full run like the Meltano smoke: `scripts/test.sh tests/x.py` skips them.
# sqlfluff: dbt templater on DuckDB, a throwaway DuckDB file, nothing is built.
if [ "$#" = "0" ]; then
  .venv/bin/ruff check .
  LINT_DB="$(mktemp -d)/lint.duckdb"
  AQUANT_DB="$LINT_DB" .venv/bin/sqlfluff lint models --processes 2
fi

# A full run spreads whole test modules over AQUANT_TEST_WORKERS processes (pytest-xdist; default
# 2, this machine's cores), longest module first (tests/conftest.py, tests/module_seconds.json).
# Each worker builds into its own dbt target folder; AQUANT_TEST_WORKERS=0 runs in one process.
if [ "$#" = "0" ] && [ "${AQUANT_TEST_WORKERS:-2}" != "0" ]; then
  .venv/bin/pytest -n "${AQUANT_TEST_WORKERS:-2}" --dist loadfile --no-loadscope-reorder
else
  .venv/bin/pytest "$@"
fi

if [ -x scripts/meltano_smoke.sh ] && [ "$#" = "0" ]; then
  scripts/meltano_smoke.sh
fi

#!/usr/bin/env bash
# Meltano smoke test, offline, on a throw-away DuckDB file (CI calls this from .ci/run).
#
#   1. Meltano 4.4.1 in its own venv (.meltano-venv/, created if missing), `meltano install`.
#   2. `meltano run --full-refresh el-duckdb`: tap-aquant (sample, 5 stocks, 2021-01-04..2021-03-31)
#      -> target-aquant -> dbt-duckdb:build.
#   3. `meltano run daily` for 2021-04-01: `aquant daily` brings the database from D-1 to D.
#   4. Checks that rows landed (raw, signals, ops.daily_run) and that a second `meltano run daily`
#      the same day adds nothing.
# Exit 0 on success, non-zero with a message on the first failed check.
set -euo pipefail

ROOT="$(cd "$(dirname "$0")/.." && pwd)"
cd "$ROOT"
PY="${PYTHON:-python3}"
MELTANO="$ROOT/.meltano-venv/bin/meltano"
WORK="$(mktemp -d "${TMPDIR:-/tmp}/aquant-meltano-smoke.XXXXXX")"
trap 'rm -rf "$WORK"' EXIT
t0=$(date +%s)

if [ ! -x "$MELTANO" ]; then
  echo "== creating .meltano-venv (meltano==4.4.1)"
  "$PY" -m venv .meltano-venv
  .meltano-venv/bin/pip install -q "meltano==4.4.1"
fi

export MELTANO_SEND_ANONYMOUS_USAGE_STATS=false
export AQUANT_TARGET=duckdb
export AQUANT_DB="$WORK/smoke.duckdb"
export AQUANT_QMT_DIR="$WORK/qmt"
export AQUANT_DAILY_SOURCE=sample AQUANT_DAILY_STOCKS=5 AQUANT_DAILY_DATE=2021-04-01 AQUANT_DAILY_SKIP_NOTIFY=1

echo "== meltano install"
"$MELTANO" install > "$WORK/install.log" 2>&1 || { cat "$WORK/install.log"; exit 1; }

echo "== meltano run --full-refresh el-duckdb  (tap-aquant -> target-aquant -> dbt-duckdb:build)"
"$MELTANO" run --full-refresh el-duckdb > "$WORK/el.log" 2>&1 || { tail -60 "$WORK/el.log"; exit 1; }

echo "== meltano run daily  (aquant daily --date $AQUANT_DAILY_DATE)"
"$MELTANO" run daily > "$WORK/daily.log" 2>&1 || { tail -60 "$WORK/daily.log"; exit 1; }

AQ_PY="$ROOT/.meltano/utilities/aquant/venv/bin/python"
check() {
  "$AQ_PY" - "$AQUANT_DB" "$1" <<'PY'
import json, sys, duckdb
con = duckdb.connect(sys.argv[1], read_only=True)
q = lambda sql: con.execute(sql).fetchone()[0]
out = {"daily_quote": q("select count(*) from raw.daily_quote"),
       "max_trade_date": str(q("select max(trade_date) from raw.daily_quote")),
       "raw_loaded_at": str(q("select max(loaded_at) from raw.daily_quote")),
       "factor_technical_max": str(q("select max(trade_date) from factors.factor_technical")),
       "signals": q("select count(*) from signals.signals"),
       "signals_sum": q("select coalesce(sum(hash(signal_id)), 0) from signals.signals"),
       "daily_ok": q("select count(*) from ops.daily_run where run_date = date '2021-04-01' and status = 'ok' "
                     "and step in ('ingest', 'build', 'export')")}
json.dump(out, open(sys.argv[2], "w"))
print(json.dumps(out))
assert out["daily_quote"] > 0, "no rows in raw.daily_quote"
assert out["max_trade_date"] == "2021-04-01", f"raw.daily_quote ends {out['max_trade_date']}, expected 2021-04-01"
assert out["factor_technical_max"] == "2021-04-01", "factor_technical was not built up to 2021-04-01"
assert out["daily_ok"] == 3, f"expected ingest, build, export ok in ops.daily_run, found {out['daily_ok']}"
PY
}
echo "== checks"
check "$WORK/first.json"

echo "== meltano run daily again (same day: nothing to do)"
"$MELTANO" run daily > "$WORK/daily2.log" 2>&1 || { tail -60 "$WORK/daily2.log"; exit 1; }
check "$WORK/second.json"
cmp -s "$WORK/first.json" "$WORK/second.json" || { echo "second run changed the database:"; cat "$WORK/first.json" "$WORK/second.json"; exit 1; }

echo "meltano smoke OK in $(( $(date +%s) - t0 ))s"

#!/bin/bash
# The one-day PostgreSQL build of two versions of the project, side by side on the same data:
#
#   git worktree add /tmp/old <commit>
#   bash bench/pg_day_sidebyside.sh NAME SOURCE.duckdb OUTDIR /tmp/old
#
# NAME: a database after `bench.pg_full --source SOURCE --pg NAME --steps load,full --keep`, the
# held-back day not yet added. It is copied (CREATE DATABASE ... TEMPLATE, so it needs its size
# again on disk), the old checkout's bench adds the day and builds it (its own Python and its own
# dbt project: PYTHONPATH), the copy is put back, and this checkout does the same. Each run's
# bench.pg_full result goes to OUTDIR/day_{before,after}.json with its dbt log; NAME is left in the
# after state (e.g. for bench.compare_pg).
set -euo pipefail
NAME=$1; SRC=$2; OUT=$3; OLD=$4
HERE="$(cd "$(dirname "$0")/.." && pwd)"
PY="$HERE/.venv/bin/python"
P=(psql -h 127.0.0.1 -U postgres -d postgres -v ON_ERROR_STOP=1 -qc)
mkdir -p "$OUT"
run() {  # run DIR PYTHONPATH TAG
  (cd "$1" && PYTHONPATH="$2" "$PY" -m bench.pg_full --source "$SRC" --pg "$NAME" --steps day --keep \
     --exclude evaluation --day-vars '{test_recent_days: 5}' > "$OUT/day_$3.out" 2>&1)
  cp "$1/bench/out/pg_full-$NAME.json" "$OUT/day_$3.json"
  cp "$1/bench/out/logs/${NAME}_incr.log" "$OUT/day_$3_incr.log"
}
"${P[@]}" "drop database if exists ${NAME}_snap"
"${P[@]}" "create database ${NAME}_snap template $NAME"
echo "before: $(date -u +%T)"
run "$OLD" "$OLD:$OLD/src" before
"${P[@]}" "drop database $NAME"
"${P[@]}" "create database $NAME template ${NAME}_snap"
"${P[@]}" "drop database ${NAME}_snap"
echo "after: $(date -u +%T)"
run "$HERE" "$HERE" after
echo "done: $(date -u +%T)"

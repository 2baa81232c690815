#!/usr/bin/env bash
# Parse and compile every model for Trino (dbt-trino) in a venv of its own, with no Trino server:
# what CI can run to keep the project portable. Usage: bash bench/compile_other_adapter.sh
# Prints the install time, then `dbt parse` and `dbt compile` results; exits non-zero on failure.
set -euo pipefail
cd "$(dirname "$0")/.."
VENV=bench/.venv-scale
T0=$(date +%s)
if [ ! -x "$VENV/bin/dbt" ]; then
    python3 -m venv "$VENV"
    "$VENV/bin/pip" install -q "dbt-core~=1.11.0" "dbt-trino~=1.11.0"
fi
echo "venv ready in $(( $(date +%s) - T0 )) s: $("$VENV/bin/dbt" --version | tr '\n' ' ' | sed 's/  */ /g')"
PROFILES=$(mktemp -d)
# A profile that never connects: parse needs none; compile runs with --no-introspect and with
# AQUANT_COMPILE_ONLY=1, under which the incremental macros compile their first-run branch.
cat > "$PROFILES/profiles.yml" <<'YML'
aquant:
  target: trino
  outputs:
    trino:
      type: trino
      method: none
      user: aquant
      host: 127.0.0.1
      port: 8080
      database: iceberg
      schema: aquant
      threads: 2
YML
export DBT_SEND_ANONYMOUS_USAGE_STATS=false
ROOT=$(pwd)
# A copy of the project, plus one macro: is_incremental() asks the warehouse whether the table
# exists; with no server it answers from AQUANT_COMPILE_INCREMENTAL instead, so both branches
# of every incremental model compile.
PROJ=$(mktemp -d)
trap 'rm -rf "$PROFILES" "$PROJ"' EXIT
cp -r dbt_project.yml models macros "$PROJ"/
[ -d seeds ] && cp -r seeds "$PROJ"/
[ -f packages.yml ] && cp packages.yml "$PROJ"/
cat > "$PROJ/macros/_compile_without_server.sql" <<'SQL'
{% macro is_incremental() %}
    {{ return(env_var('AQUANT_COMPILE_INCREMENTAL', '0') == '1') }}
{% endmacro %}
SQL
STATUS=0
for MODE in 0 1; do
    TARGET="$ROOT/bench/out/target-trino-incremental-$MODE"
    echo "== dbt parse + compile for Trino, is_incremental() = $MODE"
    (cd "$PROJ" && AQUANT_COMPILE_INCREMENTAL=$MODE "$ROOT/$VENV/bin/dbt" parse --profiles-dir "$PROFILES" \
        --target-path "$TARGET" --log-path "$TARGET/logs" --quiet) || STATUS=1
    (cd "$PROJ" && AQUANT_COMPILE_INCREMENTAL=$MODE "$ROOT/$VENV/bin/dbt" compile --no-introspect \
        --no-populate-cache --profiles-dir "$PROFILES" --target-path "$TARGET" --log-path "$TARGET/logs" \
        --select "resource_type:model" --quiet) || STATUS=1
    echo "   compiled SQL in $TARGET/compiled/aquant/models ($(find "$TARGET/compiled" -name '*.sql' | wc -l) files)"
done
exit $STATUS

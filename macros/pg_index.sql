{#-
  A post-hook that indexes a model on PostgreSQL only (DuckDB and other engines: nothing).
  Incremental runs filter and delete on these columns (the new days, `max(trade_date)`, the
  delete+insert on the unique key); without an index each is a scan of the whole table.
  Idempotent: an index with the same columns on this table is not created twice.
-#}
{#- `include` (optional): non-key columns stored in the index (a covering index), so that a read of
    only those columns is an index-only scan that does not visit the table's rows. -#}
{% macro pg_index(columns, include=none) -%}
    {%- if target.type == 'postgres' -%}
    {%- set cols = columns | join(", ") ~ (") INCLUDE (" ~ include | join(", ") if include else "") -%}
    do $$
    begin
        if not exists (
            select 1 from pg_indexes
            where schemaname = '{{ this.schema }}' and tablename = '{{ this.identifier }}'
              and indexdef like '%({{ cols }})'
        ) then
            execute 'create index on {{ this }} ({{ cols }})';
        end if;
    end
    $$
    {%- endif -%}
{%- endmacro %}

{#- A post-hook every model gets, run after its transaction commits (dbt_project.yml,
    `transaction: false`): on PostgreSQL, VACUUM (ANALYZE) of a table that has no statistics yet,
    i.e. once after each full build of an incremental model and after each build of a table model
    (a new table each time). A table made by CREATE TABLE AS and then appended to a day at a time
    never reaches autovacuum's thresholds (20 % of the table), so without this PostgreSQL planned
    every one-day read of it blind: the recent-days data tests (`trade_date >= <day>`, one day in
    400) were seq scans of 11.8 M rows, 2.5-6.2 s each at full scale, and index-only scans visited every
    row's page (no visibility map). Statistics from the full build stay good for the new days: for
    a date past the histogram PostgreSQL reads the real maximum from the index. Nothing on other
    engines, for views, or for a table that has statistics. -#}
{% macro pg_analyze_new() -%}
    {%- if target.type == 'postgres' and execute and config.get('materialized') in ('incremental', 'table') -%}
    {%- set found = run_query("select count(*) from pg_stats where schemaname = '" ~ this.schema
                              ~ "' and tablename = '" ~ this.identifier ~ "'").columns[0].values()[0] -%}
    {%- if found == 0 -%}
    vacuum (analyze) {{ this }}
    {%- endif -%}
    {%- endif -%}
{%- endmacro %}

{#-
  The post-hook every model gets (dbt_project.yml): on PostgreSQL, an incremental model is indexed
  on its unique key and, when trade_date is part of a longer key, on trade_date alone (the
  new-days filter). Nothing for tables, views or other engines.
-#}
{% macro pg_incremental_indexes() -%}
    {%- if target.type == 'postgres' and config.get('materialized') == 'incremental' -%}
    {%- set key = config.get('unique_key') -%}
    {%- set key = [key] if key is string else key -%}
    {{ pg_index(key) }}
    {%- if key | length > 1 and 'trade_date' in key %};
    {{ pg_index(['trade_date']) }}
    {%- endif -%}
    {%- endif -%}
{%- endmacro %}

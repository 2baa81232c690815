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

{#- A post-hook to run after the model's transaction commits (`after_commit`): on PostgreSQL,
    VACUUM (ANALYZE) of the model's table. A table made by CREATE TABLE AS, then appended to by
    a day at a time, is never vacuumed by autovacuum (its insert threshold is 20 % of the table):
    without the visibility map an index-only scan still visits every row's page, and without
    statistics the planner guesses. A vacuum of the new day's pages only is fast (the rest is
    marked all-visible). Nothing on other engines. -#}
{% macro pg_vacuum() -%}
    {%- if target.type == 'postgres' -%}
    vacuum (analyze) {{ this }}
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

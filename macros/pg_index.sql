{#-
  A post-hook that indexes a model on PostgreSQL only (DuckDB and other engines: nothing).
  Incremental runs filter and delete on these columns (the new days, `max(trade_date)`, the
  delete+insert on the unique key); without an index each is a scan of the whole table.
  Idempotent: an index with the same columns on this table is not created twice.
-#}
{% macro pg_index(columns) -%}
    {%- if target.type == 'postgres' -%}
    do $$
    begin
        if not exists (
            select 1 from pg_indexes
            where schemaname = '{{ this.schema }}' and tablename = '{{ this.identifier }}'
              and indexdef like '%({{ columns | join(", ") }})'
        ) then
            execute 'create index on {{ this }} ({{ columns | join(", ") }})';
        end if;
    end
    $$
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

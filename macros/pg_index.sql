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

{#-
  What the Spark target (dbt-spark, plain Parquet tables) needs beyond the SQL the models share.
  DuckDB and PostgreSQL never reach any of this: each piece checks target.type or is a spark__
  implementation that dispatch picks only on Spark.
-#}

{#-
  Incremental models rebuild whole on Spark. dbt-spark on Parquet offers `append` and
  `insert_overwrite` (of whole partitions) only: no delete+insert or merge on a key (those need
  Delta/Iceberg, whose jars come from Maven at runtime and are not installed here), and the models'
  pre_hooks `delete from {{ this }}` are not possible on Parquet. So an incremental model is
  materialised as a table and is_incremental() is false, which gives the full-refresh result, the
  one the incremental runs of the other targets are tested to equal (docs/scaling.md).
-#}
{% materialization incremental, adapter='spark', supported_languages=['sql'] %}
    {{ return(materialization_table_spark()) }}
{% endmaterialization %}

{% macro is_incremental() %}
    {#- dbt-core's is_incremental (global_project/macros/materializations/models/incremental),
        false on Spark (above). -#}
    {% if not execute or target.type == 'spark' %}
        {{ return(False) }}
    {% else %}
        {% set relation = adapter.get_relation(this.database, this.schema, this.table) %}
        {{ return(relation is not none
                  and relation.type == 'table'
                  and model.config.materialized == 'incremental'
                  and not should_full_refresh()) }}
    {% endif %}
{% endmacro %}

{#- Seed column types: Spark has no unsized varchar; the seeds' `varchar` is its `string`. -#}
{% macro spark_seed_type(type) -%}
    {{ return('string' if (type | string | lower | trim) in ['varchar', 'text'] else type) }}
{%- endmacro %}

{#- dbt-spark 1.11's spark__create_csv_table (macros/materializations/seed.sql), types mapped. -#}
{% macro spark__create_csv_table(model, agate_table) %}
  {%- set column_override = model['config'].get('column_types', {}) -%}
  {%- set quote_seed_column = model['config'].get('quote_columns', None) -%}

  {% set sql %}
    create table {{ this.render() }} (
        {%- for col_name in agate_table.column_names -%}
            {%- set inferred_type = adapter.convert_type(agate_table, loop.index0) -%}
            {%- set type = spark_seed_type(column_override.get(col_name, inferred_type)) -%}
            {%- set column_name = (col_name | string) -%}
            {{ adapter.quote_seed_column(column_name, quote_seed_column) }} {{ type }} {%- if not loop.last -%}, {%- endif -%}
        {%- endfor -%}
    )
    {{ file_format_clause() }}
    {{ partition_cols(label="partitioned by") }}
    {{ clustered_cols(label="clustered by") }}
    {{ location_clause() }}
    {{ comment_clause() }}
  {% endset %}

  {% call statement('_') -%}
    {{ sql }}
  {%- endcall %}

  {{ return(sql) }}
{% endmacro %}

{#- dbt-spark 1.11's spark__load_csv_rows, types mapped. -#}
{% macro spark__load_csv_rows(model, agate_table) %}
  {% set batch_size = get_batch_size() %}
  {% set column_override = model['config'].get('column_types', {}) %}
  {% set statements = [] %}
  {% for chunk in agate_table.rows | batch(batch_size) %}
      {% set bindings = [] %}
      {% for row in chunk %}
          {% do bindings.extend(row) %}
      {% endfor %}
      {% set sql %}
          insert into {{ this.render() }} values
          {% for row in chunk -%}
              ({%- for col_name in agate_table.column_names -%}
                  {%- set inferred_type = adapter.convert_type(agate_table, loop.index0) -%}
                  {%- set type = spark_seed_type(column_override.get(col_name, inferred_type)) -%}
                    cast({{ get_binding_char() }} as {{type}})
                  {%- if not loop.last%},{%- endif %}
              {%- endfor -%})
              {%- if not loop.last%},{%- endif %}
          {%- endfor %}
      {% endset %}
      {% do adapter.add_query(sql, bindings=bindings, abridge_sql_log=True) %}
      {% if loop.index0 == 0 %}
          {% do statements.append(sql) %}
      {% endif %}
  {% endfor %}
  {{ return(statements[0]) }}
{% endmacro %}

{#-
  Model contracts (the public models' yml `data_type`s are written for DuckDB/PostgreSQL:
  varchar, double precision, integer ...). dbt compares them with the types of the model's query;
  Spark names the same types string, double, int. Both sides go through format_column, so on Spark
  each name is mapped to Spark's spelling before the comparison; the check stays exact otherwise
  (a varchar column that comes out double still fails). One loosening: integer widths compare
  alike (int = bigint), because Spark's row_number/rank/count-based columns are int where
  DuckDB/PostgreSQL give bigint (portfolio_targets' industry_rank, stock_rank); the values are the
  same. On Parquet the table is created as select, so no DDL uses the yml names.
-#}
{% macro spark_contract_type(data_type) -%}
    {%- set t = (data_type | string | lower | trim) -%}
    {%- set aliases = {'varchar': 'string', 'text': 'string', 'character varying': 'string',
                       'double precision': 'double', 'float8': 'double', 'integer': 'int', 'int4': 'int',
                       'int8': 'bigint', 'bool': 'boolean', 'timestamp without time zone': 'timestamp'} -%}
    {{ return(aliases.get(t, t | replace(' ', ''))) }}
{%- endmacro %}

{#- For the comparison only: int and bigint alike (above). -#}
{% macro spark_contract_compare_type(data_type) -%}
    {%- set t = spark_contract_type(data_type) -%}
    {{ return('bigint' if t in ['int', 'integer', 'bigint', 'smallint', 'tinyint'] else t) }}
{%- endmacro %}

{% macro spark__format_column(column) -%}
    {%- set data_type = spark_contract_compare_type(column.dtype) -%}
    {{ return({'name': column.name, 'data_type': data_type, 'formatted': column.column.lower() ~ " " ~ data_type}) }}
{%- endmacro %}

{#- dbt-core's default__get_empty_schema_sql (adapters/columns.sql) with each yml type in Spark's
    spelling: the contract check casts null to every declared type to learn its schema. -#}
{% macro spark__get_empty_schema_sql(columns) %}
    {%- set col_err = [] -%}
    select
    {% for i in columns %}
      {%- set col = columns[i] -%}
      {%- if col['data_type'] is not defined -%}
        {%- do col_err.append(col['name']) -%}
      {%- endif -%}
      {% set col_name = adapter.quote(col['name']) if col.get('quote') else col['name'] %}
      {{ cast('null', spark_contract_type(col['data_type'])) }} as {{ col_name }}{{ ", " if not loop.last }}
    {%- endfor -%}
    {%- if (col_err | length) > 0 -%}
      {{ exceptions.column_type_missing(column_names=col_err) }}
    {%- endif -%}
{% endmacro %}

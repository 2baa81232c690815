{#-
  Data tests on recent days only (a daily run's option; CI and a plain `dbt build` test every row).

  With var `test_recent_days` = N (e.g. `aquant build --vars '{test_recent_days: 5}'` or
  `aquant daily --dbt-vars '{"test_recent_days": 5}'`), every generic data test whose model has a
  `trade_date` column checks only that model's rows of its latest N trading days (the latest N
  sessions of stg_trade_calendar up to the model's latest trade_date). A daily incremental build only writes those days, so
  they are what it can have broken; a full `dbt build` (the default, var unset) tests everything.
  Models without trade_date are tested in full either way. A test's own `where` config still applies.
  The evaluation models (schema evaluation) rewrite the latest max(eval_horizons) sessions on each
  build (a forward return of day t appears once t + h is loaded), so theirs check that many more days.
  `aquant daily` sets it by default (dbt var daily_test_recent_days; docs/daily.md lists the tests
  that still read every row).

  Overrides dbt's default__get_where_subquery (dbt wraps the tested model of every generic test in it).
-#}
{% macro default__get_where_subquery(relation) -%}
    {%- set where = config.get('where', '') -%}
    {%- set days = var('test_recent_days', none) -%}
    {%- set conditions = [] -%}
    {%- if where -%}
        {%- do conditions.append('(' ~ where ~ ')') -%}
    {%- endif -%}
    {%- if days and execute and relation is not string and relation.schema == 'evaluation' -%}
        {%- set days = (days | int) + (eval_max_horizon() | int) -%}
    {%- endif -%}
    {%- if days and execute and relation is not string -%}
        {%- set columns = adapter.get_columns_in_relation(relation) | map(attribute='name') | map('lower') | list -%}
        {%- if 'trade_date' in columns -%}
            {#- the first of the latest N sessions (stg_trade_calendar) up to the model's latest day,
                looked up once and written into the test as a constant, which the engine can push
                into the table scan (a subquery in the test would be re-planned around) -#}
            {%- set calendar = adapter.get_relation(relation.database, 'staging', 'stg_trade_calendar') -%}
            {%- set cutoff_sql -%}
                select cast(min(c.trade_date) as {{ type_varchar() }}) as cutoff
                from (
                    {%- if calendar is not none %}
                    select s.trade_date
                    from {{ calendar }} as s
                    where s.trade_date <= (select max(r.trade_date) from {{ relation }} as r)
                    {%- else %}
                    {#- a first build, whose calendar is not there yet: the model's own latest days #}
                    select distinct s.trade_date
                    from {{ relation }} as s
                    {%- endif %}
                    order by s.trade_date desc
                    limit {{ days | int }}
                ) as c
            {%- endset -%}
            {%- set cutoff = run_query(cutoff_sql).columns[0].values()[0] -%}
            {%- if cutoff is none -%}
                {%- do conditions.append('false') -%}
            {%- else -%}
                {%- do conditions.append("trade_date >= cast('" ~ cutoff ~ "' as date)") -%}
            {%- endif -%}
        {%- endif -%}
    {%- endif -%}
    {%- if conditions -%}
        {%- set filtered -%}
            (select * from {{ relation }} where {{ conditions | join(' and ') }}) dbt_subquery
        {%- endset -%}
        {%- do return(filtered) -%}
    {%- else -%}
        {%- do return(relation) -%}
    {%- endif -%}
{%- endmacro %}

{#-
  For incremental factor models: the first trading day to re-read so that every bar window of the
  new days is complete: 2 x max(`bars`, var('technical_lookback')) trading days before the latest
  day already in {{ this }}, so a stock back from a suspension of up to
  about that many days still has its bars. A longer suspension, or a backfill of old days, needs
  `dbt build --full-refresh`.
  Needs `-- depends_on: {{ ref('stg_trade_calendar') }}` in the calling model.
-#}
{% macro incremental_lookback_start(bars) -%}
    (
        select min(c.trade_date)
        from {{ ref('stg_trade_calendar') }} as c
        where c.day_seq >= (
            select max(c2.day_seq) - {{ [bars, var('technical_lookback')] | max * 2 }}
            from {{ ref('stg_trade_calendar') }} as c2
            where c2.trade_date <= (select max(t.trade_date) from {{ this }} as t)
        )
    )
{%- endmacro %}

{#- The latest trade_date already built: an incremental run appends the days after it. -#}
{% macro incremental_last_day() -%}
    coalesce((select max(t.trade_date) from {{ this }} as t), cast('1900-01-01' as date))
{%- endmacro %}

{#-
  Incremental staging models (stg_daily_quote_base, stg_funds_flow, stg_chip_distribution,
  stg_industry_flow) keep each raw row's `loaded_at`; the newest one in {{ this }} marks what was
  already staged. The loader stamps every upserted row with the time of its load, so the raw rows
  with a later `loaded_at` are exactly the rows loaded (new or replaced) since the last build.
-#}
{#- `literal` (staging_key_touched): on PostgreSQL the value is read when the model runs and written
    into the SQL as a literal. As a subquery the planner cannot see it and guesses that a third of
    the raw table is new, so it scanned every raw row (and every staged one, for the delete) each
    day; with the literal and the loader's index on raw.<table>(loaded_at)
    (aquant.db.Database.ensure_table) it reads the new rows through the index and probes the
    staged table's (code, trade_date) index. daily_quote_checked takes it too, now that no join of
    two CTEs is left there for the exact estimate of a few hundred new rows to turn into nested
    loops (it did: 19 s instead of 1.5 s at 500 stocks x 3 years). The literal is read before the
    model's pre-hooks run, so it is the previous build's mark even where a pre-hook deletes the
    newest rows (quarantine's). -#}
{% macro incremental_loaded_after(literal=false) -%}
    {%- if literal and target.type == 'postgres' and execute and is_incremental() -%}
    {%- set latest = run_query('select max(loaded_at) from ' ~ this).columns[0].values()[0] -%}
    cast('{{ latest if latest is not none else "1900-01-01" }}' as timestamp)
    {%- else -%}
    coalesce((select max(t.loaded_at) from {{ this }} as t), cast('1900-01-01' as timestamp))
    {%- endif -%}
{%- endmacro %}

{#- SQL predicate on the raw relation aliased `alias`: its natural key (`keys`) was touched by a raw
    row loaded since the last build (every copy of such a key is re-ranked, old ones included). -#}
{% macro staging_key_touched(relation, keys, alias) -%}
    exists (
        select 1 from {{ relation }} as n
        where n.loaded_at > {{ incremental_loaded_after(literal=true) }}
        {%- for k in keys %}
          and n.{{ k }} = {{ alias }}.{{ k }}
        {%- endfor %}
    )
{%- endmacro %}

{#- pre_hook of an incremental staging model: drop the keys touched since the last build, so a key
    whose newest raw copy is now unusable disappears, as it would in a full refresh (the model's
    select then re-inserts the touched keys that are usable). Nothing on a full build. -#}
{% macro staging_delete_touched(relation, keys) -%}
    {%- if is_incremental() -%}
    delete from {{ this }} as t where {{ staging_key_touched(relation, keys, 't') }}
    {%- else -%}
    select 1
    {%- endif -%}
{%- endmacro %}

{#- `and <alias>.trade_date > <latest built day>` on an incremental run, nothing on a full build: the
    new-days filter repeated on the other side of an equijoin on trade_date (in a left join's `on`,
    where it changes no result: a matching row has the same date). PostgreSQL does not carry a range
    filter across an equijoin, so without it a one-day build read the joined table whole (every
    factor row of history for one day's scores; bench/RESULTS.md). -#}
{% macro new_days_only(alias) -%}
    {%- if is_incremental() %}
        and {{ alias }}.trade_date > {{ incremental_last_day() }}
    {%- endif -%}
{%- endmacro %}

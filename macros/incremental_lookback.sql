{#-
  For incremental factor models: the first trading day to re-read so that every bar window of the
  new days is complete: 2 x max(`bars`, var('technical_lookback')) trading days before the latest
  day already in {{ this }}, as factor_technical does, so a stock back from a suspension of up to
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

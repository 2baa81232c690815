{#- Helpers of the stable layer (models/factors/fundamentals_pit*, models/signals/stable_*). -#}

{#- A number as text with fixed decimals; 'n/a' for null. fmt_num rounds the same digits on every engine. -#}
{% macro stable_fmt(expr, decimals=2) -%}
    {{ fmt_num(expr, decimals) }}
{%- endmacro %}

{#- A fraction as a percentage text ("-35.2 %"). -#}
{% macro stable_fmt_pct(expr, decimals=1) -%}
    {{ dbt.concat([stable_fmt('100.0 * (' ~ expr ~ ')', decimals), "' %'"]) }}
{%- endmacro %}

{#- A date as ISO text; 'n/a' for null. -#}
{% macro stable_fmt_date(expr) -%}
    coalesce(cast({{ expr }} as {{ dbt.type_string() }}), 'n/a')
{%- endmacro %}

{#- True when var stable_alert_all_stocks asks for alerts on every stock, not just the watch list. -#}
{% macro stable_all_stocks() -%}
    {{ return((var('stable_alert_all_stocks', false) | string | lower) in ['true', '1', 'yes']) }}
{%- endmacro %}

{#- SQL predicate: `code_col` is a stock the stable layer watches (watch_list layer stable/both),
    or always true when stable_alert_all_stocks is set. -#}
{% macro stable_watched(code_col) -%}
    {#- ref() always, so the seed stays upstream whatever the var says at parse time -#}
    {%- set watch_list = ref('watch_list') -%}
    {%- if stable_all_stocks() -%}
    1 = 1
    {%- else -%}
    {{ code_col }} in (select w.code from {{ watch_list }} as w where w.layer in ('stable', 'both'))
    {%- endif -%}
{%- endmacro %}

{#-
  The `quantile` (0..1) of each of `value_cols` over the previous `window` rows of its partition
  (the current row excluded), as `<col>_hi`, plus how many non-null values that frame held
  (`<col>_hi_n`). Returns a full select (partition_col, order_col, ...) over `relation`;
  `order_col` must be a gap-free row number. DuckDB has framed quantile_cont; PostgreSQL has no
  ordered-set window aggregates, so it gets an exact band self-join (same result, slower: about
  2 s for 12 stocks x 1,000 days, so O(days x window) per stock for every stock is costly).
-#}
{% macro stable_rolling_quantile(relation, partition_col, order_col, value_cols, quantile, window) %}
    {{ return(adapter.dispatch('stable_rolling_quantile')(relation, partition_col, order_col, value_cols, quantile, window)) }}
{% endmacro %}

{% macro duckdb__stable_rolling_quantile(relation, partition_col, order_col, value_cols, quantile, window) %}
    select
        {{ partition_col }},
        {{ order_col }}
        {%- for v in value_cols %},
        quantile_cont({{ v }}, {{ quantile }}) over w as {{ v }}_hi,
        count({{ v }}) over w as {{ v }}_hi_n
        {%- endfor %}
    from {{ relation }}
    window w as (
        partition by {{ partition_col }} order by {{ order_col }}
        rows between {{ window }} preceding and 1 preceding
    )
{% endmacro %}

{% macro default__stable_rolling_quantile(relation, partition_col, order_col, value_cols, quantile, window) %}
    select
        a.{{ partition_col }},
        a.{{ order_col }}
        {%- for v in value_cols %},
        percentile_cont({{ quantile }}) within group (order by b.{{ v }}) as {{ v }}_hi,
        count(b.{{ v }}) as {{ v }}_hi_n
        {%- endfor %}
    from {{ relation }} as a
    left join {{ relation }} as b
        on b.{{ partition_col }} = a.{{ partition_col }}
        and b.{{ order_col }} between a.{{ order_col }} - {{ window }} and a.{{ order_col }} - 1
    group by a.{{ partition_col }}, a.{{ order_col }}
{% endmacro %}

{#-
  The shape of the three "two periods in a row" alerts (payout_low, earnings_drop, roe_floor): one
  row per alert episode of a watched stock, raised on the first trading day (valid_from of
  int_fundamentals__pit_events) on which `metric` of the latest announced period and `prev_<metric>`
  of the period right before it are both below `threshold`, as known that day, after a day they
  were not. `threshold` is SQL (a number or '-0.3'); `period`, `prev_period`, `ann_date` name the
  columns the period and its announcement come from; `label` starts the reason text.
-#}
{% macro stable_two_periods_in_a_row(rule, metric, threshold, priority, label,
                                     period='report_period', prev_period='prev_report_period',
                                     ann_date='ann_date') %}
with states as (
    select *
    from {{ ref('int_fundamentals__pit_events') }}
    where {{ stable_watched('code') }}
),

flagged as (
    select
        *,
        coalesce(
            {{ metric }} < {{ threshold }}
            and prev_{{ metric }} < {{ threshold }},
            false
        ) as tripped
    from states
),

episodes as (
    select
        *,
        lag(tripped) over (partition by code order by valid_from) as was_tripped
    from flagged
)

select
    code,
    valid_from as trade_date,
    '{{ rule }}' as rule,
    {{ priority }} as priority,
    {{ metric }} as metric_value,
    {{ threshold }} as threshold,
    {{ period }} as report_period,
    {{ prev_period }} as prev_report_period,
    {{ ann_date }} as ann_date,
    {{ dbt.concat([
        "'" ~ label ~ " '", stable_fmt_pct(metric),
        "' (period '", stable_fmt_date(period), "', announced '", stable_fmt_date(ann_date),
        "') and '", stable_fmt_pct('prev_' ~ metric),
        "' (period '", stable_fmt_date(prev_period),
        "') both below '", stable_fmt_pct(threshold | string)
    ]) }} as reason
from episodes
where tripped
  and not coalesce(was_tripped, false)
{% endmacro %}

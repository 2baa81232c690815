-- depends_on: {{ ref('stg_daily_quote') }}  (reads stg_daily_quote_base, the table under that view: no *_qfq needed; the ref keeps the view in every +model selection)
-- One row per stable-layer alert: a rule, a watched stock and the first trading day of an episode
-- in which the rule's condition holds. The column list is the `signals` contract plus detail
-- columns; every null is typed so the union with the offense layer types cleanly on any engine.
{% set rules = ['int_stable_alerts__payout_low', 'int_stable_alerts__valuation_spike',
                'int_stable_alerts__earnings_drop', 'int_stable_alerts__roe_floor'] %}

with alerts as (
    {%- for r in rules %}
    select
        code, trade_date, rule, priority, metric_value, threshold,
        report_period, prev_report_period, ann_date, reason
    from {{ ref(r) }}
    {%- if not loop.last %}
    union all
    {%- endif %}
    {%- endfor %}
),

final as (
    select
        cast({{ dbt.hash(dbt.concat([
            "'stable'", "'|'", "a.rule", "'|'", "a.code", "'|'",
            "cast(a.trade_date as " ~ dbt.type_string() ~ ")"])) }} as {{ dbt.type_string() }}) as signal_id,
        cast(a.trade_date as date) as trade_date,
        cast(a.code as {{ dbt.type_string() }}) as code,
        cast('stable' as {{ dbt.type_string() }}) as layer,
        cast('alert' as {{ dbt.type_string() }}) as kind,
        cast(a.rule as {{ dbt.type_string() }}) as rule,
        cast(null as {{ type_double() }}) as composite_score,
        cast(null as {{ type_double() }}) as take_profit,
        cast(null as {{ type_double() }}) as stop_loss,
        cast(a.priority as integer) as priority,
        cast(a.reason as {{ dbt.type_string() }}) as reason,
        cast(q.close as {{ type_double() }}) as close,
        cast(s.industry_l1 as {{ dbt.type_string() }}) as industry_l1,
        cast(a.metric_value as {{ type_double() }}) as metric_value,
        cast(a.threshold as {{ type_double() }}) as threshold,
        cast(a.report_period as date) as report_period,
        cast(a.prev_report_period as date) as prev_report_period,
        cast(a.ann_date as date) as ann_date
    from alerts as a
    left join {{ ref('stg_daily_quote_base') }} as q
        on q.code = a.code
        and q.trade_date = a.trade_date
    left join {{ ref('stg_stock_state_periods') }} as s
        on s.code = a.code
        and a.trade_date between s.valid_from and s.valid_to
)

select * from final

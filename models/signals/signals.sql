-- One row per signal, both layers: offense buys and sells (int_offense_signals__chained) and stable-layer
-- alerts (stable_alerts, never traded). QMT, the app and reconciliation read this table.
with offense as (
    select
        signal_id,
        trade_date,
        code,
        layer,
        kind,
        rule,
        composite_score,
        industry_score,
        valuation_score,
        technical_score,
        chip_score,
        close,
        take_profit,
        stop_loss,
        priority,
        reason,
        industry_l1,
        entry_signal_id,
        cast(null as {{ type_double() }}) as metric_value,
        cast(null as {{ type_double() }}) as threshold,
        cast(null as date) as report_period,
        cast(null as date) as prev_report_period,
        cast(null as date) as ann_date
    from {{ ref('int_offense_signals__chained') }}
),

stable as (
    select
        signal_id,
        trade_date,
        code,
        layer,
        kind,
        rule,
        composite_score,
        cast(null as {{ type_double() }}) as industry_score,
        cast(null as {{ type_double() }}) as valuation_score,
        cast(null as {{ type_double() }}) as technical_score,
        cast(null as {{ type_double() }}) as chip_score,
        close,
        take_profit,
        stop_loss,
        priority,
        reason,
        industry_l1,
        cast(null as {{ dbt.type_string() }}) as entry_signal_id,
        metric_value,
        threshold,
        report_period,
        prev_report_period,
        ann_date
    from {{ ref('stable_alerts') }}
)

select * from offense
union all
select * from stable

-- depends_on: {{ ref('stg_daily_quote') }}  (reads stg_daily_quote_base, the table under that view: no *_qfq needed; the ref keeps the view in every +model selection)
{{
    config(
        materialized='incremental',
        unique_key=['industry_l1', 'trade_date'],
        incremental_strategy='delete+insert',
        on_schema_change='fail',
        post_hook=["{{ pg_index(['industry_l1', 'trade_date']) }}", "{{ pg_index(['trade_date']) }}"]
    )
}}
-- depends_on: {{ ref('stg_trade_calendar') }}
-- One row per Shenwan level-1 industry and trading day: fund-flow measures, rank and score (0-10).
--
--   net_inflow_n     main-force net inflow over the last `flow_window` days (CNY)
--   inflow_ratio     net_inflow_n / turnover over the same days (comparable across industries)
--   inflow_change    环比: (net_inflow_n - previous window) / |previous window|
--   north_ratio      northbound holding change over the window x close / industry float cap
--   margin_change    industry margin balance now / `flow_window` days ago - 1
--   score            10 x (0.5 r(inflow_ratio) + 0.2 r(inflow_change) + 0.15 r(north_ratio)
--                    + 0.15 r(margin_change)), r = percent rank among industries that day
--                    (0.5 when missing or when only one industry has a value)
{%- set n = var('flow_window') %}

with industry_days as (
    select
        industry_l1,
        trade_date,
        net_inflow,
        amount,
        sum(net_inflow) over w_cur as net_inflow_n,
        sum(amount) over w_cur as amount_n,
        count(*) over w_cur as days_n,
        sum(net_inflow) over (
            partition by industry_l1 order by trade_date
            rows between {{ 2 * n - 1 }} preceding and {{ n }} preceding
        ) as net_inflow_prev_n
    from {{ ref('stg_industry_flow') }}
    {%- if is_incremental() %}
    -- incremental: re-read 2 x flow_window days for the windows, keep only the new days (see scored)
    where trade_date >= {{ incremental_lookback_start(2 * n) }}
    {%- endif %}
    window w_cur as (
        partition by industry_l1 order by trade_date
        rows between {{ n - 1 }} preceding and current row
    )
),

stock_flows as (
    select
        f.code,
        f.trade_date,
        i.industry_l1,
        q.close,
        q.circ_mv,
        f.margin_balance,
        lag(f.margin_balance, {{ n }}) over w as margin_balance_prev,
        (f.north_hold_shares - lag(f.north_hold_shares, {{ n }}) over w) * q.close as north_value_change
    from {{ ref('stg_funds_flow') }} as f
    inner join {{ ref('stg_daily_quote_base') }} as q on f.code = q.code and f.trade_date = q.trade_date
    inner join {{ ref('stg_stock_info') }} as i on f.code = i.code
    {%- if is_incremental() %}
    where f.trade_date >= {{ incremental_lookback_start(2 * n) }}
    {%- endif %}
    window w as (partition by f.code order by f.trade_date)
),

industry_stock_agg as (
    select
        industry_l1,
        trade_date,
        -- Sums over a parallel GROUP BY are taken in exact cents (exact_sum), so the ratios and the
        -- ranks built on them are the same on every run.
        {{ exact_sum('north_value_change') }} / nullif({{ exact_sum('circ_mv') }}, 0) as north_ratio,
        {{ exact_sum('case when margin_balance_prev > 0 then margin_balance end') }}
            / nullif({{ exact_sum('case when margin_balance_prev > 0 then margin_balance_prev end') }}, 0) - 1
            as margin_change
    from stock_flows
    group by industry_l1, trade_date
),

measures as (
    select
        d.industry_l1,
        d.trade_date,
        d.net_inflow,
        d.amount,
        d.net_inflow_n,
        d.net_inflow_prev_n,
        d.amount_n,
        case when d.days_n = {{ n }} and d.amount_n > 0 then d.net_inflow_n / d.amount_n end as inflow_ratio,
        case
            when d.net_inflow_prev_n <> 0
                then (d.net_inflow_n - d.net_inflow_prev_n) / abs(d.net_inflow_prev_n)
        end as inflow_change,
        s.north_ratio,
        s.margin_change
    from industry_days as d
    left join industry_stock_agg as s
        on d.industry_l1 = s.industry_l1
        and d.trade_date = s.trade_date
),

ranked as (
    select
        *,
        {{ cross_rank('inflow_ratio', 'trade_date') }} as r_inflow_ratio,
        {{ cross_rank('inflow_change', 'trade_date') }} as r_inflow_change,
        {{ cross_rank('north_ratio', 'trade_date') }} as r_north_ratio,
        {{ cross_rank('margin_change', 'trade_date') }} as r_margin_change
    from measures
),

scored as (
    select
        *,
        10 * (0.5 * r_inflow_ratio + 0.2 * r_inflow_change + 0.15 * r_north_ratio + 0.15 * r_margin_change)
            as industry_score
    from ranked
    {%- if is_incremental() %}
    where trade_date > {{ incremental_last_day() }}
    {%- endif %}
)

select
    *,
    rank() over (partition by trade_date order by industry_score desc, industry_l1) as industry_rank,
    count(*) over (partition by trade_date) as industries_that_day
from scored

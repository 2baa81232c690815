-- depends_on: {{ ref('stg_daily_quote') }}  (reads stg_daily_quote_base, the table under that view: no *_qfq needed; the ref keeps the view in every +model selection)
{{
    config(
        materialized='incremental',
        unique_key=['industry_l1', 'trade_date']
    )
}}
-- depends_on: {{ ref('stg_trade_calendar') }}
-- One row per Shenwan level-1 industry and trading day: fund-flow measures, rank and score (0-10).
--
-- Taxonomy: the industry of a stock on a day is its point-in-time Shenwan 2021 level-1 industry
-- (stg_stock_state_periods). The industry flow is the exact sum (in cents) of its members' stock-level
-- main-force net inflow (stg_funds_flow.main_net_inflow) and turnover (amount of the members with a
-- flow value that day), so the flows, the medians, the rotation and the caps share one taxonomy.
-- raw.industry_flow (Eastmoney's own boards) is NOT read here: see docs/sources.md.
--
-- Availability: margin and northbound values for day D are published the next morning; the value
-- used on D is the one `avail_lag_margin_north` sessions earlier (the stock's earlier funds_flow row).
--
--   net_inflow_n     main-force net inflow over the last `flow_window` days (CNY)
--   inflow_ratio     net_inflow_n / turnover over the same days (comparable across industries)
--   inflow_change    环比: (net_inflow_n - previous window) / |previous window|
--   north_ratio      northbound holding change over the window x close / industry float cap
--   margin_change    industry margin balance now / `flow_window` days ago - 1
--   score            10 x (w1 r(inflow_ratio) + w2 r(inflow_change) + w3 r(north_ratio)
--                    + w4 r(margin_change)), vars industry_weight_inflow_ratio / _inflow_change /
--                    _north / _margin; r = percent rank among industries that day
--                    (0.5 when missing or when only one industry has a value)
{%- set n = var('flow_window') %}
{%- set lag = var('avail_lag_margin_north') %}

with stock_flows as (
    -- one window pass: the value usable on a day is `lag` rows back (published the next morning),
    -- the one `flow_window` usable days earlier is `flow_window + lag` rows back
    select
        f.code,
        f.trade_date,
        st.industry_l1,
        q.close,
        q.circ_mv,
        q.amount,
        f.main_net_inflow,
        {%- if lag > 0 %}
        lag(f.margin_balance, {{ lag }}) over w as margin_balance,
        {%- else %}
        f.margin_balance,
        {%- endif %}
        lag(f.margin_balance, {{ n + lag }}) over w as margin_balance_prev,
        {%- if lag > 0 %}
        (lag(f.north_hold_shares, {{ lag }}) over w - lag(f.north_hold_shares, {{ n + lag }}) over w) * q.close
        {%- else %}
        (f.north_hold_shares - lag(f.north_hold_shares, {{ n }}) over w) * q.close
        {%- endif %}
            as north_value_change
    from {{ ref('stg_funds_flow') }} as f
    inner join {{ ref('stg_daily_quote_base') }} as q on f.code = q.code and f.trade_date = q.trade_date
    inner join {{ ref('stg_stock_state_periods') }} as st
        on f.code = st.code and f.trade_date between st.valid_from and st.valid_to
    {%- if is_incremental() %}
    where f.trade_date >= {{ incremental_lookback_start(2 * n + lag) }}
      -- the same bound on the quotes (an inner join on the date: same rows): PostgreSQL does not
      -- carry it across the equijoin and read all 11.8 M quotes through the index (62 s at full scale)
      and q.trade_date >= {{ incremental_lookback_start(2 * n + lag) }}
    {%- endif %}
    window w as (partition by f.code order by f.trade_date)
),

industry_flows as (
    select
        industry_l1,
        trade_date,
        {{ exact_sum('main_net_inflow') }} as net_inflow,
        {{ exact_sum('case when main_net_inflow is not null then amount end') }} as amount
    from stock_flows
    group by industry_l1, trade_date
    having count(main_net_inflow) > 0
),

industry_days as (
    select
        industry_l1,
        trade_date,
        net_inflow,
        amount,
        -- window sums in integer cents too: exact, whatever order the engine adds them in
        cast(sum(net_inflow_cents) over w_cur as {{ type_double() }}) / 100 as net_inflow_n,
        cast(sum(amount_cents) over w_cur as {{ type_double() }}) / 100 as amount_n,
        count(*) over w_cur as days_n,
        cast(sum(net_inflow_cents) over (
            partition by industry_l1 order by trade_date
            rows between {{ 2 * n - 1 }} preceding and {{ n }} preceding
        ) as {{ type_double() }}) / 100 as net_inflow_prev_n
    from (
        select
            *,
            cast(round(net_inflow * 100) as bigint) as net_inflow_cents,
            cast(round(amount * 100) as bigint) as amount_cents
        from industry_flows
    ) as f
    window w_cur as (
        partition by industry_l1 order by trade_date
        rows between {{ n - 1 }} preceding and current row
    )
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
        10 * (
            {{ var('industry_weight_inflow_ratio') }} * r_inflow_ratio
            + {{ var('industry_weight_inflow_change') }} * r_inflow_change
            + {{ var('industry_weight_north') }} * r_north_ratio
            + {{ var('industry_weight_margin') }} * r_margin_change
        )
            as industry_score
    from ranked
    {%- if is_incremental() %}
    where trade_date > {{ incremental_last_day() }}
    {%- endif %}
)

select
    *,
    rank() over (partition by trade_date order by industry_score desc, industry_l1 asc) as industry_rank,
    count(*) over (partition by trade_date) as industries_that_day
from scored

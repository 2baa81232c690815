-- depends_on: {{ ref('stg_daily_quote') }}  (reads stg_daily_quote_base, the table under that view: no *_qfq needed; the ref keeps the view in every +model selection)
{{ config(materialized='incremental') }}
-- depends_on: {{ ref('stg_trade_calendar') }}
-- One row per stock and trading day: chip distribution and main-force control (筹码与主力控盘),
-- score 0-10.
--
--   profit_ratio        share of chips below the close (from chip_distribution)
--   concentration_90    (cost_90_high - cost_90_low) / (cost_90_high + cost_90_low); low = concentrated
--   price_vs_cost       close / avg_cost - 1
--   inflow_persistence  share of the last `chip_inflow_window` bars with main-force net inflow > 0
--   inflow_ratio        main-force net inflow / turnover over the same bars
--   control_degree      主力控盘度 as defined here: 0.5 x chip concentration + 0.5 x inflow persistence,
--                       chip concentration = 1 - min(concentration_90 / `chip_concentration_ref`, 1)
--   chip_score          10 x (w_profit x profit_ratio + w_conc x chip concentration
--                       + w_mf x (0.5 x persistence + 0.5 x clamp(0.5 + 5 x inflow_ratio))),
--                       vars chip_weight_profit / chip_weight_concentration / chip_weight_main_force
-- Chip rows come from the source (akshare CYQ) or, where it has none, from the same algorithm run on
-- the stock's own turnover (extract/chips.py, source 'derived:cyq'). A day with no chip row still
-- scores: its chip parts count as neutral (0.5) and chip_data_missing is true.
-- Casts use type_double() (double precision): dbt.type_float() is FLOAT on DuckDB, a 4-byte REAL.
{%- set n = var('chip_inflow_window') %}

with quotes as (
    select
        q.code,
        q.trade_date,
        q.close,
        q.amount,
        f.main_net_inflow,
        sum(case when f.main_net_inflow > 0 then 1 else 0 end) over w as inflow_days,
        count(f.main_net_inflow) over w as inflow_bars,
        sum(f.main_net_inflow) over w as inflow_n,
        sum(q.amount) over w as amount_n
    from {{ ref('stg_daily_quote_base') }} as q
    left join {{ ref('stg_funds_flow') }} as f on q.code = f.code and q.trade_date = f.trade_date
    {%- if is_incremental() %}
        and f.trade_date >= {{ incremental_lookback_start(n) }}  {#- both sides: see new_days_only #}
    -- incremental: re-read enough bars for the window, keep only the new days (see the final select)
    where q.trade_date >= {{ incremental_lookback_start(n) }}
    {%- endif %}
    window w as (partition by q.code order by q.trade_date rows between {{ n - 1 }} preceding and current row)
),

joined as (
    select
        q.code,
        q.trade_date,
        q.close,
        c.profit_ratio,
        c.avg_cost,
        c.concentration_90,
        case when c.avg_cost > 0 then q.close / c.avg_cost - 1 end as price_vs_cost,
        case when q.inflow_bars > 0 then cast(q.inflow_days as {{ type_double() }}) / q.inflow_bars end
            as inflow_persistence,
        case when q.amount_n > 0 then q.inflow_n / q.amount_n end as inflow_ratio,
        c.code is null as chip_data_missing,
        c.source as chip_source
    from quotes as q
    left join {{ ref('stg_chip_distribution') }} as c on q.code = c.code and q.trade_date = c.trade_date
        {{- new_days_only('c') }}
    {%- if is_incremental() %}
    where q.trade_date > {{ incremental_last_day() }}
    {%- endif %}
),

parts as (
    select
        *,
        coalesce(1 - {{ clamp('concentration_90 / ' ~ var('chip_concentration_ref')) }}, 0.5) as chip_concentration,
        coalesce(profit_ratio, 0.5) as profit_part,
        0.5 * coalesce(inflow_persistence, 0.5)
        + 0.5 * coalesce({{ clamp('0.5 + 5 * inflow_ratio') }}, 0.5) as main_force_part
    from joined
)

select
    code,
    trade_date,
    close,
    profit_ratio,
    avg_cost,
    concentration_90,
    price_vs_cost,
    inflow_persistence,
    inflow_ratio,
    0.5 * chip_concentration + 0.5 * coalesce(inflow_persistence, 0.5) as control_degree,
    chip_data_missing,
    chip_source,
    10 * (
        {{ var('chip_weight_profit') }} * profit_part
        + {{ var('chip_weight_concentration') }} * chip_concentration
        + {{ var('chip_weight_main_force') }} * main_force_part
    ) as chip_score
from parts

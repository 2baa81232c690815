{{ config(materialized='incremental') }}
-- One row per stock and trading day: the four factor scores and the weighted composite (all 0-10),
-- plus whether the stock may receive a buy signal that day.
--
--   composite_score = (w_i x industry + w_v x valuation + w_t x technical + w_c x chip) / (sum of w),
--   weights from vars weight_industry / weight_valuation / weight_technical / weight_chip.
--   buy_eligible: not ST that day (when exclude_st), listed at least `min_listed_days` calendar days,
--   and at least macd_slow + macd_signal bars of history so MACD has warmed up; false (never null)
--   when the list date is unknown (stg_stock_info defaults it to the first bar where it can).
{%- set wi, wv, wt, wc = var('weight_industry'), var('weight_valuation'), var('weight_technical'), var('weight_chip') %}

with technical as (
    select code, trade_date, bar_seq, close, technical_score
    from {{ ref('factor_technical') }}
    {%- if is_incremental() %}
    -- incremental: each row joins only its own (code, day) of the factor models; new days only
    where trade_date > {{ incremental_last_day() }}
    {%- endif %}
),

joined as (
    select
        t.code,
        t.trade_date,
        t.bar_seq,
        t.close,
        st.industry_l1,
        -- varchar as the contract says (PostgreSQL's staging gives text; an incremental run compares)
        cast(st.board as {{ type_varchar() }}) as board,
        st.is_st,
        st.list_date,
        f.industry_score,
        v.valuation_score,
        t.technical_score,
        c.chip_score
    from technical as t
    -- the state of that day (point-in-time ST flag and industry), never today's values
    inner join {{ ref('stg_stock_state_periods') }} as st
        on t.code = st.code and t.trade_date between st.valid_from and st.valid_to
    left join {{ ref('factor_fund_flow') }} as f on t.code = f.code and t.trade_date = f.trade_date
        {{- new_days_only('f') }}
    left join {{ ref('factor_valuation') }} as v on t.code = v.code and t.trade_date = v.trade_date
        {{- new_days_only('v') }}
    left join {{ ref('factor_chip') }} as c on t.code = c.code and t.trade_date = c.trade_date
        {{- new_days_only('c') }}
)

select
    code,
    trade_date,
    bar_seq,
    close,
    industry_l1,
    board,
    is_st,
    industry_score,
    valuation_score,
    technical_score,
    chip_score,
    (
        {{ wi }} * coalesce(industry_score, 5)
        + {{ wv }} * coalesce(valuation_score, 5)
        + {{ wt }} * technical_score
        + {{ wc }} * coalesce(chip_score, 5)
    ) / {{ wi + wv + wt + wc }} as composite_score,
    coalesce(
        {%- if var('exclude_st') %} not is_st and {% endif %}
        trade_date >= {{ dbt.dateadd('day', var('min_listed_days'), 'list_date') }}
        and bar_seq > {{ var('macd_slow') + var('macd_signal') }},
        false
    ) as buy_eligible
from joined

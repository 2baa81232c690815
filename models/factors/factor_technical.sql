-- depends_on: {{ ref('stg_daily_quote') }}  (reads stg_daily_quote_base, the table under that view: no *_qfq needed; the ref keeps the view in every +model selection)
{{ config(materialized='incremental') }}
-- depends_on: {{ ref('stg_trade_calendar') }}
-- One row per stock and trading day: MACD (terminal convention), crosses, histogram trend,
-- volume ratio, breakout and the technical score (0-10). Windows count bars, so suspended days
-- are skipped. On an incremental build only the last `technical_lookback` bars are re-read.

{%- set lookback_start = incremental_lookback_start(var('technical_lookback')) if is_incremental() else none %}

with quotes as (
    select
        q.code,
        q.trade_date,
        q.close,
        q.high,
        q.volume,
        q.close_hfq,
        q.high * q.adj_factor as high_hfq,
        m.bar_seq,
        m.dif,
        m.dea,
        m.macd
    from {{ ref('stg_daily_quote_base') }} as q
    inner join {{ ref('int_macd__recursed') }} as m
        on q.code = m.code
        and q.trade_date = m.trade_date
    {% if is_incremental() %}
    -- on both sides of the join: PostgreSQL does not carry a range filter across an equijoin, and
    -- without it read every row of int_macd__recursed each day
    where q.trade_date >= {{ lookback_start }}
      and m.trade_date >= {{ lookback_start }}
    {% endif %}
),

{#- dif, dea and macd compare through macd_cross_epsilon: closer than that counts as equal (a
    flat price gives dif = dea = 0 exactly in exact arithmetic; the EMA's rounding, ~1e-14 and
    different on each engine, must not decide a cross). above(d, e): d - e > epsilon. -#}
{%- set eps = var('macd_cross_epsilon') %}
{%- set lookback = var('golden_cross_lookback') %}

-- One window pass: the golden cross of each of the last golden_cross_lookback bars is read from
-- lags of dif and dea (a second window over the golden flags would sort every row again).
windowed as (
    select
        *,
        {%- for i in range(1, lookback + 1) %}
        lag(dif, {{ i }}) over w as dif_{{ i }},
        lag(dea, {{ i }}) over w as dea_{{ i }},
        {%- endfor %}
        lag(macd) over w as prev_macd,
        avg(volume) over (
            partition by code order by trade_date
            rows between {{ var('volume_ratio_window') }} preceding and 1 preceding
        ) as prev_avg_volume,
        count(volume) over (
            partition by code order by trade_date
            rows between {{ var('volume_ratio_window') }} preceding and 1 preceding
        ) as prev_volume_bars,
        max(high_hfq) over (
            partition by code order by trade_date
            rows between {{ var('breakout_window') }} preceding and 1 preceding
        ) as prev_high_hfq,
        count(*) over (
            partition by code order by trade_date
            rows between {{ var('breakout_window') }} preceding and 1 preceding
        ) as prev_high_bars
    from quotes
    window w as (partition by code order by trade_date)
),

flags as (
    select
        *,
        dif - dea > {{ eps }} as dif_above_dea,
        coalesce(dif - dea > {{ eps }} and dif_1 - dea_1 <= {{ eps }}, false) as golden_cross,
        coalesce(dea - dif > {{ eps }} and dea_1 - dif_1 <= {{ eps }}, false) as dead_cross,
        -- a golden cross on this bar or one of the previous golden_cross_lookback - 1 bars
        coalesce(dif - dea > {{ eps }} and dif_1 - dea_1 <= {{ eps }}, false)
        {%- for i in range(1, lookback) %}
        or coalesce(dif_{{ i }} - dea_{{ i }} > {{ eps }} and dif_{{ i + 1 }} - dea_{{ i + 1 }} <= {{ eps }}, false)
        {%- endfor %} as recent_golden_cross,
        coalesce(macd - prev_macd > {{ eps }}, false) as macd_rising,
        dif > {{ eps }} as dif_positive,
        case
            when prev_volume_bars = {{ var('volume_ratio_window') }} and prev_avg_volume > 0
                then volume / prev_avg_volume
        end as volume_ratio,
        coalesce(
            prev_high_bars = {{ var('breakout_window') }}
            and close_hfq > prev_high_hfq
            and volume / nullif(prev_avg_volume, 0) >= {{ var('breakout_volume_ratio') }},
            false
        ) as is_breakout
    from windowed
),

scored as (
    select
        code,
        trade_date,
        bar_seq,
        close,
        -- Forward-adjusted close as of this day equals the day's own close; MACD below is on
        -- that same basis (see int_macd__recursed).
        close as close_adj,
        close_hfq,
        dif,
        dea,
        macd,
        golden_cross,
        dead_cross,
        macd_rising,
        volume_ratio,
        is_breakout,
        -- typed as the contract says: PostgreSQL would give an unconstrained numeric, and an
        -- incremental run compares it with the stored decimal(18,1) (on DuckDB a no-op cast)
        cast(
        {{ var('technical_points_dif_above_dea') }} * (case when dif_above_dea then 1 else 0 end)
        + {{ var('technical_points_golden_cross') }} * (case when recent_golden_cross then 1 else 0 end)
        + {{ var('technical_points_macd_rising') }} * (case when macd_rising then 1 else 0 end)
        + {{ var('technical_points_dif_positive') }} * (case when dif_positive then 1 else 0 end)
        + {{ var('technical_points_volume_active') }} * (case when volume_ratio >= {{ var('volume_ratio_active') }} then 1 else 0 end)
        + {{ var('technical_points_volume_surge') }} * (case when volume_ratio >= {{ var('volume_ratio_surge') }} then 1 else 0 end)
        + {{ var('technical_points_breakout') }} * (case when is_breakout then 1 else 0 end)
        as decimal(18, 1)) as technical_score
    from flags
)

{% if is_incremental() %}
-- each stock's days after its own latest built day: its latest day within the lookback (a stock
-- without one, e.g. suspended longer, gets all its re-read days), grouped once, not looked up per row
, built as (
    select t.code, max(t.trade_date) as last_day
    from {{ this }} as t
    where t.trade_date >= {{ lookback_start }}
    group by t.code
)

select s.*
from scored as s
left join built as b on s.code = b.code
where s.trade_date > coalesce(b.last_day, cast('1900-01-01' as date))
{% else %}
select * from scored
{% endif %}

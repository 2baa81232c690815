-- One row per alert episode of a watched stock: PE(TTM) or PB above the var
-- stable_valuation_high_pct quantile of its own previous var stable_valuation_window trading days
-- (with at least var stable_valuation_min_history of them), or up more than
-- var stable_valuation_rise_pct over var stable_valuation_rise_days trading days. Raised on the
-- first trading day the condition holds after var stable_valuation_rearm_days days on which it did
-- not (1 = after any quiet day; prices are noisy, so the default waits 60). Non-positive PE/PB (losses,
-- negative equity) are ignored.
{% set n = var('stable_valuation_window') %}
{% set q = var('stable_valuation_high_pct') %}
{% set rise = var('stable_valuation_rise_pct') %}
{% set rise_days = var('stable_valuation_rise_days') %}
{% set min_hist = var('stable_valuation_min_history') %}

with days as (
    select
        code,
        trade_date,
        report_period,
        ann_date,
        case when pe_ttm > 0 then pe_ttm end as pe,
        case when pb > 0 then pb end as pb,
        row_number() over (partition by code order by trade_date) as day_no
    {%- if target.type == 'postgres' and not stable_all_stocks() %}
    -- the watched stocks' rows through fundamentals_pit's (code, trade_date) index: with the
    -- list as a semi-join PostgreSQL scanned all 11.8 M rows at 5,000 x 10 years (no statistics
    -- on the table tell it how few the watched stocks' are)
    from (
        select distinct w.code as watched
        from {{ ref('watch_list') }} as w
        where w.layer in ('stable', 'both')
    ) as w
    cross join lateral (
        select p.*
        from {{ ref('fundamentals_pit') }} as p
        where p.code = w.watched
        offset 0  -- keeps the subquery a lateral (an index scan per stock), not a join PostgreSQL pulls up
    ) as pit
    {%- else %}
    from {{ ref('fundamentals_pit') }}
    where {{ stable_watched('code') }}
    {%- endif %}
),

highs as (
    {{ stable_rolling_quantile('days', 'code', 'day_no', ['pe', 'pb'], q, n) }}
),

measured as (
    select
        days.*,
        case when highs.pe_hi_n >= {{ min_hist }} then highs.pe_hi end as pe_hi,
        case when highs.pb_hi_n >= {{ min_hist }} then highs.pb_hi end as pb_hi,
        lag(days.pe, {{ rise_days }}) over w as pe_base,
        lag(days.pb, {{ rise_days }}) over w as pb_base
    from days
    inner join highs on highs.code = days.code and highs.day_no = days.day_no
    window w as (partition by days.code order by days.day_no)
),

flagged as (
    select
        *,
        coalesce(pe > pe_hi, false) as pe_high_hit,
        coalesce(pb > pb_hi, false) as pb_high_hit,
        coalesce(pe > pe_base * (1 + {{ rise }}), false) as pe_rise_hit,
        coalesce(pb > pb_base * (1 + {{ rise }}), false) as pb_rise_hit
    from measured
),

episodes as (
    select
        *,
        pe_high_hit or pb_high_hit or pe_rise_hit or pb_rise_hit as tripped,
        -- tripped on any of the previous stable_valuation_rearm_days days: same episode
        max(case when pe_high_hit or pb_high_hit or pe_rise_hit or pb_rise_hit then 1 else 0 end) over (
            partition by code order by day_no
            rows between {{ var('stable_valuation_rearm_days') }} preceding and 1 preceding
        ) as was_tripped
    from flagged
)

{%- set pct_label = ((q * 100) | round(1)) ~ ' %' %}
{%- set pe_text = dbt.concat([
    "'PE(TTM) '", stable_fmt('pe'),
    "case when pe_high_hit then " ~ dbt.concat(["' above the " ~ pct_label ~ " quantile of its last " ~ n ~ " trading days ('", stable_fmt('pe_hi'), "')'"]) ~ " else '' end",
    "case when pe_rise_hit then " ~ dbt.concat(["', up '", stable_fmt_pct('pe / pe_base - 1'),
                                                 "' in " ~ rise_days ~ " trading days'"]) ~ " else '' end",
]) %}
{%- set pb_text = dbt.concat([
    "'PB '", stable_fmt('pb'),
    "case when pb_high_hit then " ~ dbt.concat(["' above the " ~ pct_label ~ " quantile of its last " ~ n ~ " trading days ('", stable_fmt('pb_hi'), "')'"]) ~ " else '' end",
    "case when pb_rise_hit then " ~ dbt.concat(["', up '", stable_fmt_pct('pb / pb_base - 1'),
                                                 "' in " ~ rise_days ~ " trading days'"]) ~ " else '' end",
]) %}

select
    code,
    trade_date,
    'valuation_spike' as rule,
    {{ var('stable_valuation_priority') }} as priority,
    case when pe_high_hit or pe_rise_hit then pe else pb end as metric_value,
    case
        when pe_high_hit then pe_hi
        when pe_rise_hit then pe_base * (1 + {{ rise }})
        when pb_high_hit then pb_hi
        else pb_base * (1 + {{ rise }})
    end as threshold,
    report_period,
    cast(null as date) as prev_report_period,
    ann_date,
    {{ dbt.concat([pe_text, "'; '", pb_text, "' (latest report '", stable_fmt_date('report_period'), "')'"]) }} as reason
from episodes
where tripped
  and coalesce(was_tripped, 0) = 0

-- depends_on: {{ ref('stg_daily_quote') }}  (reads stg_daily_quote_base, the table under that view: no *_qfq needed; the ref keeps the view in every +model selection)
{{ config(materialized='incremental') }}
-- One row per stock and trading day (days the stock has a bar): the latest financial report and
-- dividend announced on or before that day, with TTM figures and the day's close and valuation.
-- The state only changes on announcement days, so it is computed once per change in
-- int_fundamentals__pit_events and spread over the days here with an equality join (no range join).
--
-- Incremental: the new days (after the latest built), and for a stock whose states as spread here
-- differ from int_fundamentals__pit_events now (a report or dividend loaded late, with an ann_date on
-- or before the latest built day, or a restatement), every day from its first differing state on.
-- Old bars corrected in staging need `--full-refresh`, as for the factor models.
{%- set state_cols = [
    'report_period', 'ann_date', 'fiscal_quarter', 'is_restated', 'roe', 'eps', 'revenue', 'net_profit',
    'net_profit_yoy', 'bps', 'revenue_ttm', 'net_profit_ttm', 'eps_ttm', 'roe_ttm', 'roe_annualised',
    'div_report_period', 'div_ann_date', 'div_ex_date', 'cash_div_per_share', 'bonus_ratio', 'payout_ratio'
] %}
with
{%- if is_incremental() %}
-- a state's first day holds its values (every day of a state is a copy of the same event row), so
-- the states stored are read from those rows only, not as the distinct states of every row
built_states as (
    select code, state_from as valid_from, {{ state_cols | join(', ') }}
    from {{ this }}
    where state_from is not null
      and trade_date = state_from
),

current_states as (
    select code, valid_from, {{ state_cols | join(', ') }}
    from {{ ref('int_fundamentals__pit_events') }}
),

redo as (
    select code, min(valid_from) as redo_from
    from (
        (select * from built_states except select * from current_states)
        union all
        (select * from current_states except select * from built_states)
    ) as changed
    group by code
),
{%- endif %}

quotes as (
    select q.code, q.trade_date, q.close, q.pe_ttm, q.pb
    from {{ ref('stg_daily_quote_base') }} as q
    {%- if is_incremental() %}
    left join redo as r on r.code = q.code
    where q.trade_date > {{ incremental_last_day() }}
       or q.trade_date >= r.redo_from
    {%- endif %}
),

events as (
    select * from {{ ref('int_fundamentals__pit_events') }}
),

-- a state starts on its valid_from day; sort it before that day's bar, carry it forward
timeline as (
    select code, valid_from as d, 0 as is_quote from events
    union all
    select code, trade_date as d, 1 as is_quote from quotes
),

carried as (
    select
        code,
        d as trade_date,
        is_quote,
        max(case when is_quote = 0 then d end) over (
            partition by code order by d, is_quote rows between unbounded preceding and current row
        ) as valid_from
    from timeline
),

final as (
    select
        q.code,
        q.trade_date,
        e.valid_from as state_from,
        e.report_period,
        e.ann_date,
        e.fiscal_quarter,
        e.is_restated,
        e.roe,
        e.eps,
        e.revenue,
        e.net_profit,
        e.net_profit_yoy,
        e.bps,
        e.revenue_ttm,
        e.net_profit_ttm,
        e.eps_ttm,
        e.roe_ttm,
        e.roe_annualised,
        e.div_report_period,
        e.div_ann_date,
        e.div_ex_date,
        e.cash_div_per_share,
        e.bonus_ratio,
        e.payout_ratio,
        q.close,
        -- vendor PE(TTM)/PB when given, else from the point-in-time TTM EPS and book value
        coalesce(q.pe_ttm, case when e.eps_ttm > 0 then q.close / e.eps_ttm end) as pe_ttm,
        coalesce(q.pb, case when e.bps > 0 then q.close / e.bps end) as pb,
        case when q.close > 0 then e.cash_div_per_share / q.close end as last_dividend_yield
    from quotes as q
    inner join carried as c
        on c.code = q.code
        and c.trade_date = q.trade_date
        and c.is_quote = 1
    left join events as e
        on e.code = c.code
        and e.valid_from = c.valid_from
)

select * from final

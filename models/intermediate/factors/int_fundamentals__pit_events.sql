-- depends_on: {{ ref('stg_daily_quote') }}  (reads stg_daily_quote_base, the table under that view: no *_qfq needed; the ref keeps the view in every +model selection)
{#- PostgreSQL: no nested loops between the CTEs (pg_no_nested_loops). Once the tables under it have
    statistics (each new table is analyzed once, macros/pg_index.sql pg_analyze_new), PostgreSQL
    estimated a few dozen states for tens of thousands and looped over CTE scans: a one-day build
    at 1,500 x 5 years ran for minutes instead of seconds. The index probes into the bars stay
    index probes: scalar subqueries (first_bar, prev_bar, the gaps, the latest bar) are not joins. -#}
{{ config(pre_hook="{{ pg_no_nested_loops() }}") }}
-- One row per stock and "state change": the first trading day (of that stock) after one or more
-- reports or dividends were announced, with everything known as of that day. Nothing changes
-- between two rows, so fundamentals_pit expands this to days and the period rules read it as is.
--
-- Point in time: a report counts from its ann_date (never its period end); of several versions of
-- one period (restatements) the latest with ann_date <= the day wins. TTM of a cumulative YTD
-- figure: Q4 is the annual figure; Qn = this year's Qn + last year's Q4 - last year's Qn, each of
-- the three as known that day (null when one is missing: no guessing).
{% set asof_joins = {
    'cur':    ('s.fiscal_year',      's.fiscal_quarter'),
    'cur_lq': ('s.fiscal_year - 1',  's.fiscal_quarter'),
    'cur_l4': ('s.fiscal_year - 1',  '4'),
    'prv':    ('s.prev_fiscal_year', 's.prev_fiscal_quarter'),
    'prv_lq': ('s.prev_fiscal_year - 1', 's.prev_fiscal_quarter'),
    'prv_l4': ('s.prev_fiscal_year - 1', '4'),
} %}

with versions as (
    select
        code,
        report_period,
        ann_date,
        cast(extract(year from report_period) as integer) as fiscal_year,
        fiscal_quarter,
        roe,
        eps,
        revenue,
        net_profit,
        net_profit_yoy,
        bps,
        -- the version is current from its ann_date until the next version of the period
        lead(ann_date) over (partition by code, report_period order by ann_date) as superseded_on,
        row_number() over (partition by code, report_period order by ann_date) as version_no
    from {{ ref('stg_finance_data') }}
),

dividends as (
    select
        code,
        report_period,
        ann_date,
        ex_date,
        cash_div_per_share,
        bonus_ratio,
        payout_ratio,
        lag(report_period) over (partition by code order by report_period) as prev_report_period
    from {{ ref('stg_dividend') }}
),

announcements as (
    select code, ann_date as d, max(report_period) as fin_period, cast(null as date) as div_period
    from versions
    group by code, ann_date
    union all
    select code, ann_date as d, cast(null as date) as fin_period, max(report_period) as div_period
    from dividends
    group by code, ann_date
),

-- A state starts on the stock's first trading day on or after an announcement (an announcement
-- counts on its own date: ann_date <= day means known that day); announcements whose first
-- day is the same share one state. Found with equality joins on (code, trade_date) instead of a
-- time line over every bar (a window over 11.8 M rows at full scale): the first session on or
-- after the date from the calendar, the stock's bar on it, and, only when the stock has no bar
-- there (suspended), the first bar after it. The same for the last bar before the next state.
ann_days as (
    select
        code,
        d,
        max(fin_period) as fin_period,
        max(div_period) as div_period
    from announcements
    group by code, d
),

calendar as (
    select trade_date, day_seq from {{ ref('stg_trade_calendar') }}
),

-- every announcement date -> the first session on or after it (null after the last session)
date_line as (
    select distinct d, 0 as is_session from ann_days
    union all
    select trade_date as d, 1 as is_session from calendar
),

next_session as (
    select
        d,
        is_session,
        min(case when is_session = 1 then d end) over (
            order by d, is_session rows between current row and unbounded following
        ) as session_date
    from date_line
),

-- inlined on PostgreSQL (cte_inline): each join below then reaches the table's (code, trade_date)
-- index instead of scanning a materialized copy of every bar
bars as {{ cte_inline() }} (
    select code, trade_date
    from {{ ref('stg_daily_quote_base') }}
),

on_session as (
    select
        a.code,
        a.d,
        a.fin_period,
        a.div_period,
        {%- if target.type == 'postgres' %}
        (select b.trade_date from bars as b where b.code = a.code and b.trade_date = n.session_date)
            as first_bar
        {%- else %}
        b.trade_date as first_bar
        {%- endif %}
    from ann_days as a
    inner join next_session as n on n.d = a.d and n.is_session = 0 and n.session_date is not null
    {%- if target.type != 'postgres' %}
    left join bars as b on b.code = a.code and b.trade_date = n.session_date
    {%- endif %}
),

-- no bar on that session (suspended, or not listed yet): the stock's first bar after the date (a
-- scalar min: one index probe per row on PostgreSQL, where a range join read every later bar)
after_gap as (
    select
        o.code,
        o.d,
        (select min(b.trade_date) from bars as b where b.code = o.code and b.trade_date >= o.d) as first_bar
    from on_session as o
    where o.first_bar is null
),

ann_first_bar as (
    select
        o.code,
        o.d,
        coalesce(o.first_bar, g.first_bar) as valid_from,
        -- what is known once this date is reached (the stock's announcements up to it)
        max(o.fin_period) over (
            partition by o.code order by o.d rows between unbounded preceding and current row
        ) as report_period,
        max(o.div_period) over (
            partition by o.code order by o.d rows between unbounded preceding and current row
        ) as div_report_period
    from on_session as o
    left join after_gap as g on g.code = o.code and g.d = o.d
),

starts as (
    select
        code,
        valid_from,
        max(report_period) as report_period,
        max(div_report_period) as div_report_period,
        lead(valid_from) over (partition by code order by valid_from) as next_valid_from
    from ann_first_bar
    where valid_from is not null
    group by code, valid_from
),

-- each stock's latest bar: on PostgreSQL one index probe per stock with a state (a grouped max
-- read every bar: 19 s of index-only scan at full scale), on other engines one grouped scan
last_bars as (
    {%- if target.type == 'postgres' %}
    select
        c.code,
        (select max(b.trade_date) from bars as b where b.code = c.code) as last_bar
    from (select distinct code from starts) as c
    {%- else %}
    select code, max(trade_date) as last_bar
    from bars
    group by code
    {%- endif %}
),

-- the bar before the next state's first bar: on the previous session, else (a gap) the latest before
before_next as (
    select
        s.code,
        s.valid_from,
        s.next_valid_from,
        {%- if target.type == 'postgres' %}
        (select b.trade_date from bars as b where b.code = s.code and b.trade_date = pc.trade_date) as prev_bar
        {%- else %}
        b.trade_date as prev_bar
        {%- endif %}
    from starts as s
    inner join calendar as nc on nc.trade_date = s.next_valid_from
    inner join calendar as pc on pc.day_seq = nc.day_seq - 1
    {%- if target.type != 'postgres' %}
    left join bars as b on b.code = s.code and b.trade_date = pc.trade_date
    {%- endif %}
),

before_gap as (
    select
        p.code,
        p.valid_from,
        (select max(b.trade_date) from bars as b where b.code = p.code and b.trade_date < p.next_valid_from)
            as prev_bar
    from before_next as p
    where p.prev_bar is null
),

states as (
    select
        s.code,
        s.valid_from,
        case
            when s.next_valid_from is null then l.last_bar
            else coalesce(p.prev_bar, g.prev_bar)
        end as last_trade_date,
        s.report_period,
        s.div_report_period
    from starts as s
    inner join last_bars as l on l.code = s.code
    left join before_next as p on p.code = s.code and p.valid_from = s.valid_from
    left join before_gap as g on g.code = s.code and g.valid_from = s.valid_from
),

keyed as (
    select
        states.*,
        cast(extract(year from report_period) as integer) as fiscal_year,
        {{ fiscal_quarter('report_period') }} as fiscal_quarter
    from states
),

periods as (
    select
        keyed.*,
        case when fiscal_quarter = 1 then fiscal_year - 1 else fiscal_year end as prev_fiscal_year,
        case when fiscal_quarter = 1 then 4 else fiscal_quarter - 1 end as prev_fiscal_quarter
    from keyed
),

joined as (
    select
        s.code,
        s.valid_from,
        s.last_trade_date,
        s.fiscal_quarter,
        {%- for a in asof_joins %}
        {{ a }}.report_period as {{ a }}_report_period,
        {{ a }}.ann_date as {{ a }}_ann_date,
        {{ a }}.version_no as {{ a }}_version_no,
        {{ a }}.roe as {{ a }}_roe,
        {{ a }}.eps as {{ a }}_eps,
        {{ a }}.revenue as {{ a }}_revenue,
        {{ a }}.net_profit as {{ a }}_net_profit,
        {{ a }}.net_profit_yoy as {{ a }}_net_profit_yoy,
        {{ a }}.bps as {{ a }}_bps,
        {{ a }}.fiscal_quarter as {{ a }}_fiscal_quarter,
        {%- endfor %}
        div.report_period as div_report_period,
        div.ann_date as div_ann_date,
        div.ex_date as div_ex_date,
        div.cash_div_per_share,
        div.bonus_ratio,
        div.payout_ratio,
        prev_div.report_period as prev_div_report_period,
        prev_div.ann_date as prev_div_ann_date,
        prev_div.payout_ratio as prev_payout_ratio
    from periods as s
    {%- for a, key in asof_joins.items() %}
    left join versions as {{ a }}
        on {{ a }}.code = s.code
        and {{ a }}.fiscal_year = {{ key[0] }}
        and {{ a }}.fiscal_quarter = {{ key[1] }}
        and {{ a }}.ann_date <= s.valid_from
        and ({{ a }}.superseded_on is null or {{ a }}.superseded_on > s.valid_from)
    {%- endfor %}
    left join dividends as div
        on div.code = s.code
        and div.report_period = s.div_report_period
    left join dividends as prev_div
        on prev_div.code = s.code
        and prev_div.report_period = div.prev_report_period
        and prev_div.ann_date <= s.valid_from
),

ttm as (
    select
        joined.*,
        {%- for a in ['cur', 'prv'] %}
        {%- for m in ['revenue', 'net_profit', 'eps'] %}
        case
            when {{ a }}_fiscal_quarter = 4 then {{ a }}_{{ m }}
            else {{ a }}_{{ m }} + {{ a }}_l4_{{ m }} - {{ a }}_lq_{{ m }}
        end as {{ a }}_{{ m }}_ttm,
        {%- endfor %}
        -- reported cumulative YoY; derived from last year's same period when not reported
        coalesce(
            {{ a }}_net_profit_yoy,
            ({{ a }}_net_profit - {{ a }}_lq_net_profit) / nullif(abs({{ a }}_lq_net_profit), 0)
        ) as {{ a }}_np_yoy{{ ',' if not loop.last }}
        {%- endfor %}
    from joined
),

final as (
    select
        code,
        valid_from,
        last_trade_date,
        cur_report_period as report_period,
        cur_ann_date as ann_date,
        cur_fiscal_quarter as fiscal_quarter,
        cur_version_no > 1 as is_restated,
        cur_roe as roe,
        cur_eps as eps,
        cur_revenue as revenue,
        cur_net_profit as net_profit,
        cur_np_yoy as net_profit_yoy,
        cur_bps as bps,
        cur_revenue_ttm as revenue_ttm,
        cur_net_profit_ttm as net_profit_ttm,
        cur_eps_ttm as eps_ttm,
        case when cur_bps > 0 then cur_eps_ttm / cur_bps end as roe_ttm,
        -- TTM ROE when last year's reports are known, else YTD ROE annualised (x 4 / quarter)
        coalesce(
            case when cur_bps > 0 then cur_eps_ttm / cur_bps end,
            cur_roe * 4.0 / cur_fiscal_quarter
        ) as roe_annualised,
        prv_report_period as prev_report_period,
        prv_ann_date as prev_ann_date,
        prv_np_yoy as prev_net_profit_yoy,
        coalesce(
            case when prv_bps > 0 then prv_eps_ttm / prv_bps end,
            prv_roe * 4.0 / prv_fiscal_quarter
        ) as prev_roe_annualised,
        div_report_period,
        div_ann_date,
        div_ex_date,
        cash_div_per_share,
        bonus_ratio,
        payout_ratio,
        prev_div_report_period,
        prev_div_ann_date,
        prev_payout_ratio
    from ttm
)

select * from final

-- depends_on: {{ ref('stg_daily_quote') }}  (reads stg_daily_quote_base, the table under that view: no *_qfq needed; the ref keeps the view in every +model selection)
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

quotes as (
    select code, trade_date
    from {{ ref('stg_daily_quote_base') }}
),

-- Announcements and trading days of a stock on one time line; an announcement sorts before a
-- trading day of the same date (ann_date <= day means known that day).
timeline as (
    select code, d, 0 as is_quote, fin_period, div_period from announcements
    union all
    select code, trade_date as d, 1 as is_quote, cast(null as date) as fin_period, cast(null as date) as div_period from quotes
),

running as (
    select
        code,
        d,
        is_quote,
        max(case when is_quote = 0 then d end) over w as last_announcement,
        max(fin_period) over w as report_period,
        max(div_period) over w as div_report_period
    from timeline
    window w as (partition by code order by d, is_quote rows between unbounded preceding and current row)
),

states as (
    select
        code,
        min(d) as valid_from,
        max(d) as last_trade_date,
        max(report_period) as report_period,
        max(div_report_period) as div_report_period
    from running
    where is_quote = 1
      and last_announcement is not null
    group by code, last_announcement
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

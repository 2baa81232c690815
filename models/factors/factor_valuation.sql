-- depends_on: {{ ref('stg_daily_quote') }}  (reads stg_daily_quote_base, the table under that view: no *_qfq needed; the ref keeps the view in every +model selection)
{{ config(materialized='incremental') }}
-- One row per stock and trading day: PE(TTM)/PB against the stock's own history and against its
-- industry's median that day, and the valuation score (0-10, cheap scores high).
--
--   own percentile  pe_pct / pb_pct = rolling percent_rank over the last `valuation_window` valid
--                   bars (PE > 0, PB > 0); neutral 0.5 with fewer than `valuation_min_history`
--   industry        pe_vs_industry = PE / industry median PE (profitable peers, same day)
--   score           10 x (w_pe x (1 - pe_pct) + w_pb x (1 - pb_pct) + w_ind x industry_cheapness),
--                   vars valuation_weight_pe / _pb / _industry
--                   industry_cheapness = 1 at half the median, 0 at twice it (log-linear)
--   loss-makers     PE <= 0 or missing: PE parts are unusable; score = 10 x (1 - pb_pct) x
--                   `loss_valuation_pb_weight`,
--                   capped at `loss_valuation_cap`, and is_loss_making = true.
-- Incremental: only the days after the latest one built are scored; their percentiles still read
-- each stock's full window of earlier valid bars (rolling_percent_rank's `after`). The CTEs under
-- the percentiles are inlined on PostgreSQL (cte_inline) so that window is read through the
-- table's (code, trade_date) index, not by numbering every stock's whole history.
{%- set after = incremental_last_day() if is_incremental() else none %}

-- every stock's bars: the industry join below keeps the stocks with a point-in-time state, and
-- the percentiles, per stock, are left-joined to those rows (a semi-join on that list here was
-- repeated for each of the 750 bars of every frame read on PostgreSQL)
with valuations as {{ cte_inline() }} (
    select q.code, q.trade_date, q.pe_ttm, q.pb
    from {{ ref('stg_daily_quote_base') }} as q
),

quotes as (
    -- the industry of the day (point-in-time): a reclassified stock joins its new industry's median
    -- from its start date on. Incremental: the new days only (the percentiles read `valuations`).
    select q.code, q.trade_date, q.pe_ttm, q.pb, st.industry_l1
    from valuations as q
    inner join {{ ref('stg_stock_state_periods') }} as st
        on q.code = st.code and q.trade_date between st.valid_from and st.valid_to
    {%- if after is not none %}
    where q.trade_date > {{ after }}
    {%- endif %}
),

valid_pe as {{ cte_inline() }} (
    select code, trade_date, pe_ttm from valuations where pe_ttm > 0
),

valid_pb as {{ cte_inline() }} (
    select code, trade_date, pb from valuations where pb > 0
),

pe_rank as (
    {{ rolling_percent_rank('valid_pe', 'code', 'trade_date', 'pe_ttm',
                            var('valuation_window'), var('valuation_min_history'), after) }}
),

pb_rank as (
    {{ rolling_percent_rank('valid_pb', 'code', 'trade_date', 'pb',
                            var('valuation_window'), var('valuation_min_history'), after) }}
),

industry_median as (
    select
        industry_l1,
        trade_date,
        percentile_cont(0.5) within group (order by pe_ttm) as industry_pe_median,
        count(*) as industry_pe_count
    from quotes
    where pe_ttm > 0
    group by industry_l1, trade_date
),

joined as (
    select
        q.code,
        q.trade_date,
        q.industry_l1,
        q.pe_ttm,
        q.pb,
        coalesce(q.pe_ttm <= 0 or q.pe_ttm is null, true) as is_loss_making,
        pe_rank.pct as pe_pct,
        pb_rank.pct as pb_pct,
        m.industry_pe_median,
        m.industry_pe_count,
        case when q.pe_ttm > 0 and m.industry_pe_median > 0 then q.pe_ttm / m.industry_pe_median end
            as pe_vs_industry
    from quotes as q
    left join pe_rank on q.code = pe_rank.code and q.trade_date = pe_rank.trade_date
    left join pb_rank on q.code = pb_rank.code and q.trade_date = pb_rank.trade_date
    left join industry_median as m on q.industry_l1 = m.industry_l1 and q.trade_date = m.trade_date
),

scored as (
    select
        *,
        case
            when pe_vs_industry is null then 0.5
            else {{ clamp('(ln(2.0) - ln(pe_vs_industry)) / ln(4.0)') }}
        end as industry_cheapness
    from joined
)

select
    code,
    trade_date,
    industry_l1,
    pe_ttm,
    pb,
    is_loss_making,
    pe_pct,
    pb_pct,
    industry_pe_median,
    industry_pe_count,
    pe_vs_industry,
    industry_cheapness,
    case
        when is_loss_making then
            least(10 * (1 - coalesce(pb_pct, 0.5)) * {{ var('loss_valuation_pb_weight') }}, {{ var('loss_valuation_cap') }})
        else
            10 * (
                {{ var('valuation_weight_pe') }} * (1 - coalesce(pe_pct, 0.5))
                + {{ var('valuation_weight_pb') }} * (1 - coalesce(pb_pct, 0.5))
                + {{ var('valuation_weight_industry') }} * industry_cheapness
            )
    end as valuation_score
from scored

{{
    config(
        materialized='incremental',
        unique_key=['trade_date', 'factor', 'horizon']
    )
}}
-- depends_on: {{ ref('stg_trade_calendar') }}
-- One row per trading day, factor and horizon: the day's cross-sectional rank IC (Spearman).
--
--   rank_ic(t, f, h) = Pearson correlation of avg_rank(score_f) and avg_rank(fwd_return_h) over
--                      day t's universe (eval_factor_quantiles), ties averaged (= scipy.stats.spearmanr,
--                      alphalens factor_information_coefficient). The score ranks are the ones
--                      eval_factor_quantiles computed: every stock of the universe has a bar on t, so
--                      once session t + h is loaded every one has a forward return and the set ranked
--                      is the same (a day where the counts differ is left out rather than mis-ranked).
-- Null when either side has no spread that day (every score tied, or every return equal).
--
-- How (the result is the one above, computed without a window sort per factor and horizon):
-- the forward returns are ranked once per (day, horizon) over the stocks in any factor's universe
-- that day (the base set); a factor whose universe that day is the whole base set (the usual case:
-- every score is non-null for the same stocks) has exactly those return ranks, and its Pearson
-- correlation comes from sums in one hash aggregate. A factor whose universe is smaller that day
-- is re-ranked over its own stocks (the exact path, only for those days). The sums are exact
-- integers (2 x an average rank is an integer), so the IC no longer depends on the summation order:
--   X = 2 score_rank, Y = 2 return_rank, over the n stocks:
--   rank_ic = (n SXY - SX SY) / sqrt((n SXX - SX^2) (n SYY - SY^2))
-- Incremental: recomputes the sessions still open at the last build (eval_recompute_from).
with quantiles as (
    select code, trade_date, factor, cast(2 * score_rank as bigint) as x2, n_stocks
    from {{ ref('eval_factor_quantiles') }}
    {%- if is_incremental() %}
    where trade_date >= {{ eval_recompute_from() }}
    {%- endif %}
),

forward as (
    select code, trade_date, horizon, fwd_return
    from {{ ref('eval_forward_returns') }}
    {%- if is_incremental() %}
    where trade_date >= {{ eval_recompute_from() }}
    {%- endif %}
),

base_codes as (
    select distinct code, trade_date from quantiles
),

-- their forward returns, a column per horizon
forward_wide as (
    select
        f.code,
        f.trade_date
        {%- for h in var('eval_horizons') %},
        max(case when f.horizon = {{ h }} then f.fwd_return end) as fwd_return_{{ h }}
        {%- endfor %}
    from forward as f
    inner join base_codes as b on f.code = b.code and f.trade_date = b.trade_date
    group by f.code, f.trade_date
),

-- ranked once per day and horizon: Y = 2 x the average rank (nulls sort last, so a stock without
-- an h-session return yet changes no other stock's rank), n_base = the stocks ranked
base_wide as (
    select
        code,
        trade_date
        {%- for h in var('eval_horizons') %},
        case
            when fwd_return_{{ h }} is not null
                then {{ eval_twice_avg_rank('fwd_return_' ~ h, 'trade_date') }}
        end as y2_{{ h }},
        count(fwd_return_{{ h }}) over (partition by trade_date) as n_base_{{ h }}
        {%- endfor %}
    from forward_wide
),

base_sums as (
    select
        q.trade_date,
        q.factor,
        min(q.n_stocks) as universe
        {%- for h in var('eval_horizons') %},
        count(r.y2_{{ h }}) as n_{{ h }},
        min(r.n_base_{{ h }}) as n_base_{{ h }},
        sum(case when r.y2_{{ h }} is not null then q.x2 end) as sx_{{ h }},
        sum(case when r.y2_{{ h }} is not null then q.x2 * q.x2 end) as sxx_{{ h }},
        sum(r.y2_{{ h }}) as sy_{{ h }},
        sum(r.y2_{{ h }} * r.y2_{{ h }}) as syy_{{ h }},
        sum(q.x2 * r.y2_{{ h }}) as sxy_{{ h }}
        {%- endfor %}
    from quantiles as q
    inner join base_wide as r on q.code = r.code and q.trade_date = r.trade_date
    group by q.trade_date, q.factor
),

-- per (day, factor, horizon); only days where every stock of the universe has a forward return
base_long as (
    {%- for h in var('eval_horizons') %}
    select
        trade_date,
        factor,
        {{ h }} as horizon,
        n_{{ h }} as n_stocks,
        n_base_{{ h }} as n_base,
        sx_{{ h }} as sx,
        sxx_{{ h }} as sxx,
        sy_{{ h }} as sy,
        syy_{{ h }} as syy,
        sxy_{{ h }} as sxy
    from base_sums
    where n_{{ h }} = universe
    {%- if not loop.last %}
    union all
    {%- endif %}
    {%- endfor %}
),

-- the exact path: a factor whose universe that day is smaller than the base set
redo as (
    select trade_date, factor, horizon from base_long where n_stocks <> n_base
),

redo_ranked as (
    select
        q.trade_date,
        q.factor,
        f.horizon,
        q.x2,
        {{ eval_twice_avg_rank('f.fwd_return', 'q.trade_date, q.factor, f.horizon') }} as y2
    from quantiles as q
    inner join forward as f on q.code = f.code and q.trade_date = f.trade_date
    inner join redo as r on q.trade_date = r.trade_date and q.factor = r.factor and f.horizon = r.horizon
),

redo_sums as (
    select
        trade_date,
        factor,
        horizon,
        count(*) as n_stocks,
        sum(x2) as sx,
        sum(x2 * x2) as sxx,
        sum(y2) as sy,
        sum(y2 * y2) as syy,
        sum(x2 * y2) as sxy
    from redo_ranked
    group by trade_date, factor, horizon
),

sums as (
    select trade_date, factor, horizon, n_stocks, sx, sxx, sy, syy, sxy
    from base_long
    where n_stocks = n_base
    union all
    select trade_date, factor, horizon, n_stocks, sx, sxx, sy, syy, sxy
    from redo_sums
),

moments as (
    select
        trade_date,
        factor,
        horizon,
        n_stocks,
        n_stocks * sxy - sx * sy as cov_n2,
        n_stocks * sxx - sx * sx as var_x_n2,
        n_stocks * syy - sy * sy as var_y_n2
    from sums
)

select
    trade_date,
    cast(factor as {{ type_varchar() }}) as factor,
    cast(horizon as integer) as horizon,
    cast(n_stocks as bigint) as n_stocks,
    -- rounded to 12 decimals, as before the sums were exact: an IC that is 0 in exact arithmetic
    -- came out of the engine's corr() as +-1e-17, which would flip its sign (ic_positive_share)
    cast(
        case
            when var_x_n2 > 0 and var_y_n2 > 0
                then round(
                    cast(cov_n2 as {{ type_double() }})
                    / sqrt(cast(var_x_n2 as {{ type_double() }}) * cast(var_y_n2 as {{ type_double() }}))
                    * 1e12
                ) / 1e12
        end
        as {{ type_double() }}
    ) as rank_ic
from moments

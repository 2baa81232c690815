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
-- Incremental: recomputes the sessions still open at the last build (eval_recompute_from).
with quantiles as (
    select code, trade_date, factor, score_rank, n_stocks
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

joined as (
    select q.trade_date, q.factor, f.horizon, q.score_rank, q.n_stocks as universe, f.fwd_return
    from quantiles as q
    inner join forward as f on q.code = f.code and q.trade_date = f.trade_date
),

ranked as (
    select
        trade_date,
        factor,
        horizon,
        universe,
        score_rank,
        cast({{ eval_avg_rank('fwd_return', 'trade_date, factor, horizon') }} as {{ type_double() }}) as return_rank
    from joined
),

daily as (
    select
        trade_date,
        factor,
        horizon,
        count(*) as n_stocks,
        min(universe) as universe,
        corr(score_rank, return_rank) as pearson_of_ranks,
        var_pop(score_rank) as score_rank_var,
        var_pop(return_rank) as return_rank_var
    from ranked
    group by trade_date, factor, horizon
)

select
    trade_date,
    cast(factor as {{ type_varchar() }}) as factor,
    cast(horizon as integer) as horizon,
    cast(n_stocks as bigint) as n_stocks,
    -- rounded to 12 decimals: an IC that is 0 in exact arithmetic comes out as +-1e-17 from the
    -- engine's summation order, which would flip its sign between builds (ic_positive_share)
    cast(
        case when score_rank_var > 0 and return_rank_var > 0 then round(pearson_of_ranks * 1e12) / 1e12 end
        as {{ type_double() }}
    ) as rank_ic
from daily
where n_stocks = universe

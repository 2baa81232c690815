-- depends_on: {{ ref('stg_daily_quote') }}  (reads stg_daily_quote_base, the table under that view: no *_qfq needed; the ref keeps the view in every +model selection)
{{ config(materialized='incremental', pre_hook="{{ pg_no_nested_loops() }}") }}
-- One row per stock and trading day: the exact recursive MACD state.
--
-- EMAs run on the back-adjusted close (close * adj_factor), which never changes when new data
-- arrives, so the recursion can continue day by day from the stored state. Because an EMA is
-- linear, dividing by the day's adj_factor gives exactly the MACD a terminal shows on the
-- forward-adjusted chart as of that day, with no look-ahead. EMAs are seeded with the first close,
-- DEA with the first DIF (0); suspended days have no bar and are skipped.
{%- set a_fast = 2.0 / (var('macd_fast') + 1) %}
{%- set a_slow = 2.0 / (var('macd_slow') + 1) %}
{%- set a_sig = 2.0 / (var('macd_signal') + 1) %}
{%- if target.type in ('spark', 'postgres') %}
-- Spark and PostgreSQL: the same EMAs in closed form (macros/ema_closed_form.sql). A recursion one
-- level per bar is one Spark job per bar, and PostgreSQL re-scans its working table at every level
-- (81 s against 10 s for the closed form at 500 stocks x 3 years, bench/RESULTS.md). The closed
-- form differs from DuckDB's recursion by ~1e-14; factor_technical's crossing tests compare
-- through macd_cross_epsilon, so that noise decides no cross and both engines give the same
-- scores (tests/test_spine.py, tests/test_macd_cross_noise.py). An incremental run (PostgreSQL;
-- Spark rebuilds incremental models whole, macros/spark_compat.sql) continues each stock's stored
-- state.
{%- if is_incremental() %}
-- Each stock's stored state and its bars after it, read through the (code, trade_date) indexes of
-- both tables (macros/pg_index.sql): the stocks by a loose index scan (one probe per stock: the
-- next code after the last), then per stock its latest stored row and its later bars. Numbering
-- every stored row to find each stock's latest, and scanning every bar to find the new ones, read
-- 11.8 M rows of each at 5,000 stocks x 10 years for one new day.
with recursive quote_codes (code) as (
    select min(code) from {{ ref('stg_daily_quote_base') }}
    union all
    select (select min(q.code) from {{ ref('stg_daily_quote_base') }} as q where q.code > c.code)
    from quote_codes as c
    where c.code is not null
),

state as (
    select l.code, l.trade_date, l.bar_seq, l.ema_fast_hfq, l.ema_slow_hfq, l.dea_hfq
    from quote_codes as c
    cross join lateral (
        select t.code, t.trade_date, t.bar_seq, t.ema_fast_hfq, t.ema_slow_hfq, t.dea_hfq
        from {{ this }} as t
        where t.code = c.code
        order by t.trade_date desc
        limit 1
    ) as l
),

new_quotes as (
    select q.code, q.trade_date, q.close_hfq, q.adj_factor
    from quote_codes as c
    left join state as s on s.code = c.code
    cross join lateral (
        select b.code, b.trade_date, b.close_hfq, b.adj_factor
        from {{ ref('stg_daily_quote_base') }} as b
        where b.code = c.code and b.trade_date > coalesce(s.trade_date, cast('1900-01-01' as date))
    ) as q
    where c.code is not null
),

macd as (
{{ macd_closed_form('new_quotes', a_fast, a_slow, a_sig, state='state') }}
)

select * from macd
{%- else %}
{{ macd_closed_form(ref('stg_daily_quote_base'), a_fast, a_slow, a_sig) }}
{%- endif %}
{%- else %}
-- DuckDB: the recursion, one level per bar for all stocks at once (faster here than the closed
-- form's window sums: 14 s against 23 s of CPU at 5,000 stocks x 10 years). Each level carries
-- the bar's trade_date and adj_factor, so no join back to the bars is needed at the end.

with recursive

{% if is_incremental() %}
state as (
    select code, trade_date, bar_seq, adj_factor, ema_fast_hfq, ema_slow_hfq, dea_hfq
    from (
        select
            *,
            row_number() over (partition by code order by trade_date desc) as rn
        from {{ this }}
    ) as latest
    where rn = 1
),
{% endif %}

new_bars as (
    select
        q.code,
        q.trade_date,
        q.close_hfq,
        q.adj_factor,
        row_number() over (partition by q.code order by q.trade_date)
        {%- if is_incremental() %} + coalesce(s.bar_seq, 0){% endif %} as bar_seq
    from {{ ref('stg_daily_quote_base') }} as q
    {% if is_incremental() %}
    left join state as s on q.code = s.code
    where s.trade_date is null or q.trade_date > s.trade_date
    {% endif %}
),

seeds as (
    {% if is_incremental() %}
    select code, bar_seq, trade_date, adj_factor, ema_fast_hfq, ema_slow_hfq, dea_hfq, false as is_new
    from state
    union all
    {% endif %}
    select
        code,
        bar_seq,
        trade_date,
        adj_factor,
        close_hfq as ema_fast_hfq,
        close_hfq as ema_slow_hfq,
        -- double precision, not dbt.type_float(): that is FLOAT on DuckDB, a 4-byte REAL, and the
        -- whole DEA recursion would then run in single precision (errors ~1e-6 after a few years).
        cast(0 as {{ type_double() }}) as dea_hfq,
        true as is_new
    from new_bars
    where bar_seq = 1
),

ema (code, bar_seq, trade_date, adj_factor, ema_fast_hfq, ema_slow_hfq, dea_hfq, is_new) as (
    select code, bar_seq, trade_date, adj_factor, ema_fast_hfq, ema_slow_hfq, dea_hfq, is_new
    from seeds
    union all
    select
        b.code,
        b.bar_seq,
        b.trade_date,
        b.adj_factor,
        {{ a_fast }} * b.close_hfq + {{ 1 - a_fast }} * e.ema_fast_hfq,
        {{ a_slow }} * b.close_hfq + {{ 1 - a_slow }} * e.ema_slow_hfq,
        {{ a_sig }} * (
            ({{ a_fast }} * b.close_hfq + {{ 1 - a_fast }} * e.ema_fast_hfq)
            - ({{ a_slow }} * b.close_hfq + {{ 1 - a_slow }} * e.ema_slow_hfq)
        ) + {{ 1 - a_sig }} * e.dea_hfq,
        true
    from ema as e
    inner join new_bars as b
        on b.code = e.code
        and b.bar_seq = e.bar_seq + 1
)

select
    code,
    trade_date,
    bar_seq,
    adj_factor,
    ema_fast_hfq,
    ema_slow_hfq,
    dea_hfq,
    (ema_fast_hfq - ema_slow_hfq) / adj_factor as dif,
    dea_hfq / adj_factor as dea,
    2 * (ema_fast_hfq - ema_slow_hfq - dea_hfq) / adj_factor as macd
from ema
where is_new
{%- endif %}

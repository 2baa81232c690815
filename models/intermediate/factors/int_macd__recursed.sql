-- depends_on: {{ ref('stg_daily_quote') }}  (reads stg_daily_quote_base, the table under that view: no *_qfq needed; the ref keeps the view in every +model selection)
{{ config(materialized='incremental') }}
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
{%- if target.type == 'spark' %}
-- Spark: the same EMAs in closed form (macros/ema_closed_form.sql): a recursion one level per bar
-- is one Spark job per bar. Incremental runs continue from each stock's stored state, as below.
-- Not on PostgreSQL (although it would be 8x faster there): the closed form differs from the
-- recursion by ~1e-14, and factor_technical's crossing tests (dif vs dea) flip on such a
-- difference, so PostgreSQL's technical scores would differ from DuckDB's (tests/test_spine.py
-- caught 2 of 2,821 rows 5.5 points apart). PostgreSQL keeps the recursion, bit for bit DuckDB's.
{%- if is_incremental() %}
with state as (
    select code, trade_date, bar_seq, ema_fast_hfq, ema_slow_hfq, dea_hfq
    from (
        select
            *,
            row_number() over (partition by code order by trade_date desc) as rn
        from {{ this }}
    ) as latest
    where rn = 1
),

macd as (
{{ macd_closed_form(ref('stg_daily_quote_base'), a_fast, a_slow, a_sig, state='state') }}
)

select * from macd
{%- else %}
{{ macd_closed_form(ref('stg_daily_quote_base'), a_fast, a_slow, a_sig) }}
{%- endif %}
{%- else %}

with recursive

{% if is_incremental() %}
state as (
    select code, trade_date, bar_seq, ema_fast_hfq, ema_slow_hfq, dea_hfq
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
    select code, bar_seq, ema_fast_hfq, ema_slow_hfq, dea_hfq, false as is_new
    from state
    union all
    {% endif %}
    select
        code,
        bar_seq,
        close_hfq as ema_fast_hfq,
        close_hfq as ema_slow_hfq,
        -- double precision, not dbt.type_float(): that is FLOAT on DuckDB, a 4-byte REAL, and the
        -- whole DEA recursion would then run in single precision (errors ~1e-6 after a few years).
        cast(0 as {{ type_double() }}) as dea_hfq,
        true as is_new
    from new_bars
    where bar_seq = 1
),

ema (code, bar_seq, ema_fast_hfq, ema_slow_hfq, dea_hfq, is_new) as (
    select code, bar_seq, ema_fast_hfq, ema_slow_hfq, dea_hfq, is_new
    from seeds
    union all
    select
        b.code,
        b.bar_seq,
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
    b.code,
    b.trade_date,
    b.bar_seq,
    b.adj_factor,
    e.ema_fast_hfq,
    e.ema_slow_hfq,
    e.dea_hfq,
    (e.ema_fast_hfq - e.ema_slow_hfq) / b.adj_factor as dif,
    e.dea_hfq / b.adj_factor as dea,
    2 * (e.ema_fast_hfq - e.ema_slow_hfq - e.dea_hfq) / b.adj_factor as macd
from ema as e
inner join new_bars as b
    on b.code = e.code
    and b.bar_seq = e.bar_seq
where e.is_new
{%- endif %}

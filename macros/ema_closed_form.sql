{#-
  An exact EMA without recursion, for engines where a recursive CTE one level per bar is too deep
  or too slow (Spark runs every recursion level as a job; 1,000 bars = 1,000 jobs).

  The EMA  e_k = a x_k + r e_{k-1}  (r = 1 - a, start state e_0 = `seed`) unrolls to
      e_k = r^k e_0 + sum_{j<=k} a r^(k-j) x_j.
  Computed in blocks of `block` bars (k0 = the last bar before the block):
      p_k      = a r^(k-k0) * running_sum_{k0<j<=k} x_j r^-(j-k0)      (a window sum; r^-(j-k0) <= r^-block stays far from overflow)
      start_b  = r^(b*block) e_0 + sum_{c<b} r^((b-1-c)*block) P_c       (P_c = p at the end of block c; a small self-join of blocks)
      e_k      = r^(k-k0) start_b + p_k
  Same numbers as the recursion up to rounding (~1e-15 relative; dif and dea differ by up to ~1e-13
  CNY on the sample market): tests/test_spark_parity.py and tests/test_postgres_fast_paths.py check
  every MACD column against the DuckDB recursion to 1e-9, and factor_technical compares dif, dea and
  macd through macd_cross_epsilon so that this noise decides no cross.

  ema_cte(name, src, value, alpha, seed): CTEs named <name>_blk, <name>_end, <name>_start and <name>
  (code, bar_seq, ema) over `src` (a CTE with code, bar_seq gap-free from 1 per code, and `value`);
  `seed` is an SQL expression over `src` columns evaluated on bar 1.
-#}
{% macro ema_cte(name, src, value, alpha, seed, block=64) -%}
{%- set r = 'cast(' ~ (1 - alpha) ~ ' as ' ~ type_double() ~ ')' %}
{%- set alpha = 'cast(' ~ alpha ~ ' as ' ~ type_double() ~ ')' %}
{{ name }}_blk as (
    select
        code,
        bar_seq,
        cast(floor((bar_seq - 1) / {{ block }}) as bigint) as blk,
        bar_seq - cast(floor((bar_seq - 1) / {{ block }}) as bigint) * {{ block }} as k_in,
        {{ alpha }} * power({{ r }}, bar_seq - cast(floor((bar_seq - 1) / {{ block }}) as bigint) * {{ block }}) * sum(
            {{ value }} * power({{ r }}, -(bar_seq - cast(floor((bar_seq - 1) / {{ block }}) as bigint) * {{ block }}))
        ) over (
            partition by code, cast(floor((bar_seq - 1) / {{ block }}) as bigint)
            order by bar_seq rows between unbounded preceding and current row
        ) as p
    from {{ src }}
),

{{ name }}_end as (
    select code, blk, p
    from {{ name }}_blk
    where k_in = {{ block }}
),

{{ name }}_start as (
    select
        b.code,
        b.blk,
        power({{ r }}, b.blk * {{ block }}) * s.seed_value
            + coalesce(sum(power({{ r }}, (b.blk - 1 - e.blk) * {{ block }}) * e.p), 0) as start_state
    from (select distinct code, blk from {{ name }}_blk) as b
    inner join (select code, {{ seed }} as seed_value from {{ src }} where bar_seq = 1) as s
        on s.code = b.code
    left join {{ name }}_end as e
        on e.code = b.code
        and e.blk < b.blk
    group by b.code, b.blk, s.seed_value
),

{{ name }} as (
    select
        k.code,
        k.bar_seq,
        power({{ r }}, k.k_in) * st.start_state + k.p as ema
    from {{ name }}_blk as k
    inner join {{ name }}_start as st
        on st.code = k.code
        and st.blk = k.blk
)
{%- endmacro %}

{#- int_macd__recursed without recursion (Spark, PostgreSQL): the same columns as the recursive
    model. `state` (PostgreSQL's incremental runs): a relation with each stock's last stored row
    (code, trade_date, bar_seq, ema_fast_hfq, ema_slow_hfq, dea_hfq); only bars after it are
    computed, and the EMAs start from the stored state instead of the first close, exactly as the
    recursion continues it. Without `state` every bar is computed (a full build; Spark rebuilds
    incremental models whole, macros/spark_compat.sql). -#}
{% macro macd_closed_form(quotes, a_fast, a_slow, a_sig, state=none) %}
with bars as (
    select
        q.code,
        q.trade_date,
        q.close_hfq,
        q.adj_factor,
        -- bigint as on DuckDB/PostgreSQL (Spark's row_number is an int); the contracts say bigint
        -- bar_seq: 1.. over the bars computed here; seq_base: the stored bars before them
        cast(row_number() over (partition by q.code order by q.trade_date) as bigint) as bar_seq
        {%- if state is not none %},
        coalesce(s.bar_seq, 0) as seq_base,
        coalesce(s.ema_fast_hfq, q.close_hfq) as seed_fast,
        coalesce(s.ema_slow_hfq, q.close_hfq) as seed_slow,
        coalesce(s.dea_hfq, cast(0 as {{ type_double() }})) as seed_dea
        {%- else %},
        cast(0 as bigint) as seq_base,
        q.close_hfq as seed_fast,
        q.close_hfq as seed_slow,
        cast(0 as {{ type_double() }}) as seed_dea
        {%- endif %}
    from {{ quotes }} as q
    {%- if state is not none %}
    left join {{ state }} as s on s.code = q.code
    where s.trade_date is null or q.trade_date > s.trade_date
    {%- endif %}
),

{{ ema_cte('ema_fast', 'bars', 'close_hfq', a_fast, 'seed_fast') }},

{{ ema_cte('ema_slow', 'bars', 'close_hfq', a_slow, 'seed_slow') }},

difs as (
    select
        f.code, f.bar_seq, f.ema as ema_fast_hfq, s.ema as ema_slow_hfq, f.ema - s.ema as dif_hfq,
        b.seed_dea
    from ema_fast as f
    inner join ema_slow as s on s.code = f.code and s.bar_seq = f.bar_seq
    inner join bars as b on b.code = f.code and b.bar_seq = f.bar_seq
),

{{ ema_cte('ema_dea', 'difs', 'dif_hfq', a_sig, 'seed_dea') }}

select
    b.code,
    b.trade_date,
    b.bar_seq + b.seq_base as bar_seq,
    b.adj_factor,
    d.ema_fast_hfq,
    d.ema_slow_hfq,
    e.ema as dea_hfq,
    (d.ema_fast_hfq - d.ema_slow_hfq) / b.adj_factor as dif,
    e.ema / b.adj_factor as dea,
    2 * (d.ema_fast_hfq - d.ema_slow_hfq - e.ema) / b.adj_factor as macd
from bars as b
inner join difs as d on d.code = b.code and d.bar_seq = b.bar_seq
inner join ema_dea as e on e.code = b.code and e.bar_seq = b.bar_seq
{% endmacro %}

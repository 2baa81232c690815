{#-
  signal_offense: each stock's chain of non-overlapping trades, from `trades` (code, entry_seq,
  next_entry_seq = the first candidate after that trade's exit) and `candidates`. The chain starts
  at the stock's first candidate and jumps to next_entry_seq until there is none.
  Returns the body of a CTE with columns (code, entry_seq, next_entry_seq).

  DuckDB: a recursive CTE, one level per accepted trade.
  PostgreSQL: the recursion re-joins all trades at every level (17-22 s of a 500 x 3 years build);
  a running aggregate over each stock's trades in entry order (udf.offense_chain_step,
  macros/postgres_udfs.sql) walks the chain in one pass instead.
  Spark: a recursive CTE re-runs the whole plan of `trades` at every level (measured: 250 s for
  4 sample stocks), so it walks each stock's trades in one pass instead: trades sorted by
  entry_seq, a trade is accepted when it is the one the previous accepted trade points to (the
  `aggregate` higher-order function). Same rows: the chain only ever moves forward.
-#}
{% macro offense_chain(trades, candidates) %}
    {{ return(adapter.dispatch('offense_chain')(trades, candidates)) }}
{% endmacro %}

{% macro default__offense_chain(trades, candidates) %}
    select t.code, t.entry_seq, t.next_entry_seq
    from {{ trades }} as t
    inner join (select code, min(entry_seq) as first_seq from {{ candidates }} group by code) as f
        on t.code = f.code
        and t.entry_seq = f.first_seq
    union all
    select t.code, t.entry_seq, t.next_entry_seq
    from chain as ch
    inner join {{ trades }} as t
        on t.code = ch.code
        and t.entry_seq = ch.next_entry_seq
{% endmacro %}

{% macro postgres__offense_chain(trades, candidates) %}
    select code, entry_seq, next_entry_seq
    from (
        select
            code,
            entry_seq,
            next_entry_seq,
            {{ udf_schema() }}.offense_chain_step(cast(entry_seq as bigint), cast(next_entry_seq as bigint)) over (
                partition by code order by entry_seq rows between unbounded preceding and current row
            ) as walked
        from {{ trades }}
    ) as w
    where walked[1] = entry_seq
{% endmacro %}

{% macro spark__offense_chain(trades, candidates) %}
    select code, walked.entry_seq, walked.next_entry_seq
    from (
        select
            code,
            aggregate(
                array_sort(collect_list(named_struct('entry_seq', entry_seq, 'next_entry_seq', next_entry_seq))),
                named_struct(
                    'expect', cast(min(entry_seq) as bigint),
                    'taken', cast(array() as array<struct<entry_seq: bigint, next_entry_seq: bigint>>)
                ),
                (acc, x) -> case
                    when acc.expect is not null and cast(x.entry_seq as bigint) = acc.expect then named_struct(
                        'expect', cast(x.next_entry_seq as bigint),
                        'taken', array_append(acc.taken, named_struct(
                            'entry_seq', cast(x.entry_seq as bigint), 'next_entry_seq', cast(x.next_entry_seq as bigint)))
                    )
                    else acc
                end
            ).taken as steps
        from {{ trades }}
        group by code
    ) as w
    lateral view explode(steps) as walked
{% endmacro %}

{#-
  The bars a candidate (alias `c`, from the candidates CTE) may exit on: `relation` as `alias`,
  the next `hold` bars of the same stock. Returns a join clause.

  DuckDB (and others): a band join on bar_seq, which DuckDB runs as a range join.
  PostgreSQL: the band join is planned as a merge join on code alone with the band as a filter,
  every candidate against every bar of its stock (13.7 M rows at 500 x 3 years, quadratic in the
  history). Instead each candidate lists its `hold` bar numbers and joins them on equality
  (a hash join; candidates x hold rows).
-#}
{% macro offense_hold_join(c, relation, alias, hold) %}
    {{ return(adapter.dispatch('offense_hold_join')(c, relation, alias, hold)) }}
{% endmacro %}

{% macro default__offense_hold_join(c, relation, alias, hold) %}
    inner join {{ relation }} as {{ alias }}
        on {{ alias }}.code = {{ c }}.code
        and {{ alias }}.bar_seq > {{ c }}.entry_seq
        and {{ alias }}.bar_seq <= {{ c }}.entry_seq + {{ hold }}
{% endmacro %}

{% macro postgres__offense_hold_join(c, relation, alias, hold) %}
    cross join generate_series(1, {{ hold }}) as held (k)
    inner join {{ relation }} as {{ alias }}
        on {{ alias }}.code = {{ c }}.code
        and {{ alias }}.bar_seq = {{ c }}.entry_seq + held.k
{% endmacro %}

{#-
  trades: every candidate with its first exit (exit_hits with hit_rank 1, if any) and
  next_entry_seq, the first candidate of the stock after that exit. Returns a CTE body.

  DuckDB (and others): next_entry_seq is a correlated subquery, which DuckDB decorrelates.
  PostgreSQL runs it once per candidate over the whole candidates CTE (55 of 72 s at 500 x 3 years,
  quadratic in the candidates). Instead each distinct exit bar is put in one sequence with the
  candidates and reads, walking each stock backwards, the smallest candidate bar seen so far
  (a running min: one sort, one pass). At equal bar_seq the exit comes first in that backward walk,
  so a candidate on the exit bar itself is not "after" it, as in `c2.entry_seq > e.bar_seq`.
-#}
{% macro offense_trades(candidates, exit_hits) %}
    {{ return(adapter.dispatch('offense_trades')(candidates, exit_hits)) }}
{% endmacro %}

{% macro default__offense_trades(candidates, exit_hits) %}
    select
        c.*,
        e.bar_seq as exit_seq,
        e.trade_date as exit_date,
        e.close as exit_close,
        e.composite_score as exit_composite,
        e.exit_rule,
        (
            select min(c2.entry_seq)
            from {{ candidates }} as c2
            where c2.code = c.code and c2.entry_seq > e.bar_seq
        ) as next_entry_seq
    from {{ candidates }} as c
    left join {{ exit_hits }} as e
        on e.code = c.code
        and e.entry_seq = c.entry_seq
        and e.hit_rank = 1
{% endmacro %}

{% macro postgres__offense_trades(candidates, exit_hits) %}
    select
        c.*,
        e.bar_seq as exit_seq,
        e.trade_date as exit_date,
        e.close as exit_close,
        e.composite_score as exit_composite,
        e.exit_rule,
        n.next_entry_seq
    from {{ candidates }} as c
    left join {{ exit_hits }} as e
        on e.code = c.code
        and e.entry_seq = c.entry_seq
        and e.hit_rank = 1
    left join (
        select code, seq as exit_seq, next_entry_seq
        from (
            select
                code,
                seq,
                is_exit,
                min(case when not is_exit then seq end) over (
                    partition by code order by seq desc, is_exit desc
                    rows between unbounded preceding and current row
                ) as next_entry_seq
            from (
                select code, entry_seq as seq, false as is_exit from {{ candidates }}
                union all
                select distinct code, bar_seq as seq, true as is_exit from {{ exit_hits }} where hit_rank = 1
            ) as events
        ) as walked
        where is_exit
    ) as n
        on n.code = e.code
        and n.exit_seq = e.bar_seq
{% endmacro %}

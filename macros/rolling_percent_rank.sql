{#-
  percent_rank of `value_col` within the last `window` rows of its partition (current row
  included): (number of rows in the frame with a smaller value) / (rows in frame - 1).
  Null when the frame holds fewer than `min_rows` rows.

  Returns a full select (partition_col, order_col, pct) over `relation`, which must already be
  filtered to valid values. DuckDB has framed percent_rank; PostgreSQL keeps a bit string of the
  frame's value ranks with a moving aggregate (udf.rank_bits) and counts the set bits below the
  current value's rank; other engines get an exact band self-join on a row number (slower, same result).

  `after` (an SQL expression of the order column's type, optional): rank only the rows after it,
  each still against its full window of earlier rows. Incremental models use it: the band
  self-join over a day's new rows is small on every engine, and gives the same numbers.
-#}
{% macro rolling_percent_rank(relation, partition_col, order_col, value_col, window, min_rows, after=none) %}
    {%- if after is not none %}
        {{ return(adapter.dispatch('rolling_percent_rank_after')(relation, partition_col, order_col, value_col, window,
                                                                 min_rows, after)) }}
    {%- endif %}
    {{ return(adapter.dispatch('rolling_percent_rank')(relation, partition_col, order_col, value_col, window, min_rows)) }}
{% endmacro %}

{% macro duckdb__rolling_percent_rank(relation, partition_col, order_col, value_col, window, min_rows) %}
    select
        {{ partition_col }},
        {{ order_col }},
        case
            when count(*) over w >= {{ [min_rows, 2] | max }}
                then percent_rank(order by {{ value_col }}) over w
        end as pct
    from {{ relation }}
    window w as (
        partition by {{ partition_col }} order by {{ order_col }}
        rows between {{ window - 1 }} preceding and current row
    )
{% endmacro %}

{% macro default__rolling_percent_rank_after(relation, partition_col, order_col, value_col, window, min_rows, after) %}
    {{ return(rolling_percent_rank_band(relation, partition_col, order_col, value_col, window, min_rows, after)) }}
{% endmacro %}

{#- DuckDB, incremental: the band self-join over the new rows needs each partition's last
    `window - 1` rows before them, not its whole history to number. max(order_col, n) keeps the n
    largest values per partition in a bounded heap (one hash-aggregate pass, no sort); the smallest
    of them is the oldest row any new row's frame can reach. -#}
{% macro duckdb__rolling_percent_rank_after(relation, partition_col, order_col, value_col, window, min_rows, after) %}
    {%- set recent -%}
        (
            select r.*
            from {{ relation }} as r
            left join (
                select {{ partition_col }}, list_min(max({{ order_col }}, {{ [window - 1, 1] | max }})) as first_needed
                from {{ relation }}
                where {{ order_col }} <= {{ after }}
                group by {{ partition_col }}
            ) as f on r.{{ partition_col }} = f.{{ partition_col }}
            where r.{{ order_col }} >= coalesce(f.first_needed, r.{{ order_col }})
              and r.{{ partition_col }} in (
                  select n.{{ partition_col }} from {{ relation }} as n where n.{{ order_col }} > {{ after }}
              )
        )
    {%- endset %}
    {{ return(rolling_percent_rank_band(recent, partition_col, order_col, value_col, window, min_rows, after)) }}
{% endmacro %}

{#- PostgreSQL, incremental: each new row counts, in a lateral subquery, the rows of its own frame
    (its partition's last `window` rows up to and including it: `order by ... desc limit`, which a
    btree index on (partition_col, order_col) answers by reading those rows only) and those with a
    smaller value. No numbering, sort or band join: at 1,500 x 5 years the band over the same rows
    (numbered, then paired) took 3.9 s of pe_pct's 3.9 s; the frames read through the index alone
    take ~1.6 s. Same arithmetic as the band (count of smaller values as a double / (rows - 1)).
    The default path numbers every partition's whole history first: a sort of the whole table each
    day, factor_valuation's 251 s of a 918 s one-day build at 5,000 x 10 years (bench/RESULTS.md).
    The index: the incremental tables have one on their key (macros/pg_index.sql), and `relation`
    must reach it, i.e. be a table or a CTE that PostgreSQL inlines (declared `{{ cte_inline() }}`
    by the caller: a materialized CTE would be scanned once per row). -#}
{% macro postgres__rolling_percent_rank_after(relation, partition_col, order_col, value_col, window, min_rows, after) %}
    select
        a.{{ partition_col }},
        a.{{ order_col }},
        case
            when w.n >= {{ [min_rows, 2] | max }}
                then cast(w.smaller as {{ type_double() }}) / (w.n - 1)
        end as pct
    from {{ relation }} as a
    cross join lateral (
        select
            count(*) as n,
            sum(case when f.v < a.{{ value_col }} then 1 else 0 end) as smaller
        from (
            select r.{{ value_col }} as v
            from {{ relation }} as r
            where r.{{ partition_col }} = a.{{ partition_col }} and r.{{ order_col }} <= a.{{ order_col }}
            order by r.{{ order_col }} desc
            limit {{ window }}
        ) as f
    ) as w
    where a.{{ order_col }} > {{ after }}
{% endmacro %}

{#- PostgreSQL: framed percent_rank is not supported; the band self-join pairs every row with
    `window` others (76 s of a 104 s build at 500 x 3 years), and a framed array_agg rebuilds each
    row's frame (array_agg has no inverse transition: O(rows x window), hours at 5,000 x 10 years).
    Instead each row gets two ranks within its partition's whole history: `u`, unique (by value,
    then order column), and `f`, the number of rows with a smaller value (rank() - 1). A moving
    aggregate (udf.rank_bits, macros/postgres_udfs.sql) keeps the bit string of the u's in the
    frame, one bit set and one cleared per row; the frame's values below the current one are
    exactly its set bits below position f (u < f <=> value < current value; ties are not smaller,
    as in percent_rank), counted with bit_count. -#}
{% macro postgres__rolling_percent_rank(relation, partition_col, order_col, value_col, window, min_rows) %}
    select
        {{ partition_col }},
        {{ order_col }},
        case
            when n >= {{ [min_rows, 2] | max }}
                then cast(bit_count(substring(bits from 1 for f)) as {{ type_double() }}) / (n - 1)
        end as pct
    from (
        select
            {{ partition_col }},
            {{ order_col }},
            f,
            {{ udf_schema() }}.rank_bits(u) over w as bits,
            count(*) over w as n
        from (
            select
                {{ partition_col }},
                {{ order_col }},
                cast(rank() over (partition by {{ partition_col }} order by {{ value_col }}) - 1 as integer) as f,
                cast(row_number() over (
                    partition by {{ partition_col }} order by {{ value_col }}, {{ order_col }}
                ) - 1 as integer) as u
            from {{ relation }}
        ) as ranked
        window w as (
            partition by {{ partition_col }} order by {{ order_col }}
            rows between {{ window - 1 }} preceding and current row
        )
    ) as framed
{% endmacro %}

{% macro default__rolling_percent_rank(relation, partition_col, order_col, value_col, window, min_rows) %}
    {{ return(rolling_percent_rank_band(relation, partition_col, order_col, value_col, window, min_rows)) }}
{% endmacro %}

{% macro rolling_percent_rank_band(relation, partition_col, order_col, value_col, window, min_rows, after=none) %}
    with numbered as (
        select
            {{ partition_col }},
            {{ order_col }},
            {{ value_col }} as v,
            row_number() over (partition by {{ partition_col }} order by {{ order_col }}) as seq
        from {{ relation }} as numbered_rows
    )

    select
        a.{{ partition_col }},
        a.{{ order_col }},
        case
            when count(*) >= {{ [min_rows, 2] | max }}
                then cast(sum(case when b.v < a.v then 1 else 0 end) as {{ type_double() }}) / (count(*) - 1)
        end as pct
    from numbered as a
    inner join numbered as b
        on b.{{ partition_col }} = a.{{ partition_col }}
        and b.seq between a.seq - {{ window - 1 }} and a.seq
    {%- if after is not none %}
    where a.{{ order_col }} > {{ after }}
    {%- endif %}
    group by a.{{ partition_col }}, a.{{ order_col }}
{% endmacro %}

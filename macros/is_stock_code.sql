{#-
  True when `code` (600000.SH spelling) is an A-share STOCK code: SSE 60x main board and 688/689
  STAR; SZSE 00x main board and 30x ChiNext; BSE 4xx/8xx/92x. Everything else the exchanges list
  beside stocks is not: ETFs and funds (SSE 5xxxxx, SZSE 15x/16x/18x), B shares (SSE 900, SZSE 200),
  bonds. The exchanges' margin lists carry ETFs (510050, 159915 ...): staging drops them and the
  quarantine counts them. Code ranges: SSE/SZSE/BSE code allocation rules (证券代码编码规则).
-#}
{% macro is_stock_code(code) -%}
    (
        (substr({{ code }}, 8, 2) = 'SH' and substr({{ code }}, 1, 2) in ('60', '68'))
        or (substr({{ code }}, 8, 2) = 'SZ' and substr({{ code }}, 1, 2) in ('00', '30'))
        or (substr({{ code }}, 8, 2) = 'BJ' and substr({{ code }}, 1, 1) in ('4', '8', '9'))
    )
{%- endmacro %}

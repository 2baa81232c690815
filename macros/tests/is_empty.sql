{#- The model has no rows; used with severity warn on the quarantine. -#}
{% test is_empty(model, column_name=none) %}
select * from {{ model }}
{% endtest %}

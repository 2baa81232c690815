-- One row per alert episode of a watched stock: cumulative net profit YoY of the latest announced
-- quarter and of the quarter right before it were both below -var stable_np_yoy_drop (a missing
-- quarter breaks the chain). Raised on the first trading day the condition holds (as known that
-- day, restatements included) after a day it did not.
{{ stable_two_periods_in_a_row(
    rule='earnings_drop',
    metric='net_profit_yoy',
    threshold='-' ~ var('stable_np_yoy_drop'),
    priority=var('stable_earnings_priority'),
    label='net profit YoY'
) }}

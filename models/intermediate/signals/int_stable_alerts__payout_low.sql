-- One row per alert episode of a watched stock: the payout ratio of its latest announced dividend
-- and of the dividend before it were both below var stable_payout_min. Raised on the first
-- trading day the condition holds (as known that day) after a day it did not.
{{ stable_two_periods_in_a_row(
    rule='payout_low',
    metric='payout_ratio',
    threshold=var('stable_payout_min'),
    priority=var('stable_payout_priority'),
    label='payout ratio',
    period='div_report_period',
    prev_period='prev_div_report_period',
    ann_date='div_ann_date'
) }}

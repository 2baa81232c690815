-- One row per alert episode of a watched stock: ROE (TTM, or YTD annualised when last year's
-- reports are unknown) of the latest announced quarter and of the quarter right before it were
-- both below var stable_roe_floor. Raised on the first trading day the condition holds (as known
-- that day) after a day it did not.
{{ stable_two_periods_in_a_row(
    rule='roe_floor',
    metric='roe_annualised',
    threshold=var('stable_roe_floor'),
    priority=var('stable_roe_priority'),
    label='ROE (TTM)'
) }}

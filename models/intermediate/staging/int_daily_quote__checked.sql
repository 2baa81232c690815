{{ config(materialized="view") }}
-- Every raw daily bar with the first reason it is unusable (null when it is clean).
-- stg_daily_quote keeps the clean rows; quarantine shows the rest.
-- The move check (|close / pre_close - 1| > quote_max_abs_return) skips a new listing's first
-- sessions, which have no price limit or a wider one (rules, dates and sources:
-- qmt/rules.py DEFAULT_NEW_LISTINGS): the first 5 sessions of STAR listings (from 2019-07-22),
-- ChiNext listings from 2020-08-24 and main-board listings from 2023-04-10; the listing day of
-- every other listing (BSE: listing day unlimited; main board / ChiNext: unlimited before 2014,
-- +44 % / -36 % of the issue price from 2014). Sessions are counted on the trading calendar from
-- stg_stock_info.list_date; a stock without a list_date gets no exemption.
-- Two checks catch defects real upstream files carry (tests/test_staging_real_defects.py):
-- * a bar loaded before the day's data was final (loaded_at earlier than quote_final_utc_minutes
--   after midnight UTC of its trade date: 15:30 Asia/Shanghai, after the STAR/ChiNext
--   after-hours fixed-price session) is an intraday snapshot with partial volume;
-- * a bar whose back-adjusted pre_close does not follow the previous bar's close (beyond
--   quote_continuity_tolerance) while that previous bar did follow its own predecessor belongs to
--   another stock (Eastmoney once served 000001.SZ a bar closing at 5.90 between 10.88 and 10.45).
--   The bar after such a bad one breaks too, but its predecessor was already broken, so it stays.
--   Only earlier bars are read (lags), so a bar's verdict never depends on a later day.
{{ daily_quote_checked() }}

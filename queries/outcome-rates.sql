-- title = "Outcome and charge rates by category"
-- description = """
-- For crimes recorded in one local authority over a period of months: how many have reached a
-- charge or summons (including every court outcome that follows one), a positive outcome (a
-- charge, caution, penalty notice, drugs warning or community resolution), or were closed with
-- no suspect identified, and how many are still under investigation — by police.uk category,
-- with the rates as a percentage of recorded crimes. Outcomes are the latest recorded.
-- """
-- level = "general"
-- output = "chart"
-- tags = ["strategic-assessment", "outcomes"]
--
-- [parameters.area]
-- type = "area_code"
-- description = "Local authority (one of your areas)"
-- default = "@my_area"
--
-- [parameters.start_month]
-- type = "month"
-- description = "First month of recording"
-- default = "@month-12"
--
-- [parameters.end_month]
-- type = "month"
-- description = "Last month of recording (inclusive)"
-- default = "@month-1"
--
-- [chart]
-- kind = "bar"
-- x = "police_uk_category"
-- y = "charge_rate_pct"
-- title = "Charge or summons rate (%)"
--
-- [disclosure]
-- dimensions = ["police_uk_category"]
-- counts = ["crimes", "charged", "positive_outcomes", "no_suspect", "under_investigation"]
-- totals = { police_uk_category = "all" }
-- derived.charge_rate_pct = { kind = "ratio", numerator = "charged", denominator = "crimes", scale = 100 }
-- derived.positive_rate_pct = { kind = "ratio", numerator = "positive_outcomes", denominator = "crimes", scale = 100 }
WITH classified AS (
    SELECT
        c.police_uk_category,
        c.outcome IN (
            'charged', 'awaiting-court-result', 'sent-to-crown-court', 'imprisoned',
            'community-penalty', 'fined', 'conditional-discharge', 'suspended-sentence',
            'not-guilty'
        ) AS is_charged,
        c.outcome IN (
            'charged', 'awaiting-court-result', 'sent-to-crown-court', 'imprisoned',
            'community-penalty', 'fined', 'conditional-discharge', 'suspended-sentence',
            'not-guilty', 'cautioned', 'penalty-notice-issued', 'drugs-possession-warning',
            'local-resolution'
        ) AS is_positive,
        c.outcome = 'no-further-action' AS is_no_suspect,
        c.outcome = 'under-investigation' AS is_open
    FROM crime AS c
    WHERE c.local_authority_code = $area
      AND c.recorded_at >= $start_month
      AND c.recorded_at < $end_month + INTERVAL 1 MONTH
)
SELECT
    coalesce(police_uk_category, 'all') AS police_uk_category,
    count(*) AS crimes,
    count(*) FILTER (WHERE is_charged) AS charged,
    round(count(*) FILTER (WHERE is_charged) * 100.0 / count(*), 1) AS charge_rate_pct,
    count(*) FILTER (WHERE is_positive) AS positive_outcomes,
    round(count(*) FILTER (WHERE is_positive) * 100.0 / count(*), 1) AS positive_rate_pct,
    count(*) FILTER (WHERE is_no_suspect) AS no_suspect,
    count(*) FILTER (WHERE is_open) AS under_investigation
FROM classified
GROUP BY ROLLUP (police_uk_category)
ORDER BY police_uk_category IS NULL, crimes DESC, police_uk_category

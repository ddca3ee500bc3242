-- title = "Custody throughput and time in custody"
-- description = """
-- Custody records for arrests in one local authority, by month of arrival at the custody suite:
-- detentions, distinct people detained (by pseudonym), how many were charged, the median and
-- 90th-percentile hours from arrival (the PACE relevant time) to release, and how many were held
-- for more than 24 hours (the PACE limit without an extension).
-- """
-- level = "general"
-- output = "chart"
-- tags = ["strategic-assessment", "custody"]
--
-- [parameters.area]
-- type = "area_code"
-- description = "Local authority (one of your areas)"
-- default = "@my_area"
--
-- [parameters.start_month]
-- type = "month"
-- description = "First month of the period"
-- default = "@month-12"
--
-- [parameters.end_month]
-- type = "month"
-- description = "Last month of the period (inclusive)"
-- default = "@month-1"
--
-- [chart]
-- kind = "bar"
-- x = "month"
-- y = "detentions"
-- title = "Detentions per month"
--
-- [disclosure]
-- dimensions = ["month"]
-- counts = ["detentions", "charged", "over_24_hours"]
-- people = ["people"]
-- derived.charge_rate_pct = { kind = "ratio", numerator = "charged", denominator = "detentions", scale = 100 }
-- derived.median_hours = { kind = "measure", count = "detentions" }
-- derived.p90_hours = { kind = "measure", count = "detentions" }
WITH detentions AS (
    SELECT
        date_trunc('month', k.arrived_at) AS month_start,
        k.person_id,
        k.disposal,
        date_diff('minute', k.arrived_at, k.released_at) / 60.0 AS hours
    FROM custody AS k
    WHERE k.local_authority_code = $area
      AND k.arrived_at >= $start_month
      AND k.arrived_at < $end_month + INTERVAL 1 MONTH
)
SELECT
    strftime(month_start, '%Y-%m') AS month,
    count(*) AS detentions,
    count(DISTINCT person_id) AS people,
    count(*) FILTER (WHERE disposal = 'charged') AS charged,
    round(count(*) FILTER (WHERE disposal = 'charged') * 100.0 / count(*), 1) AS charge_rate_pct,
    round(median(hours), 1) AS median_hours,
    round(quantile_cont(hours, 0.9), 1) AS p90_hours,
    count(*) FILTER (WHERE hours > 24) AS over_24_hours
FROM detentions
GROUP BY month_start
ORDER BY month_start

-- title = "Night-time economy violence"
-- description = """
-- Violence in the night-time economy per month in one local authority: violent crimes (police.uk
-- "violence and sexual offences", excluding domestic abuse) committed on Friday and Saturday
-- nights (20:00 to 05:59) at places other than dwellings, how many of those were at licensed
-- premises, all violent crime, and the night-time economy share. The warehouse has no
-- town-centre flag, so the place types stand in for it.
-- """
-- level = "general"
-- output = "chart"
-- tags = ["strategic-assessment", "violence", "night-time-economy"]
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
-- kind = "line"
-- x = "month"
-- y = "nte_violence"
-- title = "Night-time economy violence per month"
--
-- [disclosure]
-- dimensions = ["month"]
-- counts = ["nte_violence", "at_licensed_premises", "violence"]
-- derived.nte_share_pct = { kind = "ratio", numerator = "nte_violence", denominator = "violence", scale = 100 }
WITH violence AS (
    SELECT
        date_trunc('month', c.recorded_at) AS month_start,
        l.location_type,
        NOT c.domestic_abuse
        AND l.location_type <> 'dwelling'
        AND (
            (isodow(c.committed_from) = 5 AND hour(c.committed_from) >= 20)
            OR (isodow(c.committed_from) = 6 AND (hour(c.committed_from) < 6 OR hour(c.committed_from) >= 20))
            OR (isodow(c.committed_from) = 7 AND hour(c.committed_from) < 6)
        ) AS is_nte
    FROM crime AS c
    LEFT JOIN location AS l ON l.location_id = c.location_id
    WHERE c.local_authority_code = $area
      AND c.police_uk_category = 'violent-crime'
      AND c.recorded_at >= $start_month
      AND c.recorded_at < $end_month + INTERVAL 1 MONTH
)
SELECT
    strftime(month_start, '%Y-%m') AS month,
    count(*) FILTER (WHERE is_nte) AS nte_violence,
    count(*) FILTER (WHERE is_nte AND location_type = 'licensed_premises') AS at_licensed_premises,
    count(*) AS violence,
    round(count(*) FILTER (WHERE is_nte) * 100.0 / count(*), 1) AS nte_share_pct
FROM violence
GROUP BY month_start
ORDER BY month_start

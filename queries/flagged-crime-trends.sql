-- title = "Domestic abuse and hate crime trends"
-- description = """
-- Crimes flagged as domestic abuse and crimes flagged as hate crime, per month for the twelve
-- months ending with the chosen month, in one local authority, with the same month a year
-- earlier and the change.
-- """
-- level = "general"
-- output = "chart"
-- tags = ["strategic-assessment", "domestic-abuse", "hate-crime", "trend"]
--
-- [parameters.area]
-- type = "area_code"
-- description = "Local authority (one of your areas)"
-- default = "@my_area"
--
-- [parameters.end_month]
-- type = "month"
-- description = "Last month shown (the eleven months before it are shown too)"
-- default = "@month-1"
--
-- [chart]
-- kind = "line"
-- x = "month"
-- y = "crimes"
-- series = "flag"
-- title = "Flagged crimes per month"
--
-- [disclosure]
-- dimensions = ["flag", "month"]
-- counts = ["crimes", "crimes_last_year"]
-- derived.change_pct = { kind = "change", current = "crimes", previous = "crimes_last_year" }
WITH months AS (
    SELECT DISTINCT date_trunc('month', c.recorded_at) AS month_start
    FROM crime AS c
    WHERE c.local_authority_code = $area
),
flags AS (
    SELECT 'domestic abuse' AS flag UNION ALL SELECT 'hate crime'
),
counted AS (
    SELECT
        date_trunc('month', c.recorded_at) AS month_start,
        count(*) FILTER (WHERE c.domestic_abuse) AS domestic_abuse,
        count(*) FILTER (WHERE c.hate_crime) AS hate_crime
    FROM crime AS c
    WHERE c.local_authority_code = $area
    GROUP BY 1
),
series AS (
    SELECT
        f.flag,
        m.month_start,
        CASE f.flag
            WHEN 'domestic abuse' THEN coalesce(k.domestic_abuse, 0)
            ELSE coalesce(k.hate_crime, 0)
        END AS crimes
    FROM months AS m
    CROSS JOIN flags AS f
    LEFT JOIN counted AS k ON k.month_start = m.month_start
)
SELECT
    s.flag,
    strftime(s.month_start, '%Y-%m') AS month,
    s.crimes,
    p.crimes AS crimes_last_year,
    round((s.crimes - p.crimes) * 100.0 / nullif(p.crimes, 0), 1) AS change_pct
FROM series AS s
LEFT JOIN series AS p
  ON p.flag = s.flag AND p.month_start = s.month_start - INTERVAL 12 MONTH
WHERE s.month_start > $end_month - INTERVAL 12 MONTH
  AND s.month_start <= $end_month
ORDER BY s.flag, s.month_start

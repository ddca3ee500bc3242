-- title = "Monthly crime with year-on-year and rolling 12-month change"
-- description = """
-- Recorded crimes per month for the twelve months ending with the chosen month, in one local
-- authority, for all crime or one police.uk category: the same month a year earlier, the change
-- between them, and the rolling 12-month total (shown once twelve months of data are available).
-- """
-- level = "general"
-- output = "chart"
-- tags = ["strategic-assessment", "crime", "trend"]
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
-- [parameters.category]
-- type = "category"
-- description = "police.uk category, or all"
-- domain = "offence_type.police_uk_category"
-- extra = ["all"]
-- default = "all"
--
-- [chart]
-- kind = "line"
-- x = "month"
-- y = "crimes"
-- title = "Recorded crimes per month"
--
-- [disclosure]
-- dimensions = ["month"]
-- counts = ["crimes", "crimes_last_year"]
-- derived.change_pct = { kind = "change", current = "crimes", previous = "crimes_last_year" }
-- derived.rolling_12m = { kind = "rolling", count = "crimes", window = 12, order = "month" }
WITH months AS (
    -- every month the warehouse holds for the area (whatever the category)
    SELECT DISTINCT date_trunc('month', c.recorded_at) AS month_start
    FROM crime AS c
    WHERE c.local_authority_code = $area
),
counted AS (
    SELECT date_trunc('month', c.recorded_at) AS month_start, count(*) AS crimes
    FROM crime AS c
    WHERE c.local_authority_code = $area
      AND ($category = 'all' OR c.police_uk_category = $category)
    GROUP BY 1
),
series AS (
    SELECT
        m.month_start,
        coalesce(k.crimes, 0) AS crimes,
        count(*) OVER twelve AS months_in_window,
        sum(coalesce(k.crimes, 0)) OVER twelve AS window_total
    FROM months AS m
    LEFT JOIN counted AS k ON k.month_start = m.month_start
    WINDOW twelve AS (
        ORDER BY m.month_start RANGE BETWEEN INTERVAL 11 MONTH PRECEDING AND CURRENT ROW
    )
)
SELECT
    strftime(s.month_start, '%Y-%m') AS month,
    s.crimes,
    p.crimes AS crimes_last_year,
    round((s.crimes - p.crimes) * 100.0 / nullif(p.crimes, 0), 1) AS change_pct,
    CASE WHEN s.months_in_window = 12 THEN CAST(s.window_total AS BIGINT) END AS rolling_12m
FROM series AS s
LEFT JOIN series AS p ON p.month_start = s.month_start - INTERVAL 12 MONTH
WHERE s.month_start > $end_month - INTERVAL 12 MONTH
  AND s.month_start <= $end_month
ORDER BY s.month_start

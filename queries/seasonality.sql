-- title = "Seasonality: crime by month of the year"
-- description = """
-- Recorded crimes by calendar month over a period of months, in one local authority, for all
-- crime or one category: the total for each month of the year, the number of years it covers,
-- the average per year and a seasonal index (100 = an average month).
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
-- [parameters.start_month]
-- type = "month"
-- description = "First month of the period"
-- default = "@month-24"
--
-- [parameters.end_month]
-- type = "month"
-- description = "Last month of the period (inclusive)"
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
-- kind = "bar"
-- x = "month_name"
-- y = "seasonal_index"
-- title = "Seasonal index (100 = average month)"
--
-- [disclosure]
-- dimensions = ["month_of_year"]
-- counts = ["crimes"]
-- derived.mean_per_year = { kind = "rate", count = "crimes", per = "years", scale = 1, digits = 1 }
-- derived.seasonal_index = { kind = "index", count = "crimes", per = "years", scale = 100, digits = 1 }
WITH months AS (
    SELECT DISTINCT date_trunc('month', c.recorded_at) AS month_start
    FROM crime AS c
    WHERE c.local_authority_code = $area
      AND c.recorded_at >= $start_month
      AND c.recorded_at < $end_month + INTERVAL 1 MONTH
),
counted AS (
    SELECT date_trunc('month', c.recorded_at) AS month_start, count(*) AS crimes
    FROM crime AS c
    WHERE c.local_authority_code = $area
      AND ($category = 'all' OR c.police_uk_category = $category)
      AND c.recorded_at >= $start_month
      AND c.recorded_at < $end_month + INTERVAL 1 MONTH
    GROUP BY 1
),
by_month AS (
    SELECT
        month(m.month_start) AS month_of_year,
        count(*) AS years,
        CAST(sum(coalesce(k.crimes, 0)) AS BIGINT) AS crimes
    FROM months AS m
    LEFT JOIN counted AS k ON k.month_start = m.month_start
    GROUP BY 1
),
overall AS (
    SELECT sum(crimes) * 1.0 / sum(years) AS per_month FROM by_month
)
SELECT
    b.month_of_year,
    monthname(make_date(2000, b.month_of_year, 1)) AS month_name,
    b.years,
    b.crimes,
    round(b.crimes * 1.0 / b.years, 1) AS mean_per_year,
    round(b.crimes * 100.0 / (b.years * o.per_month), 1) AS seasonal_index
FROM by_month AS b, overall AS o
ORDER BY b.month_of_year

-- title = "Crime counts and rates per 1,000 residents by LSOA, ward or neighbourhood"
-- description = """
-- Recorded crimes in each LSOA, ward or policing neighbourhood of one local authority over a
-- period of months, with the period of the same length just before it, the change, and the rate
-- per 1,000 residents. Every area is listed, including those with no crime.
-- """
-- level = "general"
-- output = "map_layer"
-- tags = ["strategic-assessment", "crime", "rates", "geography"]
--
-- [parameters.area]
-- type = "area_code"
-- description = "Local authority (one of your areas)"
-- default = "@my_area"
--
-- [parameters.geography]
-- type = "text"
-- description = "Which areas to count by"
-- allowed = ["lsoa", "ward", "neighbourhood"]
-- default = "ward"
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
-- [parameters.category]
-- type = "category"
-- description = "police.uk category, or all"
-- domain = "offence_type.police_uk_category"
-- extra = ["all"]
-- default = "all"
--
-- [chart]
-- kind = "bar"
-- x = "area_name"
-- y = "rate_per_1000"
-- title = "Crimes per 1,000 residents"
--
-- [map]
-- area = "area_code"
-- area_type = "geography"
--
-- [disclosure]
-- dimensions = ["area_code"]
-- counts = ["crimes", "crimes_previous_period"]
-- derived.change_pct = { kind = "change", current = "crimes", previous = "crimes_previous_period" }
-- derived.rate_per_1000 = { kind = "rate", count = "crimes", per = "population", scale = 1000 }
WITH areas AS (
    SELECT 'lsoa' AS geography, lsoa_code AS area_code, name AS area_name, population
    FROM lsoa WHERE local_authority_code = $area
    UNION ALL
    SELECT 'ward', ward_code, name, population
    FROM ward WHERE local_authority_code = $area
    UNION ALL
    SELECT 'neighbourhood', neighbourhood_code, name, population
    FROM neighbourhood WHERE local_authority_code = $area
),
bounds AS (
    SELECT
        $start_month - to_months(date_diff('month', $start_month, $end_month) + 1)
            AS previous_start
),
counted AS (
    SELECT
        CASE $geography
            WHEN 'lsoa' THEN c.lsoa_code
            WHEN 'ward' THEN c.ward_code
            ELSE c.neighbourhood_code
        END AS area_code,
        count(*) FILTER (WHERE c.recorded_at >= $start_month) AS crimes,
        count(*) FILTER (WHERE c.recorded_at < $start_month) AS crimes_previous_period
    FROM crime AS c, bounds AS b
    WHERE c.local_authority_code = $area
      AND ($category = 'all' OR c.police_uk_category = $category)
      AND c.recorded_at >= b.previous_start
      AND c.recorded_at < $end_month + INTERVAL 1 MONTH
    GROUP BY 1
)
SELECT
    a.geography,
    a.area_code,
    a.area_name,
    a.population,
    coalesce(k.crimes, 0) AS crimes,
    coalesce(k.crimes_previous_period, 0) AS crimes_previous_period,
    round(
        (coalesce(k.crimes, 0) - k.crimes_previous_period) * 100.0
        / nullif(k.crimes_previous_period, 0),
        1
    ) AS change_pct,
    round(coalesce(k.crimes, 0) * 1000.0 / a.population, 2) AS rate_per_1000
FROM areas AS a
LEFT JOIN counted AS k ON k.area_code = a.area_code
WHERE a.geography = $geography
ORDER BY rate_per_1000 DESC, a.area_code

-- title = "Hotspot LSOAs"
-- description = """
-- The LSOAs of one local authority with the most recorded crimes over a period of months (all
-- crime or one category), with the rate per 1,000 residents, the ward and the deprivation decile.
-- """
-- level = "general"
-- output = "map_layer"
-- tags = ["strategic-assessment", "hotspots", "geography"]
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
-- [parameters.category]
-- type = "category"
-- description = "police.uk category, or all"
-- domain = "offence_type.police_uk_category"
-- extra = ["all"]
-- default = "all"
--
-- [parameters.top]
-- type = "integer"
-- description = "How many LSOAs to list"
-- default = 20
-- min = 1
-- max = 500
--
-- [chart]
-- kind = "bar"
-- x = "lsoa_name"
-- y = "crimes"
-- title = "LSOAs with the most recorded crime"
--
-- [map]
-- area = "lsoa_code"
-- area_type = "lsoa"
--
-- [disclosure]
-- dimensions = ["lsoa_code"]
-- counts = ["crimes"]
-- derived.rate_per_1000 = { kind = "rate", count = "crimes", per = "population", scale = 1000 }
WITH counted AS (
    SELECT c.lsoa_code, count(*) AS crimes
    FROM crime AS c
    WHERE c.local_authority_code = $area
      AND ($category = 'all' OR c.police_uk_category = $category)
      AND c.recorded_at >= $start_month
      AND c.recorded_at < $end_month + INTERVAL 1 MONTH
    GROUP BY 1
)
SELECT
    rank() OVER (ORDER BY k.crimes DESC) AS rank,
    k.lsoa_code,
    l.name AS lsoa_name,
    w.name AS ward_name,
    l.imd_decile,
    l.population,
    k.crimes,
    round(k.crimes * 1000.0 / l.population, 2) AS rate_per_1000
FROM counted AS k
JOIN lsoa AS l ON l.lsoa_code = k.lsoa_code
LEFT JOIN ward AS w ON w.ward_code = l.ward_code
ORDER BY k.crimes DESC, k.lsoa_code
LIMIT $top

-- title = "Crime counts and rates per 1,000 residents by category, year on year"
-- description = """
-- Recorded crimes in one local authority for a calendar year, by police.uk category, with the
-- year before, the change between them and the rate per 1,000 residents (2021 census
-- population of the authority). The last row, "all", is all recorded crime.
-- """
-- level = "general"
-- output = "chart"
-- tags = ["strategic-assessment", "crime", "rates"]
--
-- [parameters.area]
-- type = "area_code"
-- description = "Local authority (one of your areas)"
-- default = "@my_area"
--
-- [parameters.year]
-- type = "integer"
-- description = "Calendar year of recording"
-- default = "@year-1"
-- min = 2000
-- max = 2100
--
-- [chart]
-- kind = "bar"
-- x = "police_uk_category"
-- y = "crimes"
-- title = "Recorded crimes by category"
--
-- [disclosure]
-- dimensions = ["police_uk_category"]
-- counts = ["crimes", "crimes_previous_year"]
-- totals = { police_uk_category = "all" }
-- derived.change_pct = { kind = "change", current = "crimes", previous = "crimes_previous_year" }
-- derived.rate_per_1000 = { kind = "rate", count = "crimes", per = "population", scale = 1000 }
WITH counted AS (
    SELECT
        c.police_uk_category,
        count(*) FILTER (WHERE year(c.recorded_at) = $year) AS crimes,
        count(*) FILTER (WHERE year(c.recorded_at) = $year - 1) AS crimes_previous_year
    FROM crime AS c
    WHERE c.local_authority_code = $area
      AND year(c.recorded_at) IN ($year, $year - 1)
    GROUP BY ROLLUP (c.police_uk_category)
)
SELECT
    coalesce(k.police_uk_category, 'all') AS police_uk_category,
    coalesce(
        (SELECT min(o.police_uk_label) FROM offence_type AS o
         WHERE o.police_uk_category = k.police_uk_category),
        'All recorded crime'
    ) AS police_uk_label,
    la.population,
    k.crimes,
    k.crimes_previous_year,
    round((k.crimes - k.crimes_previous_year) * 100.0 / nullif(k.crimes_previous_year, 0), 1)
        AS change_pct,
    round(k.crimes * 1000.0 / la.population, 2) AS rate_per_1000
FROM counted AS k
CROSS JOIN local_authority AS la
WHERE la.local_authority_code = $area
ORDER BY k.police_uk_category IS NULL, k.crimes DESC, police_uk_category

-- title = "Before and after: intervention area against a comparison area"
-- description = """
-- Recorded crimes (all or one category) in an intervention area and a comparison area for the
-- same number of months before and after the intervention started, with the change in each.
-- Areas may be LSOAs, wards, neighbourhoods or local authorities within your areas; choose a
-- comparison area that does not contain the intervention area.
-- """
-- level = "general"
-- output = "chart"
-- tags = ["jag", "evaluation"]
--
-- [parameters.intervention]
-- type = "area_code"
-- scope = "any"
-- description = "Code of the intervention area (LSOA, ward, neighbourhood or authority)"
--
-- [parameters.comparison]
-- type = "area_code"
-- scope = "any"
-- description = "Code of the comparison area"
--
-- [parameters.start]
-- type = "date"
-- description = "The day the intervention started"
--
-- [parameters.months]
-- type = "integer"
-- description = "Months compared on each side of the start"
-- default = 6
-- min = 1
-- max = 24
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
-- x = "role"
-- y = "change_pct"
-- title = "Change after the intervention started (%)"
--
-- [disclosure]
-- dimensions = ["role"]
-- counts = ["crimes_before", "crimes_after"]
-- derived.change_pct = { kind = "change", current = "crimes_after", previous = "crimes_before" }
WITH names AS (
    SELECT lsoa_code AS code, name FROM lsoa
    UNION ALL SELECT ward_code, name FROM ward
    UNION ALL SELECT neighbourhood_code, name FROM neighbourhood
    UNION ALL SELECT local_authority_code, name FROM local_authority
),
roles AS (
    SELECT 'intervention' AS role, $intervention AS code
    UNION ALL SELECT 'comparison', $comparison
),
window_bounds AS (
    SELECT
        CAST($start AS TIMESTAMP) - to_months($months) AS before_start,
        CAST($start AS TIMESTAMP) AS start_at,
        CAST($start AS TIMESTAMP) + to_months($months) AS after_end
),
counted AS (
    SELECT
        r.role,
        count(*) FILTER (WHERE c.recorded_at < b.start_at) AS crimes_before,
        count(*) FILTER (WHERE c.recorded_at >= b.start_at) AS crimes_after
    FROM roles AS r
    CROSS JOIN window_bounds AS b
    LEFT JOIN crime AS c
      ON r.code IN (c.lsoa_code, c.ward_code, c.neighbourhood_code, c.local_authority_code)
     AND c.recorded_at >= b.before_start
     AND c.recorded_at < b.after_end
     AND ($category = 'all' OR c.police_uk_category = $category)
    GROUP BY r.role
)
SELECT
    k.role,
    r.code AS area_code,
    n.name AS area_name,
    k.crimes_before,
    k.crimes_after,
    round((k.crimes_after - k.crimes_before) * 100.0 / nullif(k.crimes_before, 0), 1)
        AS change_pct
FROM counted AS k
JOIN roles AS r ON r.role = k.role
LEFT JOIN names AS n ON n.code = r.code
ORDER BY k.role DESC

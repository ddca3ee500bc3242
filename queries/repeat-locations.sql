-- title = "Repeat locations"
-- description = """
-- Places with at least the chosen number of recorded crimes over a period of months, in one
-- local authority: the kind of place, the address as your access level shows it (general
-- access: dwellings only as their anonymous map point), its LSOA, its map position, the crimes,
-- the categories and the first and last dates.
-- """
-- level = "general"
-- output = "map_layer"
-- tags = ["repeats", "jag"]
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
-- [parameters.min_crimes]
-- type = "integer"
-- description = "Least number of crimes for a place to be listed"
-- default = 3
-- min = 2
-- max = 1000
--
-- [chart]
-- kind = "none"
--
-- [map]
-- easting = "easting"
-- northing = "northing"
--
-- [disclosure]
-- dimensions = ["location_id"]
-- counts = ["crimes"]
WITH counted AS (
    SELECT
        c.location_id,
        count(*) AS crimes,
        string_agg(DISTINCT c.police_uk_category, ', ' ORDER BY c.police_uk_category)
            AS categories,
        CAST(min(c.recorded_at) AS DATE) AS first_recorded,
        CAST(max(c.recorded_at) AS DATE) AS last_recorded
    FROM crime AS c
    WHERE c.local_authority_code = $area
      AND c.recorded_at >= $start_month
      AND c.recorded_at < $end_month + INTERVAL 1 MONTH
    GROUP BY 1
    HAVING count(*) >= $min_crimes
)
SELECT
    k.location_id,
    l.location_type,
    l.address,
    l.lsoa_code,
    l.easting,
    l.northing,
    k.crimes,
    k.categories,
    k.first_recorded,
    k.last_recorded
FROM counted AS k
JOIN location AS l ON l.location_id = k.location_id
ORDER BY k.crimes DESC, k.location_id

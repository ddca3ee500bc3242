-- title = "Hotspot map points"
-- description = """
-- The anonymous map points (police.uk style: street centres, public places and commercial sites,
-- each covering at least eight addresses or none) with the most recorded crimes over a period of
-- months in one local authority, all crime or one category.
-- """
-- level = "general"
-- output = "map_layer"
-- tags = ["hotspots", "geography", "jag"]
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
-- description = "How many map points to list"
-- default = 25
-- min = 1
-- max = 1000
--
-- [chart]
-- kind = "bar"
-- x = "map_point_name"
-- y = "crimes"
--
-- [map]
-- easting = "easting"
-- northing = "northing"
--
-- [disclosure]
-- dimensions = ["map_point_id"]
-- counts = ["crimes"]
WITH counted AS (
    SELECT l.map_point_id, count(*) AS crimes
    FROM crime AS c
    JOIN location AS l ON l.location_id = c.location_id
    WHERE c.local_authority_code = $area
      AND ($category = 'all' OR c.police_uk_category = $category)
      AND c.recorded_at >= $start_month
      AND c.recorded_at < $end_month + INTERVAL 1 MONTH
      AND l.map_point_id IS NOT NULL
    GROUP BY 1
)
SELECT
    k.map_point_id,
    'On or near ' || m.name AS map_point_name,
    m.point_type,
    m.lsoa_code,
    m.easting,
    m.northing,
    k.crimes
FROM counted AS k
JOIN map_point AS m ON m.map_point_id = k.map_point_id
ORDER BY k.crimes DESC, k.map_point_id
LIMIT $top

-- title = "Hotspot grid cells"
-- description = """
-- Recorded crimes counted in square grid cells (British National Grid, EPSG:27700) over a
-- period of months, for one local authority, all crime or one category. Each row is a cell with
-- at least one crime: its centre and its count. Places are as your access level shows them
-- (general access: the anonymous map point, never the exact dwelling).
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
-- [parameters.cell_metres]
-- type = "integer"
-- description = "Grid cell size in metres"
-- allowed = [100, 200, 250, 500, 1000]
-- default = 250
--
-- [chart]
-- kind = "none"
--
-- [map]
-- easting = "easting"
-- northing = "northing"
--
-- [disclosure]
-- dimensions = ["cell_id"]
-- counts = ["crimes"]
WITH placed AS (
    SELECT
        floor(l.easting / $cell_metres) * $cell_metres AS cell_e,
        floor(l.northing / $cell_metres) * $cell_metres AS cell_n
    FROM crime AS c
    JOIN location AS l ON l.location_id = c.location_id
    WHERE c.local_authority_code = $area
      AND ($category = 'all' OR c.police_uk_category = $category)
      AND c.recorded_at >= $start_month
      AND c.recorded_at < $end_month + INTERVAL 1 MONTH
      AND l.easting IS NOT NULL
      AND l.northing IS NOT NULL
)
SELECT
    'E' || CAST(CAST(cell_e AS BIGINT) AS VARCHAR) || 'N' || CAST(CAST(cell_n AS BIGINT) AS VARCHAR)
        AS cell_id,
    cell_e + $cell_metres / 2.0 AS easting,
    cell_n + $cell_metres / 2.0 AS northing,
    count(*) AS crimes
FROM placed
GROUP BY cell_e, cell_n
ORDER BY crimes DESC, cell_id

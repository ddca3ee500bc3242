-- title = "Repeat offending"
-- description = """
-- How concentrated offending is in one local authority over a period of months: offenders and
-- suspects (distinct people, counted by pseudonym) by how many crimes they are linked to.
-- """
-- level = "general"
-- output = "chart"
-- tags = ["strategic-assessment", "repeats", "offenders"]
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
-- [chart]
-- kind = "bar"
-- x = "crimes_linked"
-- y = "offenders"
-- title = "Offenders by number of crimes linked"
--
-- [disclosure]
-- dimensions = ["crimes_linked"]
-- people = ["offenders"]
WITH per_offender AS (
    SELECT cp.person_id, count(DISTINCT c.crime_id) AS crimes
    FROM crime_person AS cp
    JOIN crime AS c ON c.crime_id = cp.crime_id
    WHERE cp.role IN ('offender', 'suspect')
      AND c.local_authority_code = $area
      AND c.recorded_at >= $start_month
      AND c.recorded_at < $end_month + INTERVAL 1 MONTH
    GROUP BY cp.person_id
),
banded AS (
    SELECT
        CASE WHEN crimes >= 10 THEN 10 WHEN crimes >= 5 THEN 5 ELSE crimes END AS band_order,
        person_id
    FROM per_offender
)
SELECT
    band_order,
    CASE band_order
        WHEN 10 THEN '10 or more' WHEN 5 THEN '5-9' ELSE CAST(band_order AS VARCHAR)
    END AS crimes_linked,
    count(DISTINCT person_id) AS offenders
FROM banded
GROUP BY band_order
ORDER BY band_order

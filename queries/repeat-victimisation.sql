-- title = "Repeat victimisation"
-- description = """
-- How concentrated victimisation is in one local authority over a period of months: victims
-- (distinct people, counted by pseudonym) by how many times they were victims. The number of
-- crimes per band is left out: within a band it follows from the number of victims, so it
-- would undo suppression and rounding. Under general access, victims of sexual offences and
-- domestic abuse are not linkable and are not counted.
-- """
-- level = "general"
-- output = "chart"
-- tags = ["strategic-assessment", "repeats", "victims"]
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
-- x = "times_victimised"
-- y = "victims"
-- title = "Victims by number of times victimised"
--
-- [disclosure]
-- dimensions = ["times_victimised"]
-- people = ["victims"]
WITH per_victim AS (
    SELECT cp.person_id, count(DISTINCT c.crime_id) AS crimes
    FROM crime_person AS cp
    JOIN crime AS c ON c.crime_id = cp.crime_id
    WHERE cp.role = 'victim'
      AND c.local_authority_code = $area
      AND c.recorded_at >= $start_month
      AND c.recorded_at < $end_month + INTERVAL 1 MONTH
    GROUP BY cp.person_id
),
banded AS (
    SELECT
        CASE WHEN crimes >= 6 THEN 6 WHEN crimes >= 4 THEN 4 ELSE crimes END AS band_order,
        person_id
    FROM per_victim
)
SELECT
    band_order,
    CASE band_order WHEN 6 THEN '6 or more' WHEN 4 THEN '4-5' ELSE CAST(band_order AS VARCHAR) END
        AS times_victimised,
    count(DISTINCT person_id) AS victims
FROM banded
GROUP BY band_order
ORDER BY band_order

-- title = "Repeat and prolific offenders"
-- description = """
-- People recorded as the offender or suspect in at least the chosen number of crimes over a
-- period of months in one local authority, identified only as your access level shows them
-- (general access: a keyed pseudonym, never a name or PNC id), with their crimes, custody
-- records (arrests) in the area over the same period, the categories and the first and last
-- dates.
-- """
-- level = "general"
-- output = "table"
-- individuals = true
-- tags = ["repeats", "offenders", "jag"]
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
-- description = "Least number of crimes for an offender to be listed"
-- default = 3
-- min = 2
-- max = 1000
WITH offending AS (
    SELECT
        CAST(cp.person_id AS VARCHAR) AS offender,
        c.crime_id,
        c.police_uk_category,
        c.recorded_at
    FROM crime_person AS cp
    JOIN crime AS c ON c.crime_id = cp.crime_id
    WHERE cp.role IN ('offender', 'suspect')
      AND c.local_authority_code = $area
      AND c.recorded_at >= $start_month
      AND c.recorded_at < $end_month + INTERVAL 1 MONTH
),
counted AS (
    SELECT
        offender,
        count(DISTINCT crime_id) AS crimes,
        string_agg(DISTINCT police_uk_category, ', ' ORDER BY police_uk_category) AS categories,
        CAST(min(recorded_at) AS DATE) AS first_recorded,
        CAST(max(recorded_at) AS DATE) AS last_recorded
    FROM offending
    GROUP BY offender
    HAVING count(DISTINCT crime_id) >= $min_crimes
),
arrests AS (
    SELECT CAST(person_id AS VARCHAR) AS offender, count(*) AS arrests
    FROM custody
    WHERE local_authority_code = $area
      AND arrived_at >= $start_month
      AND arrived_at < $end_month + INTERVAL 1 MONTH
    GROUP BY 1
)
SELECT
    k.offender,
    k.crimes,
    coalesce(a.arrests, 0) AS arrests,
    k.categories,
    k.first_recorded,
    k.last_recorded
FROM counted AS k
LEFT JOIN arrests AS a ON a.offender = k.offender
ORDER BY k.crimes DESC, k.offender

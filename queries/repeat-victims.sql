-- title = "Repeat victims"
-- description = """
-- People recorded as the victim of at least the chosen number of crimes over a period of months
-- in one local authority, identified only as your access level shows them (general access: a
-- keyed pseudonym, the same in every table and query, never a name), with their crimes, the
-- categories, the first and last dates, gender and age band. Under general access, victims of
-- sexual offences and domestic abuse are not linkable and do not appear.
-- """
-- level = "general"
-- output = "table"
-- individuals = true
-- tags = ["repeats", "victims", "jag"]
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
-- description = "Least number of crimes for a victim to be listed"
-- default = 2
-- min = 2
-- max = 1000
WITH victimisations AS (
    SELECT
        CAST(cp.person_id AS VARCHAR) AS victim,
        c.crime_id,
        c.police_uk_category,
        c.recorded_at
    FROM crime_person AS cp
    JOIN crime AS c ON c.crime_id = cp.crime_id
    WHERE cp.role = 'victim'
      AND c.local_authority_code = $area
      AND c.recorded_at >= $start_month
      AND c.recorded_at < $end_month + INTERVAL 1 MONTH
),
counted AS (
    SELECT
        victim,
        count(DISTINCT crime_id) AS crimes,
        string_agg(DISTINCT police_uk_category, ', ' ORDER BY police_uk_category) AS categories,
        CAST(min(recorded_at) AS DATE) AS first_recorded,
        CAST(max(recorded_at) AS DATE) AS last_recorded
    FROM victimisations
    GROUP BY victim
    HAVING count(DISTINCT crime_id) >= $min_crimes
)
SELECT
    k.victim,
    k.crimes,
    k.categories,
    k.first_recorded,
    k.last_recorded,
    p.gender,
    CAST(p.date_of_birth AS VARCHAR) AS age_band
FROM counted AS k
LEFT JOIN person AS p ON CAST(p.person_id AS VARCHAR) = k.victim
ORDER BY k.crimes DESC, k.victim

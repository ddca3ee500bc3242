-- title = "Hour of day by day of week"
-- description = """
-- When crimes were committed (the start of the time window recorded), by hour of the day and
-- day of the week, for one local authority over a period of months, for all crime or one
-- category. Combinations with no crime are not listed (they are zero).
-- """
-- level = "general"
-- output = "chart"
-- tags = ["strategic-assessment", "crime", "time"]
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
-- [chart]
-- kind = "heatmap"
-- x = "hour"
-- series = "weekday"
-- y = "crimes"
-- title = "Crimes by hour and day of week"
--
-- [disclosure]
-- dimensions = ["weekday_number", "hour"]
-- counts = ["crimes"]
SELECT
    isodow(c.committed_from) AS weekday_number,
    dayname(c.committed_from) AS weekday,
    hour(c.committed_from) AS hour,
    count(*) AS crimes
FROM crime AS c
WHERE c.local_authority_code = $area
  AND ($category = 'all' OR c.police_uk_category = $category)
  AND c.recorded_at >= $start_month
  AND c.recorded_at < $end_month + INTERVAL 1 MONTH
GROUP BY 1, 2, 3
ORDER BY 1, 3

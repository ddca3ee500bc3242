-- title = "Incident demand by grade and response-time compliance"
-- description = """
-- Incidents (calls for service) in one local authority per month and response grade, how many
-- were attended, and how many were attended within the target: grade 1 (immediate) within 15
-- minutes (the urban standard; the rural standard of 20 minutes is shown too, as the warehouse
-- does not mark rural places), grade 2 (priority) within 60 minutes, grade 3 within 48 hours.
-- Grades 4 (scheduled) and 5 (resolved without attendance) have no target. Compliance is the
-- share of all incidents of the grade attended within target; the median is of attended ones.
-- """
-- level = "general"
-- output = "chart"
-- tags = ["strategic-assessment", "incidents", "response"]
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
-- kind = "line"
-- x = "month"
-- y = "compliance_pct"
-- series = "grade"
-- title = "Attended within target (%)"
--
-- [disclosure]
-- dimensions = ["grade", "month"]
-- counts = ["incidents", "attended", "within_target", "within_rural_target"]
-- derived.compliance_pct = { kind = "ratio", numerator = "within_target", denominator = "incidents", scale = 100 }
-- derived.median_minutes = { kind = "measure", count = "attended" }
WITH graded AS (
    SELECT
        i.grade,
        date_trunc('month', i.reported_at) AS month_start,
        date_diff('second', i.reported_at, i.arrived_at) / 60.0 AS minutes,
        CASE i.grade WHEN 1 THEN 15 WHEN 2 THEN 60 WHEN 3 THEN 2880 END AS target_minutes,
        CASE i.grade WHEN 1 THEN 20 END AS rural_target_minutes
    FROM incident AS i
    WHERE i.local_authority_code = $area
      AND i.reported_at >= $start_month
      AND i.reported_at < $end_month + INTERVAL 1 MONTH
)
SELECT
    grade,
    strftime(month_start, '%Y-%m') AS month,
    any_value(target_minutes) AS target_minutes,
    count(*) AS incidents,
    count(minutes) AS attended,
    CASE WHEN any_value(target_minutes) IS NOT NULL
        THEN count(*) FILTER (WHERE minutes <= target_minutes) END AS within_target,
    CASE WHEN any_value(rural_target_minutes) IS NOT NULL
        THEN count(*) FILTER (WHERE minutes <= rural_target_minutes) END AS within_rural_target,
    CASE WHEN any_value(target_minutes) IS NOT NULL
        THEN round(count(*) FILTER (WHERE minutes <= target_minutes) * 100.0 / count(*), 1)
    END AS compliance_pct,
    round(median(minutes), 1) AS median_minutes
FROM graded
GROUP BY grade, month_start
ORDER BY grade, month_start

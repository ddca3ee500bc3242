-- title = "Intelligence reports by month and grading"
-- description = """
-- Intelligence reports submitted about places in one local authority per month, by 3x5x2
-- grading. Enhanced access only, for the purpose an intelligence grant covers.
-- """
-- level = "enhanced"
-- output = "chart"
-- tags = ["intelligence", "jag"]
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
-- x = "month"
-- y = "reports"
-- series = "grading"
--
-- [disclosure]
-- dimensions = ["grading", "month"]
-- counts = ["reports"]
SELECT
    r.grading,
    strftime(date_trunc('month', r.submitted_at), '%Y-%m') AS month,
    count(*) AS reports
FROM intelligence_report AS r
WHERE r.local_authority_code = $area
  AND r.submitted_at >= $start_month
  AND r.submitted_at < $end_month + INTERVAL 1 MONTH
GROUP BY 1, 2
ORDER BY 1, 2

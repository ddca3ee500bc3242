-- title = "Anti-social behaviour by type"
-- description = """
-- Anti-social behaviour incidents per month in one local authority, split into personal,
-- nuisance and environmental ASB, with the monthly total ("all"). ASB is recorded as incidents
-- (calls for service), not crimes.
-- """
-- level = "general"
-- output = "chart"
-- tags = ["strategic-assessment", "asb", "incidents"]
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
-- y = "incidents"
-- series = "asb_type"
-- title = "ASB incidents per month by type"
--
-- [disclosure]
-- dimensions = ["asb_type", "month"]
-- counts = ["incidents"]
-- totals = { asb_type = "all" }
SELECT
    coalesce(i.asb_type, 'all') AS asb_type,
    strftime(date_trunc('month', i.reported_at), '%Y-%m') AS month,
    count(*) AS incidents
FROM incident AS i
WHERE i.local_authority_code = $area
  AND i.asb_type IS NOT NULL
  AND i.reported_at >= $start_month
  AND i.reported_at < $end_month + INTERVAL 1 MONTH
GROUP BY GROUPING SETS ((i.asb_type, date_trunc('month', i.reported_at)),
                        (date_trunc('month', i.reported_at)))
ORDER BY asb_type = 'all', asb_type, month

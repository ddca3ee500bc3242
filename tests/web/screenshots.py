"""Screenshots of the web application's main pages, for ``docs/screenshots/``.

    PYTHONPATH=src python -m tests.web.screenshots [--out docs/screenshots]

Generates a small synthetic warehouse (a few seconds), serves it as the browser tests do, signs
in with Debian's Chromium through Playwright and saves one PNG per page: sign-in, the SyOPs,
the first-login password change, the SQL console with a result, a refused query with its
position marked, the query history, one query's audit details, /docs, and a senior
analyst's export approval inbox, an export's sample as the approver may see it, the audit
dashboard, its person look-ups, one query's record and the product QA queue; an analyst's
template library, a template run with its chart, the strategic assessment pack sent to QA, and
the map view (base map, choropleth, hotspot grid, export).
"""

from __future__ import annotations

import argparse
import json
import shutil
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

from gateway import generate
from gateway.datadir import DataDir
from tests.gateway_server import LiveGateway, start_gateway
from tests.web.conftest import CHROMIUM, FIRST_LOGIN_USER, PASSWORD, set_sql, web_data_dir

REPO = Path(__file__).resolve().parents[2]
SQL = """SELECT ward_code, police_uk_category, count(*) AS crimes
FROM crime
WHERE recorded_at >= DATE '2026-01-01'
GROUP BY ALL
ORDER BY crimes DESC"""
BAD_SQL = "SELECT crime_ref,\n       surname\nFROM crime"


def take(out: Path) -> list[Path]:
    from playwright.sync_api import sync_playwright

    out.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as work:
        source = Path(work) / "generated"
        generate.ensure(source, years=1, scale=0.05)
        dd = web_data_dir(Path(work) / "data", source=source)
        shutil.copyfile(DataDir(source).basemaps, dd.basemaps)
        gateway = start_gateway(dd.root)
        saved: list[Path] = []
        try:
            with sync_playwright() as playwright:
                browser = playwright.chromium.launch(
                    executable_path=str(CHROMIUM), args=["--no-sandbox"]
                )
                page = browser.new_page(viewport={"width": 1280, "height": 860})

                def shot(name: str, full: bool = False) -> None:
                    path = out / f"{name}.png"
                    page.screenshot(path=str(path), full_page=full)
                    saved.append(path)

                def sign_in(username: str, password: str) -> None:
                    page.goto(f"{gateway.url}/login")
                    page.get_by_label("Username").fill(username)
                    page.get_by_label("Password").fill(password)

                initial = json.loads(DataDir(dd.root).demo_tokens.read_text("utf-8"))[
                    FIRST_LOGIN_USER
                ]["password"]
                sign_in(FIRST_LOGIN_USER, initial)
                shot("01-sign-in")
                page.get_by_role("button", name="Sign in").click()
                page.wait_for_url("**/password")
                shot("02-first-login-password-change")
                page.context.clear_cookies()
                sign_in("h.lee", PASSWORD)
                page.get_by_role("button", name="Sign in").click()
                page.wait_for_url("**/syops")
                shot("03-security-operating-procedures")
                page.get_by_label("I have read and accept").check()
                page.get_by_role("button", name="Accept and continue").click()
                page.get_by_role("heading", name="SQL console").wait_for()
                page.locator("details", has_text="crime").first.locator("summary").click()
                set_sql(page, SQL)
                page.get_by_role("button", name="Run", exact=True).click()
                page.locator("#result-grid").wait_for()
                shot("04-sql-console", full=True)
                set_sql(page, BAD_SQL)
                page.get_by_role("button", name="Run", exact=True).click()
                page.locator("#error").wait_for(state="visible")
                shot("05-sql-console-error")
                page.get_by_role("link", name="Query history").click()
                shot("06-query-history")
                page.get_by_role("link", name="Details").first.click()
                shot("07-query-details", full=True)
                page.goto(f"{gateway.url}/docs")
                page.locator(".swagger-ui .info").wait_for()
                shot("08-api-docs")
                analyst_product_pages(page, gateway, shot)
                with gateway.client("h.lee") as analyst:
                    analyst.post(
                        "/v1/exports",
                        json={
                            "sql": "SELECT crime_ref, recorded_at, ward_code, police_uk_category "
                            "FROM crime WHERE police_uk_category = 'burglary'",
                            "purpose": "SA-2026",
                            "format": "csv",
                        },
                    )
                page.context.clear_cookies()
                sign_in("s.patel", PASSWORD)
                page.get_by_role("button", name="Sign in").click()
                page.get_by_label("I have read and accept").check()
                page.get_by_role("button", name="Accept and continue").click()
                page.get_by_role("link", name="Exports").click()
                shot("09-export-approval-inbox", full=True)
                senior_analyst_pages(page, gateway, shot)
                browser.close()
        finally:
            gateway.stop()
    return saved


def analyst_product_pages(page: Any, gateway: LiveGateway, shot: Callable[..., None]) -> None:
    """h.lee (signed in): the template library, a template run with its chart, the strategic
    assessment pack sent to QA, and the map view — base map, a choropleth, a hotspot grid and
    an export."""
    page.goto(f"{gateway.url}/templates")
    shot("40-template-library", full=True)
    page.get_by_role("link", name="Crime counts and rates per 1,000 residents by category").click()
    page.get_by_role("button", name="Run template").click()
    page.locator("#result-table").wait_for()
    shot("41-template-run-chart", full=True)
    page.get_by_role("link", name="Strategic assessment").click()
    page.get_by_role("button", name="Build the pack").click()
    page.locator("#made").wait_for()
    shot("42-strategic-assessment-pack", full=True)
    page.get_by_role("link", name="Map").click()
    page.locator(".leaflet-base-pane path").first.wait_for()
    shot("43-map-base")
    page.get_by_label("Template").select_option("hotspot-lsoas")
    page.locator("#base-picker").select_option("lsoa")
    page.get_by_role("button", name="Choose").click()
    page.get_by_role("button", name="Preview").click()
    page.locator(".leaflet-result-pane path").first.wait_for()
    shot("44-map-choropleth", full=True)
    page.get_by_label("Template").select_option("hotspot-map-points")
    page.locator("#base-picker").select_option("ward")
    page.get_by_role("button", name="Choose").click()
    page.get_by_label("Show as").select_option("grid")
    page.get_by_label("Grid cell size").select_option("500")
    page.get_by_role("button", name="Preview").click()
    page.locator(".leaflet-result-pane path").first.wait_for()
    shot("45-map-hotspot-grid")
    page.get_by_label("Format").select_option("tab")
    page.get_by_role("button", name="Export").click()
    page.locator("#exported").wait_for()
    shot("46-map-export")


def senior_analyst_pages(page: Any, gateway: LiveGateway, shot: Callable[..., None]) -> None:
    """s.patel (signed in, on the exports page): an export's sample as she may see it, the
    audit dashboard, person look-ups, one query's record, and the product QA queue."""
    with gateway.client("h.lee") as analyst:
        analyst.post(  # a person look-up, refused: it shows in the dashboard either way
            "/v1/query",
            json={"sql": "SELECT * FROM person WHERE surname = 'SMITH'", "purpose": "SA-2026"},
        )
        analyst.post(
            "/v1/products/strategic-assessment",
            json={"area": "E06000001", "year": 2026, "purpose": "SA-2026"},
        )
    page.get_by_role("link", name="Details and a sample").first.click()
    page.get_by_role("button", name="Show a sample").click()
    page.locator("#sample-grid, #sample-error").first.wait_for()
    shot("20-export-sample", full=True)
    page.get_by_role("link", name="Audit", exact=True).click()
    shot("21-audit-dashboard", full=True)
    page.get_by_role("link", name="Person look-ups").click()
    shot("22-audit-person-lookups", full=True)
    page.goto(f"{gateway.url}/audit?report=large-extractions&user=h.lee&min_rows=1")
    page.get_by_role("link", name="Query record").first.click()
    page.locator("#sql-submitted").wait_for()
    shot("23-audit-query-record", full=True)
    page.get_by_role("link", name="Products", exact=True).click()
    shot("24-product-qa-queue", full=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=REPO / "docs" / "screenshots")
    for path in take(parser.parse_args().out):
        print(path.relative_to(REPO) if path.is_relative_to(REPO) else path)


if __name__ == "__main__":
    main()

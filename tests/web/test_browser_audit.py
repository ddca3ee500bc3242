"""The senior analyst's pages in a real browser (Debian's Chromium through Playwright): a held
export sampled and approved with a comment by a designated senior analyst, then downloaded by
its requester; the audit dashboard's drill-down showing the SQL executed for a query run in
the test; the pages refused to an analyst; the QA queue; axe-core on every one of them."""

from __future__ import annotations

import csv
import io
from pathlib import Path
from typing import Any

from tests.gateway_server import LiveGateway
from tests.web.test_browser import accept_syops, run_query, serious_violations, sign_in


def _signed_in(page: Any, gateway: LiveGateway, username: str) -> None:
    sign_in(page, gateway, username)
    accept_syops(page)


def test_a_held_export_is_sampled_approved_and_downloaded_by_its_requester(
    browser: Any, web_gateway: LiveGateway
) -> None:
    sql = "SELECT crime_ref, recorded_at, ward_code FROM crime ORDER BY crime_id LIMIT 40"
    with web_gateway.client("j.taylor") as owner:
        held = owner.post(
            "/v1/exports", json={"sql": sql, "purpose": "SA-2026", "format": "csv"}
        ).json()
    assert held["approval"] == "pending"
    senior = browser.new_context()
    senior.set_default_timeout(15000)
    page = senior.new_page()
    _signed_in(page, web_gateway, "m.hughes")  # the deputy of j.taylor's senior analyst
    page.get_by_role("link", name="Exports").click()
    section = page.locator("section.export", has_text=held["file_name"])
    section.get_by_role("link", name="Details and a sample").click()
    page.wait_for_url(f"**/exports/{held['export_id']}")
    assert "j.taylor" in page.locator("dl.facts").inner_text()
    page.get_by_label("Your purpose").select_option("SA-2026")
    page.get_by_role("button", name="Show a sample").click()
    grid = page.locator("#sample-grid")
    grid.wait_for()
    assert grid.locator("tbody tr").count() == 10
    assert "your query" in grid.locator("caption").inner_text()
    assert not serious_violations(page)
    page.get_by_role("button", name="Approve").click()  # no comment: refused
    assert "comment" in page.locator("#decision-error").inner_text()
    section = page.locator("section.export", has_text=held["file_name"])
    section.get_by_label("Comment").fill("record-level extract checked: refs, dates, wards only")
    section.get_by_role("button", name="Approve").click()
    page.wait_for_url("**/exports")
    approval = page.locator("section.export", has_text=held["file_name"]).locator(".approval")
    assert approval.inner_text().startswith("approved by m.hughes")
    senior.close()

    requester = browser.new_context(accept_downloads=True)
    requester.set_default_timeout(15000)
    page = requester.new_page()
    _signed_in(page, web_gateway, "j.taylor")
    page.get_by_role("link", name="Exports").click()
    section = page.locator("section.export", has_text=held["file_name"])
    with page.expect_download() as download:
        section.get_by_role("link", name="Download").click()
    records = list(csv.DictReader(io.StringIO(Path(download.value.path()).read_text("utf-8"))))
    assert len(records) == 40
    assert {"crime_ref", "recorded_at", "ward_code"} <= set(records[0])
    requester.close()


def test_the_drill_down_shows_the_sql_executed_for_a_query_run_in_the_test(
    browser: Any, web_gateway: LiveGateway
) -> None:
    analyst = browser.new_context()
    analyst.set_default_timeout(15000)
    page = analyst.new_page()
    _signed_in(page, web_gateway, "h.lee")
    run_query(page, "SELECT 'browser-drill-marker' AS marker, count(*) AS n FROM crime")
    page.locator("#result-grid").wait_for()
    analyst.close()

    senior = browser.new_context()
    senior.set_default_timeout(15000)
    page = senior.new_page()
    _signed_in(page, web_gateway, "s.patel")
    page.get_by_role("link", name="Audit").click()
    page.get_by_role("heading", name="Audit dashboard").wait_for()
    assert not serious_violations(page)
    page.get_by_role("link", name="Large extractions").click()
    page.get_by_label("User").fill("h.lee")
    page.get_by_label("Rows at least").fill("1")
    page.get_by_role("button", name="Apply").click()
    row = page.locator("tbody tr", has_text="browser-drill-marker")
    row.get_by_role("link", name="Query record").click()
    page.wait_for_url("**/audit/queries/*")
    assert "browser-drill-marker" in page.locator("#sql-submitted").inner_text()
    executed = page.locator("#sql-executed").inner_text()
    assert "browser-drill-marker" in executed
    assert "projections.main.p_" in executed  # the server scans masked projections (default)
    written_out = page.locator("#sql-with-policy").inner_text()
    assert "browser-drill-marker" in written_out
    assert "E06000001" in written_out  # h.lee's area, applied by the policy
    assert "h.lee" in page.locator("dl.facts").inner_text()
    assert not serious_violations(page)
    senior.close()


def test_the_senior_analyst_pages_are_refused_to_an_analyst(
    page: Any, web_gateway: LiveGateway
) -> None:
    with web_gateway.client("h.lee") as owner:
        held = owner.post(
            "/v1/exports",
            json={
                "sql": "SELECT 'other-users-export' AS m, crime_ref FROM crime LIMIT 2",
                "purpose": "SA-2026",
                "format": "csv",
            },
        ).json()
    _signed_in(page, web_gateway, "a.khan")
    assert page.get_by_role("link", name="Audit").count() == 0
    page.goto(f"{web_gateway.url}/audit")
    assert page.get_by_role("heading", name="Not permitted").is_visible()
    assert "h.lee" not in page.locator("main").inner_text()
    assert not serious_violations(page)
    page.goto(f"{web_gateway.url}/exports/{held['export_id']}")
    assert page.get_by_role("heading", name="Not found").is_visible()
    assert "other-users-export" not in page.content()


def test_the_audit_tabs_and_the_qa_queue_have_no_serious_accessibility_violations(
    page: Any, web_gateway: LiveGateway
) -> None:
    with web_gateway.client("h.lee") as api:
        built = api.post(
            "/v1/products/strategic-assessment",
            json={"area": "E06000001", "year": 2025, "purpose": "SA-2026"},
        )
    assert built.status_code == 202, built.text[:300]
    _signed_in(page, web_gateway, "s.patel")
    for tab in (
        "daily-activity",
        "activity",
        "person-lookups",
        "out-of-hours",
        "large-extractions",
        "denied",
        "exports",
    ):
        page.goto(f"{web_gateway.url}/audit?report={tab}&min_rows=1")
        page.get_by_role("heading", name="Audit dashboard").wait_for()
        assert not serious_violations(page), tab
    page.get_by_role("link", name="Products").click()
    section = page.locator("section.product", has_text=built.json()["product_id"]).first
    section.get_by_label("Comment").fill("figures reconciled with the quarterly return")
    assert not serious_violations(page)
    section.get_by_role("button", name="Pass").click()
    page.wait_for_url("**/products")
    passed = page.locator("section.product", has_text=built.json()["product_id"]).first
    assert passed.locator(".qa").inner_text().startswith("released (QA passed) by s.patel")

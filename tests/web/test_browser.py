"""The web application in a real browser (Debian's Chromium through Playwright): sign-in with
the SyOPs, lockout, idle sign-off, the first-login password change, the SQL console with
masked values and only the analyst's areas, errors with their position, CSV download, and
axe-core on every page. One browser for the session, a fresh context per test."""

from __future__ import annotations

import csv
import io
import time
from pathlib import Path
from typing import Any

import pytest

from gateway.datadir import DataDir
from tests.gateway_server import LiveGateway
from tests.web.conftest import FIRST_LOGIN_USER, PASSWORD, set_sql

AXE = Path(__file__).with_name("vendor") / "axe-core" / "axe.min.js"


def sign_in(page: Any, gateway: LiveGateway, username: str, password: str = PASSWORD) -> None:
    page.goto(f"{gateway.url}/login")
    page.get_by_label("Username").fill(username)
    page.get_by_label("Password").fill(password)
    page.get_by_role("button", name="Sign in").click()


def accept_syops(page: Any) -> None:
    page.wait_for_url("**/syops")
    page.get_by_label("I have read and accept").check()
    page.get_by_role("button", name="Accept and continue").click()
    page.get_by_role("heading", name="SQL console").wait_for()


def serious_violations(page: Any) -> list[str]:
    """axe-core's serious and critical findings on the page as it is now (WCAG 2.x A/AA).

    axe is evaluated through the browser's debugging protocol, which the page's
    Content-Security-Policy does not govern (a script tag would be refused, rightly)."""
    page.evaluate(AXE.read_text("utf-8") + "\n;0")
    result = page.evaluate(
        """() => axe.run(document, {runOnly: {type: 'tag',
             values: ['wcag2a', 'wcag2aa', 'wcag21a', 'wcag21aa', 'wcag22aa']}})"""
    )
    return [
        f"{v['id']}: {v['help']} ({len(v['nodes'])} nodes)"
        for v in result["violations"]
        if v["impact"] in ("serious", "critical")
    ]


def run_query(page: Any, sql: str) -> None:
    set_sql(page, sql)
    page.get_by_role("button", name="Run", exact=True).click()


def test_sign_in_shows_the_syops_and_the_monitoring_notice(
    page: Any, web_gateway: LiveGateway
) -> None:
    sign_in(page, web_gateway, "h.lee")
    page.wait_for_url("**/syops")
    assert "monitored" in page.locator("#monitoring-notice").inner_text()
    assert not serious_violations(page)
    accept_syops(page)
    assert page.get_by_role("heading", name="SQL console").is_visible()
    assert "h.lee" in page.locator("header").inner_text()


def test_three_failed_attempts_lock_the_account(page: Any, web_gateway: LiveGateway) -> None:
    for attempt in range(3):
        sign_in(page, web_gateway, "e.okafor", f"wrong password {attempt}")
        page.wait_for_selector("#login-error")
    assert "locked" in page.locator("#login-error").inner_text()
    assert not serious_violations(page)
    sign_in(page, web_gateway, "e.okafor")  # the right password does not help now
    assert "locked" in page.locator("#login-error").inner_text()


def test_an_idle_session_is_signed_off_by_the_server(page: Any, idle_gateway: LiveGateway) -> None:
    sign_in(page, idle_gateway, "h.lee")
    accept_syops(page)
    # stop the page's courtesy timer: the server alone must sign the session off
    page.evaluate("() => { for (let id = 0; id < 10000; id++) window.clearTimeout(id); }")
    time.sleep(3.5)
    page.get_by_role("link", name="Query history").click()
    page.wait_for_url("**/login?ended=idle")
    assert "not used for too long" in page.locator("main").inner_text()


def test_the_first_sign_in_asks_for_a_new_password(page: Any, web_gateway: LiveGateway) -> None:
    tokens = DataDir(web_gateway.data_dir).demo_tokens.read_text("utf-8")
    initial = __import__("json").loads(tokens)[FIRST_LOGIN_USER]["password"]
    sign_in(page, web_gateway, FIRST_LOGIN_USER, initial)
    page.wait_for_url("**/password")
    assert not serious_violations(page)
    page.get_by_label("Current password").fill(initial)
    page.get_by_label("New password", exact=True).fill("password1234")
    page.get_by_label("New password again").fill("password1234")
    page.get_by_role("button", name="Change password").click()
    assert "commonly used" in page.locator("#password-error").inner_text()
    page.get_by_label("Current password").fill(initial)
    page.get_by_label("New password", exact=True).fill(PASSWORD)
    page.get_by_label("New password again").fill(PASSWORD)
    page.get_by_role("button", name="Change password").click()
    accept_syops(page)
    assert page.get_by_role("heading", name="SQL console").is_visible()


def test_a_general_analyst_sees_masked_values_and_only_their_area(
    page: Any, web_gateway: LiveGateway
) -> None:
    sign_in(page, web_gateway, "h.lee")
    accept_syops(page)
    crime = page.locator("details", has_text="crime").first
    crime.locator("summary").click()
    assert "last_n" in crime.inner_text()
    assert "null" in crime.inner_text()
    banners = page.locator("[data-page-marking]")
    assert banners.all_inner_texts() == ["OFFICIAL", "OFFICIAL"]  # no data shown yet
    run_query(
        page,
        "SELECT local_authority_code, crime_ref, modus_operandi FROM crime ORDER BY crime_id",
    )
    grid = page.locator("#result-grid")
    grid.wait_for()
    rows = grid.locator("tbody tr")
    assert rows.count() == 50  # one page of the grid
    # the page now shows crime records: both banners carry their marking
    assert banners.all_inner_texts() == ["OFFICIAL-SENSITIVE", "OFFICIAL-SENSITIVE"]
    for i in range(rows.count()):
        cells = rows.nth(i).locator("td").all_inner_texts()
        assert cells[0] == "E06000001"  # Hartlepool only
        assert cells[1].startswith("*****")  # crime_ref shows its last 4
        assert cells[2] == ""  # modus_operandi hidden
    page.get_by_role("button", name="Next").click()
    assert page.locator("#page-label").inner_text().startswith("Page 2 of")
    assert not serious_violations(page)
    page.get_by_role("button", name="CSV").click()  # record-level: an export, held
    held = page.locator("#export-held")
    held.wait_for()
    assert "held" in held.inner_text()
    assert page.get_by_role("link", name="your export register").get_attribute("href") == "/exports"
    assert not serious_violations(page)
    page.get_by_role("link", name="Back to the SQL console").click()
    set_sql(page, "SELECT local_authority_code, count(*) AS crimes FROM crime GROUP BY 1")
    with page.expect_download() as download:  # an aggregate: released at once
        page.get_by_role("button", name="CSV").click()
    text = Path(download.value.path()).read_text("utf-8")
    records = list(csv.DictReader(line for line in io.StringIO(text) if not line.startswith("#")))
    assert records
    assert {r["local_authority_code"] for r in records} == {"E06000001"}
    assert {r["protective_marking"] for r in records} == {"OFFICIAL-SENSITIVE"}  # as the API's


def test_errors_are_shown_as_the_api_gives_them_with_the_position_marked(
    page: Any, web_gateway: LiveGateway
) -> None:
    sql = "SELECT crime_id,\n       no_such_column\nFROM crime"
    with web_gateway.client("a.khan") as api:
        expected = api.post("/v1/query", json={"sql": sql, "purpose": "SA-2026"}).json()["error"]
    sign_in(page, web_gateway, "a.khan")
    accept_syops(page)
    run_query(page, sql)
    error = page.locator("#error")
    error.wait_for(state="visible")
    lines = error.inner_text().splitlines()
    assert lines[0] == f"{expected['code']}: {expected['message']}"
    assert lines[-2] == "       no_such_column"  # the line named, then a caret at the column
    assert lines[-1].index("^") == expected["column"] - 1
    assert lines[-1].endswith(f"line {expected['line']}, column {expected['column']}")


@pytest.mark.parametrize("path", ["/", "/history", "/password", "/exports", "/admin/accounts"])
def test_pages_have_no_serious_accessibility_violations(
    page: Any, web_gateway: LiveGateway, path: str
) -> None:
    sign_in(page, web_gateway, "gw.admin" if path.startswith("/admin") else "s.patel")
    accept_syops(page)
    if path == "/history":
        run_query(page, "SELECT count(*) AS n FROM crime")
        page.locator("#result-grid").wait_for()
    page.goto(f"{web_gateway.url}{path}")
    assert not serious_violations(page)
    if path == "/history":
        page.get_by_role("link", name="Details").first.click()
        page.wait_for_url("**/history/q*")
        assert "SQL as executed" in page.locator("main").inner_text()
        assert not serious_violations(page)


def test_a_held_export_is_approved_in_the_inbox_with_a_comment_then_downloaded(
    page: Any, web_gateway: LiveGateway
) -> None:
    with web_gateway.client("a.khan") as owner:
        held = owner.post(
            "/v1/exports",
            json={
                "sql": "SELECT crime_id, recorded_at FROM crime LIMIT 25",
                "purpose": "SA-2026",
                "format": "csv",
            },
        ).json()
        assert held["approval"] == "pending"
        assert owner.get(held["download"]).status_code == 403
    sign_in(page, web_gateway, "m.hughes")  # a deputy of a.khan's designated senior analyst
    accept_syops(page)
    page.get_by_role("link", name="Exports").click()
    section = page.locator("section.export", has_text=held["file_name"])
    assert "SELECT crime_id, recorded_at FROM crime LIMIT 25" in section.inner_text()
    assert not serious_violations(page)
    section.get_by_role("button", name="Approve").click()  # no comment: refused
    assert "comment" in page.locator("#decision-error").inner_text()
    section = page.locator("section.export", has_text=held["file_name"])
    section.get_by_label("Comment").fill("aggregate-free extract checked: crime ids and dates only")
    section.get_by_role("button", name="Approve").click()
    page.wait_for_url("**/exports")
    approval = page.locator("section.export", has_text=held["file_name"]).locator(".approval")
    assert approval.inner_text().startswith("approved by m.hughes")
    with web_gateway.client("a.khan") as owner:
        released = owner.get(held["download"])
        assert released.status_code == 200
        assert len(released.text.splitlines()) == 26


def test_nobody_decides_their_own_export_in_the_inbox(page: Any, web_gateway: LiveGateway) -> None:
    with web_gateway.client("s.patel") as senior:
        own = senior.post(
            "/v1/exports",
            json={
                "sql": "SELECT crime_id FROM crime LIMIT 5",
                "purpose": "SA-2026",
                "format": "csv",
            },
        ).json()
    sign_in(page, web_gateway, "s.patel")
    accept_syops(page)
    page.goto(f"{web_gateway.url}/exports")
    section = page.locator("section.export", has_text=own["file_name"])
    assert section.locator(".approval").inner_text() == "pending"
    assert section.get_by_role("button", name="Approve").count() == 0  # no form for one's own

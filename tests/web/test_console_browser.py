"""The SQL console in a real browser (Debian's Chromium through Playwright): the CodeMirror
editor's highlighting and completion from the person's own catalog, keyboard use, the plain
textarea without JavaScript, cancelling a slow query, and an enhanced analyst who sees exactly
their grant for its purpose and the general view for another."""

from __future__ import annotations

import time
from typing import Any

from tests.cli_process import run_gateway
from tests.gateway_server import LiveGateway
from tests.web.conftest import PASSWORD, set_sql
from tests.web.test_browser import accept_syops, run_query, serious_violations, sign_in

SLOW = "SELECT count(*) AS n FROM crime a, crime b, crime c, crime d"


def hints(page: Any) -> list[str]:
    page.locator(".CodeMirror-hints").wait_for()
    return list(page.locator(".CodeMirror-hint").all_inner_texts())


def type_and_complete(page: Any, sql: str) -> list[str]:
    """Type ``sql`` at the end of an empty editor and ask for completion (Ctrl+Space)."""
    set_sql(page, "")
    page.locator(".CodeMirror textarea").focus()
    page.keyboard.type(sql)
    page.keyboard.press("Control+Space")
    return hints(page)


def test_the_editor_highlights_and_completes_only_what_the_person_may_see(
    page: Any, web_gateway: LiveGateway
) -> None:
    sign_in(page, web_gateway, "h.lee")
    accept_syops(page)
    editor = page.locator(".CodeMirror")
    editor.wait_for()
    assert page.locator("textarea#sql").is_hidden()  # the editor replaced it
    assert page.locator(".CodeMirror .cm-keyword").first.inner_text().upper() == "SELECT"
    offered = type_and_complete(page, "SELECT * FROM cri")
    assert "crime" in offered
    assert all(word.startswith("cri") for word in offered)
    assert not serious_violations(page)  # with the completion list open
    page.keyboard.press("Escape")
    assert "intelligence_report" not in [*type_and_complete(page, "SELECT * FROM int"), ""]
    page.keyboard.press("Escape")
    columns = type_and_complete(page, "SELECT crime.")
    assert "crime.modus_operandi" in columns or "modus_operandi" in columns
    page.keyboard.press("Enter")  # take the first
    assert page.evaluate("document.querySelector('.CodeMirror').CodeMirror.getValue()").startswith(
        "SELECT crime."
    )
    # keyboard: Ctrl+Enter runs, Tab leaves the editor (no keyboard trap)
    set_sql(page, "SELECT count(*) AS n FROM crime")
    page.locator(".CodeMirror textarea").focus()
    page.keyboard.press("Control+Enter")
    page.locator("#result-grid").wait_for()
    page.locator(".CodeMirror textarea").focus()
    page.keyboard.press("Tab")
    assert page.evaluate("document.activeElement.id") == "run"


def test_without_javascript_the_console_is_a_plain_form(browser: Any, web_gateway: LiveGateway):  # type: ignore[no-untyped-def]
    context = browser.new_context(java_script_enabled=False, accept_downloads=True)
    page = context.new_page()
    try:
        sign_in(page, web_gateway, "a.khan")
        accept_syops(page)
        box = page.get_by_label("SQL for purpose")
        assert box.is_visible()
        assert page.locator(".CodeMirror").count() == 0
        box.fill("SELECT local_authority_code, count(*) AS n FROM crime GROUP BY 1")
        with page.expect_download() as download:
            page.get_by_role("button", name="Run", exact=True).click()
        assert download.value.suggested_filename.endswith(".csv")
    finally:
        context.close()


def test_a_slow_query_is_cancelled_from_the_console(page: Any, web_gateway: LiveGateway) -> None:
    sign_in(page, web_gateway, "j.taylor")
    accept_syops(page)
    started = time.monotonic()
    run_query(page, SLOW)
    cancel = page.get_by_role("button", name="Cancel the query")
    cancel.wait_for()
    assert page.evaluate("document.activeElement.id") == "cancel"  # focus follows
    time.sleep(1.0)  # let it reach the engine
    cancel.click()
    status = page.locator("#status")
    page.wait_for_function(
        "() => document.getElementById('status').textContent.startsWith('Cancelled')"
    )
    assert "audit" in status.inner_text()
    assert time.monotonic() - started < 30  # the policy's limit is 60 s
    assert cancel.is_hidden()
    assert page.get_by_role("button", name="Run", exact=True).is_enabled()
    with web_gateway.client("s.patel") as senior:
        events = senior.get(
            "/v1/audit/events",
            params={"kind": "query.completed", "actor": "j.taylor", "limit": 1000},
        ).json()["events"]
    assert events[-1]["details"]["outcome"] == "cancelled"
    run_query(page, "SELECT count(*) AS n FROM crime")  # the slot is free again
    page.locator("#result-grid").wait_for()


def test_an_enhanced_analyst_sees_exactly_their_grant_for_its_purpose(
    page: Any, web_gateway: LiveGateway
) -> None:
    # another test locks e.okafor on this shared server; an administrator unlocks the account
    run_gateway("users", "unlock", "e.okafor", "--data-dir", str(web_gateway.data_dir))
    sign_in(page, web_gateway, "e.okafor", PASSWORD)
    accept_syops(page)
    page.get_by_label("Purpose", exact=True).select_option("JAG-2026-07")
    page.get_by_role("button", name="Show").click()
    page.wait_for_url("**/?purpose=JAG-2026-07")
    catalog = page.locator("section.catalog")
    assert "G-2026-001" in catalog.inner_text()  # the grant named
    assert catalog.locator("summary", has_text="intelligence_report").count() == 1
    crime = catalog.locator("details", has_text="crime").first
    crime.locator("summary").click()
    assert crime.locator("tr", has_text="modus_operandi").locator("td.mask").inner_text() == "show"
    assert "intelligence_report" in type_and_complete(page, "SELECT * FROM intel")
    page.keyboard.press("Escape")
    run_query(
        page,
        "SELECT local_authority_code, modus_operandi FROM crime "
        "WHERE modus_operandi IS NOT NULL LIMIT 30",
    )
    grid = page.locator("#result-grid")
    grid.wait_for()
    rows = [grid.locator("tbody tr").nth(i).locator("td").all_inner_texts() for i in range(5)]
    assert {r[0] for r in rows} == {"E06000004"}  # only their area, even enhanced
    assert all(r[1] for r in rows)  # the free text their grant unmasks
    run_query(page, "SELECT count(*) AS n FROM intelligence_report")
    page.wait_for_function("() => document.getElementById('status').textContent.endsWith('rows')")
    assert not serious_violations(page)
    # the same person under another purpose: the general view, no grant
    page.get_by_label("Purpose", exact=True).select_option("SA-2026")
    page.get_by_role("button", name="Show").click()
    page.wait_for_url("**/?purpose=SA-2026")
    catalog = page.locator("section.catalog")
    assert catalog.locator("summary", has_text="intelligence_report").count() == 0
    crime = catalog.locator("details", has_text="crime").first
    crime.locator("summary").click()
    assert crime.locator("tr", has_text="modus_operandi").locator("td.mask").inner_text() != "show"
    assert "intelligence_report" not in [*type_and_complete(page, "SELECT * FROM int"), ""]
    page.keyboard.press("Escape")
    run_query(page, "SELECT modus_operandi FROM crime WHERE modus_operandi IS NOT NULL LIMIT 5")
    page.wait_for_function(
        "() => document.getElementById('status').textContent.endsWith('rows')"
        " || document.getElementById('error').textContent.length > 0"
    )
    grid = page.locator("#result-grid")
    if grid.count():  # masked to nothing: no row has the text
        assert page.locator("#status").inner_text() == "0 rows"
    run_query(page, "SELECT count(*) AS n FROM intelligence_report")
    error = page.locator("#error")
    error.wait_for(state="visible")
    assert error.inner_text().split(":")[0] in ("table_not_permitted", "table_not_found")

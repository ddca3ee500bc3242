"""An access request taken through every step of the workflow in a real browser (Debian's
Chromium through Playwright), each step by a different person signed in in their own browser
context: the applicant, their line manager, the local policing superintendent, the analysis
manager, the information security officer, the head of intelligence, then the administrator
who issues the applicant's API token — ending with the applicant's ``/v1/me`` showing the
grant. On the way: a validation error shown on the form, a form posted without its CSRF token
refused, someone acting on a request that is not theirs refused with 403 on the page, and
axe-core on every new page."""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from tests.gateway_server import LiveGateway
from tests.web.conftest import APPLICANT
from tests.web.test_browser import accept_syops, serious_violations, sign_in


@pytest.fixture
def person(browser: Any, governed_gateway: LiveGateway) -> Iterator[Any]:
    """``person(username)``: a page in a browser context of its own, signed in."""
    contexts: list[Any] = []

    def open_as(username: str) -> Any:
        context = browser.new_context()
        context.set_default_timeout(15000)
        contexts.append(context)
        page = context.new_page()
        sign_in(page, governed_gateway, username)
        accept_syops(page)
        return page

    yield open_as
    for context in contexts:
        context.close()


def no_serious_violations(page: Any) -> None:
    found = serious_violations(page)
    assert not found, (page.url, found)


def take_step(page: Any, gateway: LiveGateway, request_id: str, action: str, comment: str) -> None:
    page.goto(f"{gateway.url}/access/inbox")
    item = page.locator("section.request", has_text=request_id)
    assert "Preconditions for" in item.inner_text()
    assert "all in place" in item.inner_text()
    item.get_by_label("Comment").fill(comment)
    item.get_by_role("button", name=f"{action.capitalize()} {request_id}").click()
    page.wait_for_url("**/access/inbox")
    assert request_id not in page.locator("main").inner_text()


def test_an_access_request_through_every_step_by_different_signed_in_people(
    person: Any, governed_gateway: LiveGateway
) -> None:
    url = governed_gateway.url
    # the applicant: the form, a validation error on the page, then the request
    applicant = person(APPLICANT)
    applicant.get_by_role("link", name="Access requests").click()
    no_serious_violations(applicant)
    applicant.get_by_role("link", name="Request enhanced access").click()
    assert applicant.get_by_label("Most appropriate method").is_visible()
    no_serious_violations(applicant)
    applicant.goto(f"{url}/access/new?level=general")
    applicant.get_by_label("Purposes").fill("SA-2027")
    applicant.get_by_label("Your key duties").fill("Community safety analysis for Hartlepool")
    applicant.get_by_label("Products to be produced").fill("Strategic assessment 2027")
    applicant.get_by_label("Dissemination").fill("Safer Hartlepool Partnership board")
    applicant.get_by_role("button", name="Submit the request").click()
    error = applicant.locator("#form-error")
    assert "CODE: description" in error.inner_text()
    no_serious_violations(applicant)
    assert applicant.get_by_label("Your key duties").input_value().startswith("Community")
    applicant.get_by_label("Purposes").fill("SA-2027: Hartlepool strategic assessment 2027")
    applicant.get_by_role("button", name="Submit the request").click()
    applicant.wait_for_url("**/access/requests/AR-*")
    request_id = re.search(r"/access/requests/(AR-[\w-]+)", applicant.url).group(1)  # type: ignore[union-attr]
    assert "awaits endorsement by the applicant's line manager" in applicant.inner_text("main")
    no_serious_violations(applicant)

    # someone acting on a request that is not theirs: refused, and the page says so
    other = person("lm.mbr")
    other.goto(f"{url}/access/requests/{request_id}")
    assert other.get_by_role("button", name=re.compile("Endorse")).count() == 0
    with other.expect_response(f"**/access/requests/{request_id}/endorse") as forged:
        other.evaluate(
            """(id) => { const f = document.createElement('form'); f.method = 'post';
               f.action = `/access/requests/${id}/endorse`;
               for (const [k, v] of [['csrf_token', document.querySelector(
                   'meta[name=csrf-token]').content], ['comment', 'not mine']]) {
                 const i = document.createElement('input'); i.name = k; i.value = v;
                 f.appendChild(i); }
               document.body.appendChild(f); f.submit(); }""",
            request_id,
        )
    assert forged.value.status == 403
    assert "wrong_role" in other.locator("#action-error").inner_text()

    # the line manager: a post without the CSRF token is refused, then the endorsement
    manager = person("lm.hpl")
    manager.get_by_role("link", name="Access inbox").click()
    no_serious_violations(manager)
    item = manager.locator("section.request", has_text=request_id)
    item.locator("input[name=csrf_token]").evaluate("(e) => e.remove()")
    item.get_by_role("button", name=f"Endorse {request_id}").click()
    assert "csrf_failed" in manager.locator("#action-error").inner_text()
    take_step(manager, governed_gateway, request_id, "endorse", "Nadia needs it for the SA")

    # the approval chain, each by a different person in their own browser
    for username, action, comment in (
        ("supt.cle", "endorse", "Supported for Hartlepool"),
        ("am.cle", "review", "General access is the right method"),
        ("iso.cle", "review", "Vetting NPPV2 and declarations checked"),
        ("hoi.cle", "authorise", "Authorised for SA-2027"),
    ):
        take_step(person(username), governed_gateway, request_id, action, comment)
    applicant.goto(f"{url}/access/requests/{request_id}")
    history = applicant.locator("table.history").inner_text()
    for who in ("lm.hpl", "supt.cle", "am.cle", "iso.cle", "hoi.cle"):
        assert who in history
    assert "authorised" in applicant.locator("dd.state").inner_text()

    # the administrator issues the applicant's token; the register pages pass axe
    admin = person("gw.admin")
    for name in ("Users", "Organisations", "Access reviews"):
        admin.get_by_role("link", name=name, exact=True).click()
        admin.get_by_role("heading", name=name, exact=True).wait_for()
        no_serious_violations(admin)
    admin.get_by_role("link", name="Tokens").click()
    admin.get_by_label("User").select_option(APPLICANT)
    admin.get_by_label("Label").fill("notebook")
    admin.get_by_label("Lifetime in days").fill("30")
    admin.get_by_role("button", name="Issue token").click()
    secret = admin.get_by_label("Secret").input_value()
    no_serious_violations(admin)

    with httpx.Client(base_url=url, headers={"authorization": f"Bearer {secret}"}) as api:
        me = api.get("/v1/me").json()
    assert me["username"] == APPLICANT
    assert me["level"] == "general"
    assert "SA-2027" in me["purposes"]
    applicant.goto(f"{url}/access")
    assert applicant.locator("#my-level").inner_text() == "general"

"""Access requests in the web application over plain HTTP, on the governed demo's register:
the request form and its validation errors on the page, each role's inbox with the
precondition checklist, separation of duties and cross-user attempts refused with 403 on the
page, CSRF. The whole chain in a real browser is in test_access_browser.py."""

from __future__ import annotations

import re
from typing import Any

from tests.web.conftest import WebClient, form_token

GENERAL = {
    "level": "general",
    "purposes": "SA-2027: Hartlepool CSP strategic assessment 2027",
    "key_duties": "Community safety analysis for the partnership",
    "products": "Strategic assessment\nJAG problem profiles",
    "dissemination": "CSP board",
}


def submit(client: WebClient, **fields: str) -> Any:
    token = form_token(client.get("/access/new").text)
    return client.post("/access/new", {**GENERAL, **fields, "csrf_token": token})


def submitted_id(response: Any) -> str:
    assert response.status_code == 303, response.text
    match = re.fullmatch(r"/access/requests/(AR-[\w-]+)\?submitted=1", response.headers["location"])
    assert match, response.headers["location"]
    return match.group(1)


def act(client: WebClient, request_id: str, action: str, comment: str = "") -> Any:
    token = form_token(client.get("/access/inbox").text)
    return client.post(
        f"/access/requests/{request_id}/{action}", {"csrf_token": token, "comment": comment}
    )


def test_the_form_shows_each_validation_error_on_the_page_with_the_values_kept(
    signed_in: Any,
) -> None:
    analyst = signed_in("h.lee")
    before = analyst.get("/access").text.count('<a href="/access/requests/')
    cases = [
        ({"purposes": "SA-2027"}, "write each purpose on its own line as CODE: description"),
        ({"purposes": "bad code!: x"}, "purpose code 'bad code!' must be 1-40 letters"),
        ({"products": ""}, "products: List should have at least 1 item"),
        ({"areas": "E06000002"}, "area 'E06000002' is outside Hartlepool Borough Council"),
        ({"starts": "2001-01-01"}, "the start date 2001-01-01 is in the past"),
        ({"ends": "not a date"}, "ends: Input should be a valid date"),
        ({"level": "enhanced", "justification": "x", "method": "y", "ends": "2099-01-01"},
         "an enhanced request must name the extra tables"),
        ({"level": "enhanced", "unmask:crime.crime_id": "yes", "justification": "x",
          "method": "y"}, "'crime.crime_id' is already shown unmasked"),
        ({"level": "enhanced", "table:intelligence_report": "yes", "justification": "x",
          "ends": "2026-12-31"}, "most appropriate method"),
    ]  # fmt: skip
    for fields, message in cases:
        response = submit(analyst, **fields)
        assert response.status_code == 400, (fields, response.status_code)
        error = re.search(
            r'<p class="error" role="alert" id="form-error">([^<]*)</p>', response.text
        )
        assert error, fields
        assert message in error.group(1).replace("&#39;", "'"), (fields, error)
        assert "Traceback" not in response.text
        if "key_duties" not in fields:  # what was typed is still there
            assert "Community safety analysis for the partnership</textarea>" in response.text
    after = analyst.get("/access").text.count('<a href="/access/requests/')
    assert before == after  # nothing was submitted


def test_a_submitted_request_shows_every_field_and_the_checklist(signed_in: Any) -> None:
    analyst = signed_in("h.lee")
    request_id = submitted_id(submit(analyst, deputy_for="", ends=""))
    shown = analyst.get(f"/access/requests/{request_id}").text
    for text in (
        "SA-2027</code>: Hartlepool CSP strategic assessment 2027",
        "Strategic assessment; JAG problem profiles",
        "CSP board",
        "E06000001",
        "awaits endorsement by the applicant&#39;s line manager",
        "Hartlepool Borough Council",
    ):
        assert text in shown, text
    checklist = shown.split('id="checklist-')[1].split("</table>")[0]
    assert "Vetting</th><td>NPPV2 from" in checklist
    assert "Designated senior analyst</th><td>s.patel" in checklist
    assert "Local supervisor</th><td>lm.hpl" in checklist
    assert "all in place" in shown
    # the applicant may withdraw, never endorse their own
    assert "/withdraw" in shown
    assert ">Endorse<" not in shown
    refused = act(analyst, request_id, "endorse", "I support myself")
    assert refused.status_code == 403
    assert "self_approval" in refused.text
    listed = analyst.get("/access").text
    assert request_id in listed


def test_the_inbox_holds_what_awaits_the_person_and_no_one_else(signed_in: Any) -> None:
    request_id = submitted_id(submit(signed_in("a.khan"), purposes="SA-2027: MBR assessment"))
    manager = signed_in("lm.mbr")
    inbox = manager.get("/access/inbox").text
    assert request_id in inbox
    item = inbox.split(f'id="req-{request_id}"')[1].split("</section>")[0]
    assert "Preconditions for" in item
    assert "all in place" in item
    assert f"/access/requests/{request_id}/endorse" in item
    assert f"/access/requests/{request_id}/refuse" in item
    for other in ("lm.hpl", "supt.cle", "hoi.cle"):  # another's staff; steps not yet reached
        assert request_id not in signed_in(other).get("/access/inbox").text, other
    # a refusal needs its reason; said on the page, nothing changes
    refused = act(manager, request_id, "refuse")
    assert refused.status_code == 400
    assert "a refusal must give its reason" in refused.text
    assert act(manager, request_id, "endorse", "supports the SA").status_code == 303
    assert request_id not in manager.get("/access/inbox").text
    assert request_id in signed_in("supt.cle").get("/access/inbox").text


def test_acting_on_a_request_that_is_not_yours_is_refused_with_403(signed_in: Any) -> None:
    request_id = submitted_id(submit(signed_in("j.taylor"), purposes="SA-2027: STK assessment"))
    other_manager = signed_in("lm.hpl")  # a line manager, not j.taylor's
    seen_by_other = other_manager.get(f"/access/requests/{request_id}").text
    assert "shown to the applicant and to those deciding the request" in seen_by_other
    assert "Vetting</th>" not in seen_by_other  # the request, not the applicant's records
    assert "Vetting</th>" in signed_in("lm.stk").get(f"/access/requests/{request_id}").text
    refused = act(other_manager, request_id, "endorse", "not mine to endorse")
    assert refused.status_code == 403
    assert "wrong_role" in refused.text
    analyst = signed_in("h.lee")  # not even allowed to see it
    seen = analyst.get(f"/access/requests/{request_id}")
    assert seen.status_code == 403
    assert f"may not see request {request_id}" in seen.text
    taken = act(analyst, request_id, "endorse", "x")
    assert taken.status_code == 403
    assert "Awaits" not in taken.text
    assert "j.taylor@example.org" not in taken.text
    unknown = act(analyst, request_id, "approve-all", "x")
    assert unknown.status_code == 400
    assert "unknown action" in unknown.text
    state = signed_in("lm.stk").get(f"/access/requests/{request_id}").text
    assert "awaits endorsement by the applicant&#39;s line manager" in state


def test_governance_forms_refuse_a_post_without_the_csrf_token(signed_in: Any) -> None:
    analyst = signed_in("m.hughes")
    for token in ("", "not-the-token"):
        response = analyst.post("/access/new", {**GENERAL, "csrf_token": token})
        assert response.status_code == 403
        assert "csrf_failed" in response.text
    request_id = submitted_id(submit(analyst, purposes="SA-2027: force assessment", areas=""))
    manager = signed_in("lm.cle")
    forged = manager.post(f"/access/requests/{request_id}/endorse", {"comment": "forged"})
    assert forged.status_code == 403
    assert request_id in manager.get("/access/inbox").text  # still waiting: nothing happened


def test_an_enhanced_request_shows_what_is_missing_and_needs_the_method_assessment(
    signed_in: Any,
) -> None:
    analyst = signed_in("h.lee")  # vetted NPPV2: enough for general, not for enhanced
    enhanced = {
        "level": "enhanced",
        "purposes": "JAG-2027-01: Hartlepool town centre JAG problem profile",
        "table:intelligence_report": "yes",
        "unmask:crime.modus_operandi": "yes",
        "justification": "MO themes for the problem profile",
        "method": "No force product covers MO themes",
        "ends": "2027-06-30",
    }
    request_id = submitted_id(submit(analyst, **enhanced))
    shown = analyst.get(f"/access/requests/{request_id}").text
    assert "Extra tables</dt><dd>intelligence_report" in shown
    assert "Columns unmasked</dt><dd>crime.modus_operandi" in shown
    assert "Most appropriate method</dt><dd>No force product covers MO themes" in shown
    vetting = shown.split("Vetting</th>")[1].split("</tr>")[0]
    assert "NPPV2 from" in vetting
    assert "enhanced access needs NPPV3 vetting; held: NPPV2" in vetting
    assert "1 missing" in shown
    for who in ("lm.hpl", "supt.cle"):
        assert act(signed_in(who), request_id, "endorse", "supported").status_code == 303
    manager = signed_in("am.cle")
    assert "required: your assessment" in manager.get(f"/access/requests/{request_id}").text
    refused = act(manager, request_id, "review")
    assert refused.status_code == 400
    assert "most appropriate method" in refused.text
    assert act(manager, request_id, "review", "Direct access is proportionate").status_code == 303


def test_the_applicant_withdraws_and_the_request_leaves_the_inbox(signed_in: Any) -> None:
    applicant = signed_in("a.khan")
    request_id = submitted_id(submit(applicant, purposes="SA-2028: MBR assessment 2028"))
    manager = signed_in("lm.mbr")
    assert request_id in manager.get("/access/inbox").text
    assert act(applicant, request_id, "withdraw", "no longer needed").status_code == 303
    shown = applicant.get(f"/access/requests/{request_id}").text
    assert '<dd class="state">withdrawn' in shown
    assert "no longer needed" in shown
    assert request_id not in manager.get("/access/inbox").text
    late = act(manager, request_id, "endorse", "too late")
    assert late.status_code == 409
    assert "already withdrawn" in late.text


def test_no_inline_script_on_the_governance_pages(signed_in: Any) -> None:
    admin = signed_in("gw.admin")
    request_id = submitted_id(submit(signed_in("j.taylor"), purposes="SA-2029: STK"))
    for path in (
        "/access",
        "/access/new?level=general",
        "/access/new?level=enhanced",
        "/access/inbox",
        f"/access/requests/{request_id}",
        "/admin/users",
        "/admin/organisations",
        "/admin/reviews",
        "/admin/tokens",
    ):
        response = admin.get(path)
        assert response.status_code == 200, path
        assert not re.search(r"<script(?![^>]*\bsrc=)", response.text), path
        assert "script-src 'self';" in response.headers["content-security-policy"]

"""The register's pages over plain HTTP on the governed demo: tokens issued (lifetime capped by
the policy) and revoked, users and organisations suspended and reinstated, network ranges,
access reviews — each taken by the signed-in person and refused to anyone without the role."""

from __future__ import annotations

import re
from typing import Any

import httpx

from tests.gateway_server import LiveGateway
from tests.web.conftest import WebClient, form_token


def post(client: WebClient, page: str, action: str, **fields: str) -> httpx.Response:
    token = form_token(client.get(page).text)
    return client.post(action, {"csrf_token": token, **fields})


def notice(response: httpx.Response) -> str:
    found = re.search(r'id="(?:done|action-error)">([^<]*)<', response.text)
    assert found, response.text[:2000]
    return found.group(1).replace("&#39;", "'")


def row(response: httpx.Response, row_id: str) -> str:
    return response.text.split(f'id="{row_id}"')[1].split("</tr>")[0]


def test_an_administrator_issues_a_token_within_the_policy_cap_and_revokes_it(
    signed_in: Any, governed_gateway: LiveGateway
) -> None:
    admin = signed_in("gw.admin")
    too_long = post(admin, "/admin/tokens", "/admin/tokens", username="lm.hpl", days="400")
    assert too_long.status_code == 400
    assert "a token may last at most 90 days under the policy" in notice(too_long)
    issued = post(admin, "/admin/tokens", "/admin/tokens", username="lm.hpl", days="7", label="t")
    assert issued.status_code == 201
    secret = re.search(r'id="issued-secret" readonly value="([^"]+)"', issued.text)
    assert secret
    token_id = re.search(r"token (\S+) issued to lm.hpl", notice(issued))
    assert token_id
    headers = {"authorization": f"Bearer {secret.group(1)}"}
    with httpx.Client(base_url=governed_gateway.url, headers=headers) as api:
        assert api.get("/v1/me").json()["username"] == "lm.hpl"
        revoked = post(admin, "/admin/tokens", f"/admin/tokens/{token_id.group(1)}/revoke")
        assert revoked.status_code == 200
        assert "revoked" in row(revoked, f"token-{token_id.group(1)}")
        assert api.get("/v1/me").status_code == 401
    assert secret.group(1) not in admin.get("/admin/tokens").text  # shown that once only


def test_register_pages_are_refused_to_people_without_the_role(signed_in: Any) -> None:
    analyst = signed_in("h.lee")
    for path in ("/admin/users", "/admin/organisations", "/admin/tokens", "/admin/reviews"):
        response = analyst.get(path)
        assert response.status_code == 403, path
        assert "Not permitted" in response.text
    token = form_token(analyst.get("/access").text)
    issued = analyst.post("/admin/tokens", {"csrf_token": token, "username": "h.lee"})
    assert issued.status_code == 403
    suspend = analyst.post(
        "/admin/users/a.khan/suspend", {"csrf_token": token, "reason": "I do not like them"}
    )
    assert suspend.status_code == 403
    admin = signed_in("gw.admin")
    forged = admin.post("/admin/users/a.khan/suspend", {"reason": "no token"})
    assert forged.status_code == 403
    assert "csrf_failed" in forged.text
    assert "suspended" not in row(admin.get("/admin/users"), "user-a.khan")


def test_suspension_and_reinstatement_of_a_user_take_effect_at_once(
    signed_in: Any, governed_gateway: LiveGateway
) -> None:
    admin = signed_in("gw.admin")
    assert "general" in row(admin.get("/admin/users"), "user-r.wilson")
    self_suspended = post(admin, "/admin/users", "/admin/users/gw.admin/suspend", reason="test")
    assert self_suspended.status_code == 403
    done = post(admin, "/admin/users", "/admin/users/r.wilson/suspend", reason="misuse: test")
    assert done.status_code == 200
    assert notice(done) == "r.wilson suspended"
    assert "suspended" in row(done, "user-r.wilson")
    with governed_gateway.client("r.wilson") as api:
        assert api.get("/v1/me").status_code == 403
        no_comment = post(admin, "/admin/users", "/admin/users/r.wilson/reinstate", comment="")
        assert no_comment.status_code == 400
        assert "comment" in notice(no_comment)
        back = post(admin, "/admin/users", "/admin/users/r.wilson/reinstate", comment="cleared")
        assert notice(back) == "r.wilson reinstated"
        assert api.get("/v1/me").status_code == 200


def test_organisations_networks_and_their_suspension(
    signed_in: Any, governed_gateway: LiveGateway
) -> None:
    admin = signed_in("gw.admin")
    page = admin.get("/admin/organisations").text
    assert "ISA-RCL-" in page
    bad = post(
        admin, "/admin/organisations", "/admin/organisations/RCL/networks", cidr="10.1.2.3/24"
    )
    assert bad.status_code == 400
    assert "host bits set" in notice(bad)
    added = post(
        admin, "/admin/organisations", "/admin/organisations/RCL/networks",
        cidr="192.0.2.0/28", description="Redcar civic centre",
    )  # fmt: skip
    assert "192.0.2.0/28</code></td><td>Redcar civic centre" in added.text
    removed = post(
        admin, "/admin/organisations", "/admin/organisations/RCL/networks/remove",
        cidr="192.0.2.0/28",
    )  # fmt: skip
    assert "192.0.2.0/28</code>" not in removed.text
    stopped = post(
        admin, "/admin/organisations", "/admin/organisations/RCL/suspend", reason="audit"
    )
    assert "RCL suspended" in notice(stopped)
    with governed_gateway.client("r.wilson") as api:
        assert api.get("/v1/me").status_code == 403
        post(admin, "/admin/organisations", "/admin/organisations/RCL/reinstate", reason="done")
        assert api.get("/v1/me").status_code == 200


def test_an_access_review_is_opened_and_decided_by_the_organisations_spoc(
    signed_in: Any,
) -> None:
    admin = signed_in("gw.admin")
    # the scheduled review cycle may already have opened STK's review when the server started
    found = re.search(r'id="review-(RV-STK-[^"]+)"', admin.get("/admin/reviews").text)
    if found is None:
        opened = post(admin, "/admin/reviews", "/admin/reviews", organisation="STK")
        found = re.search(r"access review (RV-STK-\S+) opened", notice(opened))
    assert found
    review_id = found
    again = post(admin, "/admin/reviews", "/admin/reviews", organisation="STK")
    assert again.status_code == 409
    assert "STK already has an open access review" in notice(again)
    spoc = signed_in("spoc.stk")
    action = f"/admin/reviews/{review_id.group(1)}/users"
    own = post(spoc, "/admin/reviews", f"{action}/spoc.stk", decision="keep")
    assert own.status_code == 403
    inbox = spoc.get("/access/inbox").text
    assert f'<a href="/admin/reviews#review-{review_id.group(1)}">' in inbox
    kept = post(spoc, "/admin/reviews", f"{action}/lm.stk", decision="keep", comment="in post")
    assert notice(kept) == "lm.stk confirmed"
    other = signed_in("spoc.hpl")
    refused = post(other, "/admin/reviews", f"{action}/j.taylor", decision="remove")
    assert refused.status_code == 403


def test_an_administrator_registers_a_person_and_others_may_only_look(signed_in: Any) -> None:
    person = {
        "username": "t.new",
        "full_name": "Tom New",
        "organisation": "HPL",
        "role_title": "Community safety analyst",
        "email": "t.new@example.org",
        "phone": "01429 523111",
        "role:analyst": "yes",
        "line_manager": "lm.hpl",
    }
    security_officer = signed_in("iso.cle")  # sees the register, does not register people
    assert "user-gw.admin" in security_officer.get("/admin/users").text
    refused = post(security_officer, "/admin/users", "/admin/users", **person)
    assert refused.status_code == 403
    assert "registering a user needs one of the roles admin" in notice(refused)
    admin = signed_in("gw.admin")
    bad = post(admin, "/admin/users", "/admin/users", **{**person, "username": "t new!"})
    assert bad.status_code == 400
    assert "username 't new!' must be 1-40 letters" in notice(bad)
    own = post(admin, "/admin/users", "/admin/users", **{**person, "line_manager": "t.new"})
    assert own.status_code == 400
    assert "cannot be their own line manager" in notice(own)
    done = post(admin, "/admin/users", "/admin/users", **person)
    assert notice(done) == "user t.new added"
    assert "Tom New" in row(done, "user-t.new")
    again = post(admin, "/admin/users", "/admin/users", **person)
    assert again.status_code == 409


def test_bad_input_to_every_governance_form_is_a_clear_4xx_never_a_500(signed_in: Any) -> None:
    admin = signed_in("gw.admin")
    long_id = "AR-" + "9" * 76
    cases: list[tuple[str, dict[str, str]]] = [
        ("/access/new", {"level": "platinum", "purposes": "X: y", "key_duties": "d",
                         "products": "p", "dissemination": "d"}),
        ("/access/new", {"level": "general", "purposes": "SA-1: \x00", "ends": "2026-13-45",
                         "starts": "yesterday", "areas": "x" * 300}),
        ("/access/new", {"level": "enhanced", "purposes": "SA-1: y", "key_duties": "d",
                         "products": "p", "dissemination": "d", "table:no_such": "yes",
                         "unmask:nope": "yes", "justification": "j", "method": "m",
                         "ends": "2027-01-01"}),
        ("/access/requests/AR-nope/endorse", {"comment": "x"}),
        (f"/access/requests/{long_id}/authorise", {"comment": "x" * 5000}),
        ("/admin/users", {"username": "", "role:no_such_role": "yes"}),
        ("/admin/users", {"username": "z.z", "full_name": "Z", "organisation": "NOPE",
                          "role_title": "t", "email": "e", "line_manager": "nobody"}),
        ("/admin/users/nobody/suspend", {"reason": "x", "kind": "nonsense"}),
        ("/admin/users/nobody/suspend", {"reason": "x"}),
        ("/admin/users/nobody/reinstate", {"comment": "x"}),
        ("/admin/organisations/NOPE/suspend", {"reason": "x"}),
        ("/admin/organisations/NOPE/networks", {"cidr": "::1/129"}),
        ("/admin/organisations/HPL/networks", {"cidr": "not an address"}),
        ("/admin/organisations/NOPE/networks/remove", {"cidr": "192.0.2.0/28"}),
        ("/admin/reviews", {"organisation": "NOPE"}),
        ("/admin/reviews", {"organisation": ""}),
        ("/admin/reviews/RV-NOPE/users/x", {"decision": "keep"}),
        ("/admin/tokens", {"username": "nobody"}),
        ("/admin/tokens", {"username": "h.lee", "days": "-1"}),
        ("/admin/tokens", {"username": "h.lee", "days": "abc"}),
        ("/admin/tokens", {"username": "h.lee", "days": "99999999999999999999"}),
        ("/admin/tokens/NOPE/revoke", {}),
    ]  # fmt: skip
    token = form_token(admin.get("/access").text)
    for action, fields in cases:
        response = admin.post(action, {"csrf_token": token, **fields})
        assert 400 <= response.status_code < 500, (action, fields, response.status_code)
        assert "Traceback" not in response.text, action
        assert response.headers["content-type"].startswith("text/html"), action


def test_revoking_a_leavers_access_closes_the_account(signed_in: Any) -> None:
    admin = signed_in("gw.admin")
    registered = post(
        admin, "/admin/users", "/admin/users", username="l.eaver", full_name="Lee Eaver",
        organisation="HPL", role_title="Analyst", email="l.eaver@example.org",
    )  # fmt: skip
    assert notice(registered) == "user l.eaver added"
    no_reason = post(admin, "/admin/users", "/admin/users/l.eaver/revoke", reason="")
    assert no_reason.status_code == 400
    done = post(
        admin, "/admin/users", "/admin/users/l.eaver/revoke", reason="left the council",
        leaver="yes",
    )  # fmt: skip
    assert notice(done) == "0 grant(s) revoked; account closed"
    assert "left" in row(done, "user-l.eaver")
    analyst = signed_in("h.lee")
    refused = post(analyst, "/access", "/admin/users/a.khan/revoke", reason="x")
    assert refused.status_code == 403

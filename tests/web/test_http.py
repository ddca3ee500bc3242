"""The web application over plain HTTP: headers, cookies, CSRF, session fixation, cross-user
pages, a locked, suspended or idle person's tokens, /docs offline. Browser behaviour is in test_browser.py."""

from __future__ import annotations

import re
import time
from typing import Any

import httpx
import pytest

from tests.cli_process import run_gateway
from tests.gateway_server import LiveGateway, start_gateway
from tests.web.conftest import PASSWORD, WebClient, cookie, form_token, web_data_dir

PAGES = ("/", "/history", "/password")


def test_pages_need_a_session(web_gateway: LiveGateway) -> None:
    with httpx.Client(base_url=web_gateway.url) as http:
        for path in PAGES:
            response = http.get(path)
            assert (response.status_code, response.headers["location"]) == (303, "/login")
        forged = http.get("/", headers={"cookie": "gw_session=made-up"})
        assert forged.headers["location"].startswith("/login")
        query = http.post("/console/query", data={"sql": "SELECT 1", "purpose": "SA-2026"})
        assert query.status_code == 401
        assert query.json()["error"]["code"] == "unauthenticated"


def test_security_headers_and_cookie_flags(web_client: Any) -> None:
    client = web_client()
    login = client.http.get("/login")
    policy = login.headers["content-security-policy"]
    assert "script-src 'self';" in policy
    assert "unsafe-inline" not in policy.split("script-src")[1].split(";")[0]
    assert "frame-ancestors 'none'" in policy
    assert login.headers["x-frame-options"] == "DENY"
    assert login.headers["x-content-type-options"] == "nosniff"
    assert login.headers["cache-control"] == "no-store"
    signed_in = client.login("h.lee", PASSWORD)
    session_cookie = next(
        h for h in signed_in.headers.get_list("set-cookie") if h.startswith("gw_session=")
    )
    flags = {part.strip().lower() for part in session_cookie.split(";")[1:]}
    assert {"secure", "httponly", "samesite=strict", "path=/"} <= flags


def test_no_inline_script_on_any_page(web_client: Any) -> None:
    client = web_client().sign_in("h.lee")
    for path in ("/login", *PAGES, "/syops", "/docs"):
        response = client.get(path)
        assert response.status_code in (200, 303), path
        assert not re.search(r"<script(?![^>]*\bsrc=)", response.text), path


def test_the_login_form_refuses_a_post_without_its_token(
    web_gateway: LiveGateway, web_client: Any
) -> None:
    with httpx.Client(base_url=web_gateway.url) as http:
        token = form_token(http.get("/login").text)
        # the field without its cookie: a form posted from another site
        refused = http.post(
            "/login", data={"username": "h.lee", "password": PASSWORD, "csrf_token": token}
        )
    assert refused.status_code == 403
    assert cookie(refused, "gw_session") is None


def test_forms_and_queries_refuse_a_missing_or_wrong_csrf_token(web_client: Any) -> None:
    client = web_client().sign_in("a.khan")
    before = client.get("/history").text.count("<tr>")
    for token in ("", "not-the-token"):
        response = client.post(
            "/console/query",
            {"sql": "SELECT count(*) FROM crime", "purpose": "SA-2026", "csrf_token": token},
        )
        assert response.status_code == 403
        assert response.json()["error"]["code"] == "csrf_failed"
        out = client.post("/logout", {"csrf_token": token})
        assert out.status_code == 403
    assert client.get("/").status_code == 200  # still signed in
    assert client.get("/history").text.count("<tr>") == before  # nothing ran
    good = client.post(
        "/console/query",
        {"sql": "SELECT count(*) AS n FROM crime", "purpose": "SA-2026"},
        **{"X-CSRF-Token": client.csrf()},
    )
    assert good.status_code == 200, good.text


def test_the_session_id_changes_at_each_sign_in_step(web_client: Any) -> None:
    client = web_client()
    client.session = "chosen-by-an-attacker"
    response = client.login("m.hughes", PASSWORD)
    pending = client.session
    assert pending != "chosen-by-an-attacker"
    syops = client.get("/syops")
    client.post(
        "/syops", {"csrf_token": form_token(syops.text), "accept": "yes", "version": "2026-1"}
    )
    assert client.session != pending
    stale = httpx.get(f"{client.http.base_url}/", headers={"cookie": f"gw_session={pending}"})
    assert stale.status_code == 303
    assert response.status_code == 303


def test_another_persons_query_page_is_refused(web_client: Any) -> None:
    owner = web_client().sign_in("h.lee")
    marker = "SELECT 'h-lee-private-marker' AS m, count(*) AS n FROM crime"
    ran = owner.post(
        "/console/query", {"sql": marker, "purpose": "SA-2026"}, **{"X-CSRF-Token": owner.csrf()}
    )
    query_id = ran.json()["query_id"]
    assert owner.get(f"/history/{query_id}").status_code == 200
    other = web_client().sign_in("a.khan")
    refused = other.get(f"/history/{query_id}")
    assert refused.status_code == 404
    assert "h-lee-private-marker" not in refused.text
    assert "h-lee-private-marker" not in other.get("/history").text
    rerun = other.get(f"/?rerun={query_id}")
    assert "h-lee-private-marker" not in rerun.text


def test_a_locked_persons_tokens_stop_until_an_administrator_unlocks(
    web_gateway: LiveGateway, web_client: Any
) -> None:
    client = web_client()
    with web_gateway.client("j.taylor") as api:
        assert api.get("/v1/me").status_code == 200
        answers = [client.login("j.taylor", "not the password").status_code for _ in range(3)]
        assert answers == [401, 401, 403]
        locked = api.get("/v1/me")
        assert locked.status_code == 403
        assert locked.json()["error"]["code"] == "account_locked"
        refused = client.login("j.taylor", PASSWORD)
        assert refused.status_code == 403
        assert "locked" in refused.text
        done = run_gateway("users", "unlock", "j.taylor", "--data-dir", str(web_gateway.data_dir))
        assert done.returncode == 0, done.stderr
        assert api.get("/v1/me").status_code == 200
    assert client.login("j.taylor", PASSWORD).headers["location"] == "/syops"


def test_a_suspended_persons_session_and_tokens_stop_at_once(
    web_gateway: LiveGateway, web_client: Any
) -> None:
    users = web_gateway.data_dir / "users.toml"
    original = users.read_text("utf-8")
    header = '[users."m.hughes"]\n'
    assert header in original
    web = web_client().sign_in("m.hughes")
    query = {"sql": "SELECT count(*) AS n FROM crime", "purpose": "SA-2026"}
    with web_gateway.client("m.hughes") as api:
        assert api.get("/v1/me").status_code == 200
        users.write_text(original.replace(header, header + "suspended = true\n"), "utf-8")
        try:
            token = api.post("/v1/query", json=query)
            console = web.post("/console/query", {**query, "csrf_token": "any"})
            page = web.get("/")
        finally:
            users.write_text(original, "utf-8")
        assert (token.status_code, token.json()["error"]["code"]) == (403, "account_suspended")
        assert page.headers["location"].startswith("/login")  # the session was ended
        assert (console.status_code, console.json()["error"]["code"]) == (403, "account_suspended")
        assert api.get("/v1/me").status_code == 200  # reinstated: the token works again
    assert web.get("/").headers["location"].startswith("/login")  # and stays ended


def test_an_idle_persons_tokens_stop_until_they_sign_in(idle_gateway: LiveGateway) -> None:
    web = WebClient(idle_gateway)
    with idle_gateway.client("a.khan") as api:
        web.sign_in("a.khan")
        for _ in range(3):  # each use keeps them going
            assert api.get("/v1/me").status_code == 200
            time.sleep(1.5)
        time.sleep(3.5)  # past token_idle_minutes (3 s) without any use
        idle = api.post("/v1/query", json={"sql": "SELECT 1 AS n FROM crime", "purpose": "SA-2026"})
        assert (idle.status_code, idle.json()["error"]["code"]) == (403, "account_idle")
        assert "sign in to the web application" in idle.json()["error"]["message"]
        assert api.get("/v1/me").status_code == 403  # a refused use is no use
        WebClient(idle_gateway).sign_in("a.khan")
        assert api.get("/v1/me").status_code == 200
    WebClient(idle_gateway).sign_in("s.patel").close()  # their tokens are idle too
    with idle_gateway.client("s.patel") as senior:
        events = senior.get(
            "/v1/audit/events", params={"kind": "access.authentication_failed", "limit": 1000}
        ).json()["events"]
    reasons = [(e["actor"], e["details"]["details"]["reason"]) for e in events]
    assert ("a.khan", "account_idle") in reasons
    web.close()


def test_docs_are_served_from_the_package(web_gateway: LiveGateway) -> None:
    with httpx.Client(base_url=web_gateway.url) as http:
        html = http.get("/docs").text
        sources = re.findall(r'(?:src|href)="([^"]+)"', html)
        assert sources
        assert all(s.startswith("/static/") for s in sources)
        for source in sources:
            assert http.get(source).status_code == 200, source
        assert http.get("/openapi.json").status_code == 200


def test_an_export_decision_needs_the_token_and_the_right_person(
    web_gateway: LiveGateway, web_client: Any
) -> None:
    with web_gateway.client("h.lee") as owner:
        held = owner.post(
            "/v1/exports",
            json={
                "sql": "SELECT crime_id FROM crime LIMIT 3",
                "purpose": "SA-2026",
                "format": "csv",
            },
        ).json()
    path = f"/exports/{held['export_id']}/decision"
    decision = {"decision": "approve", "comment": "looks fine"}
    peer = web_client().sign_in("a.khan")  # another analyst: not an authoriser
    refused = peer.post(path, {**decision, "csrf_token": peer.csrf()})
    assert refused.status_code == 403
    senior = web_client().sign_in("s.patel")
    assert senior.post(path, {**decision, "csrf_token": "forged"}).status_code == 403
    with web_gateway.client("h.lee") as owner:
        assert owner.get(held["download"]).status_code == 403  # still held
    approved = senior.post(path, {**decision, "csrf_token": senior.csrf()})
    assert approved.status_code == 303
    with web_gateway.client("h.lee") as owner:
        assert owner.get(held["download"]).status_code == 200


def test_only_an_administrator_unlocks_an_account_in_the_web(web_client: Any) -> None:
    locked = web_client()
    for _ in range(3):
        locked.login("j.taylor", "not the password")
    assert locked.login("j.taylor", PASSWORD).status_code == 403
    analyst = web_client().sign_in("a.khan")
    assert analyst.get("/admin/accounts").status_code == 403
    path = "/admin/accounts/j.taylor/unlock"
    assert analyst.post(path, {"csrf_token": analyst.csrf()}).status_code == 403
    admin = web_client().sign_in("gw.admin")
    overview = admin.get("/admin/accounts")
    assert overview.status_code == 200
    assert 'action="/admin/accounts/j.taylor/unlock"' in overview.text
    assert admin.post(path, {"csrf_token": "forged"}).status_code == 403
    assert locked.login("j.taylor", PASSWORD).status_code == 403  # still locked
    done = admin.post(path, {"csrf_token": admin.csrf(), "reason": "called the service desk"})
    assert done.status_code == 303
    assert 'action="/admin/accounts/j.taylor/unlock"' not in admin.get("/admin/accounts").text
    assert locked.login("j.taylor", PASSWORD).headers["location"] == "/syops"


def test_sign_in_attempts_from_one_address_are_throttled(
    tmp_path_factory: pytest.TempPathFactory,
) -> None:
    root = tmp_path_factory.mktemp("web-throttle") / "data"
    gateway = start_gateway(
        web_data_dir(root).root,
        env={"GATEWAY_FAILED_LOGIN_BURST": "3", "GATEWAY_FAILED_LOGINS_PER_MINUTE": "1"},
    )
    try:
        client = WebClient(gateway)
        sprayed = [client.login(name, "Summer2026!") for name in ("h.lee", "a.khan", "s.patel")]
        assert [r.status_code for r in sprayed] == [401, 401, 401]
        refused = client.login("m.hughes", PASSWORD)  # even the right password: not checked
        assert refused.status_code == 429
        assert "Too many sign-in attempts" in refused.text
        assert cookie(refused, "gw_session") is None
        client.close()
    finally:
        gateway.stop()

"""Audit review (senior analysts only), administration (admins only), health and metrics."""

from __future__ import annotations

import httpx
import pytest


@pytest.mark.parametrize(
    "path", ["/v1/audit/events", "/v1/audit/reports/activity", "/v1/audit/verify"]
)
def test_analysts_cannot_review_the_audit_trail(live_gateway, path):  # type: ignore[no-untyped-def]
    with live_gateway.client("h.lee") as http:
        answer = http.get(path)
    assert answer.status_code == 403
    assert answer.json()["error"]["code"] == "access_denied"


def test_senior_analyst_reviews_the_trail_and_is_recorded(live_gateway):  # type: ignore[no-untyped-def]
    with live_gateway.client("h.lee") as analyst:
        analyst.post(
            "/v1/query", json={"sql": "SELECT * FROM intelligence_report", "purpose": "SA-2026"}
        )
    with live_gateway.client("s.patel") as http:
        verify = http.get("/v1/audit/verify").json()
        denied = http.get("/v1/audit/reports/denied").json()
        events = http.get(
            "/v1/audit/events",
            params={"kind": "access.audit_reviewed", "actor": "s.patel", "limit": 1000},
        ).json()
        missing = http.get("/v1/audit/reports/no-such-report")
        bad_time = http.get("/v1/audit/events", params={"since": "yesterday"})
        unknown = http.get("/v1/audit/events", params={"sinse": "2026-01-01"})
    assert verify["ok"] is True
    assert verify["records"] > 0
    columns = [c["name"] for c in denied["columns"]]
    reasons = [row[columns.index("reason")] for row in denied["rows"]]
    users = [row[columns.index("user")] for row in denied["rows"]]
    assert "table_not_permitted" in reasons
    assert "h.lee" in users
    subjects = {e["details"]["subject"] for e in events["events"]}
    assert {"verify", "report:denied"} <= subjects
    assert missing.status_code == 404
    assert bad_time.status_code == 400
    assert "ISO" in bad_time.json()["error"]["message"]
    assert unknown.status_code == 400
    assert "sinse" in unknown.json()["error"]["message"]


def test_events_page_through(live_gateway):  # type: ignore[no-untyped-def]
    with live_gateway.client("s.patel") as http:
        first = http.get("/v1/audit/events", params={"limit": 3}).json()
        second = http.get(
            "/v1/audit/events", params={"limit": 3, "after_seq": first["next_after_seq"]}
        ).json()
    assert [e["seq"] for e in first["events"]] == [1, 2, 3]
    assert second["events"][0]["seq"] == 4


def test_admin_issues_lists_and_revokes_tokens(live_gateway):  # type: ignore[no-untyped-def]
    with live_gateway.client("gw.admin") as admin:
        issued = admin.post(
            "/v1/tokens", json={"username": "j.taylor", "label": "laptop", "expires_in_days": 7}
        )
        assert issued.status_code == 201
        token, token_id = issued.json()["token"], issued.json()["token_id"]
        listed = admin.get("/v1/tokens", params={"username": "j.taylor"}).json()
        unknown_user = admin.post("/v1/tokens", json={"username": "nobody"})
        users = admin.get("/v1/users").json()
    assert token.startswith("pgw_")
    assert token_id in {t["token_id"] for t in listed}
    assert all("token" not in t for t in listed)
    assert unknown_user.status_code == 404
    assert {u["username"] for u in users} >= {"h.lee", "e.okafor", "s.patel", "gw.admin"}
    me = httpx.get(live_gateway.url + "/v1/me", headers={"Authorization": f"Bearer {token}"})
    assert me.json()["username"] == "j.taylor"
    with live_gateway.client("gw.admin") as admin:
        assert admin.delete(f"/v1/tokens/{token_id}").status_code == 200
        assert admin.delete("/v1/tokens/tok_nonexistent").status_code == 404
    again = httpx.get(live_gateway.url + "/v1/me", headers={"Authorization": f"Bearer {token}"})
    assert again.status_code == 401


@pytest.mark.parametrize(
    ("method", "path"),
    [("GET", "/v1/tokens"), ("GET", "/v1/users"), ("DELETE", "/v1/tokens/tok_x")],
)
def test_non_admins_cannot_administer(live_gateway, method, path):  # type: ignore[no-untyped-def]
    with live_gateway.client("s.patel") as http:
        answer = http.request(method, path)
    assert answer.status_code == 403


def test_me_and_catalog(live_gateway):  # type: ignore[no-untyped-def]
    with live_gateway.client("e.okafor") as http:
        me = http.get("/v1/me").json()
        jag = http.get("/v1/catalog", params={"purpose": "JAG-2026-07"}).json()
        sa = http.get("/v1/catalog").json()
    assert me["level"] == "enhanced"
    assert me["grants"][0]["grant_id"] == "G-2026-001"
    assert me["grants"][0]["ends"] is not None
    jag_tables = {t["name"]: t for t in jag["tables"]}
    sa_tables = {t["name"]: t for t in sa["tables"]}
    assert "intelligence_report" in jag_tables
    assert "intelligence_report" not in sa_tables
    mo = {c["name"]: c["mask"] for c in jag_tables["crime"]["columns"]}["modus_operandi"]
    assert mo == "show"
    assert {c["name"]: c["mask"] for c in sa_tables["crime"]["columns"]}["modus_operandi"] == "null"
    assert sa["purpose"] == "SA-2026"
    assert jag["grants"] == ["G-2026-001"]


def test_health_and_metrics(live_gateway):  # type: ignore[no-untyped-def]
    with live_gateway.client("h.lee") as http:
        http.post("/v1/query", json={"sql": "SELECT 1 AS x", "purpose": "SA-2026"})
        http.post(
            "/v1/query", json={"sql": "SELECT * FROM intelligence_report", "purpose": "SA-2026"}
        )
    health = httpx.get(live_gateway.url + "/healthz").json()
    text = httpx.get(live_gateway.url + "/metrics").text
    assert health["status"] == "ok"
    assert health["engine"]["workers_alive"] >= 1
    assert 'gateway_http_requests_total{route="/v1/query",method="POST",status="200"}' in text
    assert 'gateway_denials_total{code="table_not_permitted"}' in text
    assert 'gateway_http_request_duration_seconds_bucket{route="/v1/query",le="+Inf"}' in text
    assert "gateway_engine_worker_restarts_total" in text
    assert "gateway_engine_queue_depth" in text

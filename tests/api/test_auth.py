"""Authentication: missing, malformed, wrong, expired and revoked tokens get 401; a user
suspended or expired in users.toml is refused at the next request; failures are audited
without the token."""

from __future__ import annotations

import json
from datetime import timedelta

import httpx
import pytest

from gateway.audit.log import AuditLog
from gateway.auth import TokenStore, issue_token

ME = "/v1/me"


def _me(live_gateway, authorization: str | None) -> httpx.Response:  # type: ignore[no-untyped-def]
    headers = {"Authorization": authorization} if authorization is not None else {}
    return httpx.get(live_gateway.url + ME, headers=headers, timeout=30)


@pytest.mark.parametrize(
    ("authorization", "words"),
    [
        (None, "no credentials"),
        ("", "no credentials"),
        ("Bearer", "malformed"),
        ("Basic aGVsbG86d29ybGQ=", "malformed"),
        ("Bearer pgw_has spaces", "malformed"),
        ("Bearer " + "x" * 500, "malformed"),
        ("Bearer pgw_" + "A" * 43, "not valid"),
        ("Bearer not-even-a-gateway-token", "not valid"),
    ],
)
def test_bad_credentials_are_401(live_gateway, authorization, words):  # type: ignore[no-untyped-def]
    answer = _me(live_gateway, authorization)
    assert answer.status_code == 401
    assert answer.json()["error"]["code"] == "unauthenticated"
    assert words in answer.json()["error"]["message"]
    assert answer.headers["www-authenticate"].startswith("Bearer")


def test_valid_token_in_any_scheme_case(live_gateway):  # type: ignore[no-untyped-def]
    answer = _me(live_gateway, "bearer " + live_gateway.token("h.lee"))
    assert answer.status_code == 200
    assert answer.json()["username"] == "h.lee"


def _issue(data_dir, username: str, expires_in: timedelta) -> tuple[str, str]:  # type: ignore[no-untyped-def]
    with AuditLog.open(data_dir) as audit:
        issued = issue_token(
            TokenStore(data_dir.governance),
            audit,
            username,
            issued_by="test",
            expires_in=expires_in,
        )
    return issued.token, issued.record.token_id


def test_expired_token_is_401(live_gateway, demo_data_dir):  # type: ignore[no-untyped-def]
    token, _ = _issue(demo_data_dir, "a.khan", timedelta(seconds=-1))
    answer = _me(live_gateway, f"Bearer {token}")
    assert answer.status_code == 401
    assert "expired" in answer.json()["error"]["message"]


def test_revoked_token_is_401_from_the_next_request(live_gateway, demo_data_dir):  # type: ignore[no-untyped-def]
    token, token_id = _issue(demo_data_dir, "a.khan", timedelta(days=1))
    assert _me(live_gateway, f"Bearer {token}").status_code == 200
    with live_gateway.client("gw.admin") as admin:
        revoked = admin.delete(f"/v1/tokens/{token_id}")
    assert revoked.status_code == 200
    assert revoked.json()["state"] == "revoked"
    answer = _me(live_gateway, f"Bearer {token}")
    assert answer.status_code == 401
    assert "revoked" in answer.json()["error"]["message"]


def _edit_user(users_toml, username: str, line: str) -> str:  # type: ignore[no-untyped-def]
    original = users_toml.read_text("utf-8")
    header = f'[users."{username}"]\n'
    assert header in original
    users_toml.write_text(original.replace(header, header + line + "\n"), "utf-8")
    return original


@pytest.mark.parametrize(
    ("line", "code"),
    [("suspended = true", "account_suspended"), ("expires = 2020-01-01", "access_expired")],
)
def test_user_refused_mid_session_after_users_toml_edit(live_gateway, demo_data_dir, line, code):  # type: ignore[no-untyped-def]
    query = {"sql": "SELECT count(*) AS n FROM crime", "purpose": "SA-2026"}
    with live_gateway.client("r.wilson") as http:
        assert http.post("/v1/query", json=query).status_code == 200
        original = _edit_user(demo_data_dir.users, "r.wilson", line)
        try:
            refused = http.post("/v1/query", json=query)
            me = http.get(ME)
        finally:
            demo_data_dir.users.write_text(original, "utf-8")
        assert refused.status_code == 403
        assert refused.json()["error"]["code"] == code
        assert me.status_code == 403
        assert http.post("/v1/query", json=query).status_code == 200


def test_failed_attempts_are_audited_without_the_token(live_gateway):  # type: ignore[no-untyped-def]
    secret = "pgw_" + "Z" * 43
    assert _me(live_gateway, f"Bearer {secret}").status_code == 401
    with live_gateway.client("s.patel") as http:
        events = http.get(
            "/v1/audit/events",
            params={"kind": "access.authentication_failed", "limit": 1000},
        ).json()["events"]
    assert events, "no authentication failure recorded"
    assert any(e["details"]["details"]["reason"] == "unknown_token" for e in events)
    assert all(e["details"]["details"]["client_address"] == "127.0.0.1" for e in events)
    assert secret not in json.dumps(events)
    assert "ZZZZZZZZ" not in json.dumps(events)


def test_tokens_are_stored_only_as_hashes(live_gateway, demo_data_dir):  # type: ignore[no-untyped-def]
    raw = demo_data_dir.governance.read_bytes()
    for entry in live_gateway.tokens.values():
        assert entry["token"].encode() not in raw

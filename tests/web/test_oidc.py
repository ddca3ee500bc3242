"""Signing in through an OpenID Connect provider, over real HTTP: a live gateway whose policy
names a live test provider (tests/web/oidc_provider.py), both on loopback.

The happy path ends at the SyOPs like a password sign-in; every way of forging or replaying the
provider's answer ends on the sign-in page with a 4xx, no session and an audit record.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import httpx
import pytest

from gateway.audit.chain import AuditEvent
from gateway.audit.log import AuditLog
from gateway.auth.oidc import OidcProvider, PendingSignIn, http_fetch
from gateway.datadir import DataDir
from gateway.errors import ConfigurationError, IdentityProviderUnavailable
from gateway.policy.login import parse_login_settings
from gateway.policy.oidc import OidcSettings
from tests.gateway_server import LiveGateway, free_port, start_gateway
from tests.web.conftest import PASSWORD, WebClient, cookie, form_token, web_data_dir
from tests.web.oidc_provider import CLIENT_ID, CLIENT_SECRET, LoopbackProvider
from tests.web.test_browser import accept_syops, serious_violations

USER = "h.lee"


@dataclass
class OidcSetup:
    gateway: LiveGateway
    provider: LoopbackProvider


@pytest.fixture(scope="module")
def oidc(tmp_path_factory: pytest.TempPathFactory) -> Iterator[OidcSetup]:
    port = free_port()
    provider = LoopbackProvider(f"http://127.0.0.1:{port}/login/oidc/callback").start()
    dd = web_data_dir(tmp_path_factory.mktemp("web-oidc") / "data")
    with dd.policy.open("a", encoding="utf-8") as policy:
        policy.write(
            "\n[login.oidc]\n"
            f'issuer = "{provider.issuer}"\n'
            f'client_id = "{CLIENT_ID}"\n'
            f'redirect_url = "{provider.redirect_uri}"\n'
            'label = "Sign in with the force account"\n'
        )
    gateway = start_gateway(dd.root, port=port, env={"GATEWAY_OIDC_CLIENT_SECRET": CLIENT_SECRET})
    yield OidcSetup(gateway, provider)
    gateway.stop()
    provider.stop()


@pytest.fixture
def provider(oidc: OidcSetup) -> Iterator[LoopbackProvider]:
    oidc.provider.user, oidc.provider.tamper, oidc.provider.signing = USER, {}, "own"
    yield oidc.provider
    oidc.provider.user, oidc.provider.tamper, oidc.provider.signing = USER, {}, "own"


@dataclass
class Leg:
    """The browser's state after going to the provider and back (before the callback)."""

    pending: str
    callback: str


def to_provider_and_back(http: httpx.Client, oidc: OidcSetup) -> Leg:
    start = http.get("/login/oidc")
    assert start.status_code == 303, start.text
    pending = cookie(start, "gw_oidc")
    assert pending
    flags = next(h for h in start.headers.get_list("set-cookie") if h.startswith("gw_oidc="))
    assert {"httponly", "secure", "samesite=lax", "path=/login/oidc"} <= {
        p.strip().lower() for p in flags.split(";")[1:]
    }
    at_provider = httpx.get(start.headers["location"])
    assert at_provider.status_code == 302, at_provider.text
    callback = at_provider.headers["location"]
    assert callback.startswith(oidc.gateway.url + "/login/oidc/callback?")
    return Leg(pending, callback[len(oidc.gateway.url) :])


def call_back(http: httpx.Client, leg: Leg, *, pending: str | None = None) -> httpx.Response:
    value = leg.pending if pending is None else pending
    return http.get(leg.callback, headers={"cookie": f"gw_oidc={value}"} if value else {})


def events(oidc: OidcSetup, kind: str) -> list[AuditEvent]:
    with AuditLog.open(DataDir(oidc.gateway.data_dir)) as log:
        return list(log.events(kinds=[kind]))


def failures(oidc: OidcSetup) -> list[str]:
    found = events(oidc, "access.authentication_failed")
    return [
        str(e.details["details"]["reason"])
        for e in found
        if e.details["details"].get("method") == "oidc"
    ]


def test_a_person_signs_in_through_the_provider_then_accepts_the_syops(
    oidc: OidcSetup, provider: LoopbackProvider
) -> None:
    login = httpx.get(f"{oidc.gateway.url}/login")
    assert 'href="/login/oidc"' in login.text
    assert "Sign in with the force account" in login.text
    with httpx.Client(base_url=oidc.gateway.url) as http:
        back = call_back(http, to_provider_and_back(http, oidc))
        assert (back.status_code, back.headers["location"]) == (303, "/syops"), back.text
        session = cookie(back, "gw_session")
        assert session
        client = WebClient(oidc.gateway)
        client.session = session
        syops = client.get("/syops")
        accepted = client.post(
            "/syops", {"csrf_token": form_token(syops.text), "accept": "yes", "version": "2026-1"}
        )
        assert accepted.headers["location"] == "/"
        home = client.get("/")
        assert home.status_code == 200
        assert USER in home.text
        client.close()
    verified = events(oidc, "access.identity_verified")[-1]
    assert verified.actor == USER
    assert verified.details["details"]["method"] == "oidc"
    assert verified.details["details"]["provider_subject"].startswith("sub-")
    assert events(oidc, "access.signed_in")[-1].actor == USER


@pytest.mark.parametrize(
    ("tamper", "signing", "expected"),
    [
        ({"aud": "another-client"}, "own", "identity_rejected"),
        ({"iss": "https://impostor.example"}, "own", "identity_rejected"),
        ({"exp": 1_000_000_000, "iat": 999_999_000}, "own", "identity_rejected"),
        ({"nonce": "a-nonce-from-another-sign-in"}, "own", "identity_rejected"),
        ({"aud": [CLIENT_ID, "other"], "azp": "other"}, "own", "identity_rejected"),
        ({"preferred_username": None}, "own", "identity_rejected"),
        ({}, "other", "identity_rejected"),  # signed by a key the provider does not publish
        ({}, "none", "identity_rejected"),  # unsigned
        ({}, "hs256", "identity_rejected"),  # signed with the client secret
    ],
    ids=["audience", "issuer", "expired", "nonce", "azp", "no-username", "key", "none", "hs256"],
)
def test_a_forged_or_stale_id_token_signs_nobody_in(
    oidc: OidcSetup, provider: LoopbackProvider, tamper: dict[str, Any], signing: str, expected: str
) -> None:
    provider.tamper, provider.signing = tamper, signing
    before = len(failures(oidc))
    with httpx.Client(base_url=oidc.gateway.url) as http:
        back = call_back(http, to_provider_and_back(http, oidc))
    assert back.status_code == 401, back.text
    assert cookie(back, "gw_session") is None
    assert "Traceback" not in back.text
    assert 'id="login-error"' in back.text
    assert failures(oidc)[before:] == [expected]


def test_the_callback_needs_this_browsers_state_and_spends_it(
    oidc: OidcSetup, provider: LoopbackProvider
) -> None:
    with httpx.Client(base_url=oidc.gateway.url) as http:
        leg = to_provider_and_back(http, oidc)
        other = to_provider_and_back(http, oidc)  # another browser's sign-in
        for pending in ("", other.pending, "made.up.value"):
            refused = call_back(http, leg, pending=pending)
            assert refused.status_code == 401
            assert cookie(refused, "gw_session") is None
        first = call_back(http, leg)
        assert first.status_code == 303
        assert cookie(first, "gw_session")
        spent = [h for h in first.headers.get_list("set-cookie") if h.startswith("gw_oidc=")]
        assert spent
        assert "max-age=0" in spent[0].lower() or "expires=" in spent[0].lower()
        replayed = call_back(http, leg)  # the same code and state again
        assert replayed.status_code == 401
        assert cookie(replayed, "gw_session") is None


def test_the_provider_vouching_for_someone_gives_no_access_the_gateway_did_not(
    oidc: OidcSetup, provider: LoopbackProvider
) -> None:
    provider.user = "someone.at.the.provider"
    with httpx.Client(base_url=oidc.gateway.url) as http:
        back = call_back(http, to_provider_and_back(http, oidc))
    assert back.status_code == 401
    assert cookie(back, "gw_session") is None
    assert failures(oidc)[-1] == "unknown_user"


def test_a_locked_account_stays_locked_through_the_provider(
    oidc: OidcSetup, provider: LoopbackProvider
) -> None:
    provider.user = "j.taylor"
    locked = WebClient(oidc.gateway)
    for _ in range(3):
        locked.login("j.taylor", "not the password")
    assert locked.login("j.taylor", PASSWORD).status_code == 403
    locked.close()
    with httpx.Client(base_url=oidc.gateway.url) as http:
        back = call_back(http, to_provider_and_back(http, oidc))
    assert back.status_code == 403
    assert cookie(back, "gw_session") is None
    assert "locked" in back.text
    assert failures(oidc)[-1] == "account_locked"


def test_a_provider_that_is_down_or_redirects_is_unavailable_not_trusted(
    provider: LoopbackProvider,
) -> None:
    down = OidcSettings(
        issuer=f"http://127.0.0.1:{free_port()}",
        client_id=CLIENT_ID,
        redirect_url=provider.redirect_uri,
    )
    with pytest.raises(IdentityProviderUnavailable, match="could not be reached"):
        OidcProvider(down).authorization_url(PendingSignIn.new())
    live = OidcSettings(
        issuer=provider.issuer, client_id=CLIENT_ID, redirect_url=provider.redirect_uri
    )
    authorize = OidcProvider(live).authorization_url(PendingSignIn.new())
    with pytest.raises(IdentityProviderUnavailable, match="answered 302"):
        http_fetch(authorize, None, {})  # the provider's redirect is never followed
    with pytest.raises(IdentityProviderUnavailable, match="not https"):
        http_fetch("http://192.0.2.1/jwks", None, {})


def test_without_a_provider_in_the_policy_there_is_no_such_route(
    web_gateway: LiveGateway,
) -> None:
    with httpx.Client(base_url=web_gateway.url) as http:
        assert http.get("/login/oidc").status_code == 404
        assert http.get("/login/oidc/callback?code=x&state=y").status_code == 404
        assert 'href="/login/oidc"' not in http.get("/login").text


@pytest.mark.parametrize(
    ("table", "problem"),
    [
        (
            {"issuer": "http://idp.example", "client_id": "x", "redirect_url": "https://g/cb"},
            "https",
        ),
        (
            {
                "issuer": "https://idp.example",
                "client_id": "x",
                "redirect_url": "https://g/cb",
                "algorithms": ["HS256"],
            },
            "not allowed",
        ),
        ({"issuer": "https://idp.example", "client_id": "x"}, "redirect_url: required"),
        (
            {
                "issuer": "https://idp.example",
                "client_id": "x",
                "redirect_url": "https://g/cb",
                "client_secret": "in the policy file",
            },
            "unknown key",
        ),
    ],
    ids=["plain-http", "hmac", "no-redirect", "secret-in-file"],
)
def test_a_bad_provider_table_is_refused_when_the_policy_loads(
    table: dict[str, Any], problem: str
) -> None:
    with pytest.raises(ConfigurationError, match=problem):
        parse_login_settings({"oidc": table})


def test_in_the_browser_the_button_goes_to_the_provider_and_back_to_the_syops(
    page: Any, oidc: OidcSetup, provider: LoopbackProvider
) -> None:
    page.goto(f"{oidc.gateway.url}/login")
    assert serious_violations(page) == []
    page.get_by_role("link", name="Sign in with the force account").click()
    accept_syops(page)
    assert USER in page.content()

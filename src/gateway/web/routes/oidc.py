"""Signing in through the force's OpenID Connect provider: ``/login/oidc`` and its callback.

    GET /login/oidc            a new :class:`~gateway.auth.oidc.PendingSignIn` in a short-lived
                               cookie (SameSite=Lax, so the provider's redirect back carries
                               it; path limited to these routes), then off to the provider
    GET /login/oidc/callback   the state must be this browser's, the code is exchanged and the
                               ID token checked (:class:`~gateway.auth.oidc.OidcProvider`), then
                               :meth:`~gateway.auth.signin.SignIn.sign_in_verified` opens a
                               session at the SyOPs, as a password sign-in would

The pending cookie is spent by the callback whatever happens, so a code or state cannot be
replayed. Every callback takes one of the address's sign-in attempts (as a password form post
does); failures are audited (``access.authentication_failed`` with the reason) and end on the sign-in page with a 4xx (503 when the
provider cannot be reached) — never a stack trace. Without ``[login.oidc]`` both are 404.
"""

from __future__ import annotations

import math
from typing import Annotated

from fastapi import APIRouter, Query, Request
from starlette.responses import Response

from gateway.api.deps import ClientDep, RuntimeDep
from gateway.auth.oidc import OidcProvider, PendingSignIn
from gateway.errors import (
    AccessDenied,
    AuthenticationError,
    GatewayError,
    IdentityProviderUnavailable,
    IdentityRejected,
    NotFound,
)
from gateway.web.routes.signin import go, login_page, next_page
from gateway.web.security import clear_cookie, set_cookie
from gateway.web.session import SESSION_COOKIE, SignInDep

__all__ = ["router"]

router = APIRouter(include_in_schema=False)

PENDING_COOKIE = "gw_oidc"
_PATH = "/login/oidc"
_PENDING_SECONDS = 600


def _provider(runtime: RuntimeDep) -> OidcProvider:
    provider = runtime.deployment.oidc
    if provider is None:
        raise NotFound("sign-in through an identity provider is not configured")
    return provider


@router.get(_PATH)
def start(runtime: RuntimeDep, signin: SignInDep) -> Response:
    provider = _provider(runtime)
    pending = PendingSignIn.new()
    try:
        location = provider.authorization_url(pending)
    except IdentityProviderUnavailable as exc:
        return login_page(signin, error=exc.message, status=exc.status)
    response = go(location)
    set_cookie(
        response,
        PENDING_COOKIE,
        pending.cookie_value(),
        same_site="lax",
        path=_PATH,
        max_age=_PENDING_SECONDS,
    )
    return response


def _refused(signin: SignInDep, exc: GatewayError) -> Response:
    response = login_page(signin, error=exc.message, status=exc.status)
    clear_cookie(response, PENDING_COOKIE, same_site="lax", path=_PATH)
    return response


@router.get(f"{_PATH}/callback")
def callback(
    request: Request,
    runtime: RuntimeDep,
    signin: SignInDep,
    client: ClientDep,
    state: Annotated[str, Query(max_length=200)] = "",
    code: Annotated[str, Query(max_length=2000)] = "",
    error: Annotated[str, Query(max_length=100)] = "",
) -> Response:
    provider = _provider(runtime)
    wait = runtime.limits.failed_logins.take(f"web:{client.address}")
    if wait:
        return login_page(
            signin,
            error=f"Too many sign-in attempts from this address: try again in {math.ceil(wait)} "
            "seconds.",
            status=429,
        )
    pending = PendingSignIn.from_cookie(request.cookies.get(PENDING_COOKIE, ""))
    try:
        if pending is None or not state or not pending.matches(state):
            raise IdentityRejected(
                "the sign-in was not started from this browser, or took too long: start again"
            )
        if error or not code:
            raise IdentityRejected("the identity provider did not sign you in")
        username, subject = provider.verified_username(code, pending)
    except (IdentityRejected, IdentityProviderUnavailable) as exc:
        signin.identity_rejected(exc.code, client.address, method="oidc")
        return _refused(signin, exc)
    old = request.cookies.get(SESSION_COOKIE)
    if old:
        signin.sign_out(old)  # never carry a session across a sign-in
    try:
        secret, session = signin.sign_in_verified(
            username, client.address, method="oidc", subject=subject
        )
    except (AuthenticationError, AccessDenied) as exc:
        return _refused(signin, exc)
    response = go(next_page(session.stage), secret)
    clear_cookie(response, PENDING_COOKIE, same_site="lax", path=_PATH)
    return response

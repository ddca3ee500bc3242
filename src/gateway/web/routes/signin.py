"""Signing in and out: ``/login``, ``/password``, ``/syops``, ``/logout``.

Each step is :class:`~gateway.auth.signin.SignIn`'s (audited there); these routes only read
forms, check CSRF tokens, set cookies and choose the next page. The session id changes at
every step (a new cookie each time).
"""

from __future__ import annotations

import math
import secrets
from typing import Annotated

from fastapi import APIRouter, Query, Request
from starlette.responses import RedirectResponse, Response

from gateway.api.deps import ClientDep, RuntimeDep
from gateway.auth.signin import PasswordRejected
from gateway.errors import AccessDenied, AuthenticationError, GatewayError
from gateway.web.pages import page
from gateway.web.security import clear_cookie, read_form, require_csrf, same_token, set_cookie
from gateway.web.session import SESSION_COOKIE, SignInDep, StageSessionDep, WebUser

__all__ = ["router"]

router = APIRouter(include_in_schema=False)

LOGIN_CSRF_COOKIE = "gw_login_csrf"
_ENDED = {
    "idle": "You were signed out because the session was not used for too long.",
    "lifetime": "The session reached its time limit: sign in again.",
    "signed_out": "You are signed out.",
    "account_locked": "The account is locked: ask an administrator to unlock it.",
    "account_suspended": "The account is suspended.",
    "access_expired": "Your access has expired.",
    "network_not_permitted": "You may not use the gateway from this network.",
    "precondition_missing": "Something your access needs is missing (vetting, declarations, "
    "training): ask your administrator.",
    "vetting_expired": "Your vetting has expired: ask your administrator.",
}


def login_page(
    signin: SignInDep, *, message: str = "", error: str = "", status: int = 200
) -> Response:
    token = secrets.token_urlsafe(32)
    response = page(
        "login.html",
        status=status,
        title="Sign in",
        csrf_token=token,
        message=message,
        error=error,
        notice=signin.rules.monitoring_notice,
        oidc_label=signin.rules.oidc.label if signin.rules.oidc else "",
    )
    set_cookie(response, LOGIN_CSRF_COOKIE, token, max_age=3600)
    return response


def go(location: str, secret: str | None = None) -> RedirectResponse:
    response = RedirectResponse(location, status_code=303)
    if secret is not None:
        set_cookie(response, SESSION_COOKIE, secret)
    return response


def next_page(stage: str) -> str:
    return {"password_change": "/password", "syops": "/syops"}.get(stage, "/")


@router.get("/login")
def login_form(
    signin: SignInDep,
    ended: Annotated[str | None, Query(max_length=40)] = None,
) -> Response:
    return login_page(signin, message=_ENDED.get(ended or "", ""))


@router.post("/login")
async def login(
    request: Request, signin: SignInDep, client: ClientDep, runtime: RuntimeDep
) -> Response:
    form = await read_form(request)
    if not same_token(request.cookies.get(LOGIN_CSRF_COOKIE, ""), form.get("csrf_token")):
        return login_page(
            signin, error="The sign-in form had expired: please try again.", status=403
        )
    # Each address has a budget of attempts (GATEWAY_FAILED_LOGINS_PER_MINUTE, _BURST): a
    # password sprayed over many accounts from one place stops here, before any is verified.
    wait = runtime.limits.failed_logins.take(f"web:{client.address}")
    if wait:
        return login_page(
            signin,
            error="Too many sign-in attempts from this address: "
            f"try again in {math.ceil(wait)} seconds.",
            status=429,
        )
    old = request.cookies.get(SESSION_COOKIE)
    if old:
        signin.sign_out(old)  # never carry a session across a sign-in
    try:
        secret, session = signin.sign_in(
            form.get("username", ""), form.get("password", ""), client.address
        )
    except (AuthenticationError, AccessDenied) as exc:
        return login_page(signin, error=exc.message, status=exc.status)
    response = go(next_page(session.stage), secret)
    clear_cookie(response, LOGIN_CSRF_COOKIE)
    return response


@router.get("/password")
def password_form(user: StageSessionDep, signin: SignInDep) -> Response:
    return _password_page(user, signin)


def _password_page(
    user: WebUser, signin: SignInDep, *, error: str = "", status: int = 200
) -> Response:
    rules = signin.rules
    return page(
        "password.html",
        status=status,
        title="Change your password",
        user=user.principal if user.session.stage == "active" else None,
        csrf_token=user.csrf_token,
        first=user.session.stage == "password_change",
        rules=rules,
        error=error,
    )


@router.post("/password")
async def change_password(
    request: Request, user: StageSessionDep, signin: SignInDep, client: ClientDep
) -> Response:
    form = await read_form(request)
    require_csrf(user.csrf_token, request, form)
    new = form.get("new_password", "")
    if new != form.get("confirm_password", ""):
        return _password_page(user, signin, error="The two new passwords differ.", status=400)
    try:
        secret, session = signin.change_password(
            user.secret, form.get("current_password", ""), new, client.address
        )
    except PasswordRejected as exc:
        return _password_page(user, signin, error=exc.message, status=400)
    except AuthenticationError as exc:
        return _password_page(user, signin, error=exc.message, status=exc.status)
    except AccessDenied as exc:  # locked by this failure: the session is gone
        return login_page(signin, error=exc.message, status=exc.status)
    return go(next_page(session.stage) if session.stage != "active" else "/", secret)


@router.get("/syops")
def syops_form(user: StageSessionDep, signin: SignInDep) -> Response:
    if user.session.stage != "syops":
        return go(next_page(user.session.stage))
    return page(
        "syops.html",
        title="Security operating procedures",
        csrf_token=user.csrf_token,
        rules=signin.rules,
        notice=signin.rules.monitoring_notice,
    )


@router.post("/syops")
async def accept_syops(
    request: Request, user: StageSessionDep, signin: SignInDep, client: ClientDep
) -> Response:
    form = await read_form(request)
    require_csrf(user.csrf_token, request, form)
    if form.get("accept") != "yes":
        return page(
            "syops.html",
            status=400,
            title="Security operating procedures",
            csrf_token=user.csrf_token,
            rules=signin.rules,
            notice=signin.rules.monitoring_notice,
            error="Tick the box to accept the security operating procedures.",
        )
    try:
        secret, _ = signin.accept_syops(user.secret, form.get("version", ""), client.address)
    except GatewayError as exc:
        return login_page(signin, error=exc.message, status=exc.status)
    return go("/", secret)


@router.post("/logout")
async def logout(request: Request, user: StageSessionDep, signin: SignInDep) -> Response:
    form = await read_form(request)
    require_csrf(user.csrf_token, request, form)
    signin.sign_out(user.secret)
    response = go("/login?ended=signed_out")
    clear_cookie(response, SESSION_COOKIE)
    return response

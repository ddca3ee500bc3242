"""Who is signed in: the session cookie → the person, for pages and for the console's requests.

    PageUserDep      an active session's person; otherwise the browser goes to the sign-in
                     page (or to the stage its session is at: password change, SyOPs)
    ConsoleUserDep   the same for script requests: a JSON 401/403 instead of a redirect
    StageSessionDep  any live session (the password-change and SyOPs pages)

A session is resolved by :meth:`gateway.auth.signin.SignIn.resolve` on every request, so idle
sign-off, locks and suspensions apply at once, on the server; with a governance register its
person then passes the same origin and precondition checks as a token
(:meth:`gateway.deployment.Deployment.admit`).

Example:
    >>> sign_in_redirect("idle").headers["location"]
    '/login?ended=idle'
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated

from fastapi import Depends, Request
from starlette.responses import RedirectResponse

from gateway.api.deps import RuntimeDep, client_of
from gateway.auth.sessions import WebSession
from gateway.auth.signin import SessionEnded, SignIn
from gateway.errors import AccessDenied, GatewayError
from gateway.principal import Principal

__all__ = [
    "SESSION_COOKIE",
    "ConsoleUserDep",
    "PageUserDep",
    "SignInRequired",
    "StageSessionDep",
    "WebUser",
    "sign_in_redirect",
]

SESSION_COOKIE = "gw_session"
_STAGE_PAGES = {"password_change": "/password", "syops": "/syops"}


@dataclass(frozen=True)
class WebUser:
    """The signed-in person: their session (stage, CSRF token) and principal."""

    secret: str
    session: WebSession
    principal: Principal

    @property
    def csrf_token(self) -> str:
        return self.session.csrf_token


class SignInRequired(Exception):
    """A page asked for without a usable session: the handler redirects (see the app)."""

    def __init__(self, location: str) -> None:
        super().__init__(location)
        self.location = location


def sign_in_redirect(reason: str = "") -> RedirectResponse:
    return RedirectResponse(f"/login?ended={reason}" if reason else "/login", status_code=303)


def signin_of(runtime: RuntimeDep) -> SignIn:
    return runtime.deployment.signin


SignInDep = Annotated[SignIn, Depends(signin_of)]


def _resolve(request: Request, signin: SignIn, runtime: RuntimeDep) -> WebUser:
    """The live session and its person, admitted by the register's origin and precondition
    checks as a token would be (a refused session ends)."""
    secret = request.cookies.get(SESSION_COOKIE, "")
    session, principal = signin.resolve(secret)
    try:
        runtime.deployment.admit(principal, client_of(request).address)
    except AccessDenied:
        signin.sessions.end(session)
        raise
    return WebUser(secret, session, principal)


def _ended_reason(exc: GatewayError) -> str:
    if isinstance(exc, SessionEnded):
        return exc.reason
    return exc.code


def stage_session(request: Request, signin: SignInDep, runtime: RuntimeDep) -> WebUser:
    if not request.cookies.get(SESSION_COOKIE):
        raise SignInRequired("/login")
    try:
        return _resolve(request, signin, runtime)
    except (SessionEnded, AccessDenied) as exc:
        raise SignInRequired(sign_in_redirect(_ended_reason(exc)).headers["location"]) from exc


def page_user(user: Annotated[WebUser, Depends(stage_session)]) -> WebUser:
    if user.session.stage != "active":
        raise SignInRequired(_STAGE_PAGES[user.session.stage])
    return user


def console_user(request: Request, signin: SignInDep, runtime: RuntimeDep) -> WebUser:
    user = _resolve(request, signin, runtime)
    if user.session.stage != "active":
        raise AccessDenied("finish signing in first (password change, security procedures)")
    return user


StageSessionDep = Annotated[WebUser, Depends(stage_session)]
PageUserDep = Annotated[WebUser, Depends(page_user)]
ConsoleUserDep = Annotated[WebUser, Depends(console_user)]

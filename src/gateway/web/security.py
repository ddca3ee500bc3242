"""What every page of the web application carries: headers, cookies, CSRF checks, forms.

- :class:`SecurityHeaders` (ASGI middleware, every response of the app): a
  Content-Security-Policy with no inline script (``script-src 'self'``), clickjacking refused
  (``frame-ancestors 'none'`` and ``X-Frame-Options: DENY``), ``nosniff``, no referrer, and
  ``Cache-Control: no-store`` on pages (a signed-out browser's back button shows nothing).
- cookies: ``Secure; HttpOnly; SameSite=Strict; Path=/`` always (browsers accept Secure
  cookies from ``http://localhost`` and ``127.0.0.1``; anywhere else serve over TLS).
- CSRF: every form carries the session's token (``csrf_token``), every script request sends it
  as ``X-CSRF-Token``; the sign-in form, before any session, pairs a cookie with a field
  (double submit). A missing or wrong token is 403 ``csrf_failed``, before anything runs.

Example:
    >>> parse_form(b"sql=SELECT+1&purpose=SA-2026")["sql"]
    'SELECT 1'
    >>> same_token("abc", "abc"), same_token("abc", ""), same_token("", "")
    (True, False, False)
"""

from __future__ import annotations

import hmac
from collections.abc import MutableMapping
from typing import Any, Literal
from urllib.parse import parse_qs

from starlette.requests import Request
from starlette.responses import Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from gateway.errors import AccessDenied, InputError

__all__ = [
    "CONTENT_SECURITY_POLICY",
    "CSRF_FIELD",
    "CSRF_HEADER",
    "CsrfFailed",
    "SecurityHeaders",
    "clear_cookie",
    "parse_form",
    "read_form",
    "require_csrf",
    "same_token",
    "set_cookie",
]

CONTENT_SECURITY_POLICY = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "connect-src 'self'; object-src 'none'; base-uri 'none'; form-action 'self'; "
    "frame-ancestors 'none'"
)
#: Swagger UI sets inline styles (never inline scripts).
_DOCS_POLICY = CONTENT_SECURITY_POLICY.replace(
    "style-src 'self'", "style-src 'self' 'unsafe-inline'"
)
CSRF_FIELD = "csrf_token"
CSRF_HEADER = "x-csrf-token"
_MAX_FORM_BYTES = 1 << 20


class CsrfFailed(AccessDenied):
    """A form or script request without its session's CSRF token (403 ``csrf_failed``)."""

    code = "csrf_failed"


class SecurityHeaders:
    """Adds the security headers to every response (pure ASGI: streams pass untouched)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        path: str = scope.get("path", "")
        policy = _DOCS_POLICY if path == "/docs" else CONTENT_SECURITY_POLICY

        async def with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = list(message.get("headers", []))
                names = {name.lower() for name, _ in headers}
                extra = [
                    (b"content-security-policy", policy.encode()),
                    (b"x-frame-options", b"DENY"),
                    (b"x-content-type-options", b"nosniff"),
                    (b"referrer-policy", b"no-referrer"),
                    (b"cross-origin-opener-policy", b"same-origin"),
                ]
                is_html = any(
                    n.lower() == b"content-type" and v.startswith(b"text/html") for n, v in headers
                )
                if is_html:
                    extra.append((b"cache-control", b"no-store"))
                headers += [(n, v) for n, v in extra if n not in names]
                message = {**message, "headers": headers}
            await send(message)

        await self.app(scope, receive, with_headers)


def same_token(expected: str, presented: str | None) -> bool:
    """Constant-time comparison; an empty token never matches."""
    if not expected or not presented:
        return False
    return hmac.compare_digest(expected.encode(), presented.encode())


def require_csrf(expected: str, request: Request, form: MutableMapping[str, str] | None) -> None:
    """Refuse a state-changing request that does not carry ``expected``.

    Raises:
        CsrfFailed: 403.
    """
    presented = request.headers.get(CSRF_HEADER) or (form or {}).get(CSRF_FIELD)
    if not same_token(expected, presented):
        raise CsrfFailed("the form has expired or did not come from this site: reload the page")


def parse_form(body: bytes) -> dict[str, str]:
    """An ``application/x-www-form-urlencoded`` body (the last value of a repeated field).

    Raises:
        InputError: not UTF-8.
    """
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise InputError("the form is not UTF-8 text") from exc
    return {k: v[-1] for k, v in parse_qs(text, keep_blank_values=True).items()}


async def read_form(request: Request) -> dict[str, str]:
    """The request's urlencoded form.

    Raises:
        InputError: another content type, too large, or not UTF-8.
    """
    kind = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if kind != "application/x-www-form-urlencoded":
        raise InputError("send the form as application/x-www-form-urlencoded")
    body = await request.body()
    if len(body) > _MAX_FORM_BYTES:
        raise InputError("the form is too large")
    return parse_form(body)


def set_cookie(
    response: Response,
    name: str,
    value: str,
    *,
    same_site: Literal["strict", "lax"] = "strict",
    path: str = "/",
    **options: Any,
) -> None:
    """Set a cookie with the gateway's flags (Secure, HttpOnly, SameSite=Strict, Path=/).

    ``same_site="lax"`` only for a cookie that must come back on a top-level navigation from
    another site (the identity provider's redirect back to the callback)."""
    response.set_cookie(
        name, value, secure=True, httponly=True, samesite=same_site, path=path, **options
    )


def clear_cookie(
    response: Response,
    name: str,
    *,
    same_site: Literal["strict", "lax"] = "strict",
    path: str = "/",
) -> None:
    response.delete_cookie(name, secure=True, httponly=True, samesite=same_site, path=path)

"""The web application: where analysts sign in and query in a browser (``gateway serve`` at ``/``).

    app        create_web_app: the API plus the pages, static files and security headers
    security   headers (CSP without inline script, no framing), cookies, CSRF checks, forms
    session    the session cookie → the signed-in person (pages redirect, scripts get 401)
    pages      Jinja2 templates shipped in the package
    routes     signin (/login, /password, /syops, /logout), console (/, /console/query,
               /history)

Server-rendered pages with a little progressive JavaScript: every page works as a plain form,
scripts only improve it (the console's results grid). Pages call the same functions as the API
(:mod:`gateway.api.routes`), so there is one policy path. Sign-in itself — passwords, lockout,
sessions, idle sign-off, SyOPs — is :mod:`gateway.auth.signin`, by the policy's ``[login]``.
"""

from gateway.web.app import create_web_app

__all__ = ["create_web_app"]

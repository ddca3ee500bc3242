"""A web session passes the register's origin checks as a token does: signed in from a
registered address it works; the same person from an unregistered one is refused (audited
``access.denied``) and the session ends."""

from __future__ import annotations

import re
from typing import Any

from fastapi.testclient import TestClient

from gateway.api.settings import GatewaySettings
from gateway.audit import AuditLog
from gateway.auth.passwords import hash_password
from gateway.datadir import DataDir
from gateway.deployment import Deployment
from gateway.web import create_web_app

from .test_api import INSIDE, OUTSIDE, app_dir  # noqa: F401 (the register and its warehouse)

PASSWORD = "quiet harbour lantern morning"


def _cookie(response: Any, name: str) -> str:
    for header in response.headers.get_list("set-cookie"):
        if header.startswith(f"{name}="):
            return str(header.split(";")[0].split("=", 1)[1])
    raise AssertionError(f"no {name} cookie")


def _sign_in(client: TestClient) -> str:
    token = re.search(r'name="csrf_token" value="([^"]+)"', client.get("/login").text)
    assert token
    done = client.post(
        "/login",
        data={"username": "a.khan", "password": PASSWORD, "csrf_token": token.group(1)},
        headers={"cookie": f"gw_login_csrf={token.group(1)}"},
        follow_redirects=False,
    )
    assert done.status_code == 303, done.text
    return _cookie(done, "gw_session")


def test_a_web_session_is_refused_outside_the_registered_network(
    app_dir: DataDir,  # noqa: F811
    audit: AuditLog,
) -> None:
    with Deployment.open(app_dir, engine=False) as deployment:
        deployment.signin.accounts.set_password(
            "a.khan", hash_password(PASSWORD), must_change=False, keep=3
        )
    app = create_web_app(GatewaySettings(data_dir=app_dir.root, engine_workers=1))
    with TestClient(app, client=INSIDE) as inside:
        session = _sign_in(inside)
        page = inside.get("/syops", headers={"cookie": f"gw_session={session}"})
        assert page.status_code == 200
    with TestClient(app, client=OUTSIDE) as outside:
        session = _sign_in(outside)
        refused = outside.get(
            "/syops", headers={"cookie": f"gw_session={session}"}, follow_redirects=False
        )
        assert refused.headers["location"] == "/login?ended=network_not_permitted"
    denied = [e for e in audit.events(kinds=("access.denied",)) if e.actor == "a.khan"]
    assert denied[-1].details["details"]["reason"] == "network_not_permitted"
    with TestClient(app, client=INSIDE) as inside:  # the refused session ended
        again = inside.get(
            "/syops", headers={"cookie": f"gw_session={session}"}, follow_redirects=False
        )
        assert again.headers["location"].startswith("/login")

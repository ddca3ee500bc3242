"""Live gateways for the web application's tests, and a browser session for the browser tests.

``web_gateway`` serves the tiny warehouse under the default policy. Every demo user has signed
in before (their password is :data:`PASSWORD`, no change due) except :data:`FIRST_LOGIN_USER`,
who still has the demo's initial password. ``idle_gateway`` is the same with the policy's idle
interval shortened to 3 seconds.

``browser`` is one Chromium for the session: Debian's ``/usr/bin/chromium`` (``.ci/run``
installs it), driven by Playwright, whose own browser download is never used. Without it, or
without Playwright, the browser tests skip with the reason.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from gateway.auth.passwords import hash_password
from gateway.datadir import DataDir
from gateway.deployment import Deployment
from tests.gateway_server import LiveGateway, prepare_data_dir, start_gateway

#: Every test user's password (set as if they had changed it at their first sign-in).
PASSWORD = "quiet harbour lantern morning"
#: A user who has never signed in: the demo's initial password, to be changed first.
FIRST_LOGIN_USER = "r.wilson"
CHROMIUM = Path(os.environ.get("GATEWAY_CHROMIUM", "/usr/bin/chromium"))


def web_data_dir(root: Path, *, login: str = "", source: Path | None = None) -> DataDir:
    """The tiny warehouse (or ``source``'s) with the demo users; ``login`` replaces lines of
    the policy's ``[login]`` section (``"idle_minutes = 0.05"``)."""
    from importlib import resources

    root.mkdir(parents=True, exist_ok=True)
    policy = resources.files("gateway.policy").joinpath("default_policy.toml").read_text("utf-8")
    for line in filter(None, login.splitlines()):
        key = line.split("=")[0].strip()
        policy, count = re.subn(rf"(?m)^{key} = .*$", line, policy)
        assert count == 1, key
    DataDir(root).policy.write_text(policy, "utf-8")
    dd = prepare_data_dir(source, root)
    hashed = hash_password(PASSWORD)
    with Deployment.open(dd, engine=False) as deployment:
        for name in deployment.directory.usernames():
            if name != FIRST_LOGIN_USER:
                deployment.signin.accounts.set_password(name, hashed, must_change=False, keep=3)
    return dd


@pytest.fixture(scope="session")
def web_gateway(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveGateway]:
    gateway = start_gateway(web_data_dir(tmp_path_factory.mktemp("web") / "data").root)
    yield gateway
    gateway.stop()


@pytest.fixture(scope="session")
def idle_gateway(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveGateway]:
    root = tmp_path_factory.mktemp("web-idle") / "data"
    gateway = start_gateway(web_data_dir(root, login="idle_minutes = 0.05").root)
    yield gateway
    gateway.stop()


# --- signing in over plain HTTP (cookies handled by hand: httpx keeps Secure cookies for https) -


def form_token(html: str) -> str:
    match = re.search(r'name="csrf_token" value="([^"]+)"', html)
    assert match, "no CSRF field on the page"
    return match.group(1)


def cookie(response: httpx.Response, name: str) -> str | None:
    for header in response.headers.get_list("set-cookie"):
        if header.startswith(f"{name}="):
            value = header.split(";")[0].split("=", 1)[1]
            return value or None
    return None


class WebClient:
    """An HTTP client with the session cookie of one signed-in person."""

    def __init__(self, gateway: LiveGateway) -> None:
        self.http = httpx.Client(base_url=gateway.url, timeout=60, follow_redirects=False)
        self.session = ""

    def headers(self) -> dict[str, str]:
        return {"cookie": f"gw_session={self.session}"} if self.session else {}

    def get(self, path: str) -> httpx.Response:
        return self.http.get(path, headers=self.headers())

    def post(self, path: str, data: dict[str, Any], **headers: str) -> httpx.Response:
        response = self.http.post(path, data=data, headers={**self.headers(), **headers})
        self.session = cookie(response, "gw_session") or self.session
        return response

    def login(self, username: str, password: str) -> httpx.Response:
        page = self.http.get("/login")
        token = form_token(page.text)
        response = self.http.post(
            "/login",
            data={"username": username, "password": password, "csrf_token": token},
            headers={**self.headers(), "cookie": f"gw_login_csrf={token}"},
        )
        self.session = cookie(response, "gw_session") or self.session
        return response

    def sign_in(self, username: str, password: str = PASSWORD) -> WebClient:
        """Sign in and accept the SyOPs: an active session."""
        response = self.login(username, password)
        assert response.headers["location"] == "/syops", response.text
        syops = self.get("/syops")
        accepted = self.post(
            "/syops", {"csrf_token": form_token(syops.text), "accept": "yes", "version": "2026-1"}
        )
        assert accepted.headers["location"] == "/"
        return self

    def csrf(self) -> str:
        match = re.search(r'name="csrf-token" content="([^"]+)"', self.get("/").text)
        assert match
        return match.group(1)

    def close(self) -> None:
        self.http.close()


@pytest.fixture
def web_client(web_gateway: LiveGateway) -> Iterator[Any]:
    clients: list[WebClient] = []

    def make() -> WebClient:
        client = WebClient(web_gateway)
        clients.append(client)
        return client

    yield make
    for client in clients:
        client.close()


# --- the browser -----------------------------------------------------------------------------


@pytest.fixture(scope="session")
def browser() -> Iterator[Any]:
    if not CHROMIUM.is_file():
        pytest.skip(
            f"no Chromium at {CHROMIUM}: install Debian's (apt-get install chromium; .ci/run "
            "does) or set GATEWAY_CHROMIUM"
        )
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        pytest.skip("Playwright for Python is not installed (it is in the test extra)")
    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(
            executable_path=str(CHROMIUM), args=["--no-sandbox", "--disable-dev-shm-usage"]
        )
        yield launched
        launched.close()


@pytest.fixture
def page(browser: Any) -> Iterator[Any]:
    context = browser.new_context(accept_downloads=True)
    context.set_default_timeout(15000)
    yield context.new_page()
    context.close()


@pytest.fixture(scope="session")
def generated_web_gateway(
    small_data_dir: Path, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[LiveGateway]:
    """The session's small generated warehouse and its base maps, served with the web users:
    templates with real trends, and maps with real boundaries."""
    import shutil

    root = tmp_path_factory.mktemp("web-generated") / "data"
    dd = web_data_dir(root, source=small_data_dir)
    shutil.copyfile(small_data_dir / "basemaps.gpkg", dd.basemaps)
    gateway = start_gateway(dd.root)
    yield gateway
    gateway.stop()

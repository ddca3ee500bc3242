"""Live gateways for the web application's tests, and a browser session for the browser tests.

``web_gateway`` serves the tiny warehouse under the default policy. Every demo user has signed
in before (their password is :data:`PASSWORD`, no change due) except :data:`FIRST_LOGIN_USER`,
who still has the demo's initial password. ``idle_gateway`` is the same with the policy's idle
interval and the tokens' idle interval (``token_idle_minutes``) shortened to 3 seconds.

``browser`` is one Chromium for the session: Debian's ``/usr/bin/chromium`` (``.ci/run``
installs it), driven by Playwright, whose own browser download is never used. Without it, or
without Playwright, the browser tests skip with the reason.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterator
from datetime import date, timedelta
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
#: Middlesbrough Council's local auditor (reviews the records of a.khan's organisation only).
LOCAL_AUDITOR = "l.audit"
CHROMIUM = Path(os.environ.get("GATEWAY_CHROMIUM", "/usr/bin/chromium"))


def web_data_dir(
    root: Path, *, login: str = "", source: Path | None = None, governed: bool = False
) -> DataDir:
    """The tiny warehouse (or ``source``'s) with the demo users (and :data:`LOCAL_AUDITOR`
    unless ``governed``); ``login`` replaces lines of the policy's ``[login]`` section
    (``"idle_minutes = 0.05"``); ``governed``: their access granted through the governance
    register, whose approvers sign in too."""
    from importlib import resources

    from gateway.cli.demo import demo_users, users_toml
    from gateway.principal import Principal

    root.mkdir(parents=True, exist_ok=True)
    if not governed:
        local = Principal(
            LOCAL_AUDITOR,
            "Middlesbrough Council",
            "general",
            areas=("E06000002",),
            purposes=("AUDIT-2026",),
            roles=frozenset({"local_auditor"}),
        )
        DataDir(root).users.write_text(users_toml([*demo_users(date.today()), local]), "utf-8")
    policy = resources.files("gateway.policy").joinpath("default_policy.toml").read_text("utf-8")
    for line in filter(None, login.splitlines()):
        key = line.split("=")[0].strip()
        policy, count = re.subn(rf"(?m)^{key} = .*$", line, policy)
        assert count == 1, key
    DataDir(root).policy.write_text(policy, "utf-8")
    dd = prepare_data_dir(source, root, governed=governed)
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
    gateway = start_gateway(
        web_data_dir(root, login="idle_minutes = 0.05\ntoken_idle_minutes = 0.05").root
    )
    yield gateway
    gateway.stop()


#: A new analyst of Hartlepool in the governed gateway's register: ready for general access
#: (vetting, declarations, training, memorandum, designations) but holding no grant yet.
APPLICANT = "n.ahmed"


def register_applicant(dd: DataDir) -> None:
    """:data:`APPLICANT` registered as the administrator would, their records made by those who
    may make them (vetting and training by the information security officer)."""
    from gateway.governance.model import Person
    from gateway.governance.preconditions import Declaration, Memorandum, Training, Vetting

    with Deployment.open(dd, engine=False) as deployment:
        service = deployment.governance
        today = service.clock().date()
        service.add_person(
            "gw.admin",
            Person(
                username=APPLICANT,
                full_name="Nadia Ahmed",
                organisation="HPL",
                role_title="Community safety analyst",
                email="n.ahmed@example.org",
                roles=frozenset({"analyst"}),
                phone="01429 523000",
                line_manager="lm.hpl",
            ),
        )
        service.update_person(
            "gw.admin", APPLICANT, "designations", senior_analyst="s.patel",
            local_supervisor="lm.hpl",
        )  # fmt: skip
        year = timedelta(days=365)
        service.record_vetting("iso.cle", Vetting(APPLICANT, "NPPV2", today - year, today + year))
        for kind in ("confidentiality", "data_protection", "official_secrets_act"):
            service.record_declaration(APPLICANT, Declaration(APPLICANT, kind, today))  # type: ignore[arg-type]
        service.record_declaration(
            APPLICANT, Declaration(APPLICANT, "security_operating_procedures", today)
        )
        for training in ("gateway_training", "information_security_induction"):
            service.record_training("iso.cle", Training(APPLICANT, training, today))  # type: ignore[arg-type]
        service.record_memorandum(
            "gw.admin", Memorandum("HPL", f"MOU-{APPLICANT}", today, username=APPLICANT)
        )
        deployment.signin.accounts.set_password(
            APPLICANT, hash_password(PASSWORD), must_change=False, keep=3
        )


@pytest.fixture(scope="session")
def governed_gateway(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveGateway]:
    """The demo's register (approvers included: line managers ``lm.*``, ``supt.cle``,
    ``am.cle``, ``iso.cle``, ``hoi.cle``, administrator ``gw.admin``) plus :data:`APPLICANT`."""
    dd = web_data_dir(tmp_path_factory.mktemp("web-governed") / "data", governed=True)
    register_applicant(dd)
    gateway = start_gateway(dd.root, allow_ungoverned=False)
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


@pytest.fixture
def signed_in(governed_gateway: LiveGateway) -> Iterator[Any]:
    """``signed_in(username)``: a :class:`WebClient` of that person on the governed gateway."""
    clients: list[WebClient] = []

    def make(username: str) -> WebClient:
        client = WebClient(governed_gateway).sign_in(username)
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


def set_sql(page: Any, sql: str) -> None:
    """Put ``sql`` in the console's editor (CodeMirror when its script ran, else the textarea)."""
    page.locator("#query-form").wait_for()
    # The editor replaces the textarea when its script has run: decide only once the page has
    # loaded, or a textarea hidden a moment later is waited on until the timeout.
    page.wait_for_load_state("load")
    if page.locator(".CodeMirror").count():
        page.evaluate("sql => document.querySelector('.CodeMirror').CodeMirror.setValue(sql)", sql)
    else:
        page.locator("textarea#sql").fill(sql)


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

"""Screenshots of the access-governance pages, for ``docs/screenshots/``.

    PYTHONPATH=src python -m tests.web.screenshots_access [--out docs/screenshots]

Serves the governed demo's register (as the browser tests do), then in Debian's Chromium
through Playwright saves: the enhanced access request form, the general form with a
validation error, the line manager's inbox with the precondition checklist, a request
part-way through the workflow, and the administrator's users, organisations, access reviews
and tokens pages.
"""

from __future__ import annotations

import argparse
import tempfile
from pathlib import Path
from typing import Any

from tests.gateway_server import start_gateway
from tests.web.conftest import (
    APPLICANT,
    CHROMIUM,
    PASSWORD,
    WebClient,
    form_token,
    register_applicant,
    web_data_dir,
)

REPO = Path(__file__).resolve().parents[2]


def take(out: Path) -> list[Path]:
    from playwright.sync_api import sync_playwright

    out.mkdir(parents=True, exist_ok=True)
    saved: list[Path] = []
    with tempfile.TemporaryDirectory() as work:
        dd = web_data_dir(Path(work) / "data", governed=True)
        register_applicant(dd)
        gateway = start_gateway(dd.root, allow_ungoverned=False)
        try:
            with sync_playwright() as playwright:
                browser = playwright.chromium.launch(
                    executable_path=str(CHROMIUM), args=["--no-sandbox"]
                )

                def as_person(username: str) -> Any:
                    page = browser.new_context(viewport={"width": 1280, "height": 860}).new_page()
                    page.goto(f"{gateway.url}/login")
                    page.get_by_label("Username").fill(username)
                    page.get_by_label("Password").fill(PASSWORD)
                    page.get_by_role("button", name="Sign in").click()
                    page.get_by_label("I have read and accept").check()
                    page.get_by_role("button", name="Accept and continue").click()
                    page.wait_for_url(f"{gateway.url}/")
                    return page

                def shot(page: Any, name: str, full: bool = True) -> None:
                    path = out / f"{name}.png"
                    page.screenshot(path=str(path), full_page=full)
                    saved.append(path)

                applicant = as_person(APPLICANT)
                applicant.goto(f"{gateway.url}/access/new?level=enhanced")
                applicant.get_by_label("Purposes").fill(
                    "JAG-2027-02: Hartlepool town centre JAG problem profile"
                )
                applicant.get_by_label("Your key duties").fill("JAG analyst for Hartlepool")
                applicant.get_by_label("Products to be produced").fill("Problem profile")
                applicant.get_by_label("Dissemination").fill("JAG members")
                applicant.get_by_label("intelligence_report", exact=True).check()
                applicant.get_by_label("crime.modus_operandi", exact=True).check()
                applicant.get_by_label("Justification").fill(
                    "MO themes and intelligence on repeat locations for the problem profile"
                )
                applicant.get_by_label("Most appropriate method").fill(
                    "No force product covers MO themes; aggregate data cannot show them"
                )
                shot(applicant, "30-access-request-enhanced-form")
                applicant.goto(f"{gateway.url}/access/new?level=general")
                applicant.get_by_label("Purposes").fill("SA-2027")
                applicant.get_by_label("Your key duties").fill("Community safety analysis")
                applicant.get_by_label("Products to be produced").fill("Strategic assessment")
                applicant.get_by_label("Dissemination").fill("Safer Hartlepool Partnership board")
                applicant.get_by_role("button", name="Submit the request").click()
                shot(applicant, "31-access-request-validation-error", full=False)
                applicant.get_by_label("Purposes").fill("SA-2027: strategic assessment 2027")
                applicant.get_by_role("button", name="Submit the request").click()
                applicant.wait_for_url("**/access/requests/AR-*")
                request_id = applicant.url.rsplit("/", 1)[1].split("?")[0]
                manager = as_person("lm.hpl")
                manager.goto(f"{gateway.url}/access/inbox")
                manager.locator("details").first.locator("summary").click()
                shot(manager, "32-access-inbox-line-manager")
                for who, action in (("lm.hpl", "endorse"), ("supt.cle", "endorse")):
                    client = WebClient(gateway).sign_in(who)
                    token = form_token(client.get("/access/inbox").text)
                    client.post(
                        f"/access/requests/{request_id}/{action}",
                        {"csrf_token": token, "comment": f"{action}d by {who}"},
                    )
                    client.close()
                reviewer = as_person("am.cle")
                reviewer.goto(f"{gateway.url}/access/requests/{request_id}")
                shot(reviewer, "33-access-request-awaiting-review")
                admin = as_person("gw.admin")
                for path, name in (
                    ("/admin/users", "34-admin-users"),
                    ("/admin/organisations", "35-admin-organisations"),
                    ("/admin/reviews", "36-admin-access-reviews"),
                ):
                    admin.goto(f"{gateway.url}{path}")
                    shot(admin, name, full=path != "/admin/organisations")
                admin.goto(f"{gateway.url}/admin/tokens")
                admin.get_by_label("User").select_option(APPLICANT)
                admin.get_by_label("Label").fill("notebook")
                admin.get_by_label("Lifetime in days").fill("30")
                admin.get_by_role("button", name="Issue token").click()
                shot(admin, "37-admin-tokens", full=False)
                browser.close()
        finally:
            gateway.stop()
    return saved


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=REPO / "docs" / "screenshots")
    for path in take(parser.parse_args().out):
        print(path.relative_to(REPO) if path.is_relative_to(REPO) else path)


if __name__ == "__main__":
    main()

"""Every page carries the protective marking of what it shows in a banner at its top and bottom
(issue 15): the highest marking of the data displayed, OFFICIAL for a page showing none; and a
download from the console carries its marking as the API's answer does (header and inside)."""

from __future__ import annotations

import csv
import io
import re
from typing import Any

BANNER = re.compile(r"<p class=\"marking-banner (top|bottom)\"[^>]*data-page-marking>([^<]*)</p>")


def banners(html: str) -> list[tuple[str, str]]:
    """(where, marking) of the page's banners, in order."""
    return BANNER.findall(html)


def test_pages_show_the_marking_of_their_data_at_top_and_bottom(web_client: Any) -> None:
    client = web_client()
    assert banners(client.get("/login").text) == [("top", "OFFICIAL"), ("bottom", "OFFICIAL")]
    client.sign_in("a.khan")
    for path in ("/", "/templates", "/password"):  # no data shown (yet)
        page = client.get(path)
        assert page.status_code == 200, path
        assert banners(page.text) == [("top", "OFFICIAL"), ("bottom", "OFFICIAL")], path
    ran = client.post(
        "/console/query",
        {"sql": "SELECT crime_ref FROM crime LIMIT 3", "purpose": "SA-2026"},
        **{"X-CSRF-Token": client.csrf()},
    )
    assert ran.status_code == 200, ran.text
    query_id = ran.json()["query_id"]
    for path in ("/history", f"/history/{query_id}", "/exports"):  # audit records shown
        page = client.get(path)
        assert page.status_code == 200, path
        assert banners(page.text) == [
            ("top", "OFFICIAL-SENSITIVE"),
            ("bottom", "OFFICIAL-SENSITIVE"),
        ], path


def test_the_audit_dashboard_carries_the_audit_marking(web_client: Any) -> None:
    senior = web_client().sign_in("s.patel")
    page = senior.get("/audit")
    assert page.status_code == 200, page.text
    assert banners(page.text) == [("top", "OFFICIAL-SENSITIVE"), ("bottom", "OFFICIAL-SENSITIVE")]


def test_a_console_download_carries_its_marking_as_the_api_does(web_client: Any) -> None:
    client = web_client().sign_in("a.khan")
    token = client.csrf()
    records = client.post(
        "/console/query",
        {"sql": "SELECT crime_ref FROM crime LIMIT 3", "purpose": "SA-2026", "format": "csv"},
        **{"X-CSRF-Token": token},
    )
    reference = client.post(
        "/console/query",
        {"sql": "SELECT name FROM local_authority", "purpose": "SA-2026", "format": "csv"},
        **{"X-CSRF-Token": token},
    )
    grid = client.post(
        "/console/query",
        {"sql": "SELECT crime_ref FROM crime LIMIT 3", "purpose": "SA-2026"},
        **{"X-CSRF-Token": token},
    )
    for answer, marking in ((records, "OFFICIAL-SENSITIVE"), (reference, "OFFICIAL")):
        assert answer.status_code == 200, answer.text
        assert "attachment" in answer.headers["content-disposition"]
        assert answer.headers["x-protective-marking"] == marking
        rows = list(csv.DictReader(io.StringIO(answer.text)))
        assert rows
        assert {r["protective_marking"] for r in rows} == {marking}  # inside the file
    # the grid's answer names it too: the page's script raises its banners to it
    assert grid.headers["x-protective-marking"] == grid.json()["marking"] == "OFFICIAL-SENSITIVE"

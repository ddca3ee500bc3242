"""The senior analyst's pages over plain HTTP: the audit dashboard and its drill-down, the
export inbox's contents and sample, the product QA queue — who may see what (an analyst and a
local auditor of another organisation see nothing), and bad input answered with a clear 4xx
page, never a 500. Browser behaviour and accessibility are in test_browser.py."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from gateway.web.routes.audit import DEFAULT_DAYS
from tests.gateway_server import LiveGateway
from tests.web.conftest import LOCAL_AUDITOR


def _query(gateway: LiveGateway, user: str, sql: str, purpose: str = "SA-2026") -> str:
    with gateway.client(user) as api:
        answer = api.post(
            "/v1/query",
            json={"sql": sql, "purpose": purpose},
            headers={"Accept": "application/json"},
        )
    assert answer.status_code == 200, answer.text
    return str(answer.headers["x-query-id"])


def _export(gateway: LiveGateway, user: str, sql: str, purpose: str = "SA-2026") -> dict[str, Any]:
    with gateway.client(user) as api:
        held = api.post("/v1/exports", json={"sql": sql, "purpose": purpose, "format": "csv"})
    assert held.status_code in (200, 201, 202), held.text
    body: dict[str, Any] = held.json()
    return body


def _error(html: str) -> str:
    match = re.search(r'<p class="error" role="alert">([^<]*)</p>', html)
    assert match, html[:2000]
    return match.group(1)


# --- the dashboard and the drill-down -----------------------------------------------------------


def test_the_drill_down_shows_a_querys_sql_as_submitted_and_executed(
    web_gateway: LiveGateway, web_client: Any
) -> None:
    sql = "SELECT 'drill-marker' AS m, count(*) AS n FROM crime"
    query_id = _query(web_gateway, "h.lee", sql)
    senior = web_client().sign_in("s.patel")
    listed = senior.get("/audit?report=activity&user=h.lee")
    assert listed.status_code == 200
    assert "h.lee" in listed.text
    record = senior.get(f"/audit/queries/{query_id}")
    assert record.status_code == 200
    assert "drill-marker" in record.text
    executed = re.search(r'<pre id="sql-executed"><code>(.*?)</code>', record.text, re.S)
    assert executed, record.text
    assert "projections.main.p_" in executed.group(1)  # masked projections (the default)
    # ... each written out as the policy subquery it holds, h.lee's area filter in it
    written_out = re.search(r'<pre id="sql-with-policy"><code>(.*?)</code>', record.text, re.S)
    assert written_out, record.text
    assert "E06000001" in written_out.group(1)
    assert "drill-marker" in written_out.group(1)
    assert "completed (ok)" in record.text
    with web_gateway.client("s.patel") as api:
        reviews = api.get("/v1/audit/events", params={"kind": "access.audit_reviewed"}).json()
    subjects = [e["details"].get("subject") for e in reviews["events"]]
    assert f"query:{query_id}" in subjects  # the look-up itself is recorded


def test_every_dashboard_tab_answers_and_filters_by_user_and_organisation(
    web_gateway: LiveGateway, web_client: Any
) -> None:
    _query(web_gateway, "h.lee", "SELECT count(*) AS n FROM crime")
    _query(web_gateway, "a.khan", "SELECT count(*) AS n FROM incident")
    senior = web_client().sign_in("m.hughes")
    for tab in (
        "daily-activity",
        "activity",
        "person-lookups",
        "out-of-hours",
        "large-extractions",
        "denied",
        "exports",
    ):
        answer = senior.get(f"/audit?report={tab}&min_rows=1")
        assert answer.status_code == 200, (tab, answer.text[:500])
    only_khan = senior.get("/audit?report=activity&user=a.khan").text
    assert "<td>a.khan</td>" in only_khan
    assert "<td>h.lee</td>" not in only_khan
    middlesbrough = senior.get("/audit?report=activity&organisation=Middlesbrough+Council").text
    assert "<td>a.khan</td>" in middlesbrough
    assert "<td>h.lee</td>" not in middlesbrough
    assert "<meter" in senior.get("/audit").text  # activity over time, drawn


def test_an_analyst_gets_no_audit_data(web_gateway: LiveGateway, web_client: Any) -> None:
    query_id = _query(web_gateway, "h.lee", "SELECT 'analyst-marker' AS m FROM crime LIMIT 1")
    analyst = web_client().sign_in("a.khan")
    assert 'href="/audit"' not in analyst.get("/").text
    for path in ("/audit", "/audit?report=denied", f"/audit/queries/{query_id}"):
        refused = analyst.get(path)
        assert refused.status_code == 403, path
        assert "analyst-marker" not in refused.text
        assert "h.lee" not in refused.text


def test_a_local_auditor_sees_their_organisation_only(
    web_gateway: LiveGateway, web_client: Any
) -> None:
    theirs = _query(web_gateway, "a.khan", "SELECT 'mbc-marker' AS m FROM crime LIMIT 1")
    other = _query(web_gateway, "h.lee", "SELECT 'hpl-marker' AS m FROM crime LIMIT 1")
    local = web_client().sign_in(LOCAL_AUDITOR)
    board = local.get("/audit?report=activity")
    assert board.status_code == 200
    assert "<td>a.khan</td>" in board.text
    assert "<td>h.lee</td>" not in board.text
    assert 'name="organisation"' not in board.text  # no organisation to choose
    assert "mbc-marker" in local.get(f"/audit/queries/{theirs}").text
    refused = local.get(f"/audit/queries/{other}")
    assert refused.status_code == 404
    assert "hpl-marker" not in refused.text
    elsewhere = local.get("/audit?report=activity&organisation=Hartlepool+Borough+Council")
    assert elsewhere.status_code == 403
    assert "h.lee" not in elsewhere.text


@pytest.mark.parametrize(
    ("query", "status", "says"),
    [
        ("since=2026-13-45", 400, "is not a date"),
        ("until=yesterday", 400, "is not a date"),
        ("since=2026-05-02&until=2026-05-01", 400, "before it starts"),
        ("page=abc", 400, "whole number"),
        ("page=0", 400, "whole number"),
        ("report=large-extractions&min_rows=-5", 400, "whole number"),
        ("report=no-such-report", 404, "no report"),
        ("user=" + "x" * 500, 400, "too long"),
    ],
)
def test_bad_dashboard_input_is_a_clear_4xx_page(
    web_client: Any, query: str, status: int, says: str
) -> None:
    senior = web_client().sign_in("s.patel")
    answer = senior.get(f"/audit?{query}")
    assert answer.status_code == status, answer.text[:500]
    assert answer.headers["content-type"].startswith("text/html")
    assert says in _error(answer.text)


@pytest.mark.parametrize(
    "path",
    [
        "/audit/queries/q-does-not-exist",
        "/audit/queries/" + "q" * 3000,
        "/audit/queries/%27%3B%20DROP%20TABLE%20audit_event",
        "/exports/q-does-not-exist",
        "/exports/q-does-not-exist/file",
        "/products/p-does-not-exist/file",
    ],
)
def test_unknown_ids_are_a_clear_not_found_page(web_client: Any, path: str) -> None:
    senior = web_client().sign_in("s.patel")
    answer = senior.get(path)
    assert answer.status_code == 404, answer.text[:500]
    assert answer.headers["content-type"].startswith("text/html")
    assert "Traceback" not in answer.text


# --- the export inbox ---------------------------------------------------------------------------


def test_an_approvers_sample_is_their_own_view_never_the_requesters(
    web_gateway: LiveGateway, web_client: Any
) -> None:
    # e.okafor's enhanced grant unmasks modus_operandi for the JAG purpose; s.patel's does not
    with web_gateway.client("e.okafor") as api:
        own_view = api.post(
            "/v1/query",
            json={"sql": "SELECT modus_operandi FROM crime LIMIT 3", "purpose": "JAG-2026-07"},
            headers={"Accept": "application/json"},
        )
    assert "MO-SECRET" in own_view.text  # what the requester's grant shows
    held = _export(
        web_gateway,
        "e.okafor",
        "SELECT crime_ref, modus_operandi FROM crime ORDER BY crime_id LIMIT 30",
        purpose="JAG-2026-07",
    )
    assert held["approval"] == "pending"
    senior = web_client().sign_in("s.patel")
    detail = senior.get(f"/exports/{held['export_id']}")
    assert detail.status_code == 200
    assert "e.okafor" in detail.text
    assert "JAG-2026-07" in detail.text
    assert "crime.modus_operandi" in detail.text  # the columns it touches
    sample = senior.post(
        f"/exports/{held['export_id']}/sample",
        {"csrf_token": senior.csrf(), "purpose": "SA-2026"},
    )
    assert sample.status_code == 200, sample.text[:500]
    grid = re.search(r'<table class="grid" id="sample-grid".*?</table>', sample.text, re.S)
    assert grid, sample.text[-3000:]
    assert grid.group(0).count("<tr>") == 1 + 10  # the heading and ten rows at most
    assert "MO-SECRET" not in sample.text  # masked in s.patel's view
    with web_gateway.client("e.okafor") as owner:
        assert owner.get(held["download"]).status_code == 403  # still held
    with web_gateway.client("s.patel") as api:
        mine = api.get("/v1/audit/events", params={"actor": "s.patel", "kind": "query.started"})
    assert any(
        "modus_operandi" in e["details"].get("sql_executed", "") for e in mine.json()["events"]
    )  # the sample ran as s.patel's own, audited query


def test_a_sample_of_what_the_approver_may_not_see_is_refused(
    web_gateway: LiveGateway, web_client: Any
) -> None:
    held = _export(
        web_gateway,
        "e.okafor",
        "SELECT report_id, report_text FROM intelligence_report LIMIT 5",
        purpose="JAG-2026-07",
    )
    senior = web_client().sign_in("s.patel")
    sample = senior.post(
        f"/exports/{held['export_id']}/sample",
        {"csrf_token": senior.csrf(), "purpose": "SA-2026"},
    )
    assert sample.status_code == 403  # table_not_permitted, shown on the page
    assert "intelligence_report" in _sample_error(sample.text)
    assert 'id="sample-grid"' not in sample.text
    not_theirs = senior.post(
        f"/exports/{held['export_id']}/sample",
        {"csrf_token": senior.csrf(), "purpose": "JAG-2026-07"},  # the requester's purpose
    )
    assert not_theirs.status_code == 403
    assert "purpose" in _sample_error(not_theirs.text)


def _sample_error(html: str) -> str:
    match = re.search(r'<p class="error" role="alert" id="sample-error">([^<]*)</p>', html)
    assert match, html[-3000:]
    return match.group(1)


def test_only_an_authoriser_sees_or_samples_an_export(
    web_gateway: LiveGateway, web_client: Any
) -> None:
    held = _export(web_gateway, "h.lee", "SELECT crime_ref FROM crime LIMIT 4")
    peer = web_client().sign_in("a.khan")
    assert peer.get(f"/exports/{held['export_id']}").status_code == 404
    refused = peer.post(
        f"/exports/{held['export_id']}/sample", {"csrf_token": peer.csrf(), "purpose": "SA-2026"}
    )
    assert refused.status_code == 404
    owner = web_client().sign_in("h.lee")
    own = owner.get(f"/exports/{held['export_id']}")
    assert own.status_code == 200
    assert "Show a sample" not in own.text
    assert "Approve" not in own.text
    assert owner.get(f"/exports/{held['export_id']}/file").status_code == 403  # held
    assert (
        owner.post(
            f"/exports/{held['export_id']}/sample",
            {"csrf_token": owner.csrf(), "purpose": "SA-2026"},
        ).status_code
        == 403
    )
    senior = web_client().sign_in("s.patel")
    forged = senior.post(
        f"/exports/{held['export_id']}/sample", {"csrf_token": "forged", "purpose": "SA-2026"}
    )
    assert forged.status_code == 403


# --- the product QA queue -----------------------------------------------------------------------


def test_a_returned_product_is_shown_as_not_downloadable(
    web_gateway: LiveGateway, web_client: Any
) -> None:
    with web_gateway.client("a.khan") as api:
        built = api.post(
            "/v1/products/strategic-assessment",
            json={"area": "E06000002", "year": 2025, "purpose": "SA-2026"},
        )
    assert built.status_code == 202, built.text[:500]
    product_id = built.json()["product_id"]
    owner = web_client().sign_in("a.khan")
    listed = owner.get("/products").text
    assert product_id in listed
    assert "Not downloadable until it passes QA" in listed
    assert 'action="/products/' not in listed  # no QA form for the owner
    assert owner.get(f"/products/{product_id}/file").status_code == 403
    path = f"/products/{product_id}/decision"
    refused = owner.post(path, {"decision": "pass", "comment": "fine", "csrf_token": owner.csrf()})
    assert refused.status_code == 403  # nobody QAs their own
    senior = web_client().sign_in("s.patel")
    queue = senior.get("/products").text
    assert f'action="/products/{product_id}/decision"' in queue
    no_comment = senior.post(path, {"decision": "return", "csrf_token": senior.csrf()})
    assert no_comment.status_code == 400
    assert "comment" in no_comment.text
    returned = senior.post(
        path,
        {"decision": "return", "comment": "wrong year in the summary", "csrf_token": senior.csrf()},
    )
    assert returned.status_code == 303
    after = owner.get("/products").text
    assert "returned — not released by s.patel" in after
    assert "Not downloadable: returned at QA." in after
    assert f'href="/products/{product_id}/file"' not in after
    download = owner.get(f"/products/{product_id}/file")
    assert download.status_code == 403
    assert download.headers["content-type"].startswith("text/html")
    with web_gateway.client("a.khan") as api:
        assert api.get(f"/v1/products/{product_id}/file").status_code == 403


def test_the_dashboard_shows_the_last_thirty_days_unless_asked_otherwise(web_client: Any) -> None:
    senior = web_client().sign_in("s.patel")
    start = (datetime.now(UTC).date() - timedelta(days=DEFAULT_DAYS - 1)).isoformat()
    first = senior.get("/audit").text
    assert f'name="since" type="date" value="{start}"' in first
    assert f"since={start}" in first  # the tabs keep the period
    everything = senior.get("/audit?report=denied&since=").text
    assert 'name="since" type="date" value=""' in everything
    assert 'href="/audit?report=activity&amp;since="' in everything  # and "from the start"

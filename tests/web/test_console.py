"""The SQL console over plain HTTP: completion words only from the person's own view, cancel
by run id (audited ``cancelled``; nobody else's), and downloads through the export path (an
aggregate released at once, a record-level file held and said so)."""

from __future__ import annotations

import io
import json
import re
import threading
import time
from typing import Any

import httpx
import pyarrow.parquet as pq
import pytest

from tests.cli_process import run_gateway
from tests.gateway_server import LiveGateway
from tests.web.conftest import WebClient

SLOW = "SELECT count(*) AS n FROM crime a, crime b, crime c, crime d"
AGGREGATE = "SELECT local_authority_code, count(*) AS crimes FROM crime GROUP BY 1"
RECORDS = "SELECT crime_id, recorded_at FROM crime LIMIT 20"


def completion(page: str) -> dict[str, list[str]]:
    match = re.search(r"data-completion='([^']*)'", page)
    assert match, "no completion words on the page"
    return dict(json.loads(match.group(1)))


@pytest.mark.parametrize(
    ("username", "purpose"),
    [("h.lee", "SA-2026"), ("e.okafor", "SA-2026"), ("e.okafor", "JAG-2026-07")],
)
def test_completion_offers_exactly_the_persons_catalog_for_the_purpose(
    web_gateway: LiveGateway, web_client: Any, username: str, purpose: str
) -> None:
    run_gateway("users", "unlock", username, "--data-dir", str(web_gateway.data_dir))
    client = web_client().sign_in(username)
    words = completion(client.get(f"/?purpose={purpose}").text)
    with web_gateway.client(username) as api:
        catalog = api.get("/v1/catalog", params={"purpose": purpose}).json()
    assert words == {t["name"]: [c["name"] for c in t["columns"]] for t in catalog["tables"]}
    enhanced = username == "e.okafor" and purpose == "JAG-2026-07"
    assert ("intelligence_report" in words) is enhanced
    assert "crime" in words


def _run_slow(client: WebClient, csrf: str, run_id: str, answers: list[httpx.Response]) -> None:
    answers.append(
        client.post(
            "/console/query",
            {"sql": SLOW, "purpose": "SA-2026", "format": "json", "run_id": run_id},
            **{"X-CSRF-Token": csrf},
        )
    )


def test_a_running_query_is_cancelled_by_its_owner_only_and_audited(
    web_gateway: LiveGateway, web_client: Any
) -> None:
    owner = web_client().sign_in("j.taylor")
    csrf = owner.csrf()
    run_id = "run-cancel-test-0001"
    answers: list[httpx.Response] = []
    worker = threading.Thread(target=_run_slow, args=(owner, csrf, run_id, answers))
    started = time.monotonic()
    worker.start()
    other = web_client().sign_in("a.khan")
    cancel = {"run_id": run_id}
    refused = other.post("/console/cancel", cancel, **{"X-CSRF-Token": other.csrf()})
    assert refused.status_code == 404  # someone else's run: as if there were none
    forged = owner.post("/console/cancel", {**cancel, "csrf_token": "forged"})
    assert forged.status_code == 403
    deadline = time.monotonic() + 20
    while True:  # the query registers once its request is read
        done = owner.post("/console/cancel", cancel, **{"X-CSRF-Token": csrf})
        if done.status_code == 200 or time.monotonic() > deadline:
            break
        time.sleep(0.1)
    assert done.status_code == 200, done.text
    assert done.json() == {"cancelled": True, "run_id": run_id}
    worker.join(30)
    assert time.monotonic() - started < 30  # long before the policy's 60 s time limit
    answer = answers[0]
    assert answer.status_code == 409
    error = answer.json()["error"]
    assert error["code"] == "cancelled"
    with web_gateway.client("s.patel") as senior:
        events = senior.get(
            "/v1/audit/events",
            params={"kind": "query.completed", "actor": "j.taylor", "limit": 1000},
        ).json()["events"]
    outcome = [e for e in events if e["details"]["query_id"] == error["query_id"]]
    assert outcome[0]["details"]["outcome"] == "cancelled"
    gone = owner.post("/console/cancel", cancel, **{"X-CSRF-Token": csrf})
    assert gone.status_code == 404  # finished: nothing to cancel
    bad = owner.post("/console/cancel", {"run_id": "x y"}, **{"X-CSRF-Token": csrf})
    assert bad.status_code == 404
    bad_run = owner.post(
        "/console/query",
        {"sql": "SELECT 1 AS n FROM crime", "purpose": "SA-2026", "run_id": "no good"},
        **{"X-CSRF-Token": csrf},
    )
    assert (bad_run.status_code, bad_run.json()["error"]["code"]) == (400, "bad_request")


def _export(client: WebClient, sql: str, fmt: str, purpose: str = "SA-2026") -> httpx.Response:
    return client.post(
        "/console/export",
        {"sql": sql, "purpose": purpose, "export_format": fmt, "csrf_token": client.csrf()},
    )


@pytest.mark.parametrize("fmt", ["csv", "xlsx", "parquet"])
def test_an_aggregate_download_is_an_export_released_at_once(
    web_gateway: LiveGateway, web_client: Any, fmt: str
) -> None:
    client = web_client().sign_in("h.lee")
    made = _export(client, AGGREGATE, fmt)
    assert made.status_code == 303, made.text
    location = made.headers["location"]
    assert re.fullmatch(r"/exports/[^/]+/file", location)
    export_id = location.split("/")[2]
    file = client.get(location)
    assert file.status_code == 200
    assert file.headers["x-query-id"] == export_id
    assert file.headers["x-protective-marking"]
    assert "attachment" in file.headers["content-disposition"]
    with web_gateway.client("h.lee") as api:  # the same export the API sees, released
        record = api.get(f"/v1/exports/{export_id}").json()
        assert record["approval"] == "not_required"
        assert record["format"] == fmt
        assert api.get(record["download"]).content == file.content
    if fmt == "parquet":
        table = pq.read_table(io.BytesIO(file.content))
        assert set(table.column("local_authority_code").to_pylist()) == {"E06000001"}
    other = web_client().sign_in("a.khan")
    assert other.get(location).status_code == 404  # someone else's file: not there


def test_a_record_level_download_is_held_and_the_console_says_so(
    web_gateway: LiveGateway, web_client: Any
) -> None:
    client = web_client().sign_in("h.lee")
    held = _export(client, RECORDS, "xlsx")
    assert held.status_code == 200
    assert "held" in held.text
    assert "s.patel" in held.text  # the designated senior analyst named
    assert 'href="/exports"' in held.text
    export_id = re.search(r"export <code>([^<]+)</code>", held.text)
    assert export_id
    refused = client.get(f"/exports/{export_id.group(1)}/file")
    assert refused.status_code == 403
    with web_gateway.client("h.lee") as api:
        record = api.get(f"/v1/exports/{export_id.group(1)}").json()
        assert (record["approval"], record["format"]) == ("pending", "xlsx")


def test_a_geopackage_of_points_is_held_and_a_bad_download_is_refused_on_the_page(
    web_gateway: LiveGateway, web_client: Any
) -> None:
    client = web_client().sign_in("h.lee")
    points = _export(
        client,
        "SELECT l.easting, l.northing FROM crime c JOIN location l USING (location_id)",
        "gpkg",
    )
    assert points.status_code == 200, points.text
    assert "held" in points.text
    wrong = _export(client, "SELECT no_such_column FROM crime", "gpkg")
    assert wrong.status_code == 400
    assert "column_not_found" in wrong.text
    unknown = _export(client, AGGREGATE, "exe")
    assert unknown.status_code == 400
    forged = client.post(
        "/console/export",
        {"sql": AGGREGATE, "purpose": "SA-2026", "export_format": "csv", "csrf_token": "forged"},
    )
    assert forged.status_code == 403

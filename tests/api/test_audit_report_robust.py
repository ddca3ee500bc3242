"""Audit reports over real HTTP stay up when the log holds hostile SQL (issue 12, item 4).

An analyst looks someone up, then submits SQL nested 3,000 deep. The gateway refuses it and
audits it; the person-lookups report must still answer, still show the look-up, and flag the
hostile record for review instead of failing (it used to answer 500 for any period holding it).

A server of its own, so the hostile records stay out of the shared server's log.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest

from gateway.audit.reporting import REPORTS
from tests.gateway_server import LiveGateway, prepare_data_dir, start_gateway

LOOKUP = "SELECT person_id, gender FROM person WHERE surname = 'SURNAME-7'"
DEEP_BRACKETS = "SELECT " + "(" * 3000 + "1" + ")" * 3000
# 48,020 characters: under the API's 50,000, so it reaches the gateway and is audited.
DEEP_SUBQUERIES = "SELECT * FROM " + "(SELECT * FROM " * 3000 + "person" + ")" * 3000
UNANALYSED = {"unparseable", "too_large", "too_deep", "failed"}


@pytest.fixture(scope="module")
def gateway(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveGateway]:
    root: Path = tmp_path_factory.mktemp("hostile-audit") / "data"
    data_dir = prepare_data_dir(None, root)
    server = start_gateway(data_dir.root)
    yield server
    server.stop()


def rows_of(answer: httpx.Response) -> list[dict[str, Any]]:
    assert answer.status_code == 200, answer.text[:500]
    body = answer.json()
    names = [c["name"] for c in body["columns"]]
    return [dict(zip(names, row, strict=True)) for row in body["rows"]]


def test_person_lookups_report_survives_sql_nested_3000_deep(gateway: LiveGateway) -> None:
    before = datetime.now(UTC) - timedelta(seconds=1)
    with gateway.client("h.lee") as analyst:
        lookup = analyst.post("/v1/query", json={"sql": LOOKUP, "purpose": "SA-2026"})
        assert lookup.status_code == 200, lookup.text
        refused = {}
        for name, sql in (("brackets", DEEP_BRACKETS), ("subqueries", DEEP_SUBQUERIES)):
            answer = analyst.post("/v1/query", json={"sql": sql, "purpose": "SA-2026"})
            assert answer.status_code == 400
            assert answer.json()["error"]["code"] == "parse_error"
            refused[name] = answer.json()["error"]["query_id"]
    after = datetime.now(UTC) + timedelta(seconds=1)
    lookup_id = lookup.json()["query_id"]

    with gateway.client("s.patel") as reviewer:
        # Audited as submitted.
        denied = reviewer.get(
            "/v1/audit/events", params={"kind": "query.denied", "actor": "h.lee", "limit": 1000}
        ).json()["events"]
        whole = rows_of(reviewer.get("/v1/audit/reports/person-lookups"))
        period = rows_of(
            reviewer.get(
                "/v1/audit/reports/person-lookups",
                params={"since": before.isoformat(), "until": after.isoformat()},
            )
        )
        verified = reviewer.get("/v1/audit/verify").json()

    assert {e["details"]["query_id"]: e["details"]["sql_submitted"] for e in denied} == {
        refused["brackets"]: DEEP_BRACKETS,
        refused["subqueries"]: DEEP_SUBQUERIES,
    }
    for report in (whole, period):
        by_id = {row["query_id"]: row for row in report}
        assert set(by_id) == {lookup_id, *refused.values()}
        earlier = by_id[lookup_id]
        assert (earlier["user"], earlier["decision"], earlier["analysis"]) == (
            "h.lee",
            "allowed",
            "ok",
        )
        assert earlier["pinned"] == ["person.surname"]
        assert earlier["predicates"] == ["surname = 'SURNAME-7'"]
        for query_id in refused.values():
            flagged = by_id[query_id]
            assert flagged["analysis"] in UNANALYSED
            assert flagged["analysis_detail"]
            assert (flagged["user"], flagged["decision"], flagged["pinned"]) == (
                "h.lee",
                "denied",
                [],
            )
            assert before <= datetime.fromisoformat(flagged["started_at"]) <= after
            # Stored when the service analyses at query time; made by the report otherwise.
            assert flagged["analysis_source"] in {"stored", "report"}
    assert verified["ok"] is True


def test_every_report_answers_after_hostile_sql(gateway: LiveGateway) -> None:
    huge = "SELECT " + " + ".join(["1"] * 12_000)  # 48,000 characters, a tree 12,000 deep
    with gateway.client("h.lee") as analyst:
        for sql in (DEEP_BRACKETS, "SELECT " + "NOT " * 3000 + "1", huge):
            answer = analyst.post("/v1/query", json={"sql": sql, "purpose": "SA-2026"})
            assert answer.status_code == 400
    with gateway.client("s.patel") as reviewer:
        for report in REPORTS:
            answer = reviewer.get(f"/v1/audit/reports/{report}", params={"min_rows": 1})
            assert answer.status_code == 200, (report, answer.text[:500])
            assert answer.json()["report"] == report

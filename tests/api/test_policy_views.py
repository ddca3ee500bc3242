"""Each demo user gets exactly their policy view over HTTP: the same rows the service layer
returns for them, and the refusals their level implies."""

from __future__ import annotations

import io

import pyarrow as pa
import pytest

from gateway.errors import GatewayError
from gateway.service import QueryService

COUNT_BY_AREA = "SELECT local_authority_code, count(*) AS n FROM crime GROUP BY 1 ORDER BY 1"
PEOPLE = (
    "SELECT person_id, forename, surname, date_of_birth, pnc_id FROM person "
    "ORDER BY person_id LIMIT 50"
)
MO = "SELECT crime_id, modus_operandi FROM crime ORDER BY crime_id LIMIT 20"
INTEL = "SELECT count(*) AS n FROM intelligence_report"
ANALYSTS = {
    "h.lee": "E06000001",
    "a.khan": "E06000002",
    "r.wilson": "E06000003",
    "j.taylor": "E06000004",
}


def api_arrow(live_gateway, user: str, sql: str, purpose: str) -> pa.Table:  # type: ignore[no-untyped-def]
    with live_gateway.client(user) as http:
        answer = http.post("/v1/query", json={"sql": sql, "purpose": purpose, "format": "arrow"})
    assert answer.status_code == 200, answer.text
    assert answer.headers["content-type"] == "application/vnd.apache.arrow.stream"
    return pa.ipc.open_stream(io.BytesIO(answer.content)).read_all()


def service_arrow(service: QueryService, principal, sql: str, purpose: str) -> pa.Table:  # type: ignore[no-untyped-def]
    outcome = service.run_query(principal, sql, purpose)
    try:
        return outcome.result.to_table()
    finally:
        outcome.result.discard()


@pytest.mark.parametrize("user", ["h.lee", "a.khan", "r.wilson", "j.taylor", "e.okafor", "s.patel"])
@pytest.mark.parametrize("sql", [COUNT_BY_AREA, PEOPLE, MO])
def test_http_result_equals_service_result(live_gateway, service, principal_of, user, sql):  # type: ignore[no-untyped-def]
    purpose = live_gateway.tokens[user]["purposes"][0]
    over_http = api_arrow(live_gateway, user, sql, purpose)
    direct = service_arrow(service, principal_of(user), sql, purpose)
    assert over_http.equals(direct)


@pytest.mark.parametrize(("user", "area"), sorted(ANALYSTS.items()))
def test_general_analyst_sees_only_their_authority(live_gateway, user, area):  # type: ignore[no-untyped-def]
    table = api_arrow(live_gateway, user, COUNT_BY_AREA, "SA-2026")
    assert table.column("local_authority_code").to_pylist() == [area]
    assert table.column("n").to_pylist()[0] > 0


def test_senior_analyst_sees_all_four_authorities(live_gateway):  # type: ignore[no-untyped-def]
    table = api_arrow(live_gateway, "s.patel", COUNT_BY_AREA, "SA-2026")
    assert table.column("local_authority_code").to_pylist() == sorted(ANALYSTS.values())


def test_names_and_identifiers_are_masked_for_general(live_gateway):  # type: ignore[no-untyped-def]
    table = api_arrow(live_gateway, "h.lee", PEOPLE, "SA-2026")
    assert table.num_rows > 0
    assert set(table.column("forename").to_pylist()) == {None}
    assert set(table.column("surname").to_pylist()) == {None}
    assert set(table.column("pnc_id").to_pylist()) == {None}
    assert all(not str(v).isdigit() for v in table.column("person_id").to_pylist())


@pytest.mark.parametrize("user", ["h.lee", "s.patel", "j.taylor"])
def test_intelligence_reports_refused_at_general_level(live_gateway, user):  # type: ignore[no-untyped-def]
    with live_gateway.client(user) as http:
        answer = http.post("/v1/query", json={"sql": INTEL, "purpose": "SA-2026"})
    assert answer.status_code == 403
    error = answer.json()["error"]
    assert error["code"] == "table_not_permitted"
    assert error["query_id"] == answer.headers["x-query-id"]
    assert "INTEL-SECRET" not in answer.text


def test_enhanced_analyst_sees_intelligence_only_for_the_granted_purpose(live_gateway):  # type: ignore[no-untyped-def]
    granted = api_arrow(live_gateway, "e.okafor", INTEL, "JAG-2026-07")
    assert granted.column("n").to_pylist()[0] > 0
    with live_gateway.client("e.okafor") as http:
        other = http.post("/v1/query", json={"sql": INTEL, "purpose": "SA-2026"})
    assert other.status_code == 403
    assert other.json()["error"]["code"] == "table_not_permitted"


def test_grant_unmasks_its_columns_only_for_its_purpose(live_gateway):  # type: ignore[no-untyped-def]
    jag = api_arrow(live_gateway, "e.okafor", MO, "JAG-2026-07")
    sa = api_arrow(live_gateway, "e.okafor", MO, "SA-2026")
    assert any(v is not None for v in jag.column("modus_operandi").to_pylist())
    assert set(sa.column("modus_operandi").to_pylist()) == {None}


def test_unapproved_purpose_is_refused(live_gateway):  # type: ignore[no-untyped-def]
    with live_gateway.client("h.lee") as http:
        answer = http.post("/v1/query", json={"sql": COUNT_BY_AREA, "purpose": "JAG-2026-07"})
    assert answer.status_code == 403
    assert answer.json()["error"]["code"] == "purpose_not_approved"


def test_service_and_api_refuse_alike(live_gateway, service, principal_of):  # type: ignore[no-untyped-def]
    with pytest.raises(GatewayError) as refused:
        service.run_query(principal_of("a.khan"), INTEL, "SA-2026")
    with live_gateway.client("a.khan") as http:
        answer = http.post("/v1/query", json={"sql": INTEL, "purpose": "SA-2026"})
    assert answer.status_code == refused.value.status
    assert answer.json()["error"]["code"] == refused.value.code

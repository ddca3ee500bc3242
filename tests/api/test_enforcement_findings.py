"""Issue 12's findings, replayed over real HTTP against the demo gateway as h.lee (general).

1. Generator injection (quoted type names, ``::``, TRY_CAST, EXTRACT): refused, audited as
   denied, nothing from the raw tables in the answer.
5. Many UNION ALL branches (placeholder ``…_1`` was a prefix of ``…_10``): answered.
"""

from __future__ import annotations

import io

import pyarrow as pa
import pytest

PURPOSE = "SA-2026"

INJECTIONS = [
    'SELECT CAST(1 AS """INTEGER"") AS one, forename, surname, pnc_id FROM person --") AS y '
    "FROM crime",
    'SELECT TRY_CAST(1 AS """INTEGER"") AS one, forename, surname FROM person --") AS y FROM crime',
    'SELECT 1::"""INTEGER"") AS one, address, easting, northing FROM location --" AS y FROM crime',
    'SELECT EXTRACT("YEAR FROM recorded_at) AS y, (SELECT max(narrative) FROM incident) AS n, '
    'EXTRACT(YEAR" FROM recorded_at) FROM crime',
    'SELECT CAST(1 AS """INTEGER"") AS one, * FROM pseudonyms.person --") AS y FROM crime',
]


def _post(live_gateway, sql: str):  # type: ignore[no-untyped-def]
    with live_gateway.client("h.lee") as http:
        return http.post("/v1/query", json={"sql": sql, "purpose": PURPOSE, "format": "arrow"})


@pytest.mark.parametrize("sql", INJECTIONS)
def test_generator_injection_is_refused_and_audited(live_gateway, sql: str) -> None:  # type: ignore[no-untyped-def]
    answer = _post(live_gateway, sql)
    assert answer.status_code == 400, answer.text
    error = answer.json()["error"]
    assert error["code"] in {"syntax_not_allowed", "policy_check_failed"}
    with live_gateway.client("s.patel") as http:
        events = http.get("/v1/audit/events", params={"actor": "h.lee", "limit": 1000}).json()[
            "events"
        ]
    mine = [e for e in events if e["details"].get("query_id") == error["query_id"]]
    assert [e["kind"] for e in mine] == ["query.denied"]
    assert mine[0]["details"]["reason"] == error["code"]


@pytest.mark.parametrize("branches", [11, 50])
def test_many_union_branches_are_answered(live_gateway, branches: int) -> None:  # type: ignore[no-untyped-def]
    sql = " UNION ALL ".join(
        f"SELECT {i} AS branch, count(*) AS n FROM crime" for i in range(branches)
    )
    answer = _post(live_gateway, sql)
    assert answer.status_code == 200, answer.text
    table = pa.ipc.open_stream(io.BytesIO(answer.content)).read_all()
    assert sorted(table.column("branch").to_pylist()) == list(range(branches))
    assert len(set(table.column("n").to_pylist())) == 1  # every branch saw the same view

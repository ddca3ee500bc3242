"""Senior analysts query the audit log in SQL (``audit.*``) over HTTP: every record committed
before their query is there, their own previous query included, and the tables come from a
derived, private DuckDB file that is rebuilt from the log when it does not match it."""

from __future__ import annotations

import json
import os
import stat
import uuid

import duckdb
import httpx

from gateway.datadir import DataDir

AUDIT = "AUDIT-2026"


def _query(live_gateway, user: str, sql: str, purpose: str, **extra: object) -> httpx.Response:  # type: ignore[no-untyped-def]
    with live_gateway.client(user) as http:
        body = {"sql": sql, "purpose": purpose, "format": "json", **extra}
        return http.post("/v1/query", json=body)


def _rows(response: httpx.Response) -> list[dict[str, object]]:
    assert response.status_code == 200, response.text
    body = response.json()
    names = [column["name"] for column in body["columns"]]
    return [dict(zip(names, row, strict=True)) for row in body["rows"]]


def test_an_audit_query_sees_the_query_just_before_it(live_gateway) -> None:  # type: ignore[no-untyped-def]
    for _ in range(3):  # each round: an analyst's query, then the senior analyst's look at it
        ran = _query(live_gateway, "a.khan", "SELECT count(*) AS n FROM crime", "SA-2026")
        query_id = ran.headers["X-Query-Id"]
        found = _rows(
            _query(
                live_gateway,
                "s.patel",
                "SELECT user, decision, outcome, complete, rows FROM audit.queries "
                f"WHERE query_id = '{query_id}'",
                AUDIT,
            )
        )
        assert found == [
            {"user": "a.khan", "decision": "allowed", "outcome": "ok", "complete": True, "rows": 1}
        ]


def test_every_release_records_its_disclosure_method_parameters_and_cells(live_gateway) -> None:  # type: ignore[no-untyped-def]
    """Issue 14: ``audit.queries.disclosure`` says, for each disclosure-controlled release, the
    method, its parameters, where the cell keys came from and how many cells it protected."""
    sql = "SELECT ward_code, police_uk_category, count(*) AS n FROM crime GROUP BY ALL"
    released = {}
    for mode in ("policy", "publication"):
        ran = _query(live_gateway, "a.khan", sql, "SA-2026", disclosure=mode)
        assert ran.status_code == 200, ran.text
        released[ran.headers["X-Query-Id"]] = (mode, len(ran.json()["rows"]))
    ids = ", ".join(f"'{q}'" for q in released)
    found = _rows(
        _query(
            live_gateway,
            "s.patel",
            f"SELECT query_id, disclosure FROM audit.queries WHERE query_id IN ({ids})",
            AUDIT,
        )
    )
    assert len(found) == 2
    for row in found:
        mode, cells = released[str(row["query_id"])]
        applied = json.loads(str(row["disclosure"]))
        assert (applied["mode"], applied["method"]) == (mode, "cell_key")
        assert (applied["max_noise"], applied["modulus"], applied["min_count"]) == (2, 256, 10)
        assert applied["round_to"] == (5 if mode == "publication" else 0)
        assert applied["cell_keys"] == "record keys"
        assert applied["cells"] == cells > 0
        assert applied["perturbed"] + applied["primary"] <= cells


def test_an_audit_query_sees_its_own_start_and_every_record_before_it(live_gateway) -> None:  # type: ignore[no-untyped-def]
    marker = f"own-start-{uuid.uuid4().hex}"
    own = _rows(
        _query(
            live_gateway,
            "s.patel",
            "SELECT complete, outcome FROM audit.queries "
            f"WHERE sql_submitted LIKE '%{marker}%' AND user = 's.patel'",
            AUDIT,
        )
    )
    assert own == [{"complete": False, "outcome": None}]  # running: started, not completed
    (row,) = _rows(
        _query(
            live_gateway,
            "s.patel",
            "SELECT max(seq) AS head, count(*) AS n, count(DISTINCT seq) AS once FROM audit.events",
            AUDIT,
        )
    )
    assert row["n"] == row["head"] == row["once"]  # gap-free, each record once


def test_the_derived_file_is_private_and_rebuilt_when_it_does_not_match_the_log(
    live_gateway,  # type: ignore[no-untyped-def]
) -> None:
    path = DataDir(live_gateway.data_dir).audit_tables
    _query(live_gateway, "s.patel", "SELECT count(*) AS n FROM audit.events", AUDIT)
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o600
    # Someone edits the derived file: its head no longer matches the log's record there.
    with duckdb.connect(str(path)) as con:
        con.execute("UPDATE gateway_state.head SET hash = 'forged'")
        con.execute("DELETE FROM events WHERE seq > 3")
        con.execute("UPDATE events SET actor = 'nobody'")
    (row,) = _rows(
        _query(
            live_gateway,
            "s.patel",
            "SELECT count(*) FILTER (actor = 'nobody') AS forged, count(*) AS n, "
            "max(seq) AS head FROM audit.events",
            AUDIT,
        )
    )
    assert row["forged"] == 0
    assert row["n"] == row["head"]
    assert int(str(row["head"])) > 3
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o600

"""Disclosure control on ad-hoc aggregate queries over real HTTP: no published count under the
threshold, suppressed cells marked (never dropped) and not recoverable from the totals, record-
level results refused, and the control applied recorded in the audit trail. The default policy
protects by the cell key method: every count within ±2, the same cell always the same."""

from __future__ import annotations

import hashlib
from typing import Any

import pyarrow as pa
import pytest

from tests.disclosure.guarantee import GENERAL, check_table

ANALYST = "a.khan"  # general level: the policy's general rules suppress counts from 1 to 9
#: A two-way table (category × year) with small cells in some rows and columns.
TWO_WAY = (
    "SELECT police_uk_category, date_part('year', recorded_at) AS year, count(*) AS crimes "
    "FROM crime GROUP BY ALL"
)


def _query(live_gateway, body: dict[str, Any]):  # type: ignore[no-untyped-def]
    with live_gateway.client(ANALYST) as http:
        return http.post("/v1/query", json={"purpose": "SA-2026", **body})


def _completed(live_gateway, query_id: str, kind: str = "query.completed") -> dict[str, Any]:  # type: ignore[no-untyped-def]
    with live_gateway.client("s.patel") as http:
        events = http.get(
            "/v1/audit/events", params={"kind": kind, "actor": ANALYST, "limit": 1000}
        ).json()["events"]
    (event,) = [e for e in events if e["details"].get("query_id") == query_id]
    details: dict[str, Any] = event["details"]
    return details


def test_policy_control_perturbs_every_count_and_suppresses_small_ones(live_gateway):  # type: ignore[no-untyped-def]
    raw = _query(live_gateway, {"sql": TWO_WAY}).json()
    answer = _query(live_gateway, {"sql": TWO_WAY, "disclosure": "policy"})
    assert answer.status_code == 200, answer.text
    body = answer.json()
    assert [c["name"] for c in body["columns"]] == [
        "police_uk_category",
        "year",
        "crimes",
        "crimes_suppressed",
    ]
    true = {(r[0], r[1]): r[2] for r in raw["rows"]}
    published = {(r[0], r[1]): (r[2], r[3]) for r in body["rows"]}
    cells = list(true)
    hidden, moved = check_table(true, published, GENERAL)
    assert any(0 < n < 10 for n in true.values()), "the test table needs small cells"
    assert hidden
    assert moved
    report = body["disclosure"]
    assert (report["mode"], report["rules"], report["min_count"], report["round_to"]) == (
        "policy",
        "general",
        10,
        0,
    )
    assert (report["method"], report["max_noise"], report["modulus"]) == ("cell_key", 2, 256)
    assert (report["primary"], report["perturbed"]) == (hidden, moved)
    assert report["secondary_suppressed"] == 0
    assert report["cells"] == len(cells)
    assert answer.headers["x-disclosure"] == report["description"]

    # The audit trail records what was applied, with the released result's rows.
    audited = _completed(live_gateway, body["query_id"])
    assert audited["outcome"] == "ok"
    assert audited["rows"] == len(published)
    recorded = audited["disclosure"]
    assert (recorded["mode"], recorded["min_count"], recorded["round_to"]) == ("policy", 10, 0)
    assert (recorded["method"], recorded["max_noise"], recorded["modulus"]) == ("cell_key", 2, 256)
    assert (recorded["counts"], recorded["dimensions"]) == (
        ["crimes"],
        ["police_uk_category", "year"],
    )
    assert (recorded["cells"], recorded["primary"], recorded["perturbed"]) == (
        len(cells),
        hidden,
        moved,
    )


def test_the_same_cell_gets_the_same_value_whatever_query_produced_it(live_gateway):  # type: ignore[no-untyped-def]
    """Asking again, in another spelling, or for a part of the table gives the same published
    value for the same cell: nothing new to average or subtract."""
    whole = _query(live_gateway, {"sql": TWO_WAY, "disclosure": "policy"}).json()
    published = {(r[0], r[1]): (r[2], r[3]) for r in whole["rows"]}
    category = next(c for c, _ in published)
    variants = [
        TWO_WAY,
        "SELECT date_part('year', recorded_at) AS y, police_uk_category AS cat, count(1) AS n "
        "FROM crime GROUP BY 2, 1",
        "SELECT police_uk_category, date_part('year', recorded_at) AS year, count(*) AS crimes "
        f"FROM crime WHERE police_uk_category = '{category}' GROUP BY ALL",
    ]
    for sql in variants:
        body = _query(live_gateway, {"sql": sql, "disclosure": "policy"}).json()
        names = [c["name"] for c in body["columns"]]
        for row in body["rows"]:
            record = dict(zip(names, row, strict=True))
            key = (
                record.get("police_uk_category", record.get("cat")),
                record.get("year", record.get("y")),
            )
            count = record.get("crimes", record.get("n"))
            flag = record.get("crimes_suppressed", record.get("n_suppressed"))
            assert (count, flag) == published[key], (sql, key)


def test_arrow_answers_carry_the_flags_and_the_audited_fingerprint(live_gateway):  # type: ignore[no-untyped-def]
    answer = _query(
        live_gateway, {"sql": TWO_WAY, "format": "arrow", "disclosure": {"mode": "policy"}}
    )
    assert answer.status_code == 200, answer.text
    digest = hashlib.sha256(answer.content).hexdigest()
    assert answer.headers["x-result-sha256"] == digest
    table = pa.ipc.open_stream(answer.content).read_all()
    assert b"gateway.disclosure" in table.schema.metadata
    crimes, flags = table.column("crimes").to_pylist(), table.column("crimes_suppressed")
    assert [c is None for c in crimes] == flags.to_pylist()
    audited = _completed(live_gateway, answer.headers["x-query-id"])
    assert audited["fingerprint"] == digest  # the fingerprint of what was released
    assert audited["disclosure"]["source_fingerprint"] != digest


def test_disclosure_on_record_level_results_is_refused(live_gateway):  # type: ignore[no-untyped-def]
    for sql in (
        "SELECT crime_id, police_uk_category FROM crime",
        "SELECT crime_id, count(*) AS n FROM crime_person GROUP BY 1",  # grouped by a record key
    ):
        answer = _query(live_gateway, {"sql": sql, "disclosure": "policy"})
        assert answer.status_code == 400, answer.text
        error = answer.json()["error"]
        assert error["code"] == "not_aggregate"
        assert "record-level" in error["message"]
        denied = _completed(live_gateway, error["query_id"], kind="query.denied")
        assert denied["reason"] == "not_aggregate"  # refused before anything ran


@pytest.mark.parametrize(
    ("body", "code", "words"),
    [
        (
            {
                "sql": "SELECT ward_code, count(*) AS n, lag(count(*)) OVER (ORDER BY ward_code) "
                "AS before FROM crime GROUP BY 1",
                "disclosure": "policy",
            },
            "not_protectable",
            "window function",
        ),
        (
            {
                "sql": "SELECT ward_code, count(*) AS n, avg(date_part('hour', recorded_at)) AS h "
                "FROM crime GROUP BY 1",
                "disclosure": "publication",
            },
            "invalid_parameter",
            "'h' is computed from the exact counts",
        ),
        (
            {
                "sql": "SELECT ward_code, count(*) AS n FROM crime GROUP BY 1",
                "disclosure": {"mode": "policy", "counts": ["ward_code"]},
            },
            "invalid_parameter",
            "'ward_code' is a grouping column",
        ),
    ],
)
def test_requests_disclosure_cannot_honour_are_refused_before_running(
    live_gateway, body: dict[str, Any], code: str, words: str
):  # type: ignore[no-untyped-def]
    answer = _query(live_gateway, body)
    assert answer.status_code == 400, answer.text
    error = answer.json()["error"]
    assert error["code"] == code
    assert words in error["message"]
    assert _completed(live_gateway, error["query_id"], kind="query.denied")


def test_measures_are_withheld_with_their_count(live_gateway):  # type: ignore[no-untyped-def]
    sql = (
        "SELECT police_uk_category, date_part('year', recorded_at) AS year, count(*) AS crimes, "
        "avg(date_part('hour', recorded_at)) AS mean_hour FROM crime GROUP BY ALL"
    )
    body = _query(live_gateway, {"sql": sql, "disclosure": "policy"}).json()
    names = [c["name"] for c in body["columns"]]
    assert names[-2:] == ["mean_hour", "mean_hour_suppressed"]
    rows = [dict(zip(names, r, strict=True)) for r in body["rows"]]
    assert any(r["crimes_suppressed"] for r in rows)
    for row in rows:
        assert row["mean_hour_suppressed"] == row["crimes_suppressed"]
        assert (row["mean_hour"] is None) == row["crimes_suppressed"]
    assert body["disclosure"]["measures"] == ["mean_hour"]

"""Disclosure control on ad-hoc aggregate queries over real HTTP: no published count under the
threshold, suppressed cells marked (never dropped) and not recoverable from the totals, record-
level results refused, and the control applied recorded in the audit trail."""

from __future__ import annotations

import hashlib
from typing import Any

import pyarrow as pa
import pytest

from tests.disclosure.solver import lp_range

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


def test_policy_control_suppresses_small_counts_so_totals_cannot_reveal_them(live_gateway):  # type: ignore[no-untyped-def]
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
    assert published.keys() == true.keys()  # every cell is still there: marked, not dropped
    hidden = {cell for cell, (_, flag) in published.items() if flag}
    for cell, (value, flag) in published.items():
        assert (value is None) == flag
        if not flag:
            assert value == true[cell]
            assert not 0 < value < 10  # no published count under the threshold
    small = {cell for cell, n in true.items() if 0 < n < 10}
    assert small, "the test table needs small cells"
    assert small <= hidden
    # An attacker with every row and column total and the published cells: each suppressed
    # count above zero can still take more than one value.
    for cell, (low, high) in lp_range(true, hidden).items():
        if true[cell] > 0:
            assert high - low >= 1, f"{cell} is pinned to {low} by the totals"
    report = body["disclosure"]
    assert (report["mode"], report["rules"], report["min_count"], report["round_to"]) == (
        "policy",
        "general",
        10,
        0,
    )
    assert report["primary"] == len(small)
    assert report["primary"] + report["secondary_suppressed"] == len(hidden)
    assert answer.headers["x-disclosure"] == report["description"]

    # The audit trail records what was applied, with the released result's rows.
    audited = _completed(live_gateway, body["query_id"])
    assert audited["outcome"] == "ok"
    assert audited["rows"] == len(published)
    recorded = audited["disclosure"]
    assert (recorded["mode"], recorded["min_count"], recorded["round_to"]) == ("policy", 10, 0)
    assert (recorded["counts"], recorded["dimensions"]) == (
        ["crimes"],
        ["police_uk_category", "year"],
    )
    assert recorded["primary"] == report["primary"]
    assert recorded["secondary_suppressed"] == report["secondary_suppressed"]


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

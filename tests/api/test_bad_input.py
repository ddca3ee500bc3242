"""Bad input gets a clear 4xx JSON error (never a 500, a traceback or a data value), while
another user's requests keep succeeding."""

from __future__ import annotations

import threading

import httpx
import pytest

from tests.gateway_server import BIG_AGGREGATE

GOOD = {"sql": "SELECT count(*) AS n FROM crime", "purpose": "SA-2026"}


def _raw(live_gateway, content: bytes, content_type: str = "application/json") -> httpx.Response:  # type: ignore[no-untyped-def]
    headers = {**live_gateway.headers("h.lee"), "Content-Type": content_type}
    return httpx.post(live_gateway.url + "/v1/query", content=content, headers=headers, timeout=60)


BAD_BODIES = {
    "invalid json": (b'{"sql": "SELECT 1", "purpose": ', 400, "not valid JSON"),
    "invalid utf-8": (b'{"sql": "SELECT \xff\xfe", "purpose": "SA-2026"}', 400, "UTF-8"),
    "not an object": (b"[1, 2, 3]", 400, "request body"),
    "missing purpose": (b'{"sql": "SELECT 1"}', 400, "purpose"),
    "unknown format": (
        b'{"sql": "SELECT 1", "purpose": "SA-2026", "format": "xml"}',
        400,
        "format",
    ),
    "unknown field": (b'{"sql": "SELECT 1", "purpose": "SA-2026", "limit": 5}', 400, "limit"),
    "wrong type": (b'{"sql": 42, "purpose": "SA-2026"}', 400, "sql"),
    "object param": (
        b'{"sql": "SELECT $x", "purpose": "SA-2026", "params": {"x": {"a": 1}}}',
        400,
        "params",
    ),
    "1 MB of SQL": (
        b'{"sql": "SELECT ' + b"1 + " * 350_000 + b'1", "purpose": "SA-2026"}',
        413,
        "larger than the limit",
    ),
    "deeply nested": (
        b'{"sql": "SELECT ' + b"(" * 5000 + b"1" + b")" * 5000 + b'", "purpose": "SA-2026"}',
        400,
        "nested",
    ),
    "empty sql": (b'{"sql": "", "purpose": "SA-2026"}', 400, ""),
    "blank purpose": (b'{"sql": "SELECT 1", "purpose": " "}', 400, "purpose"),
    "lone surrogate in a parameter": (
        b'{"sql": "SELECT $x AS x", "purpose": "SA-2026", "params": {"x": "\\ud800"}}',
        400,
        "lone surrogate",
    ),
    "lone surrogate in a parameter name": (
        b'{"sql": "SELECT 1", "purpose": "SA-2026", "params": {"\\udfff": 1}}',
        400,
        "lone surrogate",
    ),
    "lone surrogate in disclosure totals": (
        b'{"sql": "SELECT lsoa_code, count(*) AS n FROM crime GROUP BY 1", "purpose": "SA-2026",'
        b' "disclosure": {"mode": "policy", "totals": ["\\udabc"]}}',
        400,
        "lone surrogate",
    ),
    "lone surrogate in the sql": (
        b'{"sql": "SELECT \\ud800", "purpose": "SA-2026"}',
        400,
        "lone surrogate",
    ),
    "nul in a parameter": (
        b'{"sql": "SELECT $x AS x", "purpose": "SA-2026", "params": {"x": "a\\u0000b"}}',
        400,
        "NUL",
    ),
}


def test_a_surrogate_pair_is_fine(live_gateway):  # type: ignore[no-untyped-def]
    body = b'{"sql": "SELECT $x AS x", "purpose": "SA-2026", "params": {"x": "\\ud83d\\ude00"}}'
    answer = _raw(live_gateway, body)
    assert answer.status_code == 200, answer.text


@pytest.mark.parametrize("case", sorted(BAD_BODIES))
def test_bad_bodies_get_clear_errors(live_gateway, case):  # type: ignore[no-untyped-def]
    body, status, words = BAD_BODIES[case]
    answer = _raw(live_gateway, body)
    assert answer.status_code == status, answer.text
    error = answer.json()["error"]
    assert error["code"]
    assert error["message"]
    assert words in error["message"]
    assert "Traceback" not in answer.text


def test_wrong_content_type_is_400(live_gateway):  # type: ignore[no-untyped-def]
    answer = _raw(live_gateway, b"sql=SELECT+1", "application/x-www-form-urlencoded")
    assert answer.status_code == 400
    assert answer.json()["error"]["code"] == "bad_request"


def test_chunked_body_over_the_limit_is_413(live_gateway):  # type: ignore[no-untyped-def]
    def chunks():  # type: ignore[no-untyped-def]
        yield b'{"sql": "SELECT 1 '
        for _ in range(40):
            yield b"-- padding " * 3000
        yield b'", "purpose": "SA-2026"}'

    headers = {**live_gateway.headers("h.lee"), "Content-Type": "application/json"}
    answer = httpx.post(
        live_gateway.url + "/v1/query", content=chunks(), headers=headers, timeout=60
    )
    assert answer.status_code == 413
    assert answer.json()["error"]["code"] == "too_large"


def test_huge_result_as_json_is_413_pointing_to_arrow(live_gateway):  # type: ignore[no-untyped-def]
    body = BIG_AGGREGATE
    with live_gateway.client("s.patel") as http:
        refused = http.post("/v1/query", json=body)
        streamed = http.post("/v1/query", json={**body, "format": "arrow"})
    assert refused.status_code == 413
    error = refused.json()["error"]
    assert error["code"] == "too_large"
    assert "arrow" in error["message"]
    assert error["query_id"] == refused.headers["x-query-id"]
    assert streamed.status_code == 200
    assert int(streamed.headers["x-row-count"]) > 0


def test_sql_errors_give_position_and_no_values(live_gateway):  # type: ignore[no-untyped-def]
    with live_gateway.client("h.lee") as http:
        answer = http.post(
            "/v1/query",
            json={
                "sql": "SELECT crime_id FROM crime WHERE CAST(modus_operandi AS INTEGER) > 0",
                "purpose": "SA-2026",
            },
        )
        unknown = http.post(
            "/v1/query", json={"sql": "SELECT nope FROM crime", "purpose": "SA-2026"}
        )
    assert "MO-SECRET" not in answer.text
    assert unknown.status_code == 400
    assert unknown.json()["error"]["code"] == "column_not_found"
    assert unknown.json()["error"]["line"] == 1


def test_unknown_endpoint_and_method(live_gateway):  # type: ignore[no-untyped-def]
    missing = httpx.get(live_gateway.url + "/v1/nothing-here", timeout=10)
    wrong = httpx.get(
        live_gateway.url + "/v1/query", headers=live_gateway.headers("h.lee"), timeout=10
    )
    assert missing.status_code == 404
    assert missing.json()["error"]["code"] == "not_found"
    assert wrong.status_code == 405
    assert wrong.json()["error"]["code"] == "method_not_allowed"


def test_other_users_keep_being_served_during_bad_input(live_gateway):  # type: ignore[no-untyped-def]
    statuses: list[int] = []
    stop = threading.Event()

    def attack() -> None:
        bodies = [BAD_BODIES[k][0] for k in sorted(BAD_BODIES)]
        while not stop.is_set():
            for body in bodies:
                _raw(live_gateway, body)

    attackers = [threading.Thread(target=attack) for _ in range(3)]
    for thread in attackers:
        thread.start()
    try:
        with live_gateway.client("a.khan") as http:
            for _ in range(8):
                statuses.append(http.post("/v1/query", json=GOOD).status_code)
    finally:
        stop.set()
        for thread in attackers:
            thread.join(timeout=60)
    assert statuses == [200] * 8
    assert httpx.get(live_gateway.url + "/healthz", timeout=10).json()["status"] == "ok"

"""A request refused for its body is a 4xx JSON error with exactly one audit record
(``access.request_refused``: who, which route, which code, why — never the offending bytes),
and a caller without valid credentials is refused 401 first, with no such record."""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest

from gateway.audit.chain import AuditEvent
from gateway.audit.kinds import EventKind
from gateway.audit.sqlite import SQLiteAuditStore
from gateway.datadir import DataDir

USER = "a.khan"
_PADDING = b"-- padding " * 3000

#: case → (body, status, code, words in the message); the body never reaches a route.
REFUSED_BODIES: dict[str, tuple[bytes, int, str, str]] = {
    "lone surrogate in a parameter": (
        b'{"sql": "SELECT $x AS x", "purpose": "SA-2026", "params": {"x": "\\ud800"}}',
        400,
        "bad_request",
        "lone surrogate",
    ),
    "lone surrogate in a parameter name": (
        b'{"sql": "SELECT 1", "purpose": "SA-2026", "params": {"\\udfff": 1}}',
        400,
        "bad_request",
        "lone surrogate",
    ),
    "lone surrogate in the sql": (
        b'{"sql": "SELECT \\ud800", "purpose": "SA-2026"}',
        400,
        "bad_request",
        "lone surrogate",
    ),
    "nul in the purpose": (
        b'{"sql": "SELECT 1", "purpose": "SA-\\u00002026"}',
        400,
        "bad_request",
        "NUL",
    ),
    "bad utf-8 in the sql": (
        b'{"sql": "SELECT \xff\xfe 1", "purpose": "SA-2026"}',
        400,
        "bad_request",
        "",
    ),
    "bad utf-8 in a key": (
        b'{"sql": "SELECT 1", "purpose": "SA-2026", "\xc3\x28": 1}',
        400,
        "bad_request",
        "",
    ),
    "invalid json": (b'{"sql": "SELECT 1", "purpose": ', 400, "bad_request", "not valid JSON"),
    "not an object": (b"[1, 2, 3]", 400, "bad_request", "request body"),
    "missing purpose": (b'{"sql": "SELECT 1"}', 400, "bad_request", "purpose"),
    "wrong type": (b'{"sql": 42, "purpose": "SA-2026"}', 400, "bad_request", "sql"),
    "unknown field": (
        b'{"sql": "SELECT 1", "purpose": "SA-2026", "limit": 5}',
        400,
        "bad_request",
        "limit",
    ),
    "over the size limit": (
        b'{"sql": "SELECT 1 ' + _PADDING * 40 + b'", "purpose": "SA-2026"}',
        413,
        "too_large",
        "larger than the limit",
    ),
}


def _post(live_gateway, body: bytes, headers: dict[str, str]) -> httpx.Response:  # type: ignore[no-untyped-def]
    return httpx.post(
        live_gateway.url + "/v1/query",
        content=body,
        headers={**headers, "Content-Type": "application/json"},
        timeout=60,
    )


def _refusals_after(data_dir: DataDir, seq: int) -> list[AuditEvent]:
    with SQLiteAuditStore(data_dir.audit, read_only=True) as store:
        return list(store.events(after_seq=seq, kinds=(EventKind.ACCESS_REQUEST_REFUSED,)))


def _head(data_dir: DataDir) -> int:
    with SQLiteAuditStore(data_dir.audit, read_only=True) as store:
        return store.head()[0]


def _assert_refused(answer: httpx.Response, status: int, code: str, words: str) -> None:
    assert answer.status_code == status, answer.text
    error = answer.json()["error"]
    assert error["code"] == code
    assert words in error["message"]
    assert "Traceback" not in answer.text


@pytest.mark.parametrize("case", sorted(REFUSED_BODIES))
def test_a_refused_body_has_exactly_one_audit_record(live_gateway, case: str) -> None:  # type: ignore[no-untyped-def]
    body, status, code, words = REFUSED_BODIES[case]
    data_dir = DataDir(live_gateway.data_dir)
    head = _head(data_dir)
    answer = _post(live_gateway, body, live_gateway.headers(USER))
    _assert_refused(answer, status, code, words)
    (record,) = _refusals_after(data_dir, head)
    assert record.actor == USER
    assert record.details["subject"] == "POST /v1/query"
    extra = record.details["details"]
    assert (extra["status"], extra["code"]) == (status, code)
    assert extra["reason"] == answer.json()["error"]["message"]
    for fragment in ("SELECT", "SA-2026", "padding", "\ufffd"):
        assert fragment not in record.details_json  # the reason, never the submitted text


def test_a_chunked_body_over_the_limit_has_its_record(live_gateway) -> None:  # type: ignore[no-untyped-def]
    def chunks() -> Iterator[bytes]:
        yield b'{"sql": "SELECT 1 '
        for _ in range(40):
            yield _PADDING
        yield b'", "purpose": "SA-2026"}'

    data_dir = DataDir(live_gateway.data_dir)
    head = _head(data_dir)
    headers = {**live_gateway.headers(USER), "Content-Type": "application/json"}
    answer = httpx.post(live_gateway.url + "/v1/query", content=chunks(), headers=headers)
    _assert_refused(answer, 413, "too_large", "larger than the limit")
    (record,) = _refusals_after(data_dir, head)
    assert record.details["details"]["code"] == "too_large"


@pytest.mark.parametrize(
    "case", ["lone surrogate in the sql", "bad utf-8 in the sql", "invalid json", "wrong type"]
)
@pytest.mark.parametrize(
    "headers",
    [{}, {"Authorization": "Bearer pgw_not-a-real-token"}, {"Authorization": "Basic eDp5"}],
    ids=["no token", "unknown token", "malformed header"],
)
def test_without_valid_credentials_the_answer_is_401_and_no_refusal_record(
    live_gateway,  # type: ignore[no-untyped-def]
    case: str,
    headers: dict[str, str],
) -> None:
    data_dir = DataDir(live_gateway.data_dir)
    head = _head(data_dir)
    answer = _post(live_gateway, REFUSED_BODIES[case][0], headers)
    _assert_refused(answer, 401, "unauthenticated", "")
    assert answer.headers["www-authenticate"].startswith("Bearer")
    assert _refusals_after(data_dir, head) == []


def test_an_unauthenticated_oversized_body_is_401(live_gateway) -> None:  # type: ignore[no-untyped-def]
    data_dir = DataDir(live_gateway.data_dir)
    head = _head(data_dir)
    answer = _post(live_gateway, REFUSED_BODIES["over the size limit"][0], {})
    _assert_refused(answer, 401, "unauthenticated", "")
    assert _refusals_after(data_dir, head) == []

"""Records: canonical encoding, hashing, ids and the typed facts."""

from __future__ import annotations

import dataclasses
import hashlib
import json
from datetime import UTC, datetime, timedelta, timezone

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from gateway.analysis.results import LookupAnalysis
from gateway.audit.chain import (
    GENESIS_HASH,
    StoredRecord,
    canonical_bytes,
    decode,
    event_hash,
    format_time,
    new_event_id,
    seal,
    stored_hash,
)
from gateway.audit.facts import AccessEvent, QueryRequest
from gateway.errors import AuditUnavailable, InputError
from gateway.principal import Principal

T0 = datetime(2026, 3, 1, 9, 30, 15, 123456, tzinfo=UTC)

json_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers()
    | st.text()
    | st.floats(allow_nan=False, allow_infinity=False),
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=8), children, max_size=4)
    ),
    max_leaves=12,
)


@settings(max_examples=150, deadline=None)
@given(
    details=st.dictionaries(st.text(max_size=10), json_values, max_size=5),
    actor=st.text(min_size=1, max_size=12),
    organisation=st.text(max_size=12),
)
def test_canonical_bytes_are_sorted_compact_json_of_every_field_but_hash(
    details: dict[str, object], actor: str, organisation: str
) -> None:
    event = seal(7, "ID7", T0, "query.started", actor, organisation, details, "a" * 64)
    expected = json.dumps(
        {
            "seq": 7,
            "event_id": "ID7",
            "time": "2026-03-01T09:30:15.123456Z",
            "kind": "query.started",
            "actor": actor,
            "organisation": organisation,
            "details": details,
            "prev_hash": "a" * 64,
        },
        sort_keys=True,
        separators=(",", ":"),
        ensure_ascii=False,
    ).encode("utf-8")
    assert canonical_bytes(event) == expected
    assert event.hash == hashlib.sha256(expected).hexdigest()
    # The stored text form hashes to the same value.
    stored = StoredRecord(
        7,
        "ID7",
        format_time(T0),
        "query.started",
        actor,
        organisation,
        event.details_json,
        "a" * 64,
        event.hash,
    )
    assert stored_hash(stored) == event.hash
    assert decode(stored) == event


@pytest.mark.parametrize(
    "change",
    [
        {"seq": 8},
        {"event_id": "OTHER"},
        {"time": T0 + timedelta(microseconds=1)},
        {"kind": "query.denied"},
        {"actor": "b.smith"},
        {"organisation": "Stockton Council"},
        {"details": {"rows": 11}},
        {"prev_hash": "b" * 64},
    ],
)
def test_every_field_is_covered_by_the_hash(change: dict[str, object]) -> None:
    event = seal(7, "ID7", T0, "query.started", "a.khan", "MBC", {"rows": 10}, GENESIS_HASH)
    assert event_hash(event) == event.hash
    assert event_hash(dataclasses.replace(event, **change)) != event.hash


def test_time_is_stored_in_utc_with_microseconds() -> None:
    bst = timezone(timedelta(hours=1))
    local = datetime(2026, 7, 1, 10, 0, 0, 5, tzinfo=bst)
    event = seal(1, "X", local, "policy.loaded", "system", "", {}, GENESIS_HASH)
    assert format_time(event.time) == "2026-07-01T09:00:00.000005Z"
    assert event.time.utcoffset() == timedelta(0)


@pytest.mark.parametrize(
    ("kind", "actor", "time", "details"),
    [
        ("querystarted", "a", T0, {}),
        ("Query.Started", "a", T0, {}),
        ("query.started", "", T0, {}),
        ("query.started", "a", datetime(2026, 1, 1), {}),
        ("query.started", "a", T0, {"x": float("nan")}),
        ("query.started", "a", T0, {"x": object()}),
    ],
)
def test_seal_refuses_malformed_events(
    kind: str, actor: str, time: datetime, details: dict[str, object]
) -> None:
    with pytest.raises(InputError):
        seal(1, "X", time, kind, actor, "", details, GENESIS_HASH)


def test_event_ids_are_unique_and_sort_by_time() -> None:
    times = [T0 + timedelta(microseconds=i) for i in range(2000)]
    ids = [new_event_id(t) for t in times]
    assert len(set(ids)) == len(ids)
    assert ids == sorted(ids)
    assert all(len(i) == 26 for i in ids)


def test_decoding_an_unreadable_record_fails_closed() -> None:
    good = StoredRecord(3, "E", format_time(T0), "query.started", "a", "o", "{}", "0", "h")
    for broken in (
        dataclasses.replace(good, details="{not json"),
        dataclasses.replace(good, details="[1, 2]"),
        dataclasses.replace(good, time="yesterday"),
        dataclasses.replace(good, actor=None),
        dataclasses.replace(good, details='{"a":' + "[" * 100_000 + "]" * 100_000 + "}"),
    ):
        with pytest.raises(AuditUnavailable, match="seq 3"):
            decode(broken)


def test_query_request_from_principal_copies_who_is_asking() -> None:
    principal = Principal(
        "a.khan",
        "Middlesbrough Council",
        "enhanced",
        roles=frozenset({"senior_analyst", "analyst"}),
    )
    request = QueryRequest.from_principal(
        principal, "JAG-12", "SELECT 1", client_address="10.0.0.9", params={"month": "2026-01"}
    )
    details = request.details()
    assert details["user"] == "a.khan"
    assert details["organisation"] == "Middlesbrough Council"
    assert details["level"] == "enhanced"
    assert details["roles"] == ["analyst", "senior_analyst"]
    assert details["purpose"] == "JAG-12"
    assert details["params"] == {"month": "2026-01"}
    assert details["client_address"] == "10.0.0.9"


@pytest.mark.parametrize(
    "action",
    ["query.started", "export.registered", "access", "hacked.x", "access.request_submitted"],
)
def test_access_events_must_be_governance_kinds(action: str) -> None:
    with pytest.raises(InputError):
        AccessEvent(action, "admin", "Force")


@pytest.mark.parametrize(
    "action", ["access.requested", "access.authorised", "token.revoked", "policy.loaded"]
)
def test_governance_kinds_are_accepted(action: str) -> None:
    assert AccessEvent(action, "admin", "Force", subject="x").details()["subject"] == "x"


# --- the look-up analysis stored with a request ----------------------------------------------

REQUEST_KEYS = {
    "user",
    "organisation",
    "level",
    "roles",
    "purpose",
    "client_address",
    "user_agent",
    "sql_submitted",
    "params",
    "template",
}


def test_a_request_without_an_analysis_keeps_its_old_shape() -> None:
    """Records written before look-ups were analysed at query time hash exactly as before."""
    request = QueryRequest("a.khan", "MBC", "general", ("analyst",), "SA-2026", "SELECT 1")
    assert set(request.details()) == REQUEST_KEYS


def test_a_request_carries_its_analysis() -> None:
    analysis = LookupAnalysis("ok", ("person.surname",), ("surname = 'Reed'",))
    principal = Principal("a.khan", "MBC", "general", roles=frozenset({"analyst"}))
    request = QueryRequest.from_principal(
        principal, "SA-2026", "SELECT * FROM person WHERE surname = 'Reed'", person_lookups=analysis
    )
    details = request.details()
    assert set(details) == {*REQUEST_KEYS, "person_lookups"}
    assert details["person_lookups"] == {
        "status": "ok",
        "pinned": ["person.surname"],
        "predicates": ["surname = 'Reed'"],
        "detail": "",
    }
    sealed = seal(1, "E1", T0, "query.denied", "a.khan", "MBC", details, GENESIS_HASH)
    assert LookupAnalysis.from_details(sealed.details["person_lookups"]) == analysis


@pytest.mark.parametrize(
    "stored",
    [
        None,
        "ok",
        [],
        {},
        {"status": "fine"},
        {"status": "ok", "pinned": "person.surname"},
        {"status": "ok", "pinned": [1]},
        {"status": "ok", "predicates": [None]},
        {"status": "too_deep", "detail": 5},
    ],
)
def test_a_malformed_stored_analysis_reads_as_failed(stored: object) -> None:
    analysis = LookupAnalysis.from_details(stored)
    assert analysis.status == "failed"
    assert "malformed" in analysis.detail

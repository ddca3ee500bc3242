"""Errors say what went wrong in the analyst's terms — the engine's reason, where in their SQL,
"did you mean", a hint for values in double quotes — over HTTP, and never reveal a data value
or the name of a table or column their level does not show."""

from __future__ import annotations

import re

import pytest

from tests.gateway_server import LiveGateway

HIDDEN = ("intelligence_report", "report_text", "subject_person_id", "grading")


def refused(live_gateway: LiveGateway, sql: str, user: str = "h.lee") -> dict[str, object]:
    with live_gateway.client(user) as http:
        answer = http.post("/v1/query", json={"sql": sql, "purpose": "SA-2026"})
    assert answer.status_code == 400, answer.text
    body = answer.json()
    assert isinstance(body, dict)
    return body


def message(body: dict[str, object]) -> str:
    error = body.get("error", body)
    assert isinstance(error, dict)
    return str(error["message"])


def where(body: dict[str, object]) -> tuple[object, object]:
    error = body.get("error", body)
    assert isinstance(error, dict)
    return error.get("line"), error.get("column")


def test_aggregate_mistake_gives_the_engines_reason_and_position(
    live_gateway: LiveGateway,
) -> None:
    body = refused(live_gateway, "SELECT count(*) AS n,\n       ward_code FROM crime")
    text = message(body)
    assert "Cannot mix aggregates with non-aggregated columns" in text or "GROUP BY" in text
    line, column = where(body)
    assert line == 2  # ward_code, in the SQL the analyst wrote (columns 8–16)
    assert isinstance(column, int)
    assert 8 <= column <= 16


def test_type_mismatch_names_the_types_not_the_value(live_gateway: LiveGateway) -> None:
    body = refused(live_gateway, "SELECT count(*) FROM crime WHERE recorded_at > 5")
    text = message(body)
    assert "TIMESTAMP" in text
    assert "INTEGER" in text
    assert "explicit cast" in text
    assert "could not bind the query (a name" not in text  # the cause, not a shrug


def test_a_value_in_double_quotes_gets_a_hint(live_gateway: LiveGateway) -> None:
    body = refused(live_gateway, 'SELECT count(*) FROM crime WHERE police_uk_category = "burglary"')
    text = message(body)
    assert "single quotes: 'burglary'" in text
    assert where(body)[0] == 1


@pytest.mark.parametrize(
    ("sql", "suggestion"),
    [
        ("SELECT recorded FROM crime", '"recorded_at"'),
        ("SELECT count(*) FROM crimes", '"crime"'),
        ("SELECT ward_cod FROM crime", '"ward_code"'),
    ],
)
def test_unknown_names_get_a_did_you_mean(
    live_gateway: LiveGateway, sql: str, suggestion: str
) -> None:
    text = message(refused(live_gateway, sql))
    assert f"did you mean {suggestion}?" in text


@pytest.mark.parametrize(
    "sql",
    [
        "SELECT count(*) FROM intelligence_reprt",  # a hidden table is never suggested
        "SELECT report_tex FROM incident",  # nor a hidden column
        "SELECT subject_person_i FROM crime",
        "SELECT gradin FROM crime",
        "SELECT count(*) FROM crime c JOIN intelligence_reports i USING (crime_id)",
    ],
)
def test_errors_never_suggest_or_name_what_the_level_hides(
    live_gateway: LiveGateway, sql: str
) -> None:
    text = message(refused(live_gateway, sql)).lower()
    for written in sorted(re.findall(r"\w+", sql.lower()), key=len, reverse=True):
        text = text.replace(written, "")  # what the analyst typed may be quoted back
    for name in HIDDEN:
        assert name not in text


@pytest.mark.parametrize(
    "sql",
    [
        "SELECT 'secret-7781' + 1 AS x FROM crime",
        "SELECT count(*) FROM crime WHERE recorded_at > 'secret-7781'",
        "SELECT sum(outcome || 'secret-7781') FROM crime",
        "SELECT count(*) FROM crime WHERE outcome = 'charged' AND 'secret-7781' > 1",
        "SELECT list_extract([1, 2], 'secret-7781') FROM crime",
    ],
)
def test_engine_errors_never_echo_values(live_gateway: LiveGateway, sql: str) -> None:
    text = message(refused(live_gateway, sql))
    assert "secret" not in text
    assert "7781" not in text
    assert "E06000001" not in text  # nor a value of the policy's own row filter

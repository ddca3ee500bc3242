"""Detecting look-ups of individual people in submitted SQL."""

from __future__ import annotations

import sys
import threading

import pytest
import sqlglot

from gateway.audit.facts import LookupAnalysis
from gateway.audit.lookups import (
    MAX_ANALYSED_CHARS,
    MAX_PREDICATE_CHARS,
    MAX_PREDICATES,
    analyse_lookups,
    pinned_predicates,
)
from gateway.catalog import Catalog
from gateway.errors import SqlParseError

LOOKUPS = [
    # (title, sql, the column it pins)
    ("surname equality", "SELECT * FROM person WHERE surname = 'Hartley'", "person.surname"),
    (
        "case-folded name through an alias",
        "SELECT p.person_id FROM person AS p WHERE lower(p.surname) = 'hartley'",
        "person.surname",
    ),
    (
        "forename prefix",
        "SELECT * FROM person p WHERE p.forename ILIKE 'jo%' AND p.gender = 'male'",
        "person.forename",
    ),
    (
        "person id in a link table, joined",
        """SELECT c.crime_id, c.ho_offence_code
           FROM crime c JOIN crime_person cp ON cp.crime_id = c.crime_id
           WHERE cp.person_id = 48213 AND cp.role = 'suspect'""",
        "crime_person.person_id",
    ),
    (
        "list of people",
        "SELECT * FROM custody WHERE person_id IN (11, 12, 13)",
        "custody.person_id",
    ),
    ("PNC id", "SELECT * FROM person WHERE pnc_id = '98/123456X'", "person.pnc_id"),
    (
        "date of birth",
        "SELECT * FROM person WHERE date_of_birth = DATE '1991-04-17'",
        "person.date_of_birth",
    ),
    ("full postcode", "SELECT * FROM location WHERE postcode = 'TS1 3BA'", "location.postcode"),
    (
        "address pattern",
        "SELECT l.location_id FROM location l WHERE l.address LIKE '14 Linthorpe%'",
        "location.address",
    ),
    ("literal on the left", "SELECT * FROM vehicle WHERE 'NK19ABC' = vrm", "vehicle.vrm"),
    (
        "inside a CTE",
        """WITH named AS (SELECT person_id, surname FROM person WHERE surname = 'Okafor')
           SELECT count(*) FROM crime_person JOIN named USING (person_id)""",
        "person.surname",
    ),
    (
        "through a derived table",
        "SELECT * FROM (SELECT * FROM person) x WHERE x.forename = 'Amira'",
        "person.forename",
    ),
    ("a query parameter", "SELECT * FROM person WHERE person_id = $pid", "person.person_id"),
    (
        "regular expression",
        "SELECT * FROM person WHERE regexp_matches(surname, '^Mc')",
        "person.surname",
    ),
    (
        "intelligence subject",
        "SELECT report_id FROM intelligence_report WHERE subject_person_id = 5",
        "intelligence_report.subject_person_id",
    ),
]

NOT_LOOKUPS = [
    (
        "monthly counts by category",
        """SELECT date_trunc('month', recorded_at) AS month, police_uk_category, count(*)
           FROM crime WHERE local_authority_code = 'E06000002'
             AND recorded_at >= TIMESTAMP '2025-01-01' GROUP BY ALL ORDER BY 1""",
    ),
    ("gender is a group", "SELECT count(*) FROM person WHERE gender = 'female'"),
    ("ethnicity is a group", "SELECT count(*) FROM person WHERE ethnicity IN ('W1', 'W2')"),
    (
        "join condition between two identifiers",
        "SELECT count(*) FROM crime_person cp JOIN person p ON cp.person_id = p.person_id",
    ),
    (
        "identifier compared with a subquery",
        "SELECT count(*) FROM person WHERE person_id IN (SELECT person_id FROM custody)",
    ),
    ("an area code", "SELECT count(*) FROM crime WHERE lsoa_code = 'E01012001'"),
    ("a ward name is not a person's name", "SELECT * FROM ward WHERE name = 'Park End'"),
    (
        "repeat victims: counting, not pinning",
        """SELECT person_id, count(*) AS crimes FROM crime_person WHERE role = 'victim'
           GROUP BY person_id HAVING count(*) >= 3""",
    ),
    ("identifier not null", "SELECT count(*) FROM custody WHERE person_id IS NOT NULL"),
    ("a literal in a comment", "SELECT 1 -- WHERE surname = 'Hartley'"),
]


@pytest.mark.parametrize(("title", "sql", "column"), LOOKUPS, ids=[t for t, _, _ in LOOKUPS])
def test_person_lookups_are_found(catalog: Catalog, title: str, sql: str, column: str) -> None:
    found = pinned_predicates(sql, catalog)
    assert column in {f.column for f in found}, title


@pytest.mark.parametrize(("title", "sql"), NOT_LOOKUPS, ids=[t for t, _ in NOT_LOOKUPS])
def test_analytical_queries_are_not_lookups(catalog: Catalog, title: str, sql: str) -> None:
    assert pinned_predicates(sql, catalog) == (), title


def test_a_lookup_reports_operator_sensitivity_and_predicate(catalog: Catalog) -> None:
    [found] = pinned_predicates("SELECT * FROM person WHERE surname LIKE 'Smi%'", catalog)
    assert found.operator == "LIKE"
    assert found.sensitivity.value == "direct_identifier"
    assert "surname" in found.predicate
    assert "'Smi%'" in found.predicate


# --- hostile SQL: analysis is bounded and never raises --------------------------------------

DEEP = 3000
HOSTILE = [
    # (title, sql, the status the analysis ends with)
    ("3,000 nested brackets", "SELECT " + "(" * DEEP + "1" + ")" * DEEP, "too_deep"),
    (
        "3,000 nested subqueries around a look-up",
        "SELECT * FROM " + "(SELECT * FROM " * DEEP + "person WHERE surname = 'X'" + ") t" * DEEP,
        "too_deep",
    ),
    ("3,000 nested array brackets", "SELECT " + "[" * DEEP + "1" + "]" * DEEP, "too_deep"),
    ("NOT 3,000 times (no brackets at all)", "SELECT " + "NOT " * DEEP + "1", "too_deep"),
    (
        "a look-up compared with a 20,000-term sum (a tree 20,000 deep)",
        "SELECT * FROM person WHERE surname = " + "+".join(["1"] * 20_000),
        "too_deep",
    ),
    (
        "longer than the gateway would ever parse",
        "SELECT * FROM person WHERE surname = '" + "x" * MAX_ANALYSED_CHARS + "'",
        "too_large",
    ),
    ("not SQL at all", "please show me everything about Mr Hartley", "unparseable"),
    ("an unterminated string", "SELECT * FROM person WHERE surname = 'Hart", "unparseable"),
]


@pytest.mark.parametrize(("title", "sql", "status"), HOSTILE, ids=[t for t, _, _ in HOSTILE])
def test_sql_that_cannot_be_analysed_says_why_and_never_raises(
    catalog: Catalog, title: str, sql: str, status: str
) -> None:
    analysis = analyse_lookups(sql, catalog)
    assert (analysis.status, analysis.pinned, analysis.predicates) == (status, (), ()), title
    assert analysis.detail
    assert not analysis.complete
    with pytest.raises(SqlParseError, match="cannot analyse"):
        pinned_predicates(sql, catalog)


def _stack_depth() -> int:
    depth, frame = 0, sys._getframe()
    while frame is not None:
        depth, frame = depth + 1, frame.f_back
    return depth


def test_analysis_deep_in_the_call_stack_still_never_raises(catalog: Catalog) -> None:
    """Reports run under a web framework's frames: whatever stack is left, the answer is an
    analysis (found, or too deep), never an exception."""
    sql = "SELECT * FROM person WHERE surname = " + "(" * 10 + "'X'" + ")" * 10
    results: list[LookupAnalysis] = []

    def descend(frames: int) -> None:
        if frames:
            descend(frames - 1)
        else:
            results.append(analyse_lookups(sql, catalog))

    for headroom in (800, 400, 200, 100, 50, 20):
        descend(sys.getrecursionlimit() - _stack_depth() - headroom)
    assert {r.status for r in results} <= {"ok", "too_deep"}
    assert results[0].pinned == ("person.surname",)  # with room to spare it is analysed
    assert results[-1].status == "too_deep"


def test_analysis_in_another_thread(catalog: Catalog) -> None:
    results: list[LookupAnalysis] = []
    sql = "SELECT " + "(" * DEEP + "1" + ")" * DEEP
    worker = threading.Thread(target=lambda: results.append(analyse_lookups(sql, catalog)))
    worker.start()
    worker.join()
    assert [r.status for r in results] == ["too_deep"]


def test_analysis_of_a_look_up(catalog: Catalog) -> None:
    analysis = analyse_lookups(
        "SELECT * FROM person p WHERE p.surname = 'Reed' AND p.pnc_id IN ($a, $b)", catalog
    )
    assert analysis == LookupAnalysis(
        "ok",
        pinned=("person.surname", "person.pnc_id"),
        predicates=("p.surname = 'Reed'", "p.pnc_id IN ($a, $b)"),
    )
    assert analyse_lookups("SELECT count(*) FROM crime", catalog) == LookupAnalysis("ok")
    assert analyse_lookups("", catalog) == LookupAnalysis("ok")


def test_a_parsed_statement_is_analysed_like_its_text(catalog: Catalog) -> None:
    sql = "SELECT * FROM location l WHERE l.postcode = 'TS1 3BA'"
    tree = sqlglot.parse_one(sql, read="duckdb")
    before = tree.sql()
    assert analyse_lookups(tree, catalog) == analyse_lookups(sql, catalog)
    assert tree.sql() == before  # not modified


def test_kept_predicates_are_capped_in_number_and_length(catalog: Catalog) -> None:
    many = " OR ".join(f"surname = 'name{i}'" for i in range(MAX_PREDICATES * 3))
    analysis = analyse_lookups(f"SELECT * FROM person WHERE {many}", catalog)
    assert analysis.pinned == ("person.surname",)
    assert len(analysis.predicates) == MAX_PREDICATES
    long_name = "x" * (MAX_PREDICATE_CHARS * 4)
    [cut] = analyse_lookups(
        f"SELECT * FROM person WHERE surname = '{long_name}'", catalog
    ).predicates
    assert len(cut) == MAX_PREDICATE_CHARS
    assert cut.startswith("surname = 'xxx")
    assert cut.endswith("…")

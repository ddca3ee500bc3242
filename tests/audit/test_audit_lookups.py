"""Detecting look-ups of individual people in submitted SQL."""

from __future__ import annotations

import pytest

from gateway.audit.lookups import pinned_predicates
from gateway.catalog import Catalog

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
    ("not SQL at all", "please show me everything about Mr Hartley"),
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

"""The enforcement invariant (gateway.engines.invariant), attacked directly.

These statements are built by hand, so the sqlglot side (guard, rewrite, generator) is bypassed
entirely: whatever text reaches the engine, a bare base table, a vault reference, a table
function, an altered or extra policy subquery, a forbidden function or a user type anywhere in
it is refused — and a statement that reads every table through its policy subquery passes.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import duckdb
import pytest

from gateway.engines import DuckDBEngine, Expectation
from gateway.errors import (
    FunctionNotAllowed,
    GatewayError,
    PolicyCheckFailed,
    SqlParseError,
    StatementNotAllowed,
    SyntaxNotAllowed,
)

from .conftest import KEY_NAME, LIMITS, SECRET, TUNING

BARRIER = "LIMIT 9223372036854775807"
CRIME = (
    "SELECT b.crime_id AS crime_id, b.local_authority_code AS local_authority_code "
    f"FROM main.crime AS b WHERE b.local_authority_code IN ('E06000001') {BARRIER}"
)
PERSON = (
    "SELECT v.pseudonym AS person_id FROM main.person AS b "
    "JOIN vault.main.person AS v ON v.person_id = b.person_id "
    "WHERE b.person_id IN (SELECT c.crime_id FROM (SELECT * FROM main.crime AS c2 "
    f"WHERE c2.local_authority_code IN ('E06000001')) AS c) {BARRIER}"
)
MACRO = "CREATE TEMP MACRO gw_secret_hash(m) AS sha256(getvariable('gw_key') || m)"

#: Refusals: the invariant's own, or the structural check's (table functions, PIVOT …).
REFUSED = (PolicyCheckFailed, FunctionNotAllowed, SyntaxNotAllowed, SqlParseError)

ONE_CRIME = Expectation(policy_subqueries=(("crime", CRIME),))
CRIME_AND_PERSON = Expectation(policy_subqueries=(("crime", CRIME), ("person", PERSON)))


@pytest.fixture(scope="module")
def vault_engine(
    warehouse: Path, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[DuckDBEngine]:
    """An engine with an attached pseudonym vault and a trusted macro, as deployments have."""
    folder = tmp_path_factory.mktemp("vault")
    vault = folder / "vault.duckdb"
    con = duckdb.connect(str(vault))
    con.execute(
        "CREATE TABLE person AS SELECT i AS person_id, 'P' || i AS pseudonym, "
        f"'{SECRET}' AS real_name FROM range(200) t(i)"
    )
    con.close()
    with DuckDBEngine(
        warehouse,
        folder / "results",
        workers=1,
        limits=LIMITS,
        session_variables={KEY_NAME: b"k"},
        session_macros=(MACRO,),
        attachments={"vault": vault},
        extra_tables={"audit": {}},
        tuning=TUNING,
    ) as engine:
        yield engine


ACCEPTED: list[tuple[str, Expectation]] = [
    (f"SELECT count(*) FROM ({CRIME}) AS c", ONE_CRIME),
    (f"SELECT c.* FROM ({CRIME}) AS c WHERE c.crime_id > 3 ORDER BY 1 LIMIT 10", ONE_CRIME),
    (f"WITH x AS (SELECT * FROM ({CRIME}) AS crime) SELECT count(*) FROM x", ONE_CRIME),
    (
        f"SELECT c.crime_id, p.person_id FROM ({CRIME}) AS c "
        f"LEFT JOIN ({PERSON}) AS p ON p.person_id = c.crime_id",
        CRIME_AND_PERSON,
    ),
    (
        f"SELECT crime_id FROM ({CRIME}) AS a UNION ALL SELECT crime_id FROM ({CRIME}) AS b",
        Expectation(policy_subqueries=(("crime", CRIME), ("crime", CRIME))),
    ),
    (
        f"SELECT crime_id, row_number() OVER (PARTITION BY local_authority_code) AS r "
        f"FROM ({CRIME}) AS c QUALIFY r < 3",
        ONE_CRIME,
    ),
    (
        f"SELECT CAST(crime_id AS VARCHAR(10)), TRY_CAST('1' AS DECIMAL(5, 2)), "
        f'CAST(NULL AS INTEGER[]), crime_id::"BIGINT" FROM ({CRIME}) AS c',
        ONE_CRIME,
    ),
    ("SELECT 1 AS one, [x * 2 FOR x IN [1, 2]] AS doubled", Expectation()),
    ("SELECT * FROM (VALUES (1, 'a')) AS v(id, label)", Expectation()),
    ("SELECT * FROM audit.records", Expectation(schema_tables=("audit.records",))),
]


@pytest.mark.parametrize(("sql", "expected"), ACCEPTED)
def test_statements_reading_through_policy_subqueries_pass(
    sql: str, expected: Expectation, vault_engine: DuckDBEngine
) -> None:
    verified = vault_engine.verify(sql, expected)
    assert sorted(verified.tables) == sorted(t for t, _ in expected.policy_subqueries)


#: Where an intruder can stand in a statement that is otherwise policy-shaped.
POSITIONS = {
    "select list": f"SELECT ({{x}}) AS v FROM ({CRIME}) AS c",
    "where": f"SELECT 1 FROM ({CRIME}) AS c WHERE c.crime_id IN ({{x}})",
    "having": f"SELECT count(*) FROM ({CRIME}) AS c GROUP BY ALL HAVING count(*) > ({{x}})",
    "order by": f"SELECT c.crime_id FROM ({CRIME}) AS c ORDER BY ({{x}})",
    "window": f"SELECT sum(1) OVER (ORDER BY ({{x}})) FROM ({CRIME}) AS c",
    "lateral": f"SELECT * FROM ({CRIME}) AS c, LATERAL ({{x}}) AS l",
    "join": f"SELECT * FROM ({CRIME}) AS c JOIN ({{x}}) AS j ON true",
    "cte": f"WITH w AS ({{x}}) SELECT * FROM ({CRIME}) AS c, w",
    "set operation": f"SELECT c.crime_id FROM ({CRIME}) AS c UNION ALL ({{x}})",
    "exists": f"SELECT 1 FROM ({CRIME}) AS c WHERE EXISTS ({{x}})",
    "case": f"SELECT CASE WHEN c.crime_id = 1 THEN ({{x}}) END FROM ({CRIME}) AS c",
}

#: What an intruder brings: raw tables under every spelling, the vault, table functions,
#: an altered policy subquery, settings and the key.
INTRUDERS = {
    "bare table": "SELECT max(modus_operandi) FROM crime",
    "main table": "SELECT max(surname) FROM main.person",
    "catalog table": "SELECT max(surname) FROM warehouse.main.person",
    "forbidden table": "SELECT max(report_text) FROM intelligence_report",
    "vault": "SELECT max(real_name) FROM vault.main.person",
    "vault short": "SELECT max(real_name) FROM vault.person",
    "table function": "SELECT max(name) FROM duckdb_settings()",
    "file": "SELECT max(column0) FROM read_csv('/etc/passwd')",
    "range": "SELECT max(range) FROM range(3)",
    "altered policy": CRIME.replace(
        "WHERE b.local_authority_code IN ('E06000001')", "WHERE true"
    ).replace("SELECT ", "SELECT max(b.crime_id) AS m, ", 1),
    "nested raw": "SELECT max(x.m) FROM (SELECT max(modus_operandi) AS m FROM main.crime) AS x",
}


@pytest.mark.parametrize("position", sorted(POSITIONS))
@pytest.mark.parametrize("intruder", sorted(INTRUDERS))
def test_a_relation_outside_its_policy_subquery_is_refused(
    position: str, intruder: str, vault_engine: DuckDBEngine
) -> None:
    sql = POSITIONS[position].format(x=INTRUDERS[intruder])
    with pytest.raises(GatewayError) as refused:
        vault_engine.verify(sql, ONE_CRIME)
    assert isinstance(refused.value, REFUSED), refused.value
    assert SECRET not in str(refused.value)


@pytest.mark.parametrize(
    "call",
    [
        f"getvariable('{KEY_NAME}')",
        f"GetVariable('{KEY_NAME}')",
        "current_setting('memory_limit')",
        "gw_secret_hash('P0001')",
        "GW_SECRET_HASH('P0001')",
        "system.main.lower('x')",
        "main.gw_secret_hash('x')",
        "error('boom')",
    ],
)
@pytest.mark.parametrize("position", ["select list", "where", "order by", "cte"])
def test_forbidden_and_qualified_functions_are_refused_outside_policy_subqueries(
    call: str, position: str, vault_engine: DuckDBEngine
) -> None:
    sql = POSITIONS[position].format(x=f"SELECT {call}")
    with pytest.raises(PolicyCheckFailed):
        vault_engine.verify(sql, ONE_CRIME)


@pytest.mark.parametrize(
    "type_name", ['"myt"', "vault.main.t", "pseudonyms.main.person", '"INTEGER) AS x --"']
)
def test_only_built_in_types(type_name: str, vault_engine: DuckDBEngine) -> None:
    with pytest.raises((PolicyCheckFailed, SqlParseError)):
        vault_engine.verify(
            f"SELECT CAST(c.crime_id AS {type_name}) FROM ({CRIME}) AS c", ONE_CRIME
        )


def test_each_policy_subquery_exactly_as_often_as_expected(vault_engine: DuckDBEngine) -> None:
    twice = Expectation(policy_subqueries=(("crime", CRIME), ("crime", CRIME)))
    with pytest.raises(PolicyCheckFailed):  # one expected twice, found once
        vault_engine.verify(f"SELECT * FROM ({CRIME}) AS c", twice)
    with pytest.raises(PolicyCheckFailed):  # expected once, found twice
        vault_engine.verify(f"SELECT * FROM ({CRIME}) AS a, ({CRIME}) AS b", ONE_CRIME)
    with pytest.raises(PolicyCheckFailed):  # another table's policy in its place
        vault_engine.verify(f"SELECT * FROM ({PERSON}) AS c", ONE_CRIME)


def test_structure_not_spelling_decides(vault_engine: DuckDBEngine) -> None:
    # Same parse tree, other whitespace and keyword case: still the policy subquery.
    respelt = CRIME.replace(" FROM ", "\n   from ").replace("SELECT", "select")
    vault_engine.verify(f"SELECT count(*) FROM ({respelt}) AS c", ONE_CRIME)
    # One literal changed: another tree, refused.
    widened = CRIME.replace("'E06000001'", "'E06000002'")
    with pytest.raises(PolicyCheckFailed):
        vault_engine.verify(f"SELECT count(*) FROM ({widened}) AS c", ONE_CRIME)


@pytest.mark.parametrize(
    "sql",
    [
        "WITH crime AS (SELECT 1 AS x) SELECT * FROM crime",
        "WITH intelligence_report AS (SELECT 1 AS x) SELECT * FROM intelligence_report",
        "SELECT * FROM audit.records",  # not an expected schema table here
        "SELECT * FROM records",
        f"SELECT * FROM ({CRIME}) AS c TABLESAMPLE 10%",
        "SELECT * FROM crime AT (VERSION => 1)",
        "SELECT * FROM '/etc/passwd'",
        f"SELECT * FROM ({CRIME}) AS c PIVOT (count(*) FOR local_authority_code IN ('x'))",
    ],
)
def test_other_relations_and_forms_are_refused(sql: str, vault_engine: DuckDBEngine) -> None:
    with pytest.raises(REFUSED):
        vault_engine.verify(sql, ONE_CRIME)


@pytest.mark.parametrize(
    "sql", ["SELECT 1; SELECT 2", "DESCRIBE crime", "SET VARIABLE gw_key = 'x'", "ATTACH 'x'"]
)
def test_not_one_select(sql: str, vault_engine: DuckDBEngine) -> None:
    with pytest.raises((StatementNotAllowed, SqlParseError, PolicyCheckFailed)):
        vault_engine.verify(sql, Expectation())


def test_the_injection_a_generator_bug_would_produce_is_refused(
    vault_engine: DuckDBEngine,
) -> None:
    # What sqlglot wrote for CAST(1 AS """INTEGER"") AS one, … FROM person --") AS y: the
    # analyst's string came back as live SQL. The engine's parse sees the bare table.
    generated = (
        f'SELECT CAST(1 AS "INTEGER") AS one, surname FROM person --) AS y FROM ({CRIME}) AS c'
    )
    with pytest.raises(PolicyCheckFailed) as refused:
        vault_engine.verify(generated, ONE_CRIME)
    assert refused.value.position is not None


def test_refusal_names_the_position(vault_engine: DuckDBEngine) -> None:
    with pytest.raises(PolicyCheckFailed) as refused:
        vault_engine.verify(f"SELECT *\nFROM ({CRIME}) AS c,\n     person", ONE_CRIME)
    assert refused.value.position == (3, 6)
    assert "person" in refused.value.message


def test_a_verified_statement_runs_and_returns_only_the_policy_rows(
    vault_engine: DuckDBEngine, qid: Callable[[], str]
) -> None:
    sql = f"SELECT local_authority_code, count(*) AS n FROM ({CRIME}) AS c GROUP BY 1"
    vault_engine.verify(sql, ONE_CRIME)
    rows = vault_engine.execute(sql, {}, limits=LIMITS, query_id=qid()).to_table().to_pylist()
    assert rows == [{"local_authority_code": "E06000001", "n": 500}]

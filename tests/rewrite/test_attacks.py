"""The attack suite: hostile SQL from a general analyst (Middlesbrough) against a real service.

Each case either must be REFUSED with one of the listed error codes, or must return exactly
what the analyst may see: the same rows as the query run over an independent, hand-written
materialisation of their policy view (tests/rewrite/reference.py). The crafted warehouse puts
a marker (SECRET) in every hidden value, so a leak also shows up as the marker in a result.
"""

from __future__ import annotations

from dataclasses import dataclass

import duckdb
import pytest

from gateway.errors import GatewayError
from gateway.service import QueryService
from tests.rewrite import crafted
from tests.rewrite.conftest import ANALYST
from tests.rewrite.test_fuzz import run_or_refusal


@dataclass(frozen=True)
class Attack:
    id: str
    sql: str
    refuse: frozenset[str] = frozenset()  # empty: must equal the reference result
    reference_sql: str | None = None  # when the reference spells the query differently
    params: dict[str, object] | None = None


def refuse(id: str, sql: str, *codes: str) -> Attack:
    return Attack(id, sql, frozenset(codes))


def same(id: str, sql: str, reference_sql: str | None = None) -> Attack:
    return Attack(id, sql, frozenset(), reference_sql)


STMT = ("statement_not_allowed", "parse_error")

ATTACKS = [
    # --- every non-SELECT statement, multiple statements, comment smuggling ----------------
    refuse("two statements", "SELECT 1; SELECT 2", *STMT),
    refuse("trailing statement after comment", "SELECT 1 -- x\n; DROP TABLE crime", *STMT),
    refuse("block comment hiding a semicolon", "SELECT 1 /* ; */ ; ATTACH '/tmp/x.db'", *STMT),
    refuse("pragma", "PRAGMA database_list", *STMT),
    refuse("pragma table_info", "PRAGMA table_info('crime')", *STMT),
    refuse("set", "SET enable_external_access = true", *STMT),
    refuse("set lock", "SET lock_configuration = false", *STMT),
    refuse("reset", "RESET memory_limit", *STMT),
    refuse("set variable", "SET VARIABLE gw_pseudonym_ipad = 'x'", *STMT),
    refuse("call", "CALL pragma_version()", *STMT),
    refuse("copy to", "COPY crime TO '/tmp/leak.csv'", *STMT),
    refuse("copy from", "COPY crime FROM '/etc/passwd'", *STMT),
    refuse("copy query", "COPY (SELECT * FROM crime) TO '/tmp/leak.parquet'", *STMT),
    refuse("attach", "ATTACH '/tmp/other.duckdb' AS other", *STMT),
    refuse("detach", "DETACH warehouse", *STMT),
    refuse("install", "INSTALL httpfs", *STMT),
    refuse("load", "LOAD httpfs", *STMT),
    refuse("export database", "EXPORT DATABASE '/tmp/dump'", *STMT),
    refuse("import database", "IMPORT DATABASE '/tmp/dump'", *STMT),
    refuse("prepare", "PREPARE q AS SELECT * FROM crime", *STMT),
    refuse("execute", "EXECUTE q", *STMT),
    refuse("create temp macro", "CREATE TEMP MACRO leak() AS TABLE SELECT * FROM crime", *STMT),
    refuse("create temp view", "CREATE TEMP VIEW v AS SELECT * FROM crime", *STMT),
    refuse("create temp table", "CREATE TEMP TABLE t AS SELECT * FROM crime", *STMT),
    refuse("insert", "INSERT INTO crime SELECT * FROM crime", *STMT),
    refuse("update", "UPDATE crime SET outcome = 'x'", *STMT),
    refuse("delete", "DELETE FROM crime", *STMT),
    refuse("drop", "DROP TABLE crime", *STMT),
    refuse("alter", "ALTER TABLE crime ADD COLUMN x INT", *STMT),
    refuse("use", "USE memory", *STMT),
    refuse("summarize", "SUMMARIZE crime", *STMT),
    refuse("describe", "DESCRIBE crime", *STMT),
    refuse("show", "SHOW crime", *STMT),
    refuse("show tables", "SHOW TABLES", *STMT),
    refuse("explain", "EXPLAIN SELECT * FROM crime", *STMT),
    refuse("explain analyze", "EXPLAIN ANALYZE SELECT * FROM crime", *STMT),
    refuse("pivot statement", "PIVOT crime ON outcome USING count(*)", *STMT),
    refuse("unpivot statement", "UNPIVOT crime ON outcome INTO NAME k VALUE v", *STMT),
    refuse("select into", "SELECT * INTO leak FROM crime", *STMT),
    refuse("begin", "BEGIN TRANSACTION", *STMT),
    refuse("checkpoint", "CHECKPOINT", *STMT),
    refuse("vacuum", "VACUUM", *STMT),
    refuse("empty", "   ", "parse_error"),
    refuse("only a comment", "-- SELECT 1", "parse_error"),
    # --- generator injection: text sqlglot writes back unquoted (issue 12, finding 1) -------
    refuse(
        "quoted user type in cast",
        'SELECT CAST(1 AS """INTEGER"") AS one, forename, surname, pnc_id FROM person --") AS y '
        "FROM crime",
        "syntax_not_allowed",
        "policy_check_failed",
    ),
    refuse(
        "user type plain",
        'SELECT CAST(crime_id AS "my_type") FROM crime',
        "syntax_not_allowed",
        "policy_check_failed",
    ),
    refuse(
        "extract with raw var",
        'SELECT EXTRACT("YEAR FROM recorded_at) AS y, (SELECT max(surname) FROM person) AS s, '
        'EXTRACT(YEAR" FROM recorded_at) FROM crime',
        "syntax_not_allowed",
        "policy_check_failed",
    ),
    refuse(
        "struct type with injected field",
        'SELECT CAST(NULL AS STRUCT("a INT) AS v, surname FROM person --" INT)) FROM crime',
        "syntax_not_allowed",
        "policy_check_failed",
        "parse_error",
    ),
    # --- files, network, table functions, replacement scans ---------------------------------
    refuse("read_csv", "SELECT * FROM read_csv('/etc/passwd')", "function_not_allowed"),
    refuse("read_csv_auto", "SELECT * FROM read_csv_auto('/etc/passwd')", "function_not_allowed"),
    refuse("read_parquet", "SELECT * FROM read_parquet('x.parquet')", "function_not_allowed"),
    refuse("read_json", "SELECT * FROM read_json('x.json')", "function_not_allowed"),
    refuse("read_text", "SELECT * FROM read_text('/etc/passwd')", "function_not_allowed"),
    refuse("read_blob", "SELECT * FROM read_blob('/etc/passwd')", "function_not_allowed"),
    refuse("glob", "SELECT * FROM glob('/*')", "function_not_allowed"),
    refuse("parquet_scan", "SELECT * FROM parquet_scan('x.parquet')", "function_not_allowed"),
    refuse("sqlite_scan", "SELECT * FROM sqlite_scan('x.db', 't')", "function_not_allowed"),
    refuse("file path as table", "SELECT * FROM '/etc/passwd'", "table_not_found"),
    refuse("quoted parquet as table", 'SELECT * FROM "x.parquet"', "table_not_found"),
    refuse("url as table", "SELECT * FROM 'https://example.com/x.csv'", "table_not_found"),
    refuse("range in from", "SELECT * FROM range(1000000000)", "function_not_allowed"),
    refuse(
        "generate_series in from", "SELECT * FROM generate_series(1, 10)", "function_not_allowed"
    ),
    refuse(
        "unnest in from",
        "SELECT * FROM unnest([1, 2, 3])",
        "syntax_not_allowed",
        "function_not_allowed",
    ),
    refuse(
        "values list is fine but range list is not",
        "SELECT range(1000000000)",
        "function_not_allowed",
    ),
    # --- nested SQL, catalog and settings introspection --------------------------------------
    refuse("query()", "SELECT * FROM query('SELECT * FROM crime')", "function_not_allowed"),
    refuse("query_table()", "SELECT * FROM query_table('crime')", "function_not_allowed"),
    refuse("query() scalar", "SELECT query('SELECT 1')", "function_not_allowed"),
    refuse("information_schema", "SELECT * FROM information_schema.tables", "table_not_found"),
    refuse(
        "information_schema columns", "SELECT * FROM information_schema.columns", "table_not_found"
    ),
    refuse("duckdb_settings()", "SELECT * FROM duckdb_settings()", "function_not_allowed"),
    refuse("duckdb_tables()", "SELECT * FROM duckdb_tables()", "function_not_allowed"),
    refuse("duckdb_tables view", "SELECT * FROM duckdb_tables", "table_not_found"),
    refuse("duckdb_functions()", "SELECT * FROM duckdb_functions()", "function_not_allowed"),
    refuse(
        "pragma_table_info()", "SELECT * FROM pragma_table_info('crime')", "function_not_allowed"
    ),
    refuse("pragma_version()", "SELECT * FROM pragma_version()", "function_not_allowed"),
    refuse(
        "current_setting",
        "SELECT current_setting('enable_external_access')",
        "function_not_allowed",
    ),
    refuse("getvariable", "SELECT getvariable('gw_pseudonym_ipad')", "function_not_allowed"),
    refuse("pg_catalog", "SELECT * FROM pg_catalog.pg_tables", "table_not_found"),
    refuse("sqlite_master", "SELECT * FROM sqlite_master", "table_not_found"),
    refuse("system catalog", "SELECT * FROM system.main.duckdb_tables", "table_not_found"),
    refuse("version()", "SELECT version()", "function_not_allowed"),
    refuse("current_database()", "SELECT current_database()", "function_not_allowed"),
    refuse("error()", "SELECT error('x') FROM crime", "function_not_allowed"),
    refuse("nextval", "SELECT nextval('s')", "function_not_allowed"),
    # --- table spelling -----------------------------------------------------------------------
    same("upper case", "SELECT count(*) FROM CRIME"),
    same("quoted mixed case", 'SELECT count(*) FROM "Crime"'),
    same("main qualified", "SELECT count(*) FROM main.crime"),
    same("quoted main qualified", 'SELECT count(*) FROM "main"."CRIME"'),
    same(
        "catalog qualified",
        "SELECT count(*) FROM warehouse.main.crime",
        "SELECT count(*) FROM crime",
    ),
    refuse("temp schema", "SELECT * FROM temp.crime", "table_not_found"),
    refuse("other catalog", "SELECT * FROM other.main.crime", "table_not_found"),
    refuse("catalog without schema", "SELECT * FROM warehouse.crime", "table_not_found"),
    refuse("intelligence reports", "SELECT * FROM intelligence_report", "table_not_permitted"),
    refuse(
        "intelligence reports qualified",
        "SELECT * FROM main.Intelligence_Report",
        "table_not_permitted",
    ),
    refuse("audit schema", "SELECT * FROM audit.queries", "table_not_permitted"),
    refuse("pseudonym vault", "SELECT * FROM pseudonyms.main.person", "table_not_found"),
    refuse("pseudonym vault as schema", "SELECT * FROM pseudonyms.person", "table_not_found"),
    # --- CTE shadowing -------------------------------------------------------------------------
    refuse(
        "cte shadows crime",
        "WITH crime AS (SELECT 1 AS crime_id) SELECT * FROM crime",
        "syntax_not_allowed",
    ),
    refuse(
        "cte shadows quoted",
        'WITH "PERSON" AS (SELECT 1) SELECT * FROM person',
        "syntax_not_allowed",
    ),
    refuse(
        "nested cte shadows",
        "SELECT * FROM (WITH location AS (SELECT 1) SELECT * FROM location)",
        "syntax_not_allowed",
    ),
    refuse(
        "recursive cte shadows",
        "WITH RECURSIVE crime AS (SELECT 1 AS n UNION ALL SELECT n + 1 FROM crime WHERE n < 3) SELECT * FROM crime",
        "syntax_not_allowed",
    ),
    refuse(
        "cte name out of scope",
        "SELECT * FROM (WITH sqlite_master AS (SELECT 1 AS x) SELECT * FROM sqlite_master) s, sqlite_master",
        "table_not_found",
    ),
    same(
        "cte over a policy table",
        "WITH mine AS (SELECT * FROM crime) SELECT count(*), max(outcome) FROM mine",
    ),
    # --- subqueries, set operations, lateral ---------------------------------------------------
    same("derived table", "SELECT count(*) FROM (SELECT * FROM crime) s"),
    same(
        "union of ids",
        "SELECT crime_id FROM crime UNION SELECT incident_id FROM incident ORDER BY 1",
    ),
    same(
        "intersect",
        "SELECT crime_id FROM crime INTERSECT SELECT crime_id FROM crime_person ORDER BY 1",
    ),
    same("except", "SELECT crime_id FROM crime EXCEPT SELECT crime_id FROM property ORDER BY 1"),
    same(
        "lateral",
        "SELECT c.crime_id, x.n FROM crime c, LATERAL (SELECT count(*) AS n FROM crime_person p WHERE p.crime_id = c.crime_id) x ORDER BY 1 LIMIT 50",
    ),
    same(
        "exists",
        "SELECT count(*) FROM person p WHERE EXISTS (SELECT 1 FROM custody c WHERE c.person_id = p.person_id)",
    ),
    same(
        "in subquery",
        "SELECT count(*) FROM crime WHERE crime_id IN (SELECT crime_id FROM crime_person WHERE role = 'victim')",
    ),
    same("scalar subquery", "SELECT (SELECT max(outcome) FROM crime) AS m"),
    same(
        "recursive cte over visible ids",
        "WITH RECURSIVE r AS (SELECT min(crime_id) AS id FROM crime UNION ALL SELECT id + 2 FROM r WHERE id < 40) SELECT count(*) FROM r JOIN crime ON crime.crime_id = r.id",
    ),
    same(
        "hidden crime id probed directly",
        f"SELECT * FROM crime WHERE crime_id = {crafted.HIDDEN_CRIME}",
    ),
    same(
        "hidden area probed directly",
        f"SELECT count(*) FROM crime WHERE local_authority_code = '{crafted.HIDDEN}'",
    ),
    same(
        "incident to crime join",
        "SELECT count(*) FROM incident i JOIN crime c ON c.crime_id = i.incident_id",
    ),
    # --- whole-row and hidden-column leaks -----------------------------------------------------
    same("whole row reference", "SELECT c FROM crime c ORDER BY c.crime_id LIMIT 20"),
    same("whole row of person", "SELECT p FROM person p ORDER BY p.person_id LIMIT 20"),
    refuse("to_json of whole row", "SELECT to_json(c) FROM crime c", "function_not_allowed"),
    refuse("COLUMNS(*)", "SELECT COLUMNS(*) FROM person", "function_not_allowed"),
    refuse("COLUMNS regex", "SELECT COLUMNS('.*name') FROM person", "function_not_allowed"),
    refuse("positional column", "SELECT #2 FROM person", "syntax_not_allowed"),
    refuse("renaming alias", "SELECT b FROM person AS p(a, b)", "syntax_not_allowed"),
    refuse("rowid", "SELECT rowid FROM crime", "column_not_found"),
    refuse("qualified rowid", "SELECT c.rowid FROM crime c", "column_not_found"),
    # USING/NATURAL joins match by name: the pruned policy subqueries must keep the join
    # columns (USING) or every column (NATURAL), and a star must still see only masked values.
    same(
        "using join, unqualified join column",
        "SELECT crime_id, role, person_id FROM crime JOIN crime_person USING (crime_id)"
        " ORDER BY ALL",
    ),
    same(
        "using join star",
        "SELECT * FROM crime_person JOIN person USING (person_id) ORDER BY crime_id, person_id",
    ),
    same(
        "using join on masked column",
        "SELECT count(*), count(DISTINCT surname) FROM person p JOIN person q USING (surname)",
    ),
    same(
        "nested using join",
        "SELECT n FROM (SELECT count(*) AS n FROM crime c JOIN location l USING (location_id)"
        " WHERE l.easting > 0) s",
    ),
    same(
        "natural join",
        "SELECT crime_id, person_id FROM crime NATURAL JOIN crime_person ORDER BY ALL",
    ),
    same(
        "natural join on masked columns",
        "SELECT count(*) FROM person NATURAL JOIN (SELECT * FROM person) q",
    ),
    same("star", "SELECT * FROM person ORDER BY person_id"),
    same("star exclude", "SELECT * EXCLUDE (gender) FROM person ORDER BY person_id"),
    same(
        "struct_pack of masked",
        "SELECT struct_pack(a := forename, b := pnc_id) FROM person ORDER BY person_id",
    ),
    same("list of masked", "SELECT [forename, surname] FROM person ORDER BY person_id LIMIT 10"),
    same(
        "unnest masked list",
        "SELECT unnest([modus_operandi, crime_ref]) FROM crime ORDER BY 1 LIMIT 10",
    ),
    same(
        "list comprehension",
        "SELECT [x || '!' FOR x IN [surname, forename]] FROM person ORDER BY person_id LIMIT 10",
    ),
    same(
        "lambda",
        "SELECT list_transform([modus_operandi], lambda x: upper(x)) FROM crime ORDER BY crime_id LIMIT 10",
    ),
    same("string_agg masked", "SELECT string_agg(modus_operandi, '|') FROM crime"),
    same("min masked", "SELECT min(forename), max(surname), min(pnc_id) FROM person"),
    same("arg_max masked", "SELECT arg_max(surname, date_of_birth) FROM person"),
    same(
        "list agg masked",
        "SELECT list(narrative) FILTER (WHERE narrative IS NOT NULL) FROM incident",
    ),
    same(
        "address of dwellings",
        "SELECT address, easting, northing, postcode FROM location ORDER BY location_id",
    ),
    same("vehicle registration", "SELECT vrm FROM vehicle ORDER BY vehicle_id"),
    same("property description", "SELECT description FROM property ORDER BY property_id"),
    # --- predicates, ORDER BY, GROUP BY and windows on masked columns ---------------------------
    same(
        "like on masked free text",
        f"SELECT count(*) FROM crime WHERE modus_operandi LIKE '%{crafted.SECRET}%'",
    ),
    same(
        "equality on hidden name",
        f"SELECT count(*) FROM person WHERE forename = '{crafted.SECRET}fore2'",
    ),
    same("order by masked", "SELECT person_id FROM person ORDER BY surname, person_id"),
    same("group by masked", "SELECT pnc_id, count(*) FROM person GROUP BY pnc_id"),
    same("exact coordinate probe", "SELECT count(*) FROM location WHERE easting = 449002"),
    same(
        "range coordinate probe",
        "SELECT count(*) FROM location WHERE easting BETWEEN 449000 AND 449100",
    ),
    same("dob probe via band", "SELECT date_of_birth, count(*) FROM person GROUP BY 1 ORDER BY 1"),
    same(
        "window over masked",
        "SELECT crime_id, row_number() OVER (PARTITION BY modus_operandi ORDER BY crime_ref, crime_id) FROM crime ORDER BY crime_id LIMIT 30",
    ),
    same(
        "having on masked",
        "SELECT gender, count(*) FROM person GROUP BY gender HAVING max(surname) IS NULL",
    ),
    same(
        "sensitive victim not linkable",
        f"SELECT count(*) FROM crime_person WHERE crime_id = {crafted.SENSITIVE_CRIME} AND role = 'victim'",
    ),
    same(
        "sensitive crime still counted",
        f"SELECT count(*) FROM crime WHERE crime_id = {crafted.SENSITIVE_CRIME}",
    ),
    same("people via custody", "SELECT count(DISTINCT person_id) FROM custody"),
    # --- error oracles across the row filter -----------------------------------------------------
    same("cast oracle in where", "SELECT count(*) FROM crime WHERE CAST(outcome AS INTEGER) >= 0"),
    same(
        "cast oracle in join",
        "SELECT count(*) FROM crime a JOIN crime b ON CAST(a.outcome AS INTEGER) = CAST(b.outcome AS INTEGER) AND a.crime_id = b.crime_id",
    ),
    same(
        "cast oracle in having",
        "SELECT ho_offence_code FROM crime GROUP BY 1 HAVING sum(CAST(outcome AS INTEGER)) >= 0 ORDER BY 1",
    ),
    same(
        "cast oracle in semi join",
        "SELECT count(*) FROM crime_person WHERE crime_id IN (SELECT crime_id FROM crime WHERE CAST(outcome AS INTEGER) >= 0)",
    ),
    same(
        "overflow oracle on link table",
        f"SELECT count(*) FROM crime_person WHERE CASE WHEN crime_id = {crafted.HIDDEN_CRIME} THEN crime_id * 9223372036854775807 ELSE 0 END = 0",
    ),
    same(
        "overflow oracle on person",
        "SELECT count(*) FROM person WHERE CASE WHEN gender = 'male' AND date_of_birth IS NULL THEN 9223372036854775807 * 2 ELSE 0 END = 0",
    ),
    same("try_cast probe", "SELECT count(*) FROM crime WHERE try_cast(outcome AS INTEGER) IS NULL"),
    # --- parameters -----------------------------------------------------------------------------
    Attack(
        "list parameter holding SQL",
        "SELECT count(*) FROM crime WHERE outcome IN ($o)",
        params={"o": ["1", "2' OR '1'='1"]},
        reference_sql="SELECT count(*) FROM crime WHERE outcome IN ('1', '2'' OR ''1''=''1')",
    ),
    Attack(
        "text parameter holding SQL",
        "SELECT count(*) FROM crime WHERE outcome = $o",
        params={"o": "1' OR '1'='1"},
        reference_sql="SELECT count(*) FROM crime WHERE outcome = '1'' OR ''1''=''1'",
    ),
    refuse("positional parameter", "SELECT * FROM crime WHERE outcome = ?", "invalid_parameter"),
    refuse("numbered parameter", "SELECT * FROM crime WHERE outcome = $1", "invalid_parameter"),
    refuse("missing parameter", "SELECT * FROM crime WHERE outcome = $o", "invalid_parameter"),
    # --- denial of service refused up front ------------------------------------------------------
    refuse("huge range list", "SELECT len(range(1000000000))", "function_not_allowed"),
    refuse("generate_series list", "SELECT generate_series(1, 1000000000)", "function_not_allowed"),
    refuse("sleep", "SELECT sleep_ms(100000)", "function_not_allowed"),
]


def _rows(table: object) -> list[tuple[object, ...]]:
    rows = [tuple(r.values()) for r in table.to_pylist()]  # type: ignore[attr-defined]
    return sorted(rows, key=repr)


def test_suite_is_large_enough() -> None:
    assert len(ATTACKS) >= 100
    assert len({a.id for a in ATTACKS}) == len(ATTACKS)


@pytest.mark.parametrize("attack", ATTACKS, ids=[a.id for a in ATTACKS])
def test_attack(
    attack: Attack, crafted_service: QueryService, reference: duckdb.DuckDBPyConnection
) -> None:
    if attack.refuse:
        with pytest.raises(GatewayError) as caught:
            crafted_service.run_query(ANALYST, attack.sql, "SA", attack.params)
        assert caught.value.code in attack.refuse, str(caught.value)
        assert crafted.SECRET not in str(caught.value)
        assert caught.value.query_id
        return
    outcome = crafted_service.run_query(ANALYST, attack.sql, "SA", attack.params)
    try:
        got = _rows(outcome.result.to_table())
    finally:
        outcome.result.discard()
    expected = _rows(reference.sql(attack.reference_sql or attack.sql).to_arrow_table())
    assert got == expected
    assert crafted.SECRET not in repr(got) or crafted.SECRET in repr(expected)


#: Type and unit text that sqlglot maps to something harmless rather than keeping raw: the
#: query must be refused or must leak nothing (the reference cannot run these spellings).
QUIRKS = [
    'SELECT 1::"INTEGER) AS one, forename FROM person --" AS y FROM crime',
    'SELECT TRY_CAST(1 AS "INTEGER) AS one, forename FROM person --") AS y FROM crime',
    'SELECT recorded_at + INTERVAL 1 "DAY) AS y, (SELECT max(surname) FROM person) AS s --" '
    "FROM crime",
    'SELECT CAST(crime_id AS "VARCHAR"), CAST(crime_id AS "varchar(3)") FROM crime',
]


@pytest.mark.parametrize("sql", QUIRKS)
def test_quirky_type_text_never_leaks(sql: str, crafted_service: QueryService) -> None:
    outcome, refused = run_or_refusal(crafted_service, sql)
    if refused is not None:
        assert refused.status < 500
        assert crafted.SECRET not in str(refused)
        return
    assert outcome is not None
    try:
        assert crafted.SECRET not in repr(outcome.result.to_table().to_pylist())
        assert outcome.rewrite.policy_subqueries
    finally:
        outcome.result.discard()

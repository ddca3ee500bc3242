"""DuckDB's parser as a second look: hostile SQL is refused by the invariant check and by
execute()'s structural check (policy-shaped SQL is accepted: test_invariant.py)."""

from __future__ import annotations

from collections.abc import Callable
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
    TableNotPermitted,
)

from .conftest import KEY_NAME, LIMITS

ALLOWED = ("crime", "person")

# The shape the rewriter produces: every base table replaced by a filtered, masked subquery.
POLICY_SHAPED = f"""
SELECT c.local_authority_code, c.month, count(*) AS n, count(DISTINCT c.mo) AS distinct_mo
FROM (
    SELECT b.crime_id,
           b.local_authority_code,
           date_trunc('month', b.recorded_at) AS month,
           CASE WHEN b.modus_operandi IS NULL THEN NULL
                ELSE 'P' || left(sha256(getvariable('{KEY_NAME}') || b.modus_operandi), 16)
           END AS mo
    FROM main.crime AS b
    WHERE b.local_authority_code IN ('E06000001', 'E06000002')
      AND NOT EXISTS (SELECT 1 FROM warehouse.main.person AS p WHERE p.person_id = -b.crime_id - 1)
) AS c
WHERE c.month >= $since
GROUP BY ALL
ORDER BY n DESC, 1, 2
LIMIT 101
"""

ACCEPTED = [
    POLICY_SHAPED,
    "SELECT * FROM crime",
    "SELECT * FROM CRIME",
    'SELECT * FROM "crime"',
    "SELECT * FROM main.crime",
    "SELECT * FROM warehouse.crime",
    "SELECT * FROM Warehouse.Main.Crime",
    "WITH recent AS (SELECT * FROM crime WHERE recorded_at > DATE '2024-06-01') "
    "SELECT count(*) FROM recent",
    "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 12) SELECT i FROM n",
    "SELECT crime_id, row_number() OVER (PARTITION BY local_authority_code ORDER BY recorded_at) "
    "FROM crime QUALIFY row_number() OVER (PARTITION BY local_authority_code) <= 3",
    "SELECT local_authority_code FROM crime UNION SELECT 'E06000009' EXCEPT SELECT NULL",
    "SELECT * FROM (VALUES (1, 'a'), (2, 'b')) AS v(id, label)",
    "SELECT c.crime_id, p.person_id FROM crime c LEFT JOIN person p ON p.person_id = c.crime_id",
    "SELECT (SELECT count(*) FROM person) AS people, [x * 2 FOR x IN [1, 2]] AS doubled",
    "SELECT * FROM crime TABLESAMPLE 10%",
]

REFUSED = [
    ("SELECT * FROM intelligence_report", TableNotPermitted),
    ("SELECT * FROM main.intelligence_report", TableNotPermitted),
    ("SELECT * FROM warehouse.main.intelligence_report", TableNotPermitted),
    ("SELECT * FROM warehouse.intelligence_report", TableNotPermitted),
    ("SELECT * FROM other.main.crime", TableNotPermitted),
    ("SELECT * FROM memory.main.crime", TableNotPermitted),
    ("SELECT * FROM temp.main.crime", TableNotPermitted),
    ("SELECT * FROM audit.records", TableNotPermitted),
    ("SELECT * FROM system.main.duckdb_settings", TableNotPermitted),
    ("SELECT * FROM information_schema.tables", TableNotPermitted),
    ("SELECT * FROM pg_catalog.pg_class", TableNotPermitted),
    ("SELECT * FROM sqlite_master", TableNotPermitted),
    ("SELECT * FROM duckdb_settings()", FunctionNotAllowed),
    ("SELECT * FROM duckdb_variables()", FunctionNotAllowed),
    ("SELECT * FROM duckdb_tables()", FunctionNotAllowed),
    ("SELECT * FROM pragma_table_info('crime')", FunctionNotAllowed),
    ("SELECT * FROM query('SELECT * FROM intelligence_report')", FunctionNotAllowed),
    ("SELECT * FROM query_table('intelligence_report')", FunctionNotAllowed),
    ("SELECT * FROM read_csv('/etc/passwd')", FunctionNotAllowed),
    ("SELECT * FROM read_parquet('x.parquet')", FunctionNotAllowed),
    ("SELECT * FROM range(10)", FunctionNotAllowed),
    ("SELECT * FROM generate_series(1, 10)", FunctionNotAllowed),
    ("SELECT * FROM crime, unnest([1, 2])", FunctionNotAllowed),
    ("SELECT * FROM crime c, LATERAL (SELECT * FROM read_text('/etc/passwd'))", FunctionNotAllowed),
    ("SELECT * FROM '/etc/passwd'", SyntaxNotAllowed),
    ('SELECT * FROM "data.parquet"', SyntaxNotAllowed),
    ("SELECT * FROM 'https://example.org/x.csv'", SyntaxNotAllowed),
    ("DESCRIBE crime", StatementNotAllowed),
    ("SUMMARIZE crime", StatementNotAllowed),
    ("SHOW TABLES", StatementNotAllowed),
    ("SHOW crime", StatementNotAllowed),
    (
        "SELECT * FROM crime PIVOT (count(*) FOR local_authority_code IN ('E06000001'))",
        SyntaxNotAllowed,
    ),
    ("SELECT * FROM crime UNPIVOT (v FOR k IN (modus_operandi))", SyntaxNotAllowed),
    ("PIVOT crime ON local_authority_code", StatementNotAllowed),
    ("SELECT * FROM crime AT (VERSION => 1)", SyntaxNotAllowed),
    ("SELECT 1; SELECT 2", StatementNotAllowed),
    ("SELECT 1; DROP TABLE crime", StatementNotAllowed),
    ("SET VARIABLE gw_key = 'x'", StatementNotAllowed),
    ("SET enable_external_access = true", StatementNotAllowed),
    ("ATTACH 'x.duckdb'", StatementNotAllowed),
    ("COPY crime TO 'x.csv'", StatementNotAllowed),
    ("CALL pragma_version()", StatementNotAllowed),
    ("EXPLAIN SELECT 1", StatementNotAllowed),
    ("", StatementNotAllowed),
    ("-- only a comment", StatementNotAllowed),
    (
        "WITH intelligence_report AS (SELECT 1 AS x) SELECT * FROM intelligence_report",
        SyntaxNotAllowed,
    ),
    ("WITH person AS (SELECT * FROM intelligence_report) SELECT * FROM person", SyntaxNotAllowed),
    ("WITH sqlite_master AS (SELECT 1) SELECT * FROM sqlite_master", SyntaxNotAllowed),
    ("WITH x AS (SELECT * FROM intelligence_report) SELECT * FROM x", TableNotPermitted),
    ("SELECT (SELECT max(report_text) FROM intelligence_report)", TableNotPermitted),
    (
        "SELECT * FROM crime WHERE crime_id IN (SELECT report_id FROM intelligence_report)",
        TableNotPermitted,
    ),
    ("SELECT * FROM crime WHERE EXISTS (FROM intelligence_report)", TableNotPermitted),
    (
        "SELECT crime_id FROM crime UNION ALL SELECT report_id FROM intelligence_report",
        TableNotPermitted,
    ),
    ("SELECT * FROM (SELECT * FROM (SELECT * FROM intelligence_report))", TableNotPermitted),
    ("SELECT * FROM crime c JOIN intelligence_report i ON true", TableNotPermitted),
    ("SELECT * FROM crime ORDER BY (SELECT count(*) FROM intelligence_report)", TableNotPermitted),
    ("SELEC 1", SqlParseError),
    ("SELECT * FROM crime WHERE", SqlParseError),
]


@pytest.mark.parametrize(("sql", "error"), REFUSED)
def test_hostile_sql_is_refused(sql: str, error: type[GatewayError], engine: DuckDBEngine) -> None:
    # No statement with a bare table passes the invariant; the structural refusals keep
    # their own codes.
    with pytest.raises(GatewayError) as refused:
        engine.verify(sql, Expectation())
    if error in (StatementNotAllowed, SqlParseError):
        assert isinstance(refused.value, error), refused.value
    else:
        assert isinstance(refused.value, PolicyCheckFailed | error), refused.value


def test_accepted_policy_sql_runs_and_agrees_with_duckdb(
    engine: DuckDBEngine, warehouse: Path, qid: Callable[[], str]
) -> None:
    result = engine.execute(POLICY_SHAPED, {"since": "2024-03-01"}, limits=LIMITS, query_id=qid())
    got = {(r["local_authority_code"], r["month"]): r["n"] for r in result.to_table().to_pylist()}
    direct = (
        duckdb.connect(str(warehouse), read_only=True)
        .sql(
            "SELECT local_authority_code, date_trunc('month', recorded_at) AS month, count(*) "
            "FROM crime WHERE local_authority_code IN ('E06000001', 'E06000002') "
            "AND recorded_at >= DATE '2024-03-01' GROUP BY ALL"
        )
        .fetchall()
    )
    assert got == {(la, month): n for la, month, n in direct}
    assert len(got) > 10


def test_parse_errors_name_the_position(engine: DuckDBEngine) -> None:
    with pytest.raises(SqlParseError) as parse_err:
        engine.verify("SELECT 1 FROM crime WHERE ==", Expectation())
    assert parse_err.value.position == (1, 27)


def test_execute_applies_the_structural_check_without_table_names(
    engine: DuckDBEngine, qid: Callable[[], str]
) -> None:
    # execute() refuses what no policy SQL ever needs, even if verify() was skipped.
    for sql, error in [
        (f"SELECT * FROM duckdb_variables() WHERE name = '{KEY_NAME}'", FunctionNotAllowed),
        ("SELECT * FROM query('SELECT 1')", FunctionNotAllowed),
        ("DESCRIBE crime", StatementNotAllowed),
    ]:
        with pytest.raises(error):
            engine.execute(sql, {}, limits=LIMITS, query_id=qid())

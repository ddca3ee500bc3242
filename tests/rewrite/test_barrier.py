"""Why the policy subquery ends in a LIMIT, and proof that it works.

DuckDB is free to evaluate a user's predicate beside (or before) a row filter when it pushes
filters down. Then a predicate that fails or is slow only on hidden rows tells the analyst
something about rows they may not see. The tests below show the engine really does this for a
policy-shaped subquery without the barrier, that the barrier stops it, and that the gateway's
queries neither fail nor slow down because of hidden rows.
"""

from __future__ import annotations

import time

import duckdb
import pytest

from gateway.errors import GatewayError
from gateway.rewrite.substitute import BARRIER_LIMIT
from gateway.service import QueryService
from tests.rewrite.conftest import ANALYST


@pytest.fixture(scope="module")
def engine_only() -> duckdb.DuckDBPyConnection:
    con = duckdb.connect()
    # visible rows (id % 4 = 0) hold numbers; hidden rows hold text that fails a numeric cast
    con.execute(
        "CREATE TABLE t AS SELECT i AS id, CASE WHEN i % 4 = 0 THEN (i % 7)::VARCHAR ELSE 'x' || i END AS v "
        "FROM range(200000) r(i)"
    )
    con.execute("CREATE TABLE ok AS SELECT i AS id FROM range(0, 200000, 4) r(i)")
    return con


SHAPES = {
    "subquery": "SELECT count(*) FROM (SELECT id, v FROM main.t WHERE id < {n} AND id IN (SELECT id FROM ok){barrier}) "
    "WHERE CAST(v AS INTEGER) >= 0",
    "materialized cte": "WITH s AS MATERIALIZED (SELECT id, v FROM main.t WHERE id < {n} AND id IN (SELECT id FROM ok)"
    "{barrier}) SELECT count(*) FROM s WHERE CAST(v AS INTEGER) >= 0",
}


def _run(con: duckdb.DuckDBPyConnection, sql: str) -> int | str:
    try:
        return int(con.sql(sql).fetchall()[0][0])
    except duckdb.ConversionException:
        return "evaluated on a hidden row"


def test_engine_pushes_user_predicates_past_a_row_filter(
    engine_only: duckdb.DuckDBPyConnection,
) -> None:
    outcomes = {
        (shape, n): _run(engine_only, sql.format(n=n, barrier=""))
        for shape, sql in SHAPES.items()
        for n in (2000, 200000)
    }
    assert "evaluated on a hidden row" in outcomes.values(), outcomes


@pytest.mark.parametrize("n", [2000, 200000])
@pytest.mark.parametrize("shape", sorted(SHAPES))
def test_barrier_keeps_user_predicates_above_the_filter(
    engine_only: duckdb.DuckDBPyConnection, shape: str, n: int
) -> None:
    sql = SHAPES[shape].format(n=n, barrier=f" LIMIT {BARRIER_LIMIT}")
    assert _run(engine_only, sql) == n // 4


def _timed(service: QueryService, condition: str) -> float:
    sql = (
        "SELECT count(*) FROM crime_person WHERE CASE WHEN "
        f"{condition} THEN levenshtein(repeat(role, 150), repeat(role, 151)) ELSE 0 END >= 0"
    )
    started = time.perf_counter()
    outcome = service.run_query(ANALYST, sql, "SA")
    outcome.result.discard()
    return time.perf_counter() - started


def test_no_timing_oracle_across_the_row_filter(crafted_service: QueryService) -> None:
    # Hidden link rows belong to odd (hidden-area) crimes; visible ones to even crimes.
    visible = _timed(crafted_service, "crime_id % 2 = 0")  # expensive work on every visible row
    hidden = min(_timed(crafted_service, "crime_id % 2 = 1") for _ in range(3))
    nowhere = min(_timed(crafted_service, "false") for _ in range(3))
    assert visible > 0.2, "the amplifier must make per-row work measurable"
    assert hidden < visible / 4
    assert hidden < nowhere + visible / 4


def test_no_error_oracle_across_the_row_filter(crafted_service: QueryService) -> None:
    sql = "SELECT count(*) FROM crime_person WHERE CASE WHEN crime_id % 2 = 1 THEN crime_id * 9223372036854775807 ELSE 0 END = 0"
    outcome = crafted_service.run_query(ANALYST, sql, "SA")
    try:
        assert outcome.result.num_rows == 1
    finally:
        outcome.result.discard()
    # The same expression over visible rows does fail: the oracle is real, the filter hides it.
    with pytest.raises(GatewayError):
        crafted_service.run_query(
            ANALYST,
            "SELECT count(*) FROM crime_person WHERE CASE WHEN crime_id % 2 = 0 THEN crime_id * 9223372036854775807 ELSE 0 END = 0",
            "SA",
        )

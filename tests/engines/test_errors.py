"""Errors never echo data values or the session key; parameters are bound as data."""

from __future__ import annotations

from collections.abc import Callable

import duckdb
import pytest

from gateway.engines import DuckDBEngine
from gateway.engines.translate import error_kind, translate_error
from gateway.errors import (
    ColumnNotFound,
    GatewayError,
    QueryError,
    QueryTimeout,
    ResourceLimit,
    TableNotFound,
)

from .conftest import KEY, KEY_NAME, LIMITS, SECRET

ON_SECRET = "FROM crime WHERE modus_operandi LIKE 'ZZ%'"

# Each of these fails on a row holding SECRET; DuckDB's own message would quote it.
LEAKY = [
    f"SELECT modus_operandi::INTEGER {ON_SECRET}",
    f"SELECT modus_operandi::DATE {ON_SECRET}",
    f"SELECT modus_operandi::TIMESTAMP {ON_SECRET}",
    f"SELECT modus_operandi::DECIMAL(4, 1) {ON_SECRET}",
    f"SELECT modus_operandi::UUID {ON_SECRET}",
    f"SELECT modus_operandi::JSON {ON_SECRET}",
    f"SELECT modus_operandi::BOOLEAN {ON_SECRET}",
    f"SELECT modus_operandi::INTERVAL {ON_SECRET}",
    f"SELECT modus_operandi::STRUCT(a INTEGER) {ON_SECRET}",
    f"SELECT [modus_operandi]::INTEGER[] {ON_SECRET}",
    f"SELECT error(modus_operandi) {ON_SECRET}",
    f"SELECT strptime(modus_operandi, '%Y') {ON_SECRET}",
    f"SELECT json_extract(modus_operandi, '$.a') {ON_SECRET}",
    f"SELECT regexp_matches('x', modus_operandi) {ON_SECRET}",
    f"SELECT date_part(modus_operandi, DATE '2024-01-01') {ON_SECRET}",
    f"SELECT from_base64(modus_operandi) {ON_SECRET}",
    f"SELECT unhex(modus_operandi) {ON_SECRET}",
    f"SELECT format('{{}} {{}}', modus_operandi) {ON_SECRET}",
    f"SELECT * FROM crime WHERE crime_id = (SELECT modus_operandi {ON_SECRET} LIMIT 1)",
    f"SELECT * FROM crime LIMIT (SELECT modus_operandi {ON_SECRET} LIMIT 1)",
    f"SELECT sum(crime_id) FILTER (WHERE modus_operandi::INTEGER > 0) {ON_SECRET}",
    "SELECT surname::INTEGER FROM person",
    "SELECT 2147483647::INTEGER + length(surname)::INTEGER * 1000000000 FROM person",
    f"SELECT map([modus_operandi, modus_operandi], [1, 2]) {ON_SECRET}",
    # the session key, held in a variable, must not leak either
    f"SELECT getvariable('{KEY_NAME}')::VARCHAR::INTEGER",
    f"SELECT error(getvariable('{KEY_NAME}')::VARCHAR)",
    f"SELECT strptime(getvariable('{KEY_NAME}')::VARCHAR, '%Y')",
]


@pytest.mark.parametrize("sql", LEAKY)
def test_errors_do_not_echo_values(sql: str, engine: DuckDBEngine, qid: Callable[[], str]) -> None:
    with pytest.raises(GatewayError) as err:
        engine.execute(sql, {}, limits=LIMITS, query_id=qid())
    shown = f"{err.value} {err.value.to_dict()} {err.value.args}"
    assert "ZZ-SECRET" not in shown
    assert "KEY-SECRET" not in shown
    assert KEY.hex() not in shown
    assert isinstance(err.value, QueryError)


def test_the_planted_values_are_really_there(engine: DuckDBEngine, qid: Callable[[], str]) -> None:
    # Guards the test above: the rows it provokes errors on do hold the secret.
    result = engine.execute(
        f"SELECT DISTINCT modus_operandi {ON_SECRET}", {}, limits=LIMITS, query_id=qid()
    )
    assert result.to_table().column(0).to_pylist() == [SECRET]
    with pytest.raises(duckdb.Error, match="ZZ-SECRET"):
        duckdb.connect().execute("SELECT $s::INTEGER", {"s": SECRET}).fetchall()


def test_binder_errors_keep_identifiers_only(engine: DuckDBEngine, qid: Callable[[], str]) -> None:
    with pytest.raises(ColumnNotFound) as column:
        engine.execute("SELECT nosuch FROM crime", {}, limits=LIMITS, query_id=qid())
    assert column.value.message == 'column "nosuch" not found'
    with pytest.raises(TableNotFound) as table:
        engine.execute("SELECT * FROM nosuch", {}, limits=LIMITS, query_id=qid())
    assert table.value.message == 'table "nosuch" does not exist'
    assert "Did you mean" not in table.value.message
    with pytest.raises(QueryError) as function:
        engine.execute("SELECT lower(1, 2, 3)", {}, limits=LIMITS, query_id=qid())
    assert "lower" in function.value.message
    assert "Candidate" not in function.value.message


def test_file_path_references_fail_without_reading(
    engine: DuckDBEngine, qid: Callable[[], str]
) -> None:
    for sql in ("SELECT * FROM '/etc/passwd'", 'SELECT * FROM "/etc/passwd"'):
        with pytest.raises(QueryError) as err:
            engine.execute(sql, {}, limits=LIMITS, query_id=qid())
        assert "root" not in str(err.value)


def test_translation_table() -> None:
    def translate(exc: BaseException, timed_out: bool = False) -> GatewayError:
        return translate_error(exc, timed_out=timed_out, timeout_s=2, memory_limit_mb=64)

    assert isinstance(
        translate(duckdb.InterruptException("INTERRUPT Error: Interrupted!")), QueryTimeout
    )
    assert isinstance(translate(OSError("INTERRUPT Error: Interrupted!")), QueryTimeout)
    assert isinstance(translate(duckdb.ConversionException("x"), timed_out=True), QueryTimeout)
    assert isinstance(
        translate(duckdb.OutOfMemoryException("Out of Memory Error: x")), ResourceLimit
    )
    assert isinstance(translate(OSError("Out of Memory Error: failed")), ResourceLimit)
    leaked = translate(OSError(f"Conversion Error: Could not convert string '{SECRET}' to INT32"))
    assert isinstance(leaked, QueryError)
    assert SECRET not in str(leaked)
    assert error_kind(ValueError("Conversion Error: x")) == "Conversion"
    assert error_kind(ValueError("something else")) == ""


# --- parameters are data -----------------------------------------------------------------

INJECTIONS = [
    "x'; DROP TABLE crime; --",
    "' OR 1=1 --",
    "$other",
    f"'; SET VARIABLE {KEY_NAME} = 'x'; --",
    SECRET,
]


@pytest.mark.parametrize("value", INJECTIONS)
def test_parameter_values_are_bound_as_data(
    value: str, engine: DuckDBEngine, qid: Callable[[], str]
) -> None:
    result = engine.execute(
        "SELECT $v AS v, (SELECT count(*) FROM crime WHERE modus_operandi = $v) AS n",
        {"v": value},
        limits=LIMITS,
        query_id=qid(),
    )
    row = result.to_table().to_pylist()[0]
    assert row["v"] == value
    assert row["n"] == (20 if value == SECRET else 0)
    key = engine.execute(
        f"SELECT getvariable('{KEY_NAME}') AS k", {}, limits=LIMITS, query_id=qid()
    )
    assert key.to_table().to_pylist() == [{"k": KEY}]

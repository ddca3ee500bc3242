"""Each mask, evaluated by DuckDB, gives the value its definition promises and never raises."""

from __future__ import annotations

import datetime as dt

import duckdb
import pytest
from sqlglot import exp

from gateway.policy.masks import (
    PSEUDONYM_MACRO,
    MaskContext,
    mask_expression,
    pseudonym_python,
    pseudonym_session_variables,
)
from gateway.policy.model import MaskSpec

KEY = bytes(range(32))


@pytest.fixture(scope="module")
def con() -> duckdb.DuckDBPyConnection:
    con = duckdb.connect()
    for name, value in pseudonym_session_variables(KEY).items():
        con.execute(f"SET VARIABLE {name} = $v", {"v": value})
    con.execute(PSEUDONYM_MACRO)
    con.execute(
        "CREATE TABLE map_point (map_point_id INTEGER, name VARCHAR, easting DOUBLE, northing DOUBLE)"
    )
    con.execute("INSERT INTO map_point VALUES (7, 'Linthorpe Road', 449100, 519800)")
    return con


def evaluate(con: duckdb.DuckDBPyConnection, value: object, ctype: str, spec: MaskSpec) -> object:
    con.execute(
        f"CREATE OR REPLACE TABLE b AS SELECT CAST($v AS {ctype}) AS c, 7 AS map_point_id",
        {"v": value},
    )
    sql = mask_expression(exp.column("c", table="b"), ctype, spec, MaskContext("b")).sql("duckdb")
    return con.sql(f"SELECT {sql} FROM b").fetchall()[0][0]


@pytest.mark.parametrize("value", [1, 42, 9_000_000_000, None])
def test_pseudonym_is_hmac_and_same_everywhere(
    con: duckdb.DuckDBPyConnection, value: object
) -> None:
    spec = MaskSpec("pseudonym", {"domain": "person"})
    got = evaluate(con, value, "BIGINT", spec)
    assert got == (None if value is None else pseudonym_python(KEY, "person", value))
    if value is not None:
        assert got != pseudonym_python(b"another key" * 3, "person", value)
        assert got != evaluate(con, value, "BIGINT", MaskSpec("pseudonym", {"domain": "vehicle"}))


@pytest.mark.parametrize(
    ("postcode", "sector"),
    [
        ("TS1 3AB", "TS1 3"),
        ("ts13ab", "TS1 3"),
        (" TS10 4QQ ", "TS10 4"),
        ("TS1", None),
        ("12 High Street", None),
        ("", None),
        (None, None),
    ],
)
def test_postcode_sector(
    con: duckdb.DuckDBPyConnection, postcode: str | None, sector: str | None
) -> None:
    assert evaluate(con, postcode, "VARCHAR", MaskSpec("postcode_sector")) == sector


@pytest.mark.parametrize(
    ("value", "expected"),
    [(449123.4, 449150.0), (449100.0, 449150.0), (449199.99, 449150.0), (None, None)],
)
def test_grid(con: duckdb.DuckDBPyConnection, value: float | None, expected: float | None) -> None:
    assert evaluate(con, value, "DOUBLE", MaskSpec("grid", {"metres": 100})) == expected


def test_age_band(con: duckdb.DuckDBPyConnection) -> None:
    today = dt.date.today()
    spec = MaskSpec("age_band")
    assert evaluate(con, today.replace(year=today.year - 30), "DATE", spec) == "25-34"
    assert evaluate(con, today.replace(year=today.year - 17), "DATE", spec) == "10-17"
    assert evaluate(con, today.replace(year=today.year - 80), "DATE", spec) == "65+"
    assert evaluate(con, today + dt.timedelta(days=400), "DATE", spec) is None
    assert evaluate(con, None, "DATE", spec) is None


@pytest.mark.parametrize(
    ("ref", "shown"), [("CR/001234/26", "********4/26"), ("AB", "**"), (None, None)]
)
def test_last_n(con: duckdb.DuckDBPyConnection, ref: str | None, shown: str | None) -> None:
    assert evaluate(con, ref, "VARCHAR", MaskSpec("last_n", {"n": 4})) == shown


def test_truncate_null_redact_map_point(con: duckdb.DuckDBPyConnection) -> None:
    when = dt.datetime(2026, 3, 17, 22, 5)
    assert evaluate(
        con, when, "TIMESTAMP", MaskSpec("truncate_date", {"unit": "month"})
    ) == dt.datetime(2026, 3, 1)
    assert evaluate(con, "secret", "VARCHAR", MaskSpec("null")) is None
    assert evaluate(con, "secret", "VARCHAR", MaskSpec("redact")) == "[REDACTED]"
    assert (
        evaluate(con, 451234.0, "DOUBLE", MaskSpec("map_point", {"field": "easting"})) == 449100.0
    )
    assert (
        evaluate(con, "12 Acacia Ave", "VARCHAR", MaskSpec("map_point", {"field": "name"}))
        == "On or near Linthorpe Road"
    )


def test_show_when_shows_raw_only_where_true(con: duckdb.DuckDBPyConnection) -> None:
    spec = MaskSpec("null")
    raw = exp.column("c", table="b")
    for condition, expected in [("TRUE", "x"), ("FALSE", None), ("NULL", None)]:
        con.execute("CREATE OR REPLACE TABLE b AS SELECT 'x' AS c")
        sql = mask_expression(raw, "VARCHAR", spec, MaskContext("b"), exp.condition(condition)).sql(
            "duckdb"
        )
        assert con.sql(f"SELECT {sql} FROM b").fetchall()[0][0] == expected

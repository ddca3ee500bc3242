"""The generated warehouse honours the catalog: tables, types, keys, links, nullability, order."""

from __future__ import annotations

import duckdb
import pytest

from gateway.catalog import Catalog
from tests.generate.conftest import scalar

RECORD_ORDER = {
    "crime": "recorded_at",
    "incident": "reported_at",
    "custody": "arrested_at",
    "intelligence_report": "submitted_at",
}


def test_every_table_and_column_of_the_contract(
    warehouse: duckdb.DuckDBPyConnection, catalog: Catalog
) -> None:
    actual: dict[str, dict[str, str]] = {}
    for table, column, data_type in warehouse.execute(
        "SELECT table_name, column_name, data_type FROM information_schema.columns"
    ).fetchall():
        actual.setdefault(table, {})[column] = data_type
    assert catalog.check_warehouse(actual) == []


def test_every_table_has_rows(warehouse: duckdb.DuckDBPyConnection, catalog: Catalog) -> None:
    empty = [t.name for t in catalog if scalar(warehouse, f"SELECT count(*) FROM {t.name}") == 0]
    assert empty == []


def test_all_foreign_keys_resolve(warehouse: duckdb.DuckDBPyConnection, catalog: Catalog) -> None:
    links = catalog.links()
    assert len(links) > 20
    dangling = {}
    for table, column in links:
        assert column.references is not None
        target = column.references
        missing = scalar(
            warehouse,
            f"SELECT count(*) FROM {table} t WHERE t.{column.name} IS NOT NULL AND NOT EXISTS "
            f"(SELECT 1 FROM {target.table} r WHERE r.{target.column} = t.{column.name})",
        )
        if missing:
            dangling[f"{table}.{column.name}"] = missing
    assert dangling == {}


def test_primary_keys_are_unique_and_not_null(
    warehouse: duckdb.DuckDBPyConnection, catalog: Catalog
) -> None:
    for table in catalog:
        key = ", ".join(table.primary_key)
        duplicates = scalar(
            warehouse,
            f"SELECT count(*) FROM (SELECT {key} FROM {table.name} GROUP BY ALL HAVING count(*) > 1)",
        )
        assert duplicates == 0, table.name


def test_only_nullable_columns_hold_nulls(
    warehouse: duckdb.DuckDBPyConnection, catalog: Catalog
) -> None:
    offenders = []
    for table in catalog:
        for column in table.columns:
            if column.nullable:
                continue
            if scalar(warehouse, f"SELECT count(*) FROM {table.name} WHERE {column.name} IS NULL"):
                offenders.append(f"{table.name}.{column.name}")
    assert offenders == []


@pytest.mark.parametrize(("table", "time_column"), sorted(RECORD_ORDER.items()))
def test_records_are_stored_by_authority_then_time(
    warehouse: duckdb.DuckDBPyConnection, table: str, time_column: str
) -> None:
    out_of_order = scalar(
        warehouse,
        f"""SELECT count(*) FROM (
              SELECT local_authority_code AS la, {time_column} AS t,
                     lag(local_authority_code) OVER (ORDER BY rowid) AS prev_la,
                     lag({time_column}) OVER (ORDER BY rowid) AS prev_t
              FROM {table})
            WHERE prev_la > la OR (prev_la = la AND prev_t > t)""",
    )
    assert out_of_order == 0


def test_locations_are_stored_by_authority_then_lsoa(warehouse: duckdb.DuckDBPyConnection) -> None:
    out_of_order = scalar(
        warehouse,
        """SELECT count(*) FROM (
              SELECT local_authority_code AS la, lsoa_code AS l,
                     lag(local_authority_code) OVER (ORDER BY rowid) AS prev_la,
                     lag(lsoa_code) OVER (ORDER BY rowid) AS prev_l
              FROM location)
            WHERE prev_la > la OR (prev_la = la AND prev_l > l)""",
    )
    assert out_of_order == 0


def test_warehouse_info_names_the_parameters(warehouse: duckdb.DuckDBPyConnection) -> None:
    info = dict(warehouse.execute("SELECT key, value FROM warehouse_info").fetchall())
    assert (info["seed"], info["years"], float(info["scale"]), info["end_month"]) == (
        "7",
        "2",
        0.05,
        "2026-10",
    )
    assert info["generator_version"]


def test_records_fall_in_the_period(warehouse: duckdb.DuckDBPyConnection) -> None:
    for table, column in RECORD_ORDER.items():
        low, high = warehouse.execute(
            f"SELECT min({column}), max({column}) FROM {table}"
        ).fetchone() or (None, None)
        assert str(low) >= "2024-11-01", table
        assert str(high) < "2026-11-01", table
        assert str(low) < "2024-11-08", table  # the whole period is covered
        assert str(high) > "2026-10-24", table

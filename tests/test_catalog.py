from __future__ import annotations

import duckdb

from gateway.catalog import Catalog, Sensitivity, TableKind


def test_contract_tables_present(catalog: Catalog) -> None:
    expected = {
        "crime",
        "incident",
        "custody",
        "location",
        "person",
        "vehicle",
        "property",
        "crime_person",
        "crime_vehicle",
        "incident_person",
        "incident_vehicle",
        "intelligence_report",
        "offence_type",
        "local_authority",
        "ward",
        "lsoa",
        "neighbourhood",
    }
    assert expected <= set(catalog.tables)


def test_every_foreign_key_resolves(catalog: Catalog) -> None:
    for table, column in catalog.links():
        assert column.references is not None
        target = catalog.table(column.references.table)
        assert column.references.column in target.column_names, (table, column.name)


def test_sensitivity_of_identifying_columns(catalog: Catalog) -> None:
    person = catalog.table("person")
    assert person.column("person_id").sensitivity is Sensitivity.PERSON_KEY
    assert person.column("surname").sensitivity is Sensitivity.DIRECT_IDENTIFIER
    assert catalog.table("crime").column("modus_operandi").sensitivity is Sensitivity.FREE_TEXT
    assert catalog.table("location").column("easting").sensitivity is Sensitivity.EXACT_LOCATION
    assert catalog.table("crime_person").kind is TableKind.LINK


def test_ddl_creates_tables_that_pass_the_contract_check(catalog: Catalog) -> None:
    con = duckdb.connect()
    for table in catalog:
        con.execute(table.ddl())
    rows = con.sql(
        "SELECT table_name, column_name, data_type FROM information_schema.columns"
    ).fetchall()
    actual: dict[str, dict[str, str]] = {}
    for table_name, column_name, data_type in rows:
        actual.setdefault(table_name, {})[column_name] = data_type
    assert catalog.check_warehouse(actual) == []
    del actual["crime"]["modus_operandi"]
    actual["person"]["date_of_birth"] = "VARCHAR"
    assert sorted(catalog.check_warehouse(actual)) == [
        "column crime.modus_operandi is missing",
        "column person.date_of_birth is VARCHAR, declared DATE",
    ]

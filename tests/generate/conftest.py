"""Fixtures for the generator's tests: read-only views of the session's small warehouse."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import duckdb
import pytest


@pytest.fixture(scope="session")
def warehouse(small_data_dir: Path) -> Iterator[duckdb.DuckDBPyConnection]:
    con = duckdb.connect(str(small_data_dir / "warehouse.duckdb"), read_only=True)
    yield con
    con.close()


@pytest.fixture(scope="session")
def layers(small_data_dir: Path) -> dict[str, Any]:
    """Every base-map layer as a GeoDataFrame, read back from the GeoPackage."""
    import pyogrio

    path = small_data_dir / "basemaps.gpkg"
    return {
        str(name): pyogrio.read_dataframe(path, layer=str(name))
        for name, _ in pyogrio.list_layers(path)
    }


def scalar(con: duckdb.DuckDBPyConnection, sql: str) -> Any:
    row = con.execute(sql).fetchone()
    assert row is not None
    return row[0]

"""The warehouse published as a Parquet lake (gateway.engines.lake, gateway warehouse publish)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import duckdb
import pytest

from gateway.engines.lake import MANIFEST, publish_lake, read_manifest
from gateway.errors import Conflict


def _lake_rows(lake: Path, table: str, columns: list[str]) -> list[tuple[object, ...]]:
    select = ", ".join(columns)
    with duckdb.connect() as con:
        return con.sql(
            f"SELECT {select} FROM read_parquet('{lake}/{table}/**/*.parquet', "
            "hive_partitioning = true, hive_types_autocast = false) ORDER BY 1"
        ).fetchall()


def test_every_table_is_published_with_its_columns_and_rows(
    warehouse: Path, tmp_path: Path
) -> None:
    lake = tmp_path / "lake"
    tables = {t.name: t for t in publish_lake(warehouse, lake)}
    assert sorted(tables) == ["crime", "intelligence_report", "person"]
    assert tables["crime"].partitioning.columns == ("local_authority_code", "recorded_year")
    assert tables["person"].partitioning.columns == ()
    assert read_manifest(lake) == list(tables.values())
    with duckdb.connect(str(warehouse), read_only=True) as con:
        for table in tables.values():
            columns = [c for c, _ in table.columns]
            expected = con.sql(f"SELECT {', '.join(columns)} FROM {table.name} ORDER BY 1")
            assert _lake_rows(lake, table.name, columns) == expected.fetchall()
    years = sorted(p.name for p in (lake / "crime" / "local_authority_code=E06000001").iterdir())
    assert years == ["recorded_year=2024"]


def test_publishing_over_a_lake_needs_replace_and_is_a_swap(
    warehouse: Path, tmp_path: Path
) -> None:
    lake = tmp_path / "lake"
    publish_lake(warehouse, lake)
    (lake / "stale.txt").write_text("from the old lake")
    with pytest.raises(Conflict):
        publish_lake(warehouse, lake)
    publish_lake(warehouse, lake, replace=True)
    assert (lake / MANIFEST).is_file()
    assert not (lake / "stale.txt").exists()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["lake"]  # no staging left


def test_the_command_publishes_a_data_directory(warehouse: Path, tmp_path: Path) -> None:
    data_dir = tmp_path / "dd"
    data_dir.mkdir()
    (data_dir / "warehouse.duckdb").write_bytes(warehouse.read_bytes())
    argv = ["warehouse", "publish", "--data-dir", str(data_dir), "--format", "parquet"]
    ok = subprocess.run(
        [sys.executable, "-m", "gateway", *argv, str(data_dir / "lake")],
        capture_output=True,
        text=True,
        check=False,
    )
    assert ok.returncode == 0, ok.stderr
    assert "published 3 tables (1 partitioned)" in ok.stdout
    again = subprocess.run(
        [sys.executable, "-m", "gateway", *argv, str(data_dir / "lake")],
        capture_output=True,
        text=True,
        check=False,
    )
    assert again.returncode == 2
    assert again.stderr.startswith("error: ")
    assert "--replace" in again.stderr

"""build() and ensure(): temp-and-rename, reuse, refusal to overwrite, bad directories."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import duckdb
import pytest

from gateway.errors import ConfigurationError, Conflict, ParameterError
from gateway.generate import GenerationSummary, build, ensure
from tests.conftest import SMALL_WAREHOUSE

TINY = {"seed": 3, "years": 1, "scale": 0.01}


@pytest.fixture(scope="module")
def tiny_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("tiny")
    build(root, **TINY)  # type: ignore[arg-type]
    return root


def copy_of(source: Path, target: Path) -> Path:
    shutil.copytree(source, target)
    return target


def test_build_writes_both_files_and_nothing_else(tiny_dir: Path) -> None:
    assert sorted(p.name for p in tiny_dir.iterdir()) == ["basemaps.gpkg", "warehouse.duckdb"]


def test_ensure_keeps_a_matching_warehouse(small_data_dir: Path) -> None:
    before = (small_data_dir / "warehouse.duckdb").stat().st_mtime_ns
    summary = ensure(small_data_dir, **SMALL_WAREHOUSE)
    assert isinstance(summary, GenerationSummary)
    assert summary.reused
    assert summary.seconds < 5
    assert (small_data_dir / "warehouse.duckdb").stat().st_mtime_ns == before
    assert summary.rows("crime") > 5_000
    assert summary.row_counts["map_point"] > 0
    text = summary.render()
    assert "Kept existing" in text
    assert "seed 7" in text
    assert f"{summary.rows('crime'):,} crime" in text


def test_ensure_refuses_a_warehouse_made_differently(small_data_dir: Path) -> None:
    with pytest.raises(Conflict, match="seed 7"):
        ensure(small_data_dir, **{**SMALL_WAREHOUSE, "seed": 8})
    with pytest.raises(Conflict, match="--force"):
        ensure(small_data_dir, **{**SMALL_WAREHOUSE, "scale": 0.06})


def test_build_refuses_an_existing_warehouse_unless_forced(tiny_dir: Path, tmp_path: Path) -> None:
    root = copy_of(tiny_dir, tmp_path / "d")
    with pytest.raises(Conflict, match="already exists"):
        build(root, **TINY)  # type: ignore[arg-type]
    summary = build(root, **{**TINY, "seed": 4}, force=True)  # type: ignore[arg-type]
    assert not summary.reused
    assert ensure(root, **{**TINY, "seed": 4}).reused  # type: ignore[arg-type]
    assert sorted(p.name for p in root.iterdir()) == ["basemaps.gpkg", "warehouse.duckdb"]


def test_a_foreign_database_is_never_overwritten(tmp_path: Path) -> None:
    con = duckdb.connect(str(tmp_path / "warehouse.duckdb"))
    con.execute("CREATE TABLE precious AS SELECT 42 AS answer")
    con.close()
    with pytest.raises(Conflict, match="not made by this generator"):
        ensure(tmp_path, **TINY)  # type: ignore[arg-type]
    con = duckdb.connect(str(tmp_path / "warehouse.duckdb"), read_only=True)
    assert con.execute("SELECT answer FROM precious").fetchone() == (42,)
    con.close()


def test_a_file_that_is_not_a_database_is_reported(tmp_path: Path) -> None:
    (tmp_path / "warehouse.duckdb").write_text("not a database")
    with pytest.raises((ConfigurationError, Conflict)) as caught:
        ensure(tmp_path, **TINY)  # type: ignore[arg-type]
    assert "\n" not in str(caught.value)
    assert (tmp_path / "warehouse.duckdb").read_text() == "not a database"


def test_missing_base_maps_are_redrawn_identically(tiny_dir: Path, tmp_path: Path) -> None:
    import pyogrio

    root = copy_of(tiny_dir, tmp_path / "d")
    (root / "basemaps.gpkg").unlink()
    assert ensure(root, **TINY).reused  # type: ignore[arg-type]
    for layer in ("lsoa", "map_point"):
        original = pyogrio.read_dataframe(tiny_dir / "basemaps.gpkg", layer=layer)
        redrawn = pyogrio.read_dataframe(root / "basemaps.gpkg", layer=layer)
        assert original.drop(columns="geometry").equals(redrawn.drop(columns="geometry"))
        assert original.geometry.geom_equals_exact(redrawn.geometry, tolerance=1e-6).all()


def test_data_dir_that_is_a_file(tmp_path: Path) -> None:
    target = tmp_path / "data"
    target.write_text("something else")
    with pytest.raises(ParameterError, match="not a directory"):
        build(target, **TINY)  # type: ignore[arg-type]
    assert target.read_text() == "something else"


def test_warehouse_path_that_is_a_directory(tmp_path: Path) -> None:
    (tmp_path / "warehouse.duckdb").mkdir()
    with pytest.raises(ParameterError, match="not a file"):
        ensure(tmp_path, **TINY)  # type: ignore[arg-type]


def test_directory_that_cannot_be_written(tmp_path: Path) -> None:
    if os.geteuid() == 0:
        target = Path("/proc/gateway-generate-test")  # even root cannot create files here
    else:
        locked = tmp_path / "locked"
        locked.mkdir(mode=0o555)
        target = locked / "data"
    with pytest.raises(ConfigurationError) as caught:
        build(target, **TINY)  # type: ignore[arg-type]
    assert "\n" not in str(caught.value)
    assert not target.exists()


def test_bad_parameters_are_refused_before_anything_is_written(tmp_path: Path) -> None:
    with pytest.raises(ParameterError):
        build(tmp_path / "d", **{**TINY, "scale": 0})  # type: ignore[arg-type]
    assert not (tmp_path / "d").exists()

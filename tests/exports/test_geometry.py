"""Choropleths and hotspot grids keep their totals; reprojection and cell assignment are right."""

from __future__ import annotations

import numpy as np
import pyogrio
import pyproj
import pytest
import shapely

from gateway.datadir import DataDir
from gateway.errors import InputError
from gateway.exports import export_query
from gateway.exports.grid import cell_polygons, count_cells, hex_cells, square_cells
from gateway.service import QueryService
from tests.exports.helpers import ANALYST, PER_LSOA_SQL, POINTS_SQL


def _total(service: QueryService, sql: str) -> int:
    outcome = service.run_query(ANALYST, sql, "SA-2026")
    try:
        return int(outcome.result.to_table().column(0)[0].as_py())
    finally:
        outcome.result.discard()


@pytest.mark.parametrize("crs", [27700, 4326])
def test_choropleth_by_lsoa_sums_to_the_query_total(
    service: QueryService, export_dir: DataDir, crs: int
) -> None:
    total = _total(service, "SELECT count(*) FROM crime")
    exported = export_query(
        service,
        ANALYST,
        PER_LSOA_SQL,
        "SA-2026",
        format="gpkg",
        data_dir=export_dir,
        options={"crs": crs},
    )
    assert exported.data_class == "aggregate"
    assert exported.approval == "not_required"
    frame = pyogrio.read_dataframe(exported.path)
    assert int(frame["crimes"].sum()) == total > 0
    assert frame.geometry.notna().all()
    assert frame.crs.to_epsg() == crs
    # Each polygon is the base map's LSOA of that code.
    base = pyogrio.read_dataframe(export_dir.basemaps, layer="lsoa").set_index("lsoa_code")
    frame = frame.to_crs(27700) if crs != 27700 else frame
    for code, geom in zip(frame["lsoa_code"], frame.geometry, strict=True):
        assert geom.equals_exact(base.loc[code].geometry, tolerance=0.01 if crs == 27700 else 0.5)


@pytest.mark.parametrize("area", ["ward_code", "neighbourhood_code", "local_authority_code"])
def test_choropleth_on_other_areas(service: QueryService, export_dir: DataDir, area: str) -> None:
    exported = export_query(
        service,
        ANALYST,
        f"SELECT {area}, count(*) AS n FROM crime GROUP BY ALL",
        "SA-2026",
        format="geojson",
        data_dir=export_dir,
    )
    frame = pyogrio.read_dataframe(exported.path)
    assert int(frame["n"].sum()) == _total(service, "SELECT count(*) FROM crime")
    assert frame.geometry.notna().all()
    assert exported.provenance.geometry == f"areas joined on {area}"


@pytest.mark.parametrize(("shape", "size"), [("square", 500), ("hex", 750)])
def test_hotspot_grid_cells_sum_to_the_point_count(
    service: QueryService, export_dir: DataDir, shape: str, size: int
) -> None:
    points = _total(service, f"SELECT count(*) FROM ({POINTS_SQL}) WHERE easting IS NOT NULL")
    exported = export_query(
        service,
        ANALYST,
        POINTS_SQL,
        "SA-2026",
        format="fgb",
        data_dir=export_dir,
        options={"geometry": "grid", "cell_shape": shape, "cell_size": size},
    )
    frame = pyogrio.read_dataframe(exported.path)
    assert int(frame["count"].sum()) == points > 0
    assert frame["cell_id"].is_unique
    assert (frame["count"] >= 1).all()
    expected_area = size * size if shape == "square" else size * size * np.sqrt(3) / 2
    assert np.allclose(frame.geometry.area, expected_area, rtol=1e-9)


def test_grid_with_a_weight_column(service: QueryService, export_dir: DataDir) -> None:
    sql = (
        "SELECT l.easting, l.northing, count(*) AS crimes FROM crime AS c "
        "JOIN location AS l USING (location_id) GROUP BY ALL"
    )
    exported = export_query(
        service,
        ANALYST,
        sql,
        "SA-2026",
        format="gpkg",
        data_dir=export_dir,
        options={"geometry": "grid", "cell_size": 1000, "weight": "crimes", "crs": 4326},
    )
    frame = pyogrio.read_dataframe(exported.path)
    assert int(frame["sum_crimes"].sum()) == _total(service, "SELECT count(*) FROM crime")
    assert frame.crs.to_epsg() == 4326


def test_points_from_longitude_latitude(service: QueryService, export_dir: DataDir) -> None:
    to_wgs84 = pyproj.Transformer.from_crs("EPSG:27700", "EPSG:4326", always_xy=True)
    lon, lat = to_wgs84.transform(450000.0, 520000.0)
    sql = f"SELECT 'a' AS label, {lon} AS longitude, {lat} AS latitude FROM local_authority LIMIT 1"
    exported = export_query(service, ANALYST, sql, "SA-2026", format="gpkg", data_dir=export_dir)
    frame = pyogrio.read_dataframe(exported.path)
    assert frame.crs.to_epsg() == 27700
    assert abs(frame.geometry.x[0] - 450000.0) < 1e-3
    assert abs(frame.geometry.y[0] - 520000.0) < 1e-3


def test_square_and_hex_cells_contain_their_points() -> None:
    rng = np.random.default_rng(5)
    x = rng.uniform(440_000, 460_000, 5000)
    y = rng.uniform(510_000, 530_000, 5000)
    for shape in ("square", "hex"):
        cells = count_cells(x, y, 400.0, shape)  # type: ignore[arg-type]
        polygons = cell_polygons(cells)
        index = {cid: k for k, cid in enumerate(cells.ids)}
        i, j = square_cells(x, y, 400.0) if shape == "square" else hex_cells(x, y, 400.0)
        prefix = "S400" if shape == "square" else "H400"
        owners = np.array([index[f"{prefix}:{a}:{b}"] for a, b in zip(i, j, strict=True)])
        assert shapely.covers(polygons[owners], shapely.points(x, y)).all()
        assert int(cells.counts.sum()) == len(x)
        # Neighbouring hexagons tile the plane: their union has no holes.
        assert shapely.union_all(polygons).area == pytest.approx(polygons[0].area * len(polygons))


def test_grid_ignores_missing_coordinates_and_rejects_bad_sizes() -> None:
    cells = count_cells(np.array([1.0, np.nan, 5.0]), np.array([1.0, 2.0, np.nan]), 100, "square")
    assert cells.counts.tolist() == [1]
    with pytest.raises(InputError):
        count_cells(np.array([1.0]), np.array([1.0]), 0, "square")


def test_missing_coordinates_are_refused_clearly(
    service: QueryService, export_dir: DataDir
) -> None:
    with pytest.raises(InputError, match="easting/northing") as caught:
        export_query(
            service,
            ANALYST,
            "SELECT crime_id FROM crime",
            "SA-2026",
            format="tab",
            data_dir=export_dir,
            options={"geometry": "points"},
        )
    assert caught.value.query_id  # the query ran (and is audited) before the layer failed

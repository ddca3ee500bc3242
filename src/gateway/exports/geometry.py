"""From a query result to a map layer: points, areas joined to base maps, or a hotspot grid.

The layer is an Arrow table whose ``geometry`` column holds WKB, plus its geometry type, CRS
and bounds — what GDAL's Arrow writer and the GeoParquet writer take directly (no GeoDataFrame
in between, which keeps a million-point export close to the speed of GDAL itself).

- **points**: one feature per row from two coordinate columns; rows with a missing coordinate
  keep a null geometry. Coordinates are whatever the policy let through: for a general user,
  location coordinates are already snapped to anonymous map points by the rewrite.
- **areas**: one feature per row, its polygon joined from the base-map layer on the code
  column (null where the code is unknown); every result row is kept, so the sum of a count
  column over the layer equals the query's total; and every area of the user's geography
  the result lacks is added with 0 in whole-number columns (``all_areas``, default on), so a
  choropleth of the layer has no holes.
- **grid**: one feature per occupied cell with ``cell_id`` and ``count`` (and ``sum_<weight>``);
  the counts add up to the number of rows with coordinates.

Example:
    >>> import pyarrow as pa
    >>> from gateway.exports.options import parse_options
    >>> opts = parse_options("gpkg", {"geometry": "points"})
    >>> layer = build_layer(pa.table({"easting": [450000.0], "northing": [520000.0]}), opts, None)
    >>> layer.geometry_type, layer.epsg, layer.features, layer.bounds
    ('Point', 27700, 1, (450000.0, 520000.0, 450000.0, 520000.0))
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt
import pyarrow as pa

from gateway.errors import InputError
from gateway.exports.basemaps import area_codes, area_geometries
from gateway.exports.dependencies import require
from gateway.exports.grid import cell_polygons, count_cells
from gateway.exports.options import ExportOptions, GeometrySpec, resolve_geometry

__all__ = [
    "GEOMETRY_COLUMN",
    "Layer",
    "build_layer",
    "point_wkb",
    "transform_xy",
    "with_missing_areas",
]

GEOMETRY_COLUMN = "geometry"
FloatArray = npt.NDArray[np.float64]
Bounds = tuple[float, float, float, float]


@dataclass(frozen=True)
class Layer:
    """A table ready to write.

    Attributes:
        table: the attribute columns, plus :data:`GEOMETRY_COLUMN` (WKB) for map layers.
        geometry: how the geometry was made (resolved from the options).
        geometry_type: ``Point``, ``Polygon``, ``MultiPolygon`` or None (no geometry).
        epsg: CRS of the geometry (None without geometry).
        bounds: ``(minx, miny, maxx, maxy)`` of the geometries, None if there are none.
    """

    table: pa.Table
    geometry: GeometrySpec
    geometry_type: str | None = None
    epsg: int | None = None
    bounds: Bounds | None = None

    @property
    def features(self) -> int:
        return int(self.table.num_rows)

    @property
    def spatial(self) -> bool:
        return self.geometry_type is not None

    @property
    def attribute_names(self) -> list[str]:
        return [n for n in self.table.column_names if not (self.spatial and n == GEOMETRY_COLUMN)]


def _float_column(table: pa.Table, name: str) -> FloatArray:
    column = table.column(name)
    if not (
        pa.types.is_integer(column.type)
        or pa.types.is_floating(column.type)
        or pa.types.is_decimal(column.type)
    ):
        raise InputError(f"coordinate column {name!r} is not numeric")
    values = column.cast(pa.float64()).to_numpy(zero_copy_only=False)
    return np.asarray(values, dtype=np.float64)


def transform_xy(
    x: FloatArray, y: FloatArray, source: int, target: int
) -> tuple[FloatArray, FloatArray]:
    """Reproject coordinate arrays (x = easting/longitude first); NaN stays NaN."""
    if source == target:
        return x, y
    pyproj = require("pyproj")
    transformer = pyproj.Transformer.from_crs(f"EPSG:{source}", f"EPSG:{target}", always_xy=True)
    tx, ty = transformer.transform(x, y)
    return np.asarray(tx, dtype=np.float64), np.asarray(ty, dtype=np.float64)


def _transform_geometries(geoms: Any, source: int, target: int) -> Any:
    if source == target:
        return geoms
    shapely = require("shapely")
    pyproj = require("pyproj")
    transformer = pyproj.Transformer.from_crs(f"EPSG:{source}", f"EPSG:{target}", always_xy=True)

    def move(coords: FloatArray) -> FloatArray:
        tx, ty = transformer.transform(coords[:, 0], coords[:, 1])
        return np.column_stack([tx, ty])

    return shapely.transform(geoms, move)


def point_wkb(x: FloatArray, y: FloatArray) -> pa.Array:
    """WKB points (little-endian, 21 bytes each) built with numpy; null where x or y is not
    finite.

    Example:
        >>> point_wkb(np.array([1.0, np.nan]), np.array([2.0, 3.0])).null_count
        1
    """
    n = len(x)
    records = np.empty(n, dtype=[("order", "u1"), ("type", "<u4"), ("x", "<f8"), ("y", "<f8")])
    records["order"] = 1
    records["type"] = 1
    records["x"] = x
    records["y"] = y
    offsets = np.arange(0, 21 * (n + 1), 21, dtype=np.int32)
    valid = np.isfinite(x) & np.isfinite(y)
    validity = None
    if not valid.all():
        validity = pa.array(valid).buffers()[1]
    return pa.BinaryArray.from_buffers(
        pa.binary(),
        n,
        [validity, pa.py_buffer(offsets.tobytes()), pa.py_buffer(records.tobytes())],
        null_count=int(n - valid.sum()),
    )


def _point_bounds(x: FloatArray, y: FloatArray) -> Bounds | None:
    valid = np.isfinite(x) & np.isfinite(y)
    if not valid.any():
        return None
    return (
        float(x[valid].min()),
        float(y[valid].min()),
        float(x[valid].max()),
        float(y[valid].max()),
    )


def _geometry_bounds(geoms: Any) -> Bounds | None:
    shapely = require("shapely")
    present = geoms[~shapely.is_missing(geoms)] if len(geoms) else geoms
    if len(present) == 0:
        return None
    b = shapely.total_bounds(present)
    return (float(b[0]), float(b[1]), float(b[2]), float(b[3]))


def _with_geometry(table: pa.Table, wkb: pa.Array) -> pa.Table:
    if GEOMETRY_COLUMN in table.column_names:
        raise InputError(
            f"the result already has a column called {GEOMETRY_COLUMN!r}; rename it in the SQL"
        )
    return table.append_column(pa.field(GEOMETRY_COLUMN, pa.binary()), wkb)


def _points(table: pa.Table, spec: GeometrySpec, epsg: int) -> Layer:
    if not (spec.x and spec.y and spec.source_crs):
        raise InputError("points need coordinate columns")
    x, y = _float_column(table, spec.x), _float_column(table, spec.y)
    x, y = transform_xy(x, y, spec.source_crs, epsg)
    return Layer(_with_geometry(table, point_wkb(x, y)), spec, "Point", epsg, _point_bounds(x, y))


def with_missing_areas(table: pa.Table, area_column: str, codes: Sequence[str]) -> pa.Table:
    """``table`` plus a row for each code in ``codes`` it lacks: whole-number columns 0 (no
    records there), every other column empty.

    Example:
        >>> t = pa.table({"lsoa_code": ["A"], "crimes": [3], "rate": [1.5]})
        >>> with_missing_areas(t, "lsoa_code", ["A", "B"]).to_pylist()[1]
        {'lsoa_code': 'B', 'crimes': 0, 'rate': None}
    """
    present = {str(c) for c in table.column(area_column).to_pylist() if c is not None}
    missing = [c for c in codes if c not in present]
    if not missing:
        return table
    columns = []
    for field in table.schema:
        if field.name == area_column:
            columns.append(pa.array(missing, pa.string()).cast(field.type))
        elif pa.types.is_integer(field.type):
            columns.append(pa.array([0] * len(missing), field.type))
        else:
            columns.append(pa.nulls(len(missing), field.type))
    filler = pa.Table.from_arrays(columns, schema=table.schema)
    return pa.concat_tables([table, filler]).combine_chunks()


def _areas(
    table: pa.Table,
    spec: GeometrySpec,
    epsg: int,
    basemaps: Path | None,
    geography: Sequence[str],
) -> Layer:
    if not (spec.area_column and spec.layer):
        raise InputError("an areas export needs an area code column")
    if basemaps is None:
        raise InputError("area exports need the deployment's base maps")
    if spec.all_areas and geography:
        table = with_missing_areas(
            table,
            spec.area_column,
            area_codes(basemaps, spec.layer, spec.area_column, geography),
        )
    codes = table.column(spec.area_column).combine_chunks()
    wkb = area_geometries(basemaps, spec.layer, spec.area_column, codes)
    shapely = require("shapely")
    geoms = shapely.from_wkb(wkb.to_numpy(zero_copy_only=False))
    if epsg != 27700:
        geoms = _transform_geometries(geoms, 27700, epsg)
        wkb = pa.array(shapely.to_wkb(geoms), pa.binary())
    bounds = _geometry_bounds(geoms)
    return Layer(_with_geometry(table, wkb), spec, "MultiPolygon", epsg, bounds)


def _grid(table: pa.Table, spec: GeometrySpec, epsg: int) -> Layer:
    if not (spec.x and spec.y and spec.source_crs):
        raise InputError("a grid needs coordinate columns")
    x, y = _float_column(table, spec.x), _float_column(table, spec.y)
    x, y = transform_xy(x, y, spec.source_crs, 27700)  # cells are metres on the National Grid
    weights = _float_column(table, spec.weight) if spec.weight else None
    cells = count_cells(x, y, spec.cell_size, spec.cell_shape, weights=weights)
    columns: dict[str, pa.Array] = {
        "cell_id": pa.array(cells.ids, pa.string()),
        "count": pa.array(cells.counts, pa.int64()),
    }
    if spec.weight and cells.sums is not None:
        columns[f"sum_{spec.weight}"] = pa.array(cells.sums, pa.float64())
    geoms = _transform_geometries(cell_polygons(cells), 27700, epsg)
    shapely = require("shapely")
    wkb = pa.array(shapely.to_wkb(geoms) if len(geoms) else [], pa.binary())
    out = pa.table(columns).append_column(pa.field(GEOMETRY_COLUMN, pa.binary()), wkb)
    return Layer(out, spec, "Polygon", epsg, _geometry_bounds(geoms))


def build_layer(
    table: pa.Table,
    options: ExportOptions,
    basemaps: Path | None,
    geography: Sequence[str] = (),
) -> Layer:
    """Make the layer ``options`` asks for from a result table; an areas layer holds every
    area of ``geography`` (local authority codes: the user's areas) unless
    ``all_areas`` is off.

    Raises:
        InputError: the result lacks the columns the geometry needs, or they are not numeric.
        ConfigurationError: base maps are missing or malformed.
    """
    spec = resolve_geometry(options.geometry, table.column_names)
    epsg = options.output_epsg
    if spec.kind == "none":
        return Layer(table, spec)
    if spec.kind == "points":
        return _points(table, spec, epsg)
    if spec.kind == "areas":
        return _areas(table, spec, epsg, basemaps, geography)
    return _grid(table, spec, epsg)

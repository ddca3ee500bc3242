"""Base-map layers (GeoPackage, EPSG:27700): authorities, neighbourhoods, wards, LSOAs, map points.

The polygon layers carry the same codes, names and populations as the warehouse's reference
tables; the ``map_point`` layer matches the ``map_point`` table row for row. geopandas and
pyogrio are imported only here, when a map is written.

Example:
    >>> import tempfile, pathlib, pyogrio
    >>> from gateway.generate.geography import build_geography
    >>> from gateway.generate.reference import load_reference
    >>> geo = build_geography(load_reference(), 7)
    >>> points = pl.DataFrame({"map_point_id": [1], "name": ["Oak Road"], "point_type": ["street"],
    ...     "easting": [450000.0], "northing": [520000.0], "lsoa_code": ["E01012020"],
    ...     "local_authority_code": ["E06000002"], "address_count": [12]})
    >>> path = pathlib.Path(tempfile.mkdtemp()) / "maps.gpkg"
    >>> write_basemaps(path, geo, points)
    >>> [str(name) for name, _ in pyogrio.list_layers(path)]
    ['local_authority', 'neighbourhood', 'ward', 'lsoa', 'map_point']
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import polars as pl

from gateway.generate.geography import Geography

__all__ = ["CRS", "LAYERS", "write_basemaps"]

CRS = "EPSG:27700"
LAYERS = ("local_authority", "neighbourhood", "ward", "lsoa", "map_point")
_LSOA_COLUMNS = (
    "lsoa_code",
    "name",
    "msoa_code",
    "ward_code",
    "neighbourhood_code",
    "local_authority_code",
    "population",
    "imd_decile",
)


def write_basemaps(path: Path, geography: Geography, map_points: pl.DataFrame) -> None:
    """Write every layer to a new GeoPackage at ``path`` (which must not exist yet)."""
    import pyogrio

    layers: list[tuple[str, Any]] = [
        (
            "local_authority",
            _polygons(geography.local_authority.drop("short"), geography.authority_shapes),
        ),
        ("neighbourhood", _polygons(geography.neighbourhood, geography.neighbourhood_shapes)),
        ("ward", _polygons(geography.ward, geography.ward_shapes)),
        ("lsoa", _polygons(geography.lsoa.select(_LSOA_COLUMNS), geography.lsoa_shapes)),
        ("map_point", _points(map_points)),
    ]
    for name, frame in layers:
        pyogrio.write_dataframe(frame, path, layer=name, driver="GPKG", promote_to_multi=False)


def _polygons(attributes: pl.DataFrame, shapes: Any) -> Any:
    import geopandas as gpd

    return gpd.GeoDataFrame(attributes.to_pandas(), geometry=list(shapes), crs=CRS)


def _points(points: pl.DataFrame) -> Any:
    import geopandas as gpd

    return gpd.GeoDataFrame(
        points.drop("easting", "northing").to_pandas(),
        geometry=gpd.points_from_xy(points["easting"].to_numpy(), points["northing"].to_numpy()),
        crs=CRS,
    )

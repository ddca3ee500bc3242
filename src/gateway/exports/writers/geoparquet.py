"""GeoParquet 1.1: the WKB geometry column described by the ``geo`` file metadata.

GDAL's Parquet driver is not part of the GDAL that pyogrio bundles, so the file is written
with pyarrow: the same Arrow table the GDAL writers take, plus the ``geo`` metadata (encoding,
geometry type, PROJJSON CRS, bbox) and the gateway provenance.

Example:
    >>> meta = geo_metadata("Point", 27700, (1.0, 2.0, 3.0, 4.0))
    >>> meta["primary_column"], meta["columns"]["geometry"]["bbox"]
    ('geometry', [1.0, 2.0, 3.0, 4.0])
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pyarrow as pa

from gateway.exports.dependencies import require
from gateway.exports.geometry import GEOMETRY_COLUMN, Bounds
from gateway.exports.provenance import Provenance
from gateway.exports.writers.tabular import write_parquet

__all__ = ["GEOPARQUET_VERSION", "geo_metadata", "write_geoparquet"]

GEOPARQUET_VERSION = "1.1.0"


def geo_metadata(geometry_type: str, epsg: int, bounds: Bounds | None) -> dict[str, Any]:
    """The ``geo`` metadata object for one WKB geometry column."""
    pyproj = require("pyproj")
    column: dict[str, Any] = {
        "encoding": "WKB",
        "geometry_types": [geometry_type],
        "crs": pyproj.CRS.from_epsg(epsg).to_json_dict(),
    }
    if bounds is not None:
        column["bbox"] = list(bounds)
    return {
        "version": GEOPARQUET_VERSION,
        "primary_column": GEOMETRY_COLUMN,
        "columns": {GEOMETRY_COLUMN: column},
    }


def write_geoparquet(
    table: pa.Table,
    path: Path,
    *,
    geometry_type: str,
    epsg: int,
    bounds: Bounds | None,
    provenance: Provenance,
    progress: Callable[[int], None],
) -> None:
    """GeoParquet with the gateway provenance beside the ``geo`` metadata."""
    geo = json.dumps(geo_metadata(geometry_type, epsg, bounds)).encode("utf-8")
    write_parquet(
        table, path, provenance=provenance, progress=progress, extra_metadata={b"geo": geo}
    )

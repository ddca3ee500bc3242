"""A map layer as GeoJSON to draw in a browser: the layer an export would write, not a file.

:func:`preview_layer` makes the layer exactly as :func:`gateway.exports.geometry.build_layer`
makes it for an export (the same options: points from the coordinate columns the policy let
through, areas joined to the base maps, a hotspot grid), in EPSG:4326 (WGS 84, what web maps and
RFC 7946 GeoJSON use), and :func:`feature_collection` turns it into a GeoJSON
``FeatureCollection``: every row with a geometry one feature with its attributes, coordinates
rounded to :data:`DIGITS` decimals (about 10 cm). Rows without a geometry (no coordinates, an
area code the base maps lack) are counted, not drawn.

Example:
    >>> import pyarrow as pa
    >>> table = pa.table({"easting": [450000.0, None], "northing": [520000.0, None], "n": [3, 1]})
    >>> layer = preview_layer(table, {"geometry": "points"}, None)
    >>> collection = feature_collection(layer)
    >>> collection["features"][0]["properties"], collection["skipped"]
    ({'easting': 450000.0, 'northing': 520000.0, 'n': 3}, 1)
    >>> [round(c, 3) for c in collection["features"][0]["geometry"]["coordinates"]]
    [-1.228, 54.573]
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping, Sequence
from datetime import date, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import numpy as np

from gateway.exports.dependencies import require
from gateway.exports.geometry import GEOMETRY_COLUMN, Layer, build_layer
from gateway.exports.options import parse_options

__all__ = ["DIGITS", "PREVIEW_EPSG", "feature_collection", "preview_layer"]

PREVIEW_EPSG = 4326
#: Decimal places of the drawn coordinates (degrees): 6 ≈ 0.1 m.
DIGITS = 6


def preview_layer(
    table: Any,
    options: Mapping[str, Any],
    basemaps: Path | None,
    geography: Sequence[str] = (),
) -> Layer:
    """The layer an export with these geometry ``options`` would hold, in EPSG:4326.

    Raises:
        InputError: an option is unknown, or the result lacks the columns the geometry needs.
        ConfigurationError: base maps are missing or malformed.
    """
    parsed = parse_options("geojson", {**options, "crs": PREVIEW_EPSG})
    return build_layer(table, parsed, basemaps, geography)


def _plain(value: Any) -> Any:
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, datetime | date):
        return value.isoformat()
    if isinstance(value, Decimal):
        return float(value)
    if isinstance(value, bytes):
        return None
    return value


def feature_collection(layer: Layer, *, limit: int | None = None) -> dict[str, Any]:
    """``layer`` (EPSG:4326) as a GeoJSON FeatureCollection, with ``skipped`` (rows without a
    geometry) and ``truncated`` (features left out beyond ``limit``) beside the features."""
    shapely = require("shapely")
    table = layer.table
    names = [n for n in table.column_names if n != GEOMETRY_COLUMN]
    geometries = shapely.from_wkb(table.column(GEOMETRY_COLUMN).to_numpy(zero_copy_only=False))
    geometries = shapely.transform(geometries, lambda xy: np.round(xy, DIGITS))
    present = ~shapely.is_missing(geometries)
    texts = shapely.to_geojson(geometries)
    rows = table.select(names).to_pylist()
    features: list[dict[str, Any]] = []
    for row, text, drawn in zip(rows, texts, present, strict=True):
        if not drawn:
            continue
        if limit is not None and len(features) >= limit:
            break
        properties = {k: _plain(v) for k, v in row.items()}
        features.append({"type": "Feature", "properties": properties, "geometry": json.loads(text)})
    drawable = int(present.sum())
    return {
        "type": "FeatureCollection",
        "features": features,
        "skipped": int(len(rows) - drawable),
        "truncated": drawable - len(features),
    }

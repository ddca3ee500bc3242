"""Base-map layers (``DIR/basemaps.gpkg``): what there is, their polygons, the force extent.

A base layer is downloaded like any export: its attributes come from the warehouse's
reference table *through the policy* (``SELECT * FROM lsoa``, ``SELECT * FROM map_point``),
audited as a query, and the geometry is joined from the GeoPackage (areas) or made from the
policy-visible easting/northing (map points) — so a point layer is never more exact than the
principal's policy allows.

Example:
    >>> BASE_LAYERS["lsoa"].code_column, BASE_LAYERS["map_point"].kind
    ('lsoa_code', 'points')
    >>> BASE_LAYERS["ward"].query()
    'SELECT * FROM ward'
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import pyarrow as pa
import pyarrow.compute as pc

from gateway.errors import ConfigurationError, NotFound
from gateway.exports.dependencies import require
from gateway.policy.exports import ExportSettings

__all__ = [
    "BASE_LAYERS",
    "BaseLayer",
    "BaseLayerInfo",
    "area_codes",
    "area_geometries",
    "base_layer",
    "force_extent",
    "list_base_layers",
]


@dataclass(frozen=True)
class BaseLayer:
    """A base-map layer the gateway offers.

    Attributes:
        name: layer name in the GeoPackage (= the warehouse reference table).
        code_column: the column areas are joined on (or the point id).
        kind: ``areas`` (polygons) or ``points``.
        title: a human description.
    """

    name: str
    code_column: str
    kind: Literal["areas", "points"]
    title: str

    def query(self) -> str:
        """The SQL whose (policy-enforced) result carries the layer's attributes."""
        return f"SELECT * FROM {self.name}"

    def options(self) -> dict[str, Any]:
        """Export options that give the layer its geometry."""
        if self.kind == "points":
            return {"geometry": "points", "x": "easting", "y": "northing", "source_crs": 27700}
        return {"geometry": "areas", "area_column": self.code_column}


BASE_LAYERS: dict[str, BaseLayer] = {
    layer.name: layer
    for layer in (
        BaseLayer("local_authority", "local_authority_code", "areas", "Local authorities (CSPs)"),
        BaseLayer("neighbourhood", "neighbourhood_code", "areas", "Policing neighbourhoods"),
        BaseLayer("ward", "ward_code", "areas", "Electoral wards"),
        BaseLayer("lsoa", "lsoa_code", "areas", "Lower layer super output areas"),
        BaseLayer("map_point", "map_point_id", "points", "Anonymous map points (8+ addresses)"),
    )
}


@dataclass(frozen=True)
class BaseLayerInfo:
    """A base layer present in the data directory, for ``GET /v1/maps``."""

    name: str
    title: str
    kind: str
    geometry_type: str
    features: int
    fields: tuple[str, ...]
    crs: str

    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "title": self.title,
            "kind": self.kind,
            "geometry_type": self.geometry_type,
            "features": self.features,
            "fields": list(self.fields),
            "crs": self.crs,
        }


def base_layer(name: str) -> BaseLayer:
    """The offered layer called ``name``.

    Raises:
        NotFound: no such layer.
    """
    layer = BASE_LAYERS.get(name)
    if layer is None:
        raise NotFound(f"no base layer {name!r}; layers: {', '.join(BASE_LAYERS)}")
    return layer


def _check(path: Path) -> None:
    if not path.is_file():
        raise ConfigurationError(
            f"no base maps at {path}; run `gateway generate` (or `gateway demo`) first"
        )


def list_base_layers(path: Path) -> list[BaseLayerInfo]:
    """The offered layers present in the GeoPackage at ``path``, in :data:`BASE_LAYERS` order
    (none when the deployment has no base maps)."""
    if not path.is_file():
        return []
    pyogrio = require("pyogrio")
    present = {str(name) for name, _ in pyogrio.list_layers(path)}
    out = []
    for layer in BASE_LAYERS.values():
        if layer.name not in present:
            continue
        info = pyogrio.read_info(path, layer=layer.name)
        out.append(
            BaseLayerInfo(
                name=layer.name,
                title=layer.title,
                kind=layer.kind,
                geometry_type=str(info["geometry_type"]),
                features=int(info["features"]),
                fields=tuple(str(f) for f in info["fields"]),
                crs=str(info["crs"]),
            )
        )
    return out


def area_geometries(path: Path, layer: str, code_column: str, codes: pa.Array) -> pa.Array:
    """The WKB polygon of each code in ``codes`` (null where the layer has no such area).

    The base maps are EPSG:27700.

    Raises:
        ConfigurationError: no base maps, or the layer lacks the code column.
    """
    _check(path)
    pyogrio = require("pyogrio")
    present = {str(name) for name, _ in pyogrio.list_layers(path)}
    if layer not in present:
        raise ConfigurationError(f"the base maps at {path} have no {layer} layer")
    meta, table = pyogrio.raw.read_arrow(path, layer=layer, columns=[code_column])
    if code_column not in table.column_names:
        raise ConfigurationError(f"base layer {layer} has no {code_column} column")
    if str(meta.get("crs")) != "EPSG:27700":
        raise ConfigurationError(f"base layer {layer} is not in EPSG:27700")
    geometry_name = meta.get("geometry_name") or "wkb_geometry"
    layer_codes = table.column(code_column).combine_chunks().cast(pa.string())
    polygons = table.column(geometry_name).combine_chunks().cast(pa.binary())
    positions = pc.index_in(codes.cast(pa.string()), value_set=layer_codes)
    return pc.take(polygons, positions)


def area_codes(path: Path, layer: str, code_column: str, within: Sequence[str]) -> list[str]:
    """The codes of ``layer``'s areas in the local authorities ``within`` (sorted).

    Raises:
        ConfigurationError: no base maps, or the layer lacks the columns.
    """
    _check(path)
    pyogrio = require("pyogrio")
    errors = require("pyogrio.errors")
    columns = list(dict.fromkeys([code_column, "local_authority_code"]))
    try:
        _, table = pyogrio.raw.read_arrow(path, layer=layer, columns=columns, read_geometry=False)
    except (errors.DataLayerError, errors.FieldError) as exc:
        raise ConfigurationError(f"base layer {layer} cannot be read for its codes") from exc
    if not set(columns) <= set(table.column_names):
        raise ConfigurationError(f"base layer {layer} lacks {' or '.join(columns)}")
    wanted = pc.is_in(
        table.column("local_authority_code").cast(pa.string()),
        value_set=pa.array(list(within), pa.string()),
    )
    codes = table.filter(wanted).column(code_column).cast(pa.string()).to_pylist()
    return sorted(str(c) for c in codes if c is not None)


def force_extent(path: Path, settings: ExportSettings) -> tuple[float, float, float, float]:
    """The force area's EPSG:27700 bounds: the authorities layer's, else the settings'."""
    if path.is_file():
        pyogrio = require("pyogrio")
        present = {str(name) for name, _ in pyogrio.list_layers(path)}
        if "local_authority" in present:
            info = pyogrio.read_info(path, layer="local_authority", force_total_bounds=True)
            bounds = tuple(float(v) for v in info["total_bounds"])
            if len(bounds) == 4 and bounds[0] < bounds[2] and bounds[1] < bounds[3]:
                return (bounds[0], bounds[1], bounds[2], bounds[3])
    return settings.force_extent

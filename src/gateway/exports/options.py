"""Export options: what the analyst asks for, checked, and the geometry worked out from the
result's columns.

Options (all optional; the API takes them as a JSON object, the CLI as ``--option key=value``)
are listed, with their values and defaults, in :data:`OPTION_DOCS` — the one table the
OpenAPI document (``/docs``), the README and the CLI help are checked against::

    geometry      auto | points | areas | grid | none     (auto for map formats)
    x, y          coordinate columns for points/grid (default easting/northing, else
                  longitude/latitude)
    source_crs    EPSG code of x/y (default 27700 for easting/northing, 4326 for lon/lat)
    area_column   lsoa_code | ward_code | neighbourhood_code | local_authority_code (areas;
                  default: the finest one in the result)
    all_areas     true (default) | false: an areas layer holds every area of your geography,
                  those missing from the result with 0 counts, so a choropleth has no holes
    cell_size     grid cell size in metres, 100 to 50000 (default 500)
    cell_shape    square | hex (default square)
    weight        a numeric column summed per grid cell, besides the count
    crs           27700 or 4326, also "EPSG:4326" (default 27700; GeoJSON 4326, RFC 7946)
    encoding      MapInfo TAB and MIF: WindowsLatin1 (default; version 300, any MapInfo) |
                  UTF-8 (MapInfo 15.2 or later)
    name          file/layer name (default: the template name, else export_<query id>)
    csv_marking   column | comment | none: how a CSV carries its marking inside (default the
                  policy's [markings] csv_marking, column: a trailing protective_marking
                  column; comment: a first "# marking | provenance" line; none: only where
                  the policy allows unmarked CSV, else 400 marking_required)
    csv_comment   true: the same as csv_marking=comment (kept for older scripts); false: the
                  policy's default (it never removes the marking)
    formula_guard true (default) | false: in CSV and XLSX, text starting with = + - @ tab or
                  carriage return gets a leading apostrophe so spreadsheets never run it as a
                  formula (OWASP CSV injection; see gateway.exports.formulas)
    marking       a protective marking higher than the policy's for the data (default: the
                  policy's; a lower one, or none, is refused: 400 marking_lowered)

``auto`` picks points when the result has easting/northing (or longitude/latitude) columns,
else areas when it has an area code column; a map format with neither is refused.

Example:
    >>> opts = parse_options("gpkg", {"geometry": "grid", "cell_size": 250, "crs": "EPSG:4326"})
    >>> opts.geometry.kind, opts.geometry.cell_size, opts.crs
    ('grid', 250.0, 4326)
    >>> parse_options("geojson", {}).crs, parse_options("tab", {}).encoding
    (4326, 'WindowsLatin1')
    >>> resolve_geometry(parse_options("gpkg", {}).geometry, ["lsoa_code", "n"]).describe()
    'areas joined on lsoa_code'
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from typing import Any, Literal

from gateway.errors import InputError
from gateway.exports.formats import ExportFormat, export_format
from gateway.exports.grid import CellShape

__all__ = [
    "AREA_COLUMNS",
    "CRS_CHOICES",
    "MAPINFO_ENCODINGS",
    "OPTION_DOCS",
    "ExportOptions",
    "GeometryKind",
    "GeometrySpec",
    "OptionDoc",
    "options_markdown",
    "parse_options",
    "resolve_geometry",
]

GeometryKind = Literal["auto", "none", "points", "areas", "grid"]
#: Base-map layer for each area code column, finest first.
AREA_COLUMNS: Mapping[str, str] = {
    "lsoa_code": "lsoa",
    "ward_code": "ward",
    "neighbourhood_code": "neighbourhood",
    "local_authority_code": "local_authority",
}
CRS_CHOICES = (27700, 4326)
_COORDINATE_PAIRS = (("easting", "northing", 27700), ("longitude", "latitude", 4326))
#: MapInfo charsets offered (name → GDAL's ENCODING): WindowsLatin1 is written as a version
#: 300 table every MapInfo reads; UTF-8 makes GDAL write version 1520 (MapInfo 15.2+).
MAPINFO_ENCODINGS: Mapping[str, str] = {"WindowsLatin1": "CP1252", "UTF-8": "UTF-8"}
_ENCODING_ALIASES = {
    "windowslatin1": "WindowsLatin1",
    "cp1252": "WindowsLatin1",
    "windows-1252": "WindowsLatin1",
    "utf-8": "UTF-8",
    "utf8": "UTF-8",
}


@dataclass(frozen=True)
class OptionDoc:
    """One export option as users read about it: ``name``, its ``values`` and what it does."""

    name: str
    values: str
    description: str


OPTION_DOCS: tuple[OptionDoc, ...] = (
    OptionDoc(
        "geometry",
        "auto | points | areas | grid | none",
        "How map features are made: points from coordinates, areas joined to base-map "
        "polygons on an area code, a hotspot grid counting points per cell. Default auto "
        "(points when the result has easting/northing or longitude/latitude, else areas).",
    ),
    OptionDoc("x", "column", "Coordinate column for points/grid (default easting or longitude)."),
    OptionDoc("y", "column", "Coordinate column for points/grid (default northing or latitude)."),
    OptionDoc(
        "source_crs", "EPSG code", "CRS of x/y (default 27700 for easting, 4326 for longitude)."
    ),
    OptionDoc(
        "area_column",
        " | ".join(AREA_COLUMNS),
        "Area code column joined to the base map (default: the finest one in the result).",
    ),
    OptionDoc(
        "all_areas",
        "true | false",
        "Areas layers hold every area of your geography; areas missing from the result get 0 "
        "in whole-number columns (empty elsewhere), so a choropleth has no holes. Default true.",
    ),
    OptionDoc("cell_size", "100 to 50000", "Grid cell size in metres (default 500)."),
    OptionDoc("cell_shape", "square | hex", "Grid cell shape (default square)."),
    OptionDoc("weight", "column", "A numeric column summed per grid cell, besides the count."),
    OptionDoc(
        "crs",
        "27700 | 4326",
        "Output CRS, also written EPSG:4326. Default 27700 (British National Grid); GeoJSON "
        "defaults to 4326 (RFC 7946); KML is always 4326.",
    ),
    OptionDoc(
        "encoding",
        " | ".join(MAPINFO_ENCODINGS),
        "MapInfo TAB and MIF/MID charset. Default WindowsLatin1 (a version 300 table every "
        "MapInfo opens); UTF-8 needs MapInfo 15.2 or later.",
    ),
    OptionDoc(
        "name",
        "letters, digits, _ - .",
        "File and layer name (default: the template name, else export_<query id>; the CLI "
        "and client use the output file's name).",
    ),
    OptionDoc(
        "csv_marking",
        "column | comment | none",
        "How a CSV carries its protective marking inside. Default the policy's (column: a "
        "trailing protective_marking column on every row, which pandas, polars, DuckDB, GDAL "
        "and MapInfo read as it is); comment: a first '# marking | provenance' line (readers "
        "must skip it); none: the marking only in the file name and sidecar, refused (400 "
        "marking_required) unless the policy allows unmarked CSV.",
    ),
    OptionDoc(
        "csv_comment",
        "true | false",
        "CSV: true is csv_marking=comment (kept for older scripts); false keeps the "
        "policy's default, never an unmarked file.",
    ),
    OptionDoc(
        "formula_guard",
        "true | false",
        "CSV and XLSX: text starting with = + - @ tab or carriage return gets a leading "
        "apostrophe so spreadsheets never run it as a formula. Default true.",
    ),
    OptionDoc(
        "marking",
        "a marking on the policy's scale",
        "Protective marking printed on the file: default the policy's for the data; you may "
        "raise it (e.g. SECRET), never lower or remove it (400 marking_lowered).",
    ),
)
_KEYS = tuple(doc.name for doc in OPTION_DOCS)


def options_markdown() -> str:
    """:data:`OPTION_DOCS` as a Markdown table (the OpenAPI description of ``options``).

    Example:
        >>> options_markdown().splitlines()[2].startswith("| `geometry` |")
        True
    """
    lines = ["| option | values | what it does |", "|---|---|---|"]
    lines += [f"| `{d.name}` | {d.values} | {d.description} |" for d in OPTION_DOCS]
    return "\n".join(lines)


_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$")
_MIN_CELL_M = 100.0  # smallest grid cell, metres


@dataclass(frozen=True)
class GeometrySpec:
    """How the layer's geometry is made.

    Attributes:
        kind: ``points``, ``areas``, ``grid``, ``none`` (or ``auto`` until resolved).
        x, y: coordinate columns (points, grid).
        source_crs: EPSG code of the coordinates.
        area_column: code column joined to a base-map layer (areas).
        cell_size, cell_shape: the grid (see :mod:`gateway.exports.grid`).
        weight: a column summed per grid cell.
        all_areas: an areas layer holds every area of the user's geography (no holes).
    """

    kind: GeometryKind = "auto"
    x: str | None = None
    y: str | None = None
    source_crs: int | None = None
    area_column: str | None = None
    cell_size: float = 500.0
    cell_shape: CellShape = "square"
    weight: str | None = None
    all_areas: bool = True

    @property
    def layer(self) -> str | None:
        """The base-map layer an ``areas`` geometry joins to."""
        return AREA_COLUMNS.get(self.area_column or "")

    def describe(self) -> str | None:
        """For the provenance, e.g. ``points from easting/northing (EPSG:27700)``."""
        if self.kind == "points":
            return f"points from {self.x}/{self.y} (EPSG:{self.source_crs})"
        if self.kind == "areas":
            return f"areas joined on {self.area_column}"
        if self.kind == "grid":
            weight = f", sum of {self.weight}" if self.weight else ""
            return (
                f"{self.cell_shape} grid of {self.cell_size:g} m cells counting points from "
                f"{self.x}/{self.y}{weight}"
            )
        return None


@dataclass(frozen=True)
class ExportOptions:
    """A checked export request (format and options).

    Attributes:
        format: the export format.
        geometry: how geometry is made (``none`` for tabular formats).
        crs: output EPSG code (27700 or 4326; KML is always 4326).
        name: file and layer name stem.
        encoding: MapInfo charset (a key of :data:`MAPINFO_ENCODINGS`).
        csv_marking: how a CSV carries its marking (``column``, ``comment``, ``none``; None:
            the policy's ``[markings] csv_marking``), checked against the policy when written.
        formula_guard: guard CSV and XLSX text cells against formula injection.
        marking: the marking the analyst asked for (None: the policy's); checked against
            the policy's for the data when the file is written.
    """

    format: ExportFormat
    geometry: GeometrySpec = GeometrySpec()
    crs: int = 27700
    name: str | None = None
    encoding: str = "WindowsLatin1"
    csv_marking: str | None = None
    formula_guard: bool = True
    marking: str | None = None

    @property
    def output_epsg(self) -> int:
        return self.format.fixed_epsg or self.crs


def _epsg(value: Any, key: str, choices: Sequence[int] | None = CRS_CHOICES) -> int:
    text = str(value).strip().upper()
    if text.startswith("EPSG:"):
        text = text[5:]
    if isinstance(value, bool) or not text.isdigit():
        raise InputError(f"export option {key}: expected an EPSG code such as 27700 or 4326")
    code = int(text)
    if choices is not None and code not in choices:
        raise InputError(
            f"export option {key}: EPSG:{code} is not offered; use "
            + " or ".join(f"EPSG:{c}" for c in choices)
        )
    return code


def _column_name(value: Any, key: str) -> str:
    if not isinstance(value, str) or not value or len(value) > 128:
        raise InputError(f"export option {key}: expected a column name")
    return value


def _bool(value: Any, key: str) -> bool:
    if isinstance(value, bool):
        return value
    text = str(value).strip().lower()
    if text in {"true", "1", "yes"}:
        return True
    if text in {"false", "0", "no"}:
        return False
    raise InputError(f"export option {key}: expected true or false")


def _csv_marking(raw: Mapping[str, Any]) -> str | None:
    style = raw.get("csv_marking")
    if style is not None:
        if style not in ("column", "comment", "none"):
            raise InputError("export option csv_marking: expected column, comment or none")
        return str(style)
    return "comment" if _bool(raw.get("csv_comment", False), "csv_comment") else None


def _encoding(fmt: ExportFormat, value: Any) -> str:
    if value is None:
        return "WindowsLatin1"
    if fmt.driver != "MapInfo File":
        raise InputError(
            f"export option encoding: only MapInfo TAB and MIF take an encoding ({fmt.label} "
            "is always UTF-8)"
        )
    found = _ENCODING_ALIASES.get(str(value).strip().lower())
    if found is None:
        raise InputError(
            f"export option encoding: expected {' or '.join(MAPINFO_ENCODINGS)} "
            "(UTF-8 needs MapInfo 15.2 or later)"
        )
    return found


def parse_options(format: str | ExportFormat, options: Mapping[str, Any] | None) -> ExportOptions:
    """Check a format name and option mapping (values may be text, as from the CLI).

    Raises:
        InputError: an unknown format or option, or a value out of range.
    """
    fmt = format if isinstance(format, ExportFormat) else export_format(format)
    raw = dict(options or {})
    for key in raw:
        if key not in _KEYS:
            raise InputError(f"unknown export option {key!r}; expected one of {', '.join(_KEYS)}")
    kind = str(raw.get("geometry", "auto" if fmt.spatial else "none")).strip().lower()
    if kind not in ("auto", "none", "points", "areas", "grid"):
        raise InputError("export option geometry: expected auto, points, areas, grid or none")
    if fmt.spatial and kind == "none":
        raise InputError(f"{fmt.label} is a map format: it needs points, areas or a grid")
    if not fmt.spatial and kind not in ("none", "auto"):
        raise InputError(
            f"{fmt.label} carries no geometry; choose a map format (gpkg, geojson, shp, tab, "
            "mif, fgb, geoparquet, kml) for points, areas or grids"
        )
    if not fmt.spatial:
        kind = "none"
    cell_size = raw.get("cell_size", 500)
    try:
        size = float(cell_size)
    except (TypeError, ValueError):
        size = math.nan
    if isinstance(cell_size, bool) or not (_MIN_CELL_M <= size <= 50_000):
        raise InputError("export option cell_size: expected 100 to 50000 metres")
    shape = str(raw.get("cell_shape", "square")).strip().lower()
    if shape not in ("square", "hex"):
        raise InputError("export option cell_shape: expected square or hex")
    area_column = raw.get("area_column")
    if area_column is not None and area_column not in AREA_COLUMNS:
        raise InputError(f"export option area_column: expected one of {', '.join(AREA_COLUMNS)}")
    if ("x" in raw) != ("y" in raw):
        raise InputError("export options x and y go together")
    name = raw.get("name")
    if name is not None and (not isinstance(name, str) or not _NAME.match(name)):
        raise InputError(
            "export option name: letters, digits, '_', '-' and '.', at most 64 characters"
        )
    geometry = GeometrySpec(
        kind=kind,  # type: ignore[arg-type]
        x=_column_name(raw["x"], "x") if "x" in raw else None,
        y=_column_name(raw["y"], "y") if "y" in raw else None,
        source_crs=_epsg(raw["source_crs"], "source_crs", None) if "source_crs" in raw else None,
        area_column=area_column,
        cell_size=size,
        cell_shape=shape,  # type: ignore[arg-type]
        weight=_column_name(raw["weight"], "weight") if "weight" in raw else None,
        all_areas=_bool(raw.get("all_areas", True), "all_areas"),
    )
    marking = raw.get("marking")
    if marking is not None and (not isinstance(marking, str) or len(marking) > 80):
        raise InputError("export option marking: expected a protective marking")
    crs = _epsg(raw.get("crs", fmt.default_epsg), "crs")
    if fmt.fixed_epsg and "crs" in raw and crs != fmt.fixed_epsg:
        raise InputError(f"{fmt.label} is always EPSG:{fmt.fixed_epsg}")
    return ExportOptions(
        format=fmt,
        geometry=geometry,
        crs=crs,
        name=name,
        encoding=_encoding(fmt, raw.get("encoding")),
        csv_marking=_csv_marking(raw),
        formula_guard=_bool(raw.get("formula_guard", True), "formula_guard"),
        marking=marking,
    )


def _coordinates(spec: GeometrySpec, columns: Sequence[str]) -> GeometrySpec:
    if spec.x and spec.y:
        for column in (spec.x, spec.y):
            if column not in columns:
                raise InputError(f"the result has no column {column!r} for coordinates")
        source = spec.source_crs
        if source is None:
            source = 4326 if spec.x.lower() in ("longitude", "lon", "lng") else 27700
        return replace(spec, source_crs=source)
    for x, y, crs in _COORDINATE_PAIRS:
        if x in columns and y in columns:
            return replace(spec, x=x, y=y, source_crs=spec.source_crs or crs)
    raise InputError(
        "points need coordinate columns: easting/northing or longitude/latitude "
        "(or name them with the x and y options)"
    )


def resolve_geometry(spec: GeometrySpec, columns: Sequence[str]) -> GeometrySpec:
    """Work out ``auto`` and default columns against the result's column names.

    Raises:
        InputError: the result lacks the columns the geometry needs.
    """
    kind = spec.kind
    if kind == "none":
        return spec
    if kind == "auto":
        has_xy = (spec.x is not None) or any(
            x in columns and y in columns for x, y, _ in _COORDINATE_PAIRS
        )
        if has_xy:
            kind = "points"
        elif spec.area_column or any(c in columns for c in AREA_COLUMNS):
            kind = "areas"
        else:
            raise InputError(
                "a map export needs easting/northing or longitude/latitude columns (points, "
                f"grid) or an area code column ({', '.join(AREA_COLUMNS)}) to join to a base map"
            )
    if kind in ("points", "grid"):
        resolved = _coordinates(replace(spec, kind=kind), columns)
        if kind == "grid" and resolved.weight and resolved.weight not in columns:
            raise InputError(f"the result has no column {resolved.weight!r} to sum per cell")
        return resolved
    area = spec.area_column or next((c for c in AREA_COLUMNS if c in columns), None)
    if area is None or area not in columns:
        raise InputError(
            f"an areas export needs one of the columns {', '.join(AREA_COLUMNS)} in the result"
        )
    return replace(spec, kind="areas", area_column=area)

"""Writers: a prepared layer in, one deliverable file out (zipped for multi-file formats).

    columns      types and names each format can hold (pure Arrow)
    tabular      CSV, Parquet, XLSX
    gdal         GeoPackage, GeoJSON, Shapefile, MapInfo TAB and MIF/MID, FlatGeobuf, KML
    geoparquet   GeoParquet 1.1 (pyarrow)
    package      zip + provenance and field-name sidecars, SHA-256

Every file carries its protective marking inside: in the format's own metadata (Parquet,
GeoParquet, GeoPackage, FlatGeobuf, GeoJSON, MapInfo, KML, XLSX), or — where a format has no
place for it — in a field of every row: a CSV's trailing ``protective_marking`` column (or,
``csv_marking=comment``, its first ``# …`` line), a ``marking`` field of every feature in a
Shapefile and a MapInfo MIF/MID (:func:`marking_field`).

Example:
    >>> import pyarrow as pa
    >>> from gateway.exports.geometry import Layer
    >>> from gateway.exports.options import GeometrySpec
    >>> from gateway.exports.formats import export_format
    >>> prepared = prepare(Layer(pa.table({"n": [1]}), GeometrySpec("none")), export_format("csv"))
    >>> prepared.table.column_names, prepared.renamed
    (['n', 'protective_marking'], {})
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path

import pyarrow as pa

from gateway.errors import ConfigurationError, InputError
from gateway.exports.formats import ExportFormat
from gateway.exports.formulas import guard_formulas
from gateway.exports.geometry import GEOMETRY_COLUMN, Bounds, Layer
from gateway.exports.options import MAPINFO_ENCODINGS, ExportOptions
from gateway.exports.provenance import Provenance
from gateway.exports.writers.columns import prepare_columns
from gateway.exports.writers.gdal import mapinfo_bounds, write_gdal
from gateway.exports.writers.geoparquet import write_geoparquet
from gateway.exports.writers.package import (
    csv_file_name,
    field_names_name,
    sha256_file,
    write_field_names,
    zip_layer,
)
from gateway.exports.writers.tabular import write_csv, write_parquet, write_xlsx
from gateway.policy.markings import MARKING_COLUMN

__all__ = [
    "MARKING_COLUMN",
    "MARKING_FIELD",
    "PreparedLayer",
    "marking_field",
    "prepare",
    "sha256_file",
    "write",
]

RowsWritten = Callable[[int], None]
_RESERVED = (GEOMETRY_COLUMN, "fid", "ogc_fid")
#: The field holding the marking on every feature of a map format with no metadata GDAL
#: reads back (a Shapefile's .dbf, a MIF/MID).
MARKING_FIELD = "marking"
_WITHOUT_METADATA = ("shp", "mif")


def marking_field(fmt: ExportFormat, csv_marking: str | None) -> str | None:
    """The field every row of a ``fmt`` file carries its marking in, if the format has no
    metadata for it (None: the marking is in the format's metadata, or a CSV's comment line).

    Example:
        >>> from gateway.exports.formats import export_format
        >>> marking_field(export_format("csv"), "column"), marking_field(export_format("csv"), "comment")
        ('protective_marking', None)
        >>> [marking_field(export_format(f), None) for f in ("shp", "mif", "tab", "gpkg")]
        ['marking', 'marking', None, None]
    """
    if fmt.writer == "csv":
        return MARKING_COLUMN if (csv_marking or "column") == "column" else None
    if fmt.name in _WITHOUT_METADATA:
        return MARKING_FIELD
    return None


@dataclass(frozen=True)
class PreparedLayer:
    """A layer with columns converted and renamed for one format.

    Attributes:
        table: attribute columns (renamed) plus the WKB geometry for map formats.
        renamed: new name → original column name.
        layer: the layer it came from.
        marking_field: the field :func:`write` adds with the marking on every row (None:
            the marking goes in the format's metadata).
    """

    table: pa.Table
    renamed: dict[str, str]
    layer: Layer
    marking_field: str | None = None

    @property
    def field_names(self) -> list[tuple[str, str]]:
        """``(field, column)`` for every attribute field: its name in the file and the
        result column it holds."""
        return [
            (name, self.renamed.get(name, name))
            for name in self.table.column_names
            if not (self.layer.spatial and name == GEOMETRY_COLUMN)
        ]


def prepare(layer: Layer, fmt: ExportFormat, *, csv_marking: str | None = None) -> PreparedLayer:
    """Convert and rename ``layer``'s attribute columns for ``fmt`` (``csv_marking``: how a
    CSV carries its marking, :func:`marking_field`).

    Raises:
        InputError: a CSV result has a column of the marking column's name (an analyst's
            column can never pose as the file's marking).
    """
    field = marking_field(fmt, csv_marking)
    attributes = layer.table.select(layer.attribute_names)
    if not fmt.spatial and field is not None and field in attributes.column_names:
        raise InputError(
            f"the column name {field!r} is kept for the file's protective marking: give your "
            "column another name (AS …)"
        )
    reserved = (*_RESERVED, field) if field is not None else _RESERVED
    table, renamed = prepare_columns(attributes, fmt, reserved=reserved)
    if field is not None:
        table = table.append_column(
            pa.field(field, pa.string()), pa.nulls(table.num_rows, pa.string())
        )
        if field != MARKING_COLUMN:  # listed beside the file: "marking" holds the marking
            renamed[field] = MARKING_COLUMN
    if layer.spatial:
        table = table.append_column(
            pa.field(GEOMETRY_COLUMN, pa.binary()), layer.table.column(GEOMETRY_COLUMN)
        )
    return PreparedLayer(table, renamed, layer, field)


def _with_marking(prepared: PreparedLayer, marking: str) -> PreparedLayer:
    """The marking written into the prepared layer's marking field, on every row."""
    name = prepared.marking_field
    if name is None:
        return prepared
    table = prepared.table
    index = table.column_names.index(name)
    values = pa.array([marking] * table.num_rows, pa.string())
    return replace(prepared, table=table.set_column(index, pa.field(name, pa.string()), values))


def write(
    prepared: PreparedLayer,
    options: ExportOptions,
    provenance: Provenance,
    workdir: Path,
    stem: str,
    *,
    extent: Bounds,
    progress: RowsWritten,
) -> Path:
    """Write the deliverable into ``workdir`` and return its path.

    CSV and XLSX text cells are guarded against formula injection unless
    ``options.formula_guard`` is off (:mod:`gateway.exports.formulas`).

    Raises:
        ConfigurationError: a writer failed (a message naming the format, never data values).
    """
    fmt = options.format
    layer = prepared.layer
    prepared = _with_marking(prepared, provenance.marking)
    if fmt.writer in ("csv", "xlsx") and options.formula_guard:
        prepared = replace(prepared, table=guard_formulas(prepared.table))
    if fmt.writer == "csv":
        path = workdir / csv_file_name(stem, provenance.marking)
        comment = provenance.summary() if options.csv_marking == "comment" else None
        write_csv(prepared.table, path, comment=comment, progress=progress)
        return path
    if fmt.writer == "parquet":
        path = workdir / f"{stem}.parquet"
        write_parquet(prepared.table, path, provenance=provenance, progress=progress)
        return path
    if fmt.writer == "xlsx":
        path = workdir / f"{stem}.xlsx"
        write_xlsx(prepared.table, path, provenance=provenance, progress=progress)
        return path
    if layer.geometry_type is None or layer.epsg is None:
        raise ConfigurationError(f"{fmt.label} needs a layer with geometry")
    if fmt.writer == "geoparquet":
        path = workdir / f"{stem}.parquet"
        write_geoparquet(
            prepared.table,
            path,
            geometry_type=layer.geometry_type,
            epsg=layer.epsg,
            bounds=layer.bounds,
            provenance=provenance,
            progress=progress,
        )
        return path
    layer_dir = workdir / "layer"
    layer_dir.mkdir()
    main = layer_dir / f"{stem}{fmt.layer_extension}"
    bounds = (
        mapinfo_bounds(extent, layer.bounds, layer.epsg) if fmt.driver == "MapInfo File" else None
    )
    write_gdal(
        prepared.table,
        main,
        fmt=fmt,
        layer_name=stem,
        geometry_type=layer.geometry_type,
        epsg=layer.epsg,
        provenance=provenance,
        bounds=bounds,
        progress=progress,
        encoding=MAPINFO_ENCODINGS[options.encoding],
    )
    if not fmt.zipped:
        target = workdir / main.name
        main.rename(target)
        return target
    if fmt.max_field_name is not None:
        write_field_names(prepared.field_names, layer_dir / field_names_name(stem))
    files = [p for p in layer_dir.iterdir() if p.is_file() and p.name.startswith(f"{stem}.")]
    target = workdir / f"{stem}.zip"
    zip_layer(files, provenance, target, stem)
    return target

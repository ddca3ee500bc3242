"""Map layers through GDAL (pyogrio's Arrow writer): GeoPackage, GeoJSON, Shapefile, MapInfo
TAB and MIF/MID, FlatGeobuf, KML.

Record batches stream from the Arrow table straight into ``OGR_L_WriteArrowBatch``; a
wrapping reader reports progress as GDAL consumes them. Per driver:

    GPKG          dataset metadata (gpkg_metadata): every provenance field + ``provenance``
                  JSON; layer description = the one-line summary
    FlatGeobuf    TITLE = marking, DESCRIPTION = summary, layer metadata = provenance
    GeoJSON       top-level ``"provenance"`` member, description = summary
    MapInfo       ENCODING from the ``encoding`` option: WindowsLatin1 (GDAL's CP1252; a
                  version 300 table, ``!charset WindowsLatin1``, that every MapInfo and GDAL
                  3.6 read) or UTF-8 (version 1520, MapInfo 15.2+); text Windows Latin-1
                  cannot hold is refused rather than written as ``?``; BOUNDS = force extent
                  ∪ data extent (so coordinates keep sub-millimetre precision and none falls
                  outside), DESCRIPTION = summary
    Shapefile     UTF-8 (.cpg); provenance in the zip sidecar
    KML (LIBKML)  document name and description = summary (always EPSG:4326)

Example:
    >>> mapinfo_bounds((450000.0, 510000.0, 460000.0, 520000.0), None, 27700)
    '449000,509000,461000,521000'
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from gateway.errors import ConfigurationError, InputError
from gateway.exports.dependencies import require
from gateway.exports.formats import ExportFormat
from gateway.exports.geometry import GEOMETRY_COLUMN, Bounds, transform_xy
from gateway.exports.provenance import Provenance

__all__ = ["check_encodable", "mapinfo_bounds", "write_gdal"]

RowsWritten = Callable[[int], None]
_BATCH_ROWS = 65_536
_PAD = {27700: 1000.0, 4326: 0.01}


def mapinfo_bounds(extent: Bounds, data: Bounds | None, epsg: int) -> str:
    """MapInfo's BOUNDS: the force extent (EPSG:27700) in ``epsg``, grown to hold the data,
    padded (1 km, or 0.01° in WGS84) and rounded outwards."""
    xs = np.array([extent[0], extent[2], extent[0], extent[2]])
    ys = np.array([extent[1], extent[1], extent[3], extent[3]])
    tx, ty = transform_xy(xs, ys, 27700, epsg)
    box = [float(tx.min()), float(ty.min()), float(tx.max()), float(ty.max())]
    if data is not None:
        box = [
            min(box[0], data[0]),
            min(box[1], data[1]),
            max(box[2], data[2]),
            max(box[3], data[3]),
        ]
    pad = _PAD.get(epsg, 0.0)
    if epsg == 4326:
        return ",".join(
            f"{v:.2f}" for v in (box[0] - pad, box[1] - pad, box[2] + pad, box[3] + pad)
        )
    return ",".join(
        str(int(v))
        for v in (
            math.floor(box[0] - pad),
            math.floor(box[1] - pad),
            math.ceil(box[2] + pad),
            math.ceil(box[3] + pad),
        )
    )


def check_encodable(table: pa.Table, encoding: str) -> None:
    """Refuse text ``encoding`` (a Python codec name) cannot hold, naming the column only.

    Raises:
        InputError: a value of a text column (or a column name) is not encodable.

    Example:
        >>> check_encodable(pa.table({"street": ["Café Row"]}), "cp1252")
        >>> check_encodable(pa.table({"street": ["Łódź"]}), "cp1252")
        Traceback (most recent call last):
        gateway.errors.InputError: column 'street' holds characters MapInfo's WindowsLatin1 cannot hold; export with --option encoding=UTF-8 (MapInfo 15.2 or later)
    """
    for name in table.column_names:
        column = table.column(name)
        values = [name]
        if pa.types.is_string(column.type):
            values += [v for v in pc.unique(column.combine_chunks()).to_pylist() if v is not None]
        try:
            for value in values:
                value.encode(encoding)
        except UnicodeEncodeError:
            raise InputError(
                f"column {name!r} holds characters MapInfo's WindowsLatin1 cannot hold; export "
                "with --option encoding=UTF-8 (MapInfo 15.2 or later)"
            ) from None


def _counting_reader(table: pa.Table, progress: RowsWritten) -> pa.RecordBatchReader:
    def batches() -> Iterator[pa.RecordBatch]:
        done = 0
        for batch in table.to_batches(max_chunksize=_BATCH_ROWS):
            yield batch
            done += batch.num_rows
            progress(done)
        if table.num_rows == 0:
            progress(0)

    return pa.RecordBatchReader.from_batches(table.schema, batches())


def _driver_arguments(
    fmt: ExportFormat,
    provenance: Provenance,
    layer_name: str,
    bounds: str | None,
    encoding: str,
) -> dict[str, Any]:
    summary = provenance.summary()
    dataset_options: dict[str, str] = dict(fmt.dataset_options)
    layer_options: dict[str, str] = dict(fmt.layer_options)
    kwargs: dict[str, Any] = {}
    if fmt.driver == "GPKG":
        kwargs["dataset_metadata"] = provenance.metadata()
        layer_options["DESCRIPTION"] = summary
        layer_options["IDENTIFIER"] = layer_name
    elif fmt.driver == "FlatGeobuf":
        layer_options["TITLE"] = provenance.marking
        layer_options["DESCRIPTION"] = summary
        kwargs["layer_metadata"] = provenance.metadata()
    elif fmt.driver == "GeoJSON":
        layer_options["DESCRIPTION"] = summary
        layer_options["FOREIGN_MEMBERS_COLLECTION"] = json.dumps(
            {"provenance": provenance.to_dict()}, ensure_ascii=False
        )
    elif fmt.driver == "MapInfo File":
        layer_options["ENCODING"] = encoding  # pyogrio's encoding= does not reach this driver
        layer_options["DESCRIPTION"] = summary[:250]
        if bounds:
            layer_options["BOUNDS"] = bounds
    elif fmt.driver == "ESRI Shapefile":
        kwargs["encoding"] = "UTF-8"
    elif fmt.driver == "LIBKML":
        dataset_options["NAME"] = layer_name
        dataset_options["DESCRIPTION"] = summary
    kwargs["dataset_options"] = dataset_options or None
    kwargs["layer_options"] = layer_options or None
    return kwargs


def write_gdal(
    table: pa.Table,
    path: Path,
    *,
    fmt: ExportFormat,
    layer_name: str,
    geometry_type: str,
    epsg: int,
    provenance: Provenance,
    bounds: str | None,
    progress: RowsWritten,
    encoding: str = "UTF-8",
) -> None:
    """Write ``table`` (attributes + WKB ``geometry``) as one layer with ``fmt``'s driver;
    ``encoding`` (GDAL's name: ``UTF-8`` or ``CP1252``) is MapInfo's charset.

    Raises:
        InputError: MapInfo text ``encoding`` cannot hold.
        ConfigurationError: GDAL refused to write (the message names the driver, not values).
    """
    pyogrio = require("pyogrio")
    errors = require("pyogrio.errors")
    if fmt.driver is None:
        raise ConfigurationError(f"{fmt.label} is not written with GDAL")
    if fmt.driver == "MapInfo File" and encoding != "UTF-8":
        check_encodable(table.drop_columns([GEOMETRY_COLUMN]), encoding.lower())
    arguments = _driver_arguments(fmt, provenance, layer_name, bounds, encoding)
    try:
        pyogrio.raw.write_arrow(
            _counting_reader(table, progress),
            str(path),
            layer=layer_name,
            driver=fmt.driver,
            geometry_name=GEOMETRY_COLUMN,
            geometry_type=geometry_type,
            crs=f"EPSG:{epsg}",
            **arguments,
        )
    except (
        errors.DataSourceError,
        errors.DataLayerError,
        errors.FieldError,
        errors.GeometryError,
        errors.CRSError,
        errors.FeatureError,
    ) as exc:
        raise ConfigurationError(
            f"GDAL's {fmt.driver} driver could not write the export ({type(exc).__name__})"
        ) from exc

"""Columns as each format can hold them: types converted, names shortened, nothing silently lost.

Pure Arrow. What changes, per format flag (see :class:`~gateway.exports.formats.ExportFormat`):

- dictionary columns are decoded; string/binary views and large types become plain ones;
- nested values (lists, structs, maps) become JSON text everywhere except Parquet (which
  keeps them); intervals become text (Parquet cannot hold them either);
- binary values become base64 text outside Parquet and GeoPackage;
- decimals become doubles and unsigned 64-bit integers signed ones in GIS formats;
- ``naive_times``: zoned timestamps become UTC wall-clock times (no zone);
- ``datetimes_only`` (MapInfo): dates become datetimes at midnight;
- ``no_int64`` (MapInfo): 64-bit integers become 32-bit when every value fits, else doubles;
- ``bool_as_text`` (MapInfo): a flag column with missing values becomes ``true``/``false``
  text, so a missing flag stays missing; one without stays boolean (a MapInfo Logical);
- ``sized_text`` (MapInfo, Shapefile): each text field is declared as wide as its longest
  value in UTF-8 bytes (``GDAL:OGR:width`` field metadata, which GDAL's Arrow writer reads),
  at least 1 and at most 254, instead of 254 bytes a field; longer text is refused (GDAL would
  cut it, and log the value) rather than truncated;
- GIS formats get legal, unique, readable field names within ``max_field_name`` (see
  :func:`~gateway.exports.fieldnames.shorten_names`); the renaming is returned for provenance.

Example:
    >>> import pyarrow as pa
    >>> from gateway.exports.formats import export_format
    >>> t = pa.table({"offence_description": pa.array([1, 2], pa.int64()), "ok": [True, None]})
    >>> out, renamed = prepare_columns(t, export_format("shp"), reserved=("geometry",))
    >>> out.column_names, renamed
    (['off_desc', 'ok'], {'off_desc': 'offence_description'})
    >>> prepare_columns(t, export_format("tab"))[0].schema.types
    [DataType(int32), DataType(string)]
    >>> out, _ = prepare_columns(pa.table({"s": ["ab", "café"]}), export_format("tab"))
    >>> out.schema.field("s").metadata
    {b'GDAL:OGR:width': b'5'}
"""

from __future__ import annotations

import base64
import datetime as dt
import decimal
import json
from collections.abc import Sequence
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc

from gateway.errors import InputError
from gateway.exports.fieldnames import shorten_names
from gateway.exports.formats import ExportFormat

__all__ = ["WIDTH_KEY", "prepare_columns"]

_INT32 = (-(2**31), 2**31 - 1)


def _plain(column: pa.Array) -> pa.Array:
    t = column.type
    if pa.types.is_dictionary(t):
        return _plain(column.dictionary_decode())
    if pa.types.is_large_string(t) or pa.types.is_string_view(t):
        return column.cast(pa.string())
    if (
        pa.types.is_large_binary(t)
        or pa.types.is_binary_view(t)
        or pa.types.is_fixed_size_binary(t)
    ):
        return column.cast(pa.binary())
    if pa.types.is_null(t):
        return column.cast(pa.string())
    if pa.types.is_float16(t):
        return column.cast(pa.float32())
    return column


def _json_default(value: Any) -> Any:
    if isinstance(value, dt.date | dt.datetime | dt.time):
        return value.isoformat()
    if isinstance(value, bytes):
        return base64.b64encode(value).decode("ascii")
    if isinstance(value, decimal.Decimal | dt.timedelta):
        return str(value)
    return str(value)


def _as_text(column: pa.Array) -> pa.Array:
    """Nested values as JSON text; intervals as their text form (months, days, nanoseconds)."""
    interval = pa.types.is_interval(column.type)
    return pa.array(
        [
            None
            if v is None
            else (str(v) if interval else json.dumps(v, default=_json_default, ensure_ascii=False))
            for v in column.to_pylist()
        ],
        pa.string(),
    )


def _base64(column: pa.Array) -> pa.Array:
    values = column.to_pylist()
    return pa.array(
        [None if v is None else base64.b64encode(v).decode("ascii") for v in values], pa.string()
    )


def _int64_for_mapinfo(column: pa.Array) -> pa.Array:
    if column.null_count == len(column):
        return column.cast(pa.int32())
    bounds = pc.min_max(column)
    low, high = bounds["min"].as_py(), bounds["max"].as_py()
    if low is not None and high is not None and _INT32[0] <= low and high <= _INT32[1]:
        return column.cast(pa.int32())
    return column.cast(pa.float64())


def _convert(column: pa.Array, fmt: ExportFormat) -> pa.Array:
    column = _plain(column)
    t = column.type
    parquet = fmt.writer in ("parquet", "geoparquet")
    if parquet:
        if pa.types.is_interval(t) or (pa.types.is_nested(t) and "interval" in str(t)):
            return _as_text(column)
        return column
    if pa.types.is_nested(t) or pa.types.is_interval(t):
        return _as_text(column)
    if pa.types.is_binary(t):
        return column if fmt.name == "gpkg" else _base64(column)
    gis = fmt.writer == "gdal"
    if gis and pa.types.is_decimal(t):
        column = column.cast(pa.float64())
    elif gis and pa.types.is_uint64(t):
        column = (
            column.cast(pa.int64(), safe=False)
            if _fits_int64(column)
            else column.cast(pa.float64())
        )
    elif gis and pa.types.is_time(t):
        column = column.cast(pa.string())
    t = column.type
    if fmt.naive_times and pa.types.is_timestamp(t) and t.tz is not None:
        column = column.cast(pa.timestamp(t.unit))
    if fmt.datetimes_only and pa.types.is_date(t):
        column = column.cast(pa.timestamp("ms"))
    if fmt.no_int64 and pa.types.is_int64(column.type):
        column = _int64_for_mapinfo(column)
    if fmt.bool_as_text and pa.types.is_boolean(column.type) and column.null_count:
        column = column.cast(pa.string())
    return column


#: GDAL's Arrow writer takes a field's width from this field metadata key.
WIDTH_KEY = b"GDAL:OGR:width"
_MAX_TEXT_WIDTH = 254


def _field(name: str, original: str, column: pa.Array, fmt: ExportFormat) -> pa.Field:
    """The output field; text fields of fixed-width formats carry their width."""
    if not (fmt.sized_text and pa.types.is_string(column.type)):
        return pa.field(name, column.type)
    if len(column) and (pc.max(pc.utf8_length(column)).as_py() or 0) > _MAX_TEXT_WIDTH:
        # GDAL would cut the text (and log the value): refuse, naming the column only.
        raise InputError(
            f"column {original!r} holds text longer than {_MAX_TEXT_WIDTH} characters, the most a "
            f"{fmt.label} field holds; export GeoPackage or FlatGeobuf, or shorten it in the "
            f"SQL (left({original}, {_MAX_TEXT_WIDTH}))"
        )
    longest = pc.max(pc.binary_length(column)).as_py() if len(column) else None
    width = min(max(int(longest or 0), 1), _MAX_TEXT_WIDTH)
    return pa.field(name, column.type, metadata={WIDTH_KEY: str(width).encode("ascii")})


def _fits_int64(column: pa.Array) -> bool:
    high = pc.max(column).as_py()
    return high is None or high <= 2**63 - 1


def prepare_columns(
    table: pa.Table, fmt: ExportFormat, *, reserved: Sequence[str] = ()
) -> tuple[pa.Table, dict[str, str]]:
    """The attribute columns of ``table`` converted for ``fmt``, and ``{new name: old name}``
    for every renamed column."""
    names = list(table.column_names)
    arrays = [_convert(table.column(n).combine_chunks(), fmt) for n in names]
    if fmt.spatial:
        new_names = shorten_names(names, fmt.max_field_name, reserved=reserved)
    else:
        new_names = names
    renamed = {new: old for new, old in zip(new_names, names, strict=True) if new != old}
    schema = pa.schema(
        [
            _field(name, original, array, fmt)
            for name, original, array in zip(new_names, names, arrays, strict=True)
        ]
    )
    return pa.Table.from_arrays(arrays, schema=schema), renamed

"""Arrow record batches → JSON rows, CSV and Parquet, one batch at a time.

Pure functions of Arrow data (no HTTP): :mod:`gateway.api.streaming` wraps them in responses.

Bounded memory: an encoder never takes more than a slice of a batch at a time
(:func:`byte_slices`: at most ``target`` bytes of Arrow data, or one row), so what it holds is
a small multiple of the slice, whatever the result's size; :func:`largest_row` finds a row too
big to encode as text before anything is sent (one 400 MB cell would otherwise be a 400 MB
string, then its JSON, then its bytes).

JSON values: dates, times and timestamps as ISO 8601 text (timestamps with a zone carry its
offset); decimals as numbers when they have at most 15 significant digits (exact in a double),
otherwise as text; NaN and infinities as null; intervals as ISO 8601 durations (``P1M2DT3H``);
binary as base64; lists as arrays; structs as objects; maps as arrays of ``[key, value]``.

CSV cannot hold nested values or intervals: those columns are written as JSON text.
Parquet cannot hold intervals: those are written as ISO 8601 duration text.

Example:
    >>> import datetime as dt, decimal
    >>> batch = pa.record_batch({"d": [dt.date(2026, 1, 2)], "v": [decimal.Decimal("12.50")],
    ...                          "x": [float("nan")]})
    >>> json_rows(batch)
    '["2026-01-02",12.5,null]'
"""

from __future__ import annotations

import base64
import datetime as dt
import decimal
import io
import json
import math
import uuid
from collections.abc import Iterator
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc

__all__ = [
    "ChunkSink",
    "byte_slices",
    "column_types",
    "csv_safe",
    "json_rows",
    "largest_row",
    "parquet_safe",
    "table_rows",
]

#: Decimals with at most this many digits become JSON numbers (exact as doubles).
_EXACT_DIGITS = 15


def column_types(schema: pa.Schema) -> list[dict[str, str]]:
    """``[{"name", "type"}]`` for a result schema (Arrow type names).

    Example:
        >>> column_types(pa.schema([("n", pa.int64())]))
        [{'name': 'n', 'type': 'int64'}]
    """
    return [{"name": f.name, "type": str(f.type)} for f in schema]


def _duration_text(months: int, days: int, nanoseconds: int) -> str:
    seconds = nanoseconds / 1e9
    text = "P"
    if months:
        text += f"{months}M"
    if days:
        text += f"{days}D"
    if seconds or text == "P":
        hours, rest = divmod(abs(seconds), 3600)
        minutes, secs = divmod(rest, 60)
        sign = "-" if seconds < 0 else ""
        text += "T"
        if hours:
            text += f"{sign}{int(hours)}H"
        if minutes:
            text += f"{sign}{int(minutes)}M"
        if secs or text.endswith("T"):
            text += f"{sign}{secs:g}S"
    return text


def _default(value: Any) -> Any:
    if isinstance(value, dt.datetime | dt.date | dt.time):
        return value.isoformat()
    if isinstance(value, dt.timedelta):
        return value.total_seconds()
    if isinstance(value, decimal.Decimal):
        return str(value)
    if isinstance(value, bytes):
        return base64.b64encode(value).decode("ascii")
    if isinstance(value, uuid.UUID):
        return str(value)
    raise TypeError(f"cannot encode {type(value).__name__} as JSON")


def _sanitise(value: Any) -> Any:
    """Replace non-finite floats (at any depth) with None."""
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, list | tuple):
        return [_sanitise(v) for v in value]
    if isinstance(value, dict):
        return {k: _sanitise(v) for k, v in value.items()}
    return value


def _is_interval(t: pa.DataType) -> bool:
    return bool(pa.types.is_interval(t))


def _has_interval(t: pa.DataType) -> bool:
    if _is_interval(t):
        return True
    return any(_has_interval(t.field(i).type) for i in range(t.num_fields))


def _interval_texts(column: pa.Array) -> pa.Array:
    return pa.array(
        [None if v is None else _duration_text(*v) for v in column.to_pylist()], pa.string()
    )


def _json_column(column: pa.Array) -> list[Any]:
    t = column.type
    if pa.types.is_floating(t):
        column = pc.if_else(pc.is_finite(column), column, pa.scalar(None, t))
    elif pa.types.is_decimal(t):
        if t.precision <= _EXACT_DIGITS:
            column = column.cast(pa.float64())
    elif _is_interval(t):
        column = _interval_texts(column)
    values: list[Any] = column.to_pylist()
    return values


def json_rows(batch: pa.RecordBatch) -> str:
    """The batch's rows as comma-separated JSON arrays (no enclosing brackets)."""
    if batch.num_rows == 0:
        return ""
    columns = [_json_column(c) for c in batch.columns]
    rows = [list(r) for r in zip(*columns, strict=True)] if columns else [[]] * batch.num_rows
    try:
        text = json.dumps(
            rows, default=_default, allow_nan=False, ensure_ascii=False, separators=(",", ":")
        )
    except ValueError:  # a NaN nested in a list or struct
        text = json.dumps(
            _sanitise(rows),
            default=_default,
            allow_nan=False,
            ensure_ascii=False,
            separators=(",", ":"),
        )
    return text[1:-1]


def byte_slices(batch: pa.RecordBatch, target: int) -> Iterator[pa.RecordBatch]:
    """Consecutive slices of ``batch`` (zero-copy), each at most ``target`` bytes of Arrow data
    or a single row, in order.

    Example:
        >>> batch = pa.record_batch({"n": pa.array(range(1000), pa.int64())})
        >>> [s.num_rows for s in byte_slices(batch, 2000)]
        [250, 250, 250, 250]
    """
    rows = batch.num_rows
    if rows == 0:
        return
    size = batch.nbytes
    if size <= target or rows == 1:
        yield batch
        return
    step = max(1, rows * target // size)  # a first guess; skewed rows are halved below
    for start in range(0, rows, step):
        piece = batch.slice(start, step)
        if piece.nbytes <= target or piece.num_rows == 1:
            yield piece
        else:
            half = piece.num_rows // 2
            yield from byte_slices(piece.slice(0, half), target)
            yield from byte_slices(piece.slice(half), target)


def largest_row(batch: pa.RecordBatch, limit: int) -> int:
    """The Arrow size of the first row of ``batch`` bigger than ``limit`` bytes (0: none is).

    Halves only the parts over ``limit``, so a batch of ordinary rows costs a few size
    look-ups and one huge cell is found in about log2(rows) of them.

    Example:
        >>> batch = pa.record_batch({"s": ["a", "b" * 5000, "c"]})
        >>> largest_row(batch, 1000) > 5000, largest_row(batch, 10_000)
        (True, 0)
    """
    if batch.num_rows == 0 or batch.nbytes <= limit:
        return 0
    if batch.num_rows == 1:
        return int(batch.nbytes)
    half = batch.num_rows // 2
    return largest_row(batch.slice(0, half), limit) or largest_row(batch.slice(half), limit)


def table_rows(table: pa.Table) -> list[list[Any]]:
    """A (small) table's rows as JSON-ready Python lists, encoded as :func:`json_rows` does.

    Example:
        >>> table_rows(pa.table({"x": [1.5, float("inf")]}))
        [[1.5], [None]]
    """
    texts = [text for batch in table.to_batches() if (text := json_rows(batch))]
    rows: list[list[Any]] = json.loads("[" + ",".join(texts) + "]")
    return rows


def _json_text_column(column: pa.Array) -> pa.Array:
    values = _json_column(column)
    return pa.array(
        [
            None
            if v is None
            else json.dumps(_sanitise(v), default=_default, ensure_ascii=False, allow_nan=False)
            for v in values
        ],
        pa.string(),
    )


def _csv_unsupported(t: pa.DataType) -> bool:
    return pa.types.is_nested(t) or _has_interval(t)


def csv_safe(batch: pa.RecordBatch) -> pa.RecordBatch:
    """The batch with nested and interval columns as JSON text (CSV cannot hold them)."""
    if not any(_csv_unsupported(f.type) for f in batch.schema):
        return batch
    arrays = [_json_text_column(c) if _csv_unsupported(c.type) else c for c in batch.columns]
    return pa.RecordBatch.from_arrays(arrays, names=batch.schema.names)


def parquet_safe(batch: pa.RecordBatch) -> pa.RecordBatch:
    """The batch with interval columns as ISO 8601 text (Parquet cannot hold them)."""
    if not any(_has_interval(f.type) for f in batch.schema):
        return batch
    arrays = [
        (_interval_texts(c) if _is_interval(c.type) else _json_text_column(c))
        if _has_interval(c.type)
        else c
        for c in batch.columns
    ]
    return pa.RecordBatch.from_arrays(arrays, names=batch.schema.names)


class ChunkSink(io.RawIOBase):
    """A write-only file that keeps what is written until :meth:`drain` takes it, so a writer
    (CSV, Parquet) can be streamed a batch at a time without holding the whole output.

    Example:
        >>> sink = ChunkSink()
        >>> sink.write(b"ab"), sink.drain(), sink.drain()
        (2, b'ab', b'')
    """

    def __init__(self) -> None:
        super().__init__()
        self._parts: list[bytes] = []
        self._position = 0

    def writable(self) -> bool:
        return True

    def write(self, data: Any) -> int:
        chunk = bytes(data)
        self._parts.append(chunk)
        self._position += len(chunk)
        return len(chunk)

    def tell(self) -> int:
        return self._position

    def drain(self) -> bytes:
        """Everything written since the last drain."""
        out = b"".join(self._parts)
        self._parts.clear()
        return out

    def chunks(self) -> Iterator[bytes]:
        """Drain, if there is anything (for ``yield from``)."""
        out = self.drain()
        if out:
            yield out

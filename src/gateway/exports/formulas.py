"""The CSV/spreadsheet formula-injection guard: text that a spreadsheet would run stays text.

A cell that starts with ``=``, ``+``, ``-``, ``@``, a tab or a carriage return can be taken for
a formula by Excel or LibreOffice when a CSV file is opened (or an XLSX cell is edited), and a
formula can fetch URLs or run commands (DDE). Following the OWASP guidance on CSV injection,
such text gets a leading apostrophe, which spreadsheets read as "this is text". Only text
columns (and column names) change: numbers, dates and booleans are written as they are, so a
negative number is never touched. Values that already start with an apostrophe cannot trigger
a formula and are left alone.

Pure Arrow; the export writers (CSV, XLSX) and the CSV answers of ``POST /v1/query`` use it,
on by default (``formula_guard=false`` turns it off).

Example:
    >>> import pyarrow as pa
    >>> batch = pa.record_batch({"note": ["=HYPERLINK(\\"x\\")", "ok", None], "n": [-1, 2, 3]})
    >>> guarded = guard_formulas(batch)
    >>> guarded.column("note").to_pylist(), guarded.column("n").to_pylist()
    (['\\'=HYPERLINK("x")', 'ok', None], [-1, 2, 3])
"""

from __future__ import annotations

from typing import TypeVar

import pyarrow as pa
import pyarrow.compute as pc

__all__ = ["FORMULA_TRIGGERS", "guard_column", "guard_formulas", "guard_text"]

#: First characters that make a spreadsheet read a cell as a formula.
FORMULA_TRIGGERS = ("=", "+", "-", "@", "\t", "\r")
_TRIGGER_PATTERN = r"^[=+\-@\t\r]"
_QUOTE = "'"

Data = TypeVar("Data", pa.Table, pa.RecordBatch)
Column = TypeVar("Column", pa.Array, pa.ChunkedArray)


def guard_text(value: str) -> str:
    """``value`` with a leading apostrophe if a spreadsheet would take it for a formula.

    Example:
        >>> [guard_text(v) for v in ("=1+1", "-5", "@SUM(A1)", "a=b", "'=x")]
        ["'=1+1", "'-5", "'@SUM(A1)", 'a=b', "'=x"]
    """
    return _QUOTE + value if value.startswith(FORMULA_TRIGGERS) else value


def _is_text(kind: pa.DataType) -> bool:
    return bool(
        pa.types.is_string(kind) or pa.types.is_large_string(kind) or pa.types.is_string_view(kind)
    )


def guard_column(column: Column) -> Column:
    """A text column with :func:`guard_text` applied to every value; other columns unchanged.

    Dictionary-encoded text is decoded; string views become plain strings.
    """
    kind = column.type
    decode = pa.types.is_dictionary(kind) and _is_text(kind.value_type)
    if decode or pa.types.is_string_view(kind):
        column = pc.cast(column, pa.string())
    elif not _is_text(kind):
        return column
    kind = column.type
    triggered = pc.match_substring_regex(column, _TRIGGER_PATTERN)
    if not pc.any(triggered).as_py():
        return column
    quoted = pc.binary_join_element_wise(pa.scalar(_QUOTE, kind), column, pa.scalar("", kind))
    guarded: Column = pc.if_else(triggered, quoted, column)
    return guarded


def guard_formulas(data: Data) -> Data:
    """``data`` with every text column and every column name guarded (see the module)."""
    names = [guard_text(name) for name in data.schema.names]
    originals = data.columns
    columns = [guard_column(column) for column in originals]
    if names == data.schema.names and all(
        new is old for new, old in zip(columns, originals, strict=True)
    ):
        return data
    fields = [
        pa.field(name, column.type, field.nullable, field.metadata)
        for name, column, field in zip(names, columns, data.schema, strict=True)
    ]
    schema = pa.schema(fields, metadata=data.schema.metadata)
    if isinstance(data, pa.RecordBatch):
        return pa.RecordBatch.from_arrays(columns, schema=schema)
    return pa.Table.from_arrays(columns, schema=schema)

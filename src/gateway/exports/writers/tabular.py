"""CSV, Parquet and XLSX writers, each carrying the marking and provenance where it fits.

- **CSV**: the header and rows, UTF-8, RFC 4180 — a file pandas, polars, DuckDB, GDAL and
  MapInfo read as it is, the marking inside it: by default a trailing ``protective_marking``
  column on every row (added by :func:`gateway.exports.writers.prepare`); with
  ``csv_marking=comment`` a first line ``# <marking> | query … | user … | time | purpose |
  policy`` instead (readers must then be told to skip it: ``comment="#"``, ``skip_rows=1``).
  The marking also travels in the file name (``<name>_<MARKING>.csv``) and in the
  ``.provenance.json`` sidecar the client saves beside it.
- **Parquet**: file metadata ``gateway:marking`` and ``gateway:provenance`` (JSON), zstd.
- **XLSX**: every data sheet starts with the marking (row 1, bold red), the provenance summary
  (row 2) and the header (row 4, frozen); the print header and footer repeat the marking; a
  ``Provenance`` sheet lists every provenance field under the marking. A sheet holds at most
  1,048,576 rows, so larger results continue on ``Data 2``, ``Data 3`` … Text starting with
  ``=`` is written as text, never as a formula.

Each writer takes ``progress(rows_written)`` and calls it after every batch.

Example:
    >>> import pyarrow as pa, tempfile, pathlib
    >>> path = pathlib.Path(tempfile.mkdtemp()) / "x.csv"
    >>> write_csv(pa.table({"n": [1]}), path, comment="OFFICIAL | query q1", progress=print)
    1
    >>> path.read_text().splitlines()
    ['# OFFICIAL | query q1', '"n"', '1']
"""

from __future__ import annotations

import base64
import datetime as dt
import json
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.csv as pacsv
import pyarrow.parquet as pq

from gateway.exports.dependencies import require
from gateway.exports.provenance import Provenance
from gateway.policy.markings import ARROW_MARKING_KEY

__all__ = ["BATCH_ROWS", "XLSX_MAX_ROWS", "write_csv", "write_parquet", "write_xlsx"]

RowsWritten = Callable[[int], None]
BATCH_ROWS = 65_536
#: Excel's row limit per sheet.
XLSX_MAX_ROWS = 1_048_576
_XLSX_HEADER_ROWS = 4
_XLSX_MAX_TEXT = 32_767


def _batches(table: pa.Table) -> Iterator[pa.RecordBatch]:
    yield from table.to_batches(max_chunksize=BATCH_ROWS)


def write_csv(table: pa.Table, path: Path, *, comment: str | None, progress: RowsWritten) -> None:
    """CSV with an optional leading ``# comment`` line."""
    done = 0
    with path.open("wb") as sink:
        if comment is not None:
            sink.write(("# " + comment.replace("\n", " ") + "\n").encode("utf-8"))
        writer = pacsv.CSVWriter(sink, table.schema)
        try:
            for batch in _batches(table):
                writer.write_batch(batch)
                done += batch.num_rows
                progress(done)
        finally:
            writer.close()
    if table.num_rows == 0:
        progress(0)


def parquet_metadata(provenance: Provenance) -> dict[bytes, bytes]:
    return {
        ARROW_MARKING_KEY: provenance.marking.encode("utf-8"),
        b"gateway:provenance": json.dumps(provenance.to_dict(), ensure_ascii=False).encode("utf-8"),
    }


def write_parquet(
    table: pa.Table,
    path: Path,
    *,
    provenance: Provenance,
    progress: RowsWritten,
    extra_metadata: dict[bytes, bytes] | None = None,
) -> None:
    """Parquet (zstd) with the provenance in the file's key-value metadata."""
    metadata = {**(table.schema.metadata or {}), **parquet_metadata(provenance)}
    metadata.update(extra_metadata or {})
    schema = table.schema.with_metadata(metadata)
    done = 0
    with pq.ParquetWriter(path, schema, compression="zstd") as writer:
        for batch in _batches(table):
            writer.write_batch(batch)
            done += batch.num_rows
            progress(done)
    if table.num_rows == 0:
        progress(0)


# --- XLSX -------------------------------------------------------------------------------


def _cell_value(value: Any, illegal: Any) -> Any:
    if isinstance(value, str):
        value = illegal.sub("", value)
        return value[:_XLSX_MAX_TEXT]
    if isinstance(value, bytes):
        return base64.b64encode(value).decode("ascii")
    if isinstance(value, dt.datetime) and value.tzinfo is not None:
        return value.astimezone(dt.UTC).replace(tzinfo=None)
    if isinstance(value, float) and value != value:  # NaN: Excel has no NaN
        return None
    return value


class _Workbook:
    """A write-only openpyxl workbook with marked sheets."""

    def __init__(self, provenance: Provenance) -> None:
        openpyxl = require("openpyxl")
        self._styles = require("openpyxl.styles")
        self._cell = require("openpyxl.cell").WriteOnlyCell
        self._illegal = require("openpyxl.cell.cell").ILLEGAL_CHARACTERS_RE
        self.book = openpyxl.Workbook(write_only=True)
        self.provenance = provenance

    def _styled(self, sheet: Any, value: str, **font: Any) -> Any:
        cell = self._cell(sheet, value=value)
        cell.font = self._styles.Font(**font)
        cell.data_type = "s"
        return cell

    def sheet(self, title: str, header: list[str] | None) -> Any:
        sheet = self.book.create_sheet(title)
        marking = self.provenance.marking
        sheet.oddHeader.center.text = marking
        sheet.oddFooter.center.text = marking
        sheet.evenHeader.center.text = marking
        sheet.evenFooter.center.text = marking
        if header is not None:
            sheet.freeze_panes = f"A{_XLSX_HEADER_ROWS + 1}"
        sheet.append([self._styled(sheet, marking, bold=True, color="C00000", size=12)])
        sheet.append([self._styled(sheet, self.provenance.summary(), italic=True)])
        sheet.append([])
        if header is not None:
            sheet.append([self._styled(sheet, name, bold=True) for name in header])
        return sheet

    def row(self, sheet: Any, values: list[Any]) -> list[Any]:
        out = []
        for value in values:
            value = _cell_value(value, self._illegal)
            if isinstance(value, str) and value.startswith("="):
                cell = self._cell(sheet, value=value)
                cell.data_type = "s"  # text, never a formula
                value = cell
            out.append(value)
        return out


def write_xlsx(
    table: pa.Table, path: Path, *, provenance: Provenance, progress: RowsWritten
) -> None:
    """An XLSX workbook: marked data sheet(s) and a Provenance sheet."""
    book = _Workbook(provenance)
    per_sheet = XLSX_MAX_ROWS - _XLSX_HEADER_ROWS
    header = list(table.column_names)
    sheet = book.sheet("Data", header)
    in_sheet, done, sheets = 0, 0, 1
    for batch in _batches(table):
        columns = [column.to_pylist() for column in batch.columns]
        for values in (
            zip(*columns, strict=True) if columns else ([] for _ in range(batch.num_rows))
        ):
            if in_sheet == per_sheet:
                sheets += 1
                sheet = book.sheet(f"Data {sheets}", header)
                in_sheet = 0
            sheet.append(book.row(sheet, list(values)))
            in_sheet += 1
        done += batch.num_rows
        progress(done)
    info = book.sheet("Provenance", None)
    info.append([book._styled(info, "field", bold=True), book._styled(info, "value", bold=True)])
    for key, value in provenance.rows_for_sheet():
        info.append(book.row(info, [key, value]))
    book.book.save(path)
    if table.num_rows == 0:
        progress(0)

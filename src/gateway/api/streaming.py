"""Stream a spilled query result to the client in the format asked for.

``arrow`` sends the spilled Arrow IPC stream file unchanged (these bytes are what the audit
fingerprint covers); ``csv``, ``parquet`` and ``json`` are produced one record batch at a
time from the memory-mapped file, so no format builds the whole response in memory. CSV text
cells that a spreadsheet would run as formulas get a leading apostrophe unless the caller
turns the guard off (:mod:`gateway.exports.formulas`). JSON is
refused for results above ``max_json_bytes`` (413 ``too_large``): JSON costs several times the
Arrow size to build and parse, and analysts should use arrow/csv/parquet for big extracts.

Every response carries ``X-Query-Id``. The spilled file is deleted when the response is done
(finished, failed or abandoned by the client).

Example:
    >>> MEDIA_TYPES["arrow"]
    'application/vnd.apache.arrow.stream'
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Iterator
from typing import Literal

import pyarrow as pa
import pyarrow.csv as pacsv
import pyarrow.parquet as pq
from starlette.background import BackgroundTask
from starlette.concurrency import iterate_in_threadpool, run_in_threadpool
from starlette.responses import StreamingResponse

from gateway.api.encode import ChunkSink, column_types, csv_safe, json_rows, parquet_safe
from gateway.engines.base import QueryResult
from gateway.errors import TooLarge
from gateway.exports.formulas import guard_formulas, guard_text
from gateway.service import QueryOutcome

__all__ = [
    "DISCLOSURE_HEADER",
    "MEDIA_TYPES",
    "QUERY_ID_HEADER",
    "ResultFormat",
    "result_response",
]

ResultFormat = Literal["json", "arrow", "csv", "parquet"]

MEDIA_TYPES: dict[str, str] = {
    "json": "application/json",
    "arrow": "application/vnd.apache.arrow.stream",
    "csv": "text/csv; charset=utf-8",
    "parquet": "application/vnd.apache.parquet",
}
QUERY_ID_HEADER = "X-Query-Id"
#: The disclosure control applied to the result, in a line (when it was asked for).
DISCLOSURE_HEADER = "X-Disclosure"


def arrow_chunks(result: QueryResult) -> Iterator[bytes]:
    """The spilled IPC stream, byte for byte."""
    yield from result.iter_bytes()


def csv_chunks(result: QueryResult, *, formula_guard: bool = True) -> Iterator[bytes]:
    """CSV with a header line, a record batch at a time; with ``formula_guard`` text cells
    (and names) a spreadsheet would run as formulas get a leading apostrophe."""
    reader = result.reader()
    sink = ChunkSink()
    writer: pacsv.CSVWriter | None = None
    for batch in reader:
        safe = csv_safe(batch)
        if formula_guard:
            safe = guard_formulas(safe)
        if writer is None:
            writer = pacsv.CSVWriter(sink, safe.schema)
        writer.write_batch(safe)
        yield from sink.chunks()
    if writer is None:  # no batches: header only
        names = [guard_text(n) if formula_guard else n for n in reader.schema.names]
        yield (",".join(json.dumps(name) for name in names) + "\n").encode()
        return
    writer.close()
    yield from sink.chunks()


def parquet_chunks(result: QueryResult) -> Iterator[bytes]:
    """A Parquet file, one row group per record batch."""
    sink = ChunkSink()
    writer: pq.ParquetWriter | None = None
    reader = result.reader()
    for batch in reader:
        safe = parquet_safe(batch)
        if writer is None:
            writer = pq.ParquetWriter(sink, safe.schema, compression="zstd")
        writer.write_batch(safe)
        yield from sink.chunks()
    if writer is None:  # no batches: a valid file with the schema and no rows
        empty = parquet_safe(pa.RecordBatch.from_pylist([], schema=reader.schema))
        writer = pq.ParquetWriter(sink, empty.schema)
    writer.close()
    yield from sink.chunks()


def json_chunks(outcome: QueryOutcome) -> Iterator[bytes]:
    """``{"query_id", "columns", "row_count", "truncated", "rows": [[…], …]}``, streamed."""
    result = outcome.result
    head: dict[str, object] = {
        "query_id": outcome.query_id,
        "columns": column_types(result.schema),
        "row_count": result.num_rows,
        "truncated": result.truncated,
    }
    if outcome.disclosure is not None:
        head["disclosure"] = outcome.disclosure
    yield (json.dumps(head, separators=(",", ":"))[:-1] + ',"rows":[').encode()
    first = True
    for batch in result.reader():
        text = json_rows(batch)
        if not text:
            continue
        yield (text if first else "," + text).encode("utf-8")
        first = False
    yield b"]}"


def _chunks(outcome: QueryOutcome, fmt: ResultFormat, formula_guard: bool) -> Iterator[bytes]:
    if fmt == "json":
        return json_chunks(outcome)
    if fmt == "csv":
        return csv_chunks(outcome.result, formula_guard=formula_guard)
    if fmt == "parquet":
        return parquet_chunks(outcome.result)
    return arrow_chunks(outcome.result)


async def _guarded(chunks: Iterator[bytes], result: QueryResult) -> AsyncIterator[bytes]:
    """Iterate ``chunks`` in the thread pool; always delete the result file afterwards."""
    try:
        async for chunk in iterate_in_threadpool(chunks):
            yield chunk
    finally:
        # The file may still be memory-mapped by an abandoned reader: unlinking is safe (the
        # mapping lives until it is collected); the generator itself is closed when collected.
        await run_in_threadpool(result.discard)


def result_response(
    outcome: QueryOutcome, fmt: ResultFormat, *, max_json_bytes: int, formula_guard: bool = True
) -> StreamingResponse:
    """A streaming response for ``outcome`` in ``fmt`` (``formula_guard``: see
    :func:`csv_chunks`).

    Raises:
        TooLarge: JSON asked for a result over ``max_json_bytes`` (the result is discarded).
    """
    result = outcome.result
    if fmt == "json" and result.num_bytes > max_json_bytes:
        result.discard()
        error = TooLarge(
            f"the result ({result.num_rows:,} rows, {result.num_bytes:,} bytes) is too large "
            f"to send as JSON (limit {max_json_bytes:,} bytes); ask for format 'arrow', "
            "'csv' or 'parquet' instead"
        )
        error.query_id = outcome.query_id
        raise error
    filename = f"{outcome.query_id}.{'arrows' if fmt == 'arrow' else fmt}"
    headers = {
        QUERY_ID_HEADER: outcome.query_id,
        "X-Row-Count": str(result.num_rows),
        "X-Truncated": "true" if result.truncated else "false",
        "Cache-Control": "no-store",
    }
    if outcome.disclosure is not None:  # e.g. "… suppressed: 3 of 120 cells suppressed"
        headers[DISCLOSURE_HEADER] = str(outcome.disclosure.get("description", "applied"))
    if fmt == "arrow":
        headers["X-Result-Sha256"] = result.fingerprint
        headers["Content-Length"] = str(result.num_bytes)
    if fmt != "json":
        headers["Content-Disposition"] = f'attachment; filename="{filename}"'
    return StreamingResponse(
        _guarded(_chunks(outcome, fmt, formula_guard), result),
        media_type=MEDIA_TYPES[fmt],
        headers=headers,
        background=BackgroundTask(result.discard),
    )

"""Stream a spilled query result to the client in the format asked for.

``arrow`` sends the spilled Arrow IPC stream file unchanged (these bytes are what the audit
fingerprint covers); ``csv``, ``parquet`` and ``json`` are produced from the memory-mapped
file a slice at a time (:func:`~gateway.api.encode.byte_slices`), so no format builds the
whole response — or one huge row's text — in memory. CSV text cells that a spreadsheet would
run as formulas get a leading apostrophe unless the caller turns the guard off
(:mod:`gateway.exports.formulas`).

Before the result is audited as completed, :func:`delivery_check` refuses (413 ``too_large``,
and that is the completed record's outcome) what cannot be sent as asked: JSON above
``max_json_bytes`` (JSON costs several times the Arrow size to build and parse; big extracts
belong in arrow/csv/parquet), and CSV/JSON with a row above ``max_row_bytes``.

:class:`ResultResponse` sends the chunks:

- encoding runs in worker threads, never on the event loop; results over
  :data:`SMALL_RESULT_BYTES` encode under a shared limiter (``encoders``), so a few big
  JSON/CSV answers cannot take the whole process from other users' small queries;
- a client that reads nothing for ``send_timeout_s`` has its response closed;
- the spilled file is deleted when the response ends — finished, failed, stalled, or abandoned
  by the client — and ``on_close`` runs (the caller's quota claim is given back).

Every response carries ``X-Query-Id`` and ``X-Protective-Marking`` (the policy's marking for
the data it was read from, :meth:`gateway.service.QueryService.marking_of`, as the completed
audit record keeps it); the answer carries it inside too: JSON's ``marking`` member, Parquet's
``gateway:marking`` file metadata, CSV's trailing ``protective_marking`` column on every row
(or first ``# marking`` line: the policy's ``[markings] csv_marking``). (The Arrow stream is the spilled file byte for byte, which
the audit fingerprint covers: its marking is the header, which the Python client copies into
the table's schema metadata.)

Example:
    >>> MEDIA_TYPES["arrow"]
    'application/vnd.apache.arrow.stream'
"""

from __future__ import annotations

import json
import logging
import weakref
from collections.abc import Callable, Iterator
from typing import Literal

import anyio
import anyio.to_thread
import pyarrow as pa
import pyarrow.csv as pacsv
import pyarrow.parquet as pq
from starlette.responses import Response, StreamingResponse
from starlette.types import Receive, Scope, Send

from gateway.api.encode import (
    ChunkSink,
    byte_slices,
    column_types,
    csv_safe,
    json_rows,
    largest_row,
    parquet_safe,
)
from gateway.engines.base import QueryResult
from gateway.errors import InputError, TooLarge
from gateway.exports.formulas import guard_formulas, guard_text
from gateway.policy.markings import ARROW_MARKING_KEY, MARKING_COLUMN
from gateway.service import QueryOutcome

__all__ = [
    "DISCLOSURE_HEADER",
    "MARKING_HEADER",
    "MEDIA_TYPES",
    "QUERY_ID_HEADER",
    "SLICE_BYTES",
    "SMALL_RESULT_BYTES",
    "WHOLE_RESPONSE_BYTES",
    "ResultFormat",
    "ResultResponse",
    "WholeResponse",
    "delivery_check",
    "result_response",
]

log = logging.getLogger("gateway.api")

ResultFormat = Literal["json", "arrow", "csv", "parquet"]

MEDIA_TYPES: dict[str, str] = {
    "json": "application/json",
    "arrow": "application/vnd.apache.arrow.stream",
    "csv": "text/csv; charset=utf-8",
    "parquet": "application/vnd.apache.parquet",
}
QUERY_ID_HEADER = "X-Query-Id"
#: The protective marking the policy sets for the data in the answer (every data-carrying
#: answer: query results, export and product files, template runs, map layers).
MARKING_HEADER = "X-Protective-Marking"
#: The disclosure control applied to the result, in a line (when it was asked for).
DISCLOSURE_HEADER = "X-Disclosure"
#: Arrow bytes encoded to CSV/JSON in one step (one short stay in a worker thread).
SLICE_BYTES = 256 * 1024
#: Results up to this size are encoded without waiting for the encoders' limiter.
SMALL_RESULT_BYTES = 1 << 20
#: Results up to this size (spilled Arrow bytes) are encoded whole by the thread that ran the
#: query, their file deleted there, and sent in one piece (:class:`WholeResponse`): no further
#: trip to the thread pool per chunk, and nothing left on disk while the answer goes out.
WHOLE_RESPONSE_BYTES = 64 * 1024


def arrow_chunks(result: QueryResult) -> Iterator[bytes]:
    """The spilled IPC stream, byte for byte."""
    yield from result.iter_bytes()


def csv_chunks(
    result: QueryResult,
    *,
    formula_guard: bool = True,
    slice_bytes: int = SLICE_BYTES,
    marking: str = "",
    csv_marking: str = "column",
) -> Iterator[bytes]:
    """CSV with a header line, a slice at a time; with ``formula_guard`` text cells (and
    names) a spreadsheet would run as formulas get a leading apostrophe. The protective
    ``marking`` goes inside as the policy's ``csv_marking`` says: a trailing
    ``protective_marking`` column on every row (``column``) or a first ``# marking`` line
    (``comment``)."""
    reader = result.reader()
    sink = ChunkSink()
    writer: pacsv.CSVWriter | None = None
    column = bool(marking) and csv_marking == "column"
    if marking and csv_marking == "comment":
        yield f"# {marking}\n".encode()
    for batch in reader:
        for piece in byte_slices(batch, slice_bytes):
            safe = csv_safe(piece)
            if formula_guard:
                safe = guard_formulas(safe)
            if column:
                safe = safe.append_column(
                    MARKING_COLUMN, pa.array([marking] * safe.num_rows, pa.string())
                )
            if writer is None:
                writer = pacsv.CSVWriter(sink, safe.schema)
            writer.write_batch(safe)
            yield from sink.chunks()
    if writer is None:  # no batches: header only
        names = [guard_text(n) if formula_guard else n for n in reader.schema.names]
        names += [MARKING_COLUMN] if column else []
        yield (",".join(json.dumps(name) for name in names) + "\n").encode()
        return
    writer.close()
    yield from sink.chunks()


def parquet_chunks(result: QueryResult, marking: str = "") -> Iterator[bytes]:
    """A Parquet file, one row group per record batch; the protective ``marking`` in the
    file's metadata (``gateway:marking``), as in a Parquet export."""
    sink = ChunkSink()
    writer: pq.ParquetWriter | None = None
    reader = result.reader()
    metadata = {ARROW_MARKING_KEY: marking.encode()} if marking else {}
    for batch in reader:
        safe = parquet_safe(batch)
        if writer is None:
            schema = safe.schema.with_metadata({**(safe.schema.metadata or {}), **metadata})
            writer = pq.ParquetWriter(sink, schema, compression="zstd")
        writer.write_batch(safe)
        yield from sink.chunks()
    if writer is None:  # no batches: a valid file with the schema and no rows
        empty = parquet_safe(pa.RecordBatch.from_pylist([], schema=reader.schema))
        writer = pq.ParquetWriter(sink, empty.schema.with_metadata(metadata))
    writer.close()
    yield from sink.chunks()


def json_chunks(outcome: QueryOutcome, *, slice_bytes: int = SLICE_BYTES) -> Iterator[bytes]:
    """``{"query_id", "marking", "columns", "row_count", "truncated", "rows": [[…], …]}``, a
    slice of rows at a time."""
    result = outcome.result
    head: dict[str, object] = {
        "query_id": outcome.query_id,
        "marking": outcome.marking,
        "columns": column_types(result.schema),
        "row_count": result.num_rows,
        "truncated": result.truncated,
    }
    if outcome.disclosure is not None:
        head["disclosure"] = outcome.disclosure
    yield (json.dumps(head, separators=(",", ":"))[:-1] + ',"rows":[').encode()
    first = True
    for batch in result.reader():
        for piece in byte_slices(batch, slice_bytes):
            text = json_rows(piece)
            if not text:
                continue
            yield (text if first else "," + text).encode("utf-8")
            first = False
    yield b"]}"


def _chunks(
    outcome: QueryOutcome, fmt: ResultFormat, formula_guard: bool, csv_marking: str
) -> Iterator[bytes]:
    if fmt == "json":
        return json_chunks(outcome)
    if fmt == "csv":
        return csv_chunks(
            outcome.result,
            formula_guard=formula_guard,
            marking=outcome.marking,
            csv_marking=csv_marking,
        )
    if fmt == "parquet":
        return parquet_chunks(outcome.result, outcome.marking)
    return arrow_chunks(outcome.result)


def delivery_check(
    fmt: ResultFormat, *, max_json_bytes: int, max_row_bytes: int, csv_marking: str = "column"
) -> Callable[[QueryResult], None]:
    """What the service runs on a finished result before it is audited as completed
    (``run_query(…, deliverable=…)``): refuse what cannot be sent as ``fmt``.

    Raises (from the returned check):
        TooLarge: JSON over ``max_json_bytes``; CSV or JSON with a row over ``max_row_bytes``
            (text encoders hold a row's text whole; arrow and parquet stream it).
        InputError: a CSV answer whose result has a column named as the marking column
            (``csv_marking`` ``column``): no column of the analyst's poses as the marking.

    Example:
        >>> check = delivery_check("json", max_json_bytes=10, max_row_bytes=10)
        >>> check(result)  # doctest: +SKIP
        Traceback (most recent call last):
        ...
        gateway.errors.TooLarge: the result (… rows, … bytes) is too large to send as JSON …
    """

    def check(result: QueryResult) -> None:
        if fmt == "csv" and csv_marking == "column" and MARKING_COLUMN in result.schema.names:
            raise InputError(
                f"the column name {MARKING_COLUMN!r} is kept for the answer's protective "
                "marking in CSV: give your column another name (AS …)"
            )
        if fmt == "json" and result.num_bytes > max_json_bytes:
            raise TooLarge(
                f"the result ({result.num_rows:,} rows, {result.num_bytes:,} bytes) is too "
                f"large to send as JSON (limit {max_json_bytes:,} bytes); ask for format "
                "'arrow', 'csv' or 'parquet' instead"
            )
        if fmt not in ("json", "csv"):
            return
        for batch in result.reader():
            size = largest_row(batch, max_row_bytes)
            if size:
                raise TooLarge(
                    f"a row of the result holds {size:,} bytes, more than the "
                    f"{max_row_bytes:,} a {fmt.upper()} answer encodes at once; ask for "
                    "format 'arrow' or 'parquet' instead"
                )

    return check


class _Stalled(Exception):
    """The client read nothing for the send timeout."""


async def _abort(scope: Scope) -> None:
    """Drop the connection now (the server's ``gateway.abort`` extension): a polite close
    would wait for the unread bytes to go out. Without it, the server closes the connection
    when the response returns unfinished."""
    abort = scope.get("extensions", {}).get("gateway.abort")
    if callable(abort):
        abort()
        await anyio.sleep(0.01)  # let the server see the connection lost


def _next_chunk(chunks: Iterator[bytes]) -> bytes | None:
    return next(chunks, None)


class ResultResponse(StreamingResponse):
    """Streams a spilled result's chunks; see the module docstring for its guarantees.

    Args:
        result: the spilled result (deleted when the response ends).
        chunks: its encoding, a blocking iterator (each step runs in a worker thread).
        media_type, headers: as for any response.
        send_timeout_s: close the response when one chunk waits this long to be sent.
        encoders: the limiter heavy encoding steps wait for (None: the default thread pool).
        on_close: called once when the response ends, however it ends.
    """

    def __init__(
        self,
        result: QueryResult,
        chunks: Iterator[bytes],
        *,
        media_type: str,
        headers: dict[str, str],
        send_timeout_s: float,
        encoders: anyio.CapacityLimiter | None = None,
        on_close: Callable[[], None] | None = None,
    ) -> None:
        super().__init__(iter(()), media_type=media_type, headers=headers)
        self.result = result
        self.chunks = chunks
        self.send_timeout_s = send_timeout_s
        self.encoders = encoders
        # Runs once: when the response ends, or if it is dropped without ever being sent.
        self._cleanup = weakref.finalize(self, _release, chunks, result, on_close)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        try:
            async with anyio.create_task_group() as watchers:
                watchers.start_soon(self._watch_disconnect, receive, watchers.cancel_scope)
                try:
                    await self._stream(send)
                except _Stalled:
                    log.warning(
                        "%s %s: the client read nothing for %g s; response %s closed, "
                        "its result file deleted",
                        scope.get("method"),
                        scope.get("path"),
                        self.send_timeout_s,
                        self.result.query_id,
                    )
                    await _abort(scope)
                watchers.cancel_scope.cancel()
        finally:
            with anyio.CancelScope(shield=True):
                await anyio.to_thread.run_sync(self._close)

    async def _watch_disconnect(self, receive: Receive, scope: anyio.CancelScope) -> None:
        while (await receive())["type"] != "http.disconnect":
            pass
        scope.cancel()  # the client went away: stop encoding for nobody

    async def _send(self, send: Send, message: dict[str, object]) -> None:
        with anyio.move_on_after(self.send_timeout_s) as waited:
            await send(message)
        if waited.cancelled_caught:
            raise _Stalled

    async def _stream(self, send: Send) -> None:
        start = {"type": "http.response.start", "status": 200, "headers": self.raw_headers}
        await self._send(send, start)
        while True:
            chunk = await anyio.to_thread.run_sync(_next_chunk, self.chunks, limiter=self.encoders)
            if chunk is None:
                break  # all read: the file goes before the client hears the end
            await self._send(send, {"type": "http.response.body", "body": chunk, "more_body": True})
        await anyio.to_thread.run_sync(self._close)
        await self._send(send, {"type": "http.response.body", "body": b"", "more_body": False})

    def _close(self) -> None:
        self._cleanup()


class WholeResponse(Response):
    """A small result already encoded (its file gone): sent in one piece, closed with the
    connection dropped when the client reads none of it for ``send_timeout_s``."""

    def __init__(
        self, body: bytes, *, media_type: str, headers: dict[str, str], send_timeout_s: float
    ) -> None:
        super().__init__(body, media_type=media_type, headers=headers)
        self.send_timeout_s = send_timeout_s

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        with anyio.move_on_after(self.send_timeout_s) as waited:
            await super().__call__(scope, receive, send)
        if waited.cancelled_caught:
            log.warning(
                "%s %s: the client read nothing for %g s; response closed",
                scope.get("method"),
                scope.get("path"),
                self.send_timeout_s,
            )
            await _abort(scope)


def _release(
    chunks: Iterator[bytes], result: QueryResult, on_close: Callable[[], None] | None
) -> None:
    """Close the encoder (its memory map), delete the file, give back the claim."""
    try:
        close = getattr(chunks, "close", None)
        if close is not None:
            close()
    finally:
        result.discard()
        if on_close is not None:
            on_close()


def result_response(
    outcome: QueryOutcome,
    fmt: ResultFormat,
    *,
    send_timeout_s: float,
    formula_guard: bool = True,
    csv_marking: str = "column",
    encoders: anyio.CapacityLimiter | None = None,
    on_close: Callable[[], None] | None = None,
) -> Response:
    """The response for ``outcome`` in ``fmt`` (``formula_guard``, ``csv_marking``: see
    :func:`csv_chunks`; the others: see :class:`ResultResponse`): a result up to
    :data:`WHOLE_RESPONSE_BYTES` encoded here, at once (call this in a worker thread), and
    its file deleted; a larger one streamed. The result must have passed
    :func:`delivery_check` for ``fmt``."""
    result = outcome.result
    filename = f"{outcome.query_id}.{'arrows' if fmt == 'arrow' else fmt}"
    headers = {
        QUERY_ID_HEADER: outcome.query_id,
        MARKING_HEADER: outcome.marking,
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
    chunks = _chunks(outcome, fmt, formula_guard, csv_marking)
    if result.num_bytes <= WHOLE_RESPONSE_BYTES:
        try:
            body = b"".join(chunks)
        finally:
            _release(chunks, result, on_close)
        headers.pop("Content-Length", None)  # the body's own length is sent
        return WholeResponse(
            body, media_type=MEDIA_TYPES[fmt], headers=headers, send_timeout_s=send_timeout_s
        )
    heavy = fmt != "arrow" and result.num_bytes > SMALL_RESULT_BYTES
    return ResultResponse(
        result,
        chunks,
        media_type=MEDIA_TYPES[fmt],
        headers=headers,
        send_timeout_s=send_timeout_s,
        encoders=encoders if heavy else None,
        on_close=on_close,
    )

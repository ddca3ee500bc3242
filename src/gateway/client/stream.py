"""Read an HTTP response body as a file, for pyarrow's IPC reader, checking its SHA-256;
:class:`ArrowResult` reads an Arrow answer batch by batch as it arrives.

Example:
    >>> import pyarrow as pa, io, hashlib
    >>> sink = io.BytesIO()
    >>> with pa.ipc.new_stream(sink, pa.schema([("x", pa.int64())])) as w:
    ...     w.write_table(pa.table({"x": [1, 2]}))
    >>> data = sink.getvalue()
    >>> body = ResponseBody(iter([data[:5], data[5:]]))
    >>> pa.ipc.open_stream(body).read_all().num_rows, body.sha256() == hashlib.sha256(data).hexdigest()
    (2, True)
"""

from __future__ import annotations

import hashlib
import io
from collections.abc import Iterator
from typing import Any

import pyarrow as pa

from gateway.client.errors import UnexpectedResponse

__all__ = ["ArrowResult", "ResponseBody"]


class ResponseBody(io.RawIOBase):
    """A read-only file over an iterator of byte chunks; hashes what passes through."""

    def __init__(self, chunks: Iterator[bytes]) -> None:
        super().__init__()
        self._chunks = chunks
        self._pending = b""
        self._hash = hashlib.sha256()
        self._done = False

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        view = memoryview(buffer).cast("B")
        while not self._pending and not self._done:
            try:
                self._pending = next(self._chunks)
            except StopIteration:
                self._done = True
                break
            self._hash.update(self._pending)
        n = min(len(view), len(self._pending))
        view[:n] = self._pending[:n]
        self._pending = self._pending[n:]
        return n

    def read(self, size: int | None = -1) -> bytes:
        """Read ``size`` bytes (fewer only at the end); pyarrow expects full reads."""
        if size is None or size < 0:
            parts = [self._pending]
            self._pending = b""
            for chunk in self._chunks:
                self._hash.update(chunk)
                parts.append(chunk)
            self._done = True
            return b"".join(parts)
        out = bytearray(size)
        filled = 0
        while filled < size:
            n = self.readinto(memoryview(out)[filled:])
            if n == 0:
                break
            filled += n
        return bytes(out[:filled])

    def drain(self) -> None:
        """Read (and hash) whatever is left."""
        for chunk in self._chunks:
            self._hash.update(chunk)
        self._done = True

    def sha256(self) -> str:
        """Hex SHA-256 of the bytes read so far."""
        return self._hash.hexdigest()


class ArrowResult:
    """An Arrow IPC answer read batch by batch as it arrives, never all at once; at its end the
    bytes read are checked against the audit record's fingerprint.

    Args:
        chunks: the response body's byte chunks, or the whole body when it was small enough
            to read at once (then batches are read from it in place).
        query_id: the audit record's id (``X-Query-Id``).
        marking: the result's protective marking (``X-Protective-Marking``), when sent.
        row_count: the rows the server says it sends (``X-Row-Count``), when it says.
        expected_sha256: the audit record's fingerprint (``X-Result-Sha256``), when sent.

    Raises:
        UnexpectedResponse: the stream is damaged or does not match its fingerprint.

    Example:
        >>> sink = io.BytesIO()
        >>> with pa.ipc.new_stream(sink, pa.schema([("x", pa.int64())])) as w:
        ...     w.write_table(pa.table({"x": [1, 2, 3]}), max_chunksize=2)
        >>> data = sink.getvalue()
        >>> result = ArrowResult(iter([data]), query_id="q1", row_count=3,
        ...                      expected_sha256=hashlib.sha256(data).hexdigest())
        >>> [b.num_rows for b in iter(result.next_batch, None)], result.finished
        ([2, 1], True)
        >>> ArrowResult(data, query_id="q1", expected_sha256="0" * 64).read_all()  # whole body
        Traceback (most recent call last):
        ...
        gateway.client.errors.UnexpectedResponse: the result does not match its audit fingerprint (damaged in transit)
    """

    def __init__(
        self,
        chunks: Iterator[bytes] | bytes,
        *,
        query_id: str | None,
        marking: str | None = None,
        row_count: int | None = None,
        expected_sha256: str | None = None,
    ) -> None:
        self.query_id = query_id
        self.marking = marking
        self.row_count = row_count
        self.finished = False
        self._expected = expected_sha256
        self._whole = chunks if isinstance(chunks, bytes) else None
        self._body = None if isinstance(chunks, bytes) else ResponseBody(chunks)
        source = self._body if self._body is not None else pa.py_buffer(chunks)
        try:
            self._reader = pa.ipc.open_stream(source)
        except pa.ArrowInvalid as exc:
            raise UnexpectedResponse(f"the result stream is damaged: {exc}") from exc

    @property
    def schema(self) -> pa.Schema:
        """The result's columns (known before any row arrives)."""
        return self._reader.schema

    def next_batch(self) -> pa.RecordBatch | None:
        """The next record batch; None at the end (the fingerprint checked by then)."""
        if self.finished:
            return None
        try:
            return self._reader.read_next_batch()
        except StopIteration:
            self._finish()
            return None
        except pa.ArrowInvalid as exc:
            raise UnexpectedResponse(f"the result stream is damaged: {exc}") from exc

    def read_all(self) -> pa.Table:
        """The rest of the result as one table."""
        return pa.Table.from_batches(list(iter(self.next_batch, None)), schema=self.schema)

    def _finish(self) -> None:
        if self._body is not None:
            self._body.drain()
            digest = self._body.sha256()
        else:
            digest = hashlib.sha256(self._whole or b"").hexdigest()
        self.finished = True
        if self._expected and self._expected != digest:
            raise UnexpectedResponse(
                "the result does not match its audit fingerprint (damaged in transit)"
            )

"""Read an HTTP response body as a file, for pyarrow's IPC reader, checking its SHA-256.

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

__all__ = ["ResponseBody"]


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

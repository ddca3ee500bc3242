"""Write a stream of record batches to an Arrow IPC stream file, within row and byte limits.

The file is written beside its final name (``<name>.part``) and renamed only when complete,
so a reader never sees half a result; on any failure the partial file is removed. The
fingerprint is the SHA-256 of the finished stream, i.e. of the exact bytes a client receives
when the service streams it as ``application/vnd.apache.arrow.stream``; it is computed while
the stream is written, not by reading the file again. A small result (at most
``inline_bytes``) never becomes a file at all: its bytes are returned in memory
(:attr:`SpillSummary.data`), so a trivial query costs no file create, rename, map and unlink.

Result files are the results directory's only content, and every one is temporary: a file is
deleted when its response is done, :func:`discard_result_files` removes a query's files on a
failure path, and :func:`sweep_results` removes what a killed worker or process left behind
(complete results of killed workers, partial files) — at server start and stop, and
periodically while it serves.

Example:
    >>> import pyarrow as pa, tempfile, pathlib
    >>> batches = pa.table({"x": list(range(10))}).to_reader(max_chunksize=4)
    >>> path = pathlib.Path(tempfile.mkdtemp()) / "q1.arrows"
    >>> summary = spill_batches(batches, path, max_rows=5, max_result_bytes=10**6)
    >>> summary.num_rows, summary.truncated
    (5, True)
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import time
from collections.abc import Container
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

import pyarrow as pa

from gateway.errors import TooLarge

__all__ = [
    "SpillSummary",
    "SweepReport",
    "discard_result_files",
    "partial_path",
    "spill_batches",
    "sweep_results",
]


@dataclass(frozen=True)
class SpillSummary:
    """What was written: rows kept, stream size, whether rows were cut, the stream's hash,
    and the stream itself when it was small enough to keep in memory (then no file exists)."""

    num_rows: int
    num_bytes: int
    truncated: bool
    fingerprint: str
    data: bytes | None = None


def partial_path(path: Path) -> Path:
    """Where a result is written before it is complete.

    Example:
        >>> partial_path(Path("/r/q1.arrows"))
        PosixPath('/r/q1.arrows.part')
    """
    return path.with_name(path.name + ".part")


def discard_result_files(path: Path) -> None:
    """Delete a result file and its partial file, if they exist (a failure path's cleanup).

    Unlinking a file a reader still has open or memory-mapped is safe: its pages live until
    the reader lets go.

    Example:
        >>> discard_result_files(Path("/nonexistent/q1.arrows"))
    """
    for candidate in (path, partial_path(path)):
        with contextlib.suppress(FileNotFoundError, NotADirectoryError):
            os.unlink(candidate)


@dataclass(frozen=True)
class SweepReport:
    """What a sweep removed: files and their bytes."""

    files: int = 0
    bytes: int = 0

    def __add__(self, other: SweepReport) -> SweepReport:
        return SweepReport(self.files + other.files, self.bytes + other.bytes)


def sweep_results(
    directory: Path,
    *,
    complete_after_s: float,
    partial_after_s: float,
    held: Container[str] = (),
    now: float | None = None,
) -> SweepReport:
    """Delete leftover result files in ``directory``.

    A complete result (``*.arrows``) goes when nobody holds it (its name is not in ``held``)
    and it was not modified for ``complete_after_s``; a partial one (``*.part``, still being
    written by a live worker until its query's time limit) when it was not modified for
    ``partial_after_s``. Anything else in the directory is not a result and is left alone.

    Args:
        directory: the results directory (missing: nothing to do).
        complete_after_s: age (seconds since last modification) at which an unheld complete
            result is an orphan.
        partial_after_s: age at which a partial result is an orphan (longer than any query's
            time limit, so a running query's file is never taken).
        held: file names a live response still streams.
        now: the current time (``time.time()``; tests pass their own).

    Returns:
        The files removed and their bytes.

    Example:
        >>> import tempfile
        >>> folder = Path(tempfile.mkdtemp())
        >>> _ = (folder / "q1.arrows").write_bytes(b"12345")
        >>> sweep_results(folder, complete_after_s=0, partial_after_s=0, now=time.time() + 1)
        SweepReport(files=1, bytes=5)
    """
    now = time.time() if now is None else now
    removed = SweepReport()
    try:
        entries = list(os.scandir(directory))
    except FileNotFoundError:
        return removed
    for entry in entries:
        if entry.name.endswith(".part"):
            limit = partial_after_s
        elif entry.name.endswith(".arrows") and entry.name not in held:
            limit = complete_after_s
        else:
            continue
        try:
            info = entry.stat(follow_symlinks=False)
            if now - info.st_mtime < limit or not entry.is_file(follow_symlinks=False):
                continue
            os.unlink(entry.path)
        except FileNotFoundError:  # its owner deleted it meanwhile
            continue
        removed += SweepReport(1, info.st_size)
    return removed


def spill_batches(
    batches: pa.RecordBatchReader,
    path: Path,
    *,
    max_rows: int,
    max_result_bytes: int,
    inline_bytes: int = 0,
) -> SpillSummary:
    """Copy ``batches`` into an IPC stream file at ``path``, keeping at most ``max_rows`` rows
    — or, when the whole stream is at most ``inline_bytes``, into memory (no file is made).

    Reading stops as soon as one row beyond ``max_rows`` has been seen (the result is then
    marked truncated), so an over-long result costs no more than the rows kept.

    Args:
        batches: the source; it is closed when this returns.
        path: the final file name (its directory must exist).
        max_rows: rows to keep.
        max_result_bytes: largest stream allowed.
        inline_bytes: largest stream returned in memory (0: always a file).

    Returns:
        A :class:`SpillSummary` of the finished stream.

    Raises:
        gateway.errors.TooLarge: the stream would exceed ``max_result_bytes`` (nothing is kept).
    """
    part = partial_path(path)
    sink = _StreamSink(part, inline_bytes=inline_bytes, max_bytes=max_result_bytes)
    try:
        with pa.PythonFile(sink, mode="w") as stream:
            rows, truncated = _write(batches, stream, max_rows=max_rows)
        data = sink.finish()
        if data is None:
            os.replace(part, path)
    except BaseException:
        sink.abandon()
        part.unlink(missing_ok=True)
        raise
    finally:
        batches.close()
    return SpillSummary(rows, sink.size, truncated, sink.digest.hexdigest(), data)


class _StreamSink:
    """A write-only stream that hashes and counts what passes through it, keeps it in memory
    while it is at most ``inline_bytes``, and past that moves it to ``part`` (0600) and writes
    through; more than ``max_bytes`` in all is refused."""

    def __init__(self, part: Path, *, inline_bytes: int, max_bytes: int) -> None:
        self.part = part
        self.inline_bytes = inline_bytes
        self.max_bytes = max_bytes
        self.digest = hashlib.sha256()
        self.size = 0
        self.closed = False
        self._buffer = bytearray()
        self._file: BinaryIO | None = None

    def write(self, data: bytes) -> int:
        n = len(data)
        self.size += n
        if self.size > self.max_bytes:
            raise _too_large(self.max_bytes)
        self.digest.update(data)
        if self._file is not None:
            self._file.write(data)
            return n
        self._buffer += data
        if len(self._buffer) > self.inline_bytes:
            fd = os.open(self.part, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
            self._file = os.fdopen(fd, "wb")
            self._file.write(self._buffer)
            self._buffer = bytearray()
        return n

    def tell(self) -> int:
        return self.size

    def writable(self) -> bool:
        return True

    def flush(self) -> None:
        if self._file is not None:
            self._file.flush()

    def close(self) -> None:
        self.closed = True

    def finish(self) -> bytes | None:
        """The stream's bytes if it stayed in memory, else None (the file is complete)."""
        if self._file is None:
            return bytes(self._buffer)
        self._file.close()
        return None

    def abandon(self) -> None:
        if self._file is not None:
            self._file.close()


def _write(
    batches: pa.RecordBatchReader, sink: pa.NativeFile, *, max_rows: int
) -> tuple[int, bool]:
    rows = 0
    with pa.ipc.new_stream(sink, batches.schema) as writer:
        while True:
            try:
                batch = batches.read_next_batch()
            except StopIteration:
                return rows, False
            if rows + batch.num_rows > max_rows:
                if max_rows > rows:
                    writer.write_batch(batch.slice(0, max_rows - rows))
                return max_rows, True
            writer.write_batch(batch)
            rows += batch.num_rows


def _too_large(max_bytes: int) -> TooLarge:
    return TooLarge(
        f"the result is larger than the limit of {max_bytes:,} bytes; "
        "select fewer columns or rows, or aggregate"
    )

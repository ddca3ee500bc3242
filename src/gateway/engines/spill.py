"""Write a stream of record batches to an Arrow IPC stream file, within row and byte limits.

The file is written beside its final name (``<name>.part``) and renamed only when complete,
so a reader never sees half a result; on any failure the partial file is removed. The
fingerprint is the SHA-256 of the finished file, i.e. of the exact bytes a client receives
when the service streams the file as ``application/vnd.apache.arrow.stream``.

Example:
    >>> import pyarrow as pa, tempfile, pathlib
    >>> batches = pa.table({"x": list(range(10))}).to_reader(max_chunksize=4)
    >>> path = pathlib.Path(tempfile.mkdtemp()) / "q1.arrows"
    >>> summary = spill_batches(batches, path, max_rows=5, max_result_bytes=10**6)
    >>> summary.num_rows, summary.truncated
    (5, True)
"""

from __future__ import annotations

import hashlib
import os
from dataclasses import dataclass
from pathlib import Path

import pyarrow as pa

from gateway.errors import TooLarge

__all__ = ["SpillSummary", "partial_path", "spill_batches"]


@dataclass(frozen=True)
class SpillSummary:
    """What was written: rows kept, file size, whether rows were cut, and the file's hash."""

    num_rows: int
    num_bytes: int
    truncated: bool
    fingerprint: str


def partial_path(path: Path) -> Path:
    """Where a result is written before it is complete.

    Example:
        >>> partial_path(Path("/r/q1.arrows"))
        PosixPath('/r/q1.arrows.part')
    """
    return path.with_name(path.name + ".part")


def spill_batches(
    batches: pa.RecordBatchReader, path: Path, *, max_rows: int, max_result_bytes: int
) -> SpillSummary:
    """Copy ``batches`` into an IPC stream file at ``path``, keeping at most ``max_rows`` rows.

    Reading stops as soon as one row beyond ``max_rows`` has been seen (the result is then
    marked truncated), so an over-long result costs no more than the rows kept.

    Args:
        batches: the source; it is closed when this returns.
        path: the final file name (its directory must exist).
        max_rows: rows to keep.
        max_result_bytes: largest file allowed.

    Returns:
        A :class:`SpillSummary` of the finished file.

    Raises:
        gateway.errors.TooLarge: the file would exceed ``max_result_bytes`` (nothing is kept).
    """
    part = partial_path(path)
    try:
        rows, truncated = _write(batches, part, max_rows=max_rows, max_bytes=max_result_bytes)
        size = part.stat().st_size
        if size > max_result_bytes:
            raise _too_large(max_result_bytes)
        with part.open("rb") as fh:
            fingerprint = hashlib.file_digest(fh, "sha256").hexdigest()
        os.replace(part, path)
    except BaseException:
        part.unlink(missing_ok=True)
        raise
    finally:
        batches.close()
    return SpillSummary(rows, size, truncated, fingerprint)


def _write(
    batches: pa.RecordBatchReader, part: Path, *, max_rows: int, max_bytes: int
) -> tuple[int, bool]:
    rows = 0
    with pa.OSFile(str(part), "wb") as sink, pa.ipc.new_stream(sink, batches.schema) as writer:
        while True:
            try:
                batch = batches.read_next_batch()
            except StopIteration:
                return rows, False
            if rows + batch.num_rows > max_rows:
                if max_rows > rows:
                    writer.write_batch(batch.slice(0, max_rows - rows))
                    _check_size(sink, max_bytes)
                return max_rows, True
            writer.write_batch(batch)
            rows += batch.num_rows
            _check_size(sink, max_bytes)


def _check_size(sink: pa.NativeFile, max_bytes: int) -> None:
    if sink.tell() > max_bytes:
        raise _too_large(max_bytes)


def _too_large(max_bytes: int) -> TooLarge:
    return TooLarge(
        f"the result is larger than the limit of {max_bytes:,} bytes; "
        "select fewer columns or rows, or aggregate"
    )

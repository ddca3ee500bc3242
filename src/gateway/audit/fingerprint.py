"""The result fingerprint recorded with a completed query: SHA-256 over the Arrow result.

The hash covers the schema and every record batch in its Arrow IPC encoding, in order, as the
batches stream to the client — computed on the fly, so the result is never held twice. The
same rows cut into different batches give a different fingerprint; compare fingerprints of
results produced the same way (the service always streams batches of its configured size).

Example:
    >>> import pyarrow as pa
    >>> table = pa.table({"lsoa_code": ["E01012001"], "crimes": [12]})
    >>> fp = ResultFingerprint(table.schema)
    >>> for batch in table.to_batches():
    ...     fp.update(batch)
    >>> len(fp.hexdigest()), fp.hexdigest() == fingerprint_table(table)
    (64, True)
"""

from __future__ import annotations

import hashlib

import pyarrow as pa

__all__ = ["ResultFingerprint", "fingerprint_table"]


class ResultFingerprint:
    """Incremental SHA-256 of an Arrow result (schema, then batches), with row and byte counts."""

    def __init__(self, schema: pa.Schema) -> None:
        self._hash = hashlib.sha256(schema.serialize().to_pybytes())
        self.rows = 0
        self.bytes = 0

    def update(self, batch: pa.RecordBatch) -> None:
        """Add one batch (in the order it is sent)."""
        self._hash.update(batch.serialize().to_pybytes())
        self.rows += batch.num_rows
        self.bytes += batch.nbytes

    def hexdigest(self) -> str:
        return self._hash.hexdigest()


def fingerprint_table(table: pa.Table) -> str:
    """Fingerprint of a whole table, batch by batch as :meth:`pa.Table.to_batches` cuts it."""
    fp = ResultFingerprint(table.schema)
    for batch in table.to_batches():
        fp.update(batch)
    return fp.hexdigest()

"""Writing the DuckDB warehouse: tables from the catalog, rows appended in a fixed order.

Generators hand over polars frames whose timestamps are int64 seconds in ``<column>_s``
(``recorded_s`` for ``recorded_at``);
:meth:`WarehouseWriter.append` converts them, keeps the catalog's columns in the catalog's
order and inserts them. Record tables go through a :class:`RecordQueue`, which holds rows back
until no earlier row can still arrive, so each record table is written sorted by authority and
time (DuckDB keeps insertion order, and its row-group min/max statistics then prune by area).

Example:
    >>> import tempfile, pathlib
    >>> from gateway.catalog import load_catalog
    >>> path = pathlib.Path(tempfile.mkdtemp()) / "w.duckdb"
    >>> with WarehouseWriter(path, load_catalog()) as writer:
    ...     writer.append("local_authority", pl.DataFrame({"local_authority_code": ["E06000001"],
    ...         "name": ["Hartlepool"], "population": [92338], "area_km2": [93.7]}))
    ...     writer.count("local_authority")
    1
"""

from __future__ import annotations

import queue
import threading
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from types import TracebackType

import duckdb
import polars as pl
import pyarrow as pa

from gateway.catalog import Catalog
from gateway.errors import ConfigurationError

__all__ = [
    "INFO_TABLE",
    "RecordQueue",
    "WarehouseWriter",
    "interruptible",
    "open_read_only",
    "read_info",
]

INFO_TABLE = "warehouse_info"
CHECKPOINT_THRESHOLD = "256MB"
MEMORY_LIMIT = "512MB"  # DuckDB's buffer pool while writing (its default is 80% of RAM)
QUEUE_DEPTH = 3  # frames waiting for the writer thread (bounds the memory they hold)


class WarehouseWriter:
    """An open, new warehouse file being filled (use as a context manager).

    Inserts run on a background thread, in submission order, so DuckDB compresses and writes
    one block while the generator draws the next (DuckDB and polars release the GIL). A failed
    insert is raised in the caller at its next call.
    """

    def __init__(self, path: Path, catalog: Catalog) -> None:
        self._catalog = catalog
        self._con = duckdb.connect(str(path))
        # Checkpointing every 16 MB of WAL (the default) rewrites the growing file again and
        # again; a larger threshold makes the build several times faster.
        self._con.execute(f"SET checkpoint_threshold = '{CHECKPOINT_THRESHOLD}'")
        self._con.execute(f"SET memory_limit = '{MEMORY_LIMIT}'")
        self._con.execute("SET enable_progress_bar = false")
        for table in catalog:
            self._con.execute(table.ddl())
        self._con.execute(
            f"CREATE TABLE {INFO_TABLE} (key VARCHAR NOT NULL, value VARCHAR NOT NULL)"
        )
        self._jobs: queue.Queue[tuple[str, pa.Table] | None] = queue.Queue(maxsize=QUEUE_DEPTH)
        self._failure: BaseException | None = None
        self._thread = threading.Thread(target=self._work, name="warehouse-writer", daemon=True)
        self._thread.start()

    def __enter__(self) -> WarehouseWriter:
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        value: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close(completed=kind is None)

    def append(self, table: str, frame: pl.DataFrame) -> None:
        """Insert ``frame``'s rows (catalog columns; ``<col>_s`` seconds become timestamps).

        Extra columns in ``frame`` are ignored.
        """
        self._raise_failure()
        if frame.height == 0:
            return
        columns = []
        for column in self._catalog.table(table).columns:
            seconds = f"{column.name.removesuffix('_at')}_s"
            if column.name in frame.columns:
                columns.append(pl.col(column.name))
            elif seconds in frame.columns and column.type == "TIMESTAMP":
                columns.append(
                    pl.from_epoch(pl.col(seconds), time_unit="s")
                    .cast(pl.Datetime("us"))
                    .alias(column.name)
                )
            else:
                raise ConfigurationError(f"generator produced no {table}.{column.name}")
        self._jobs.put((table, frame.select(columns).to_arrow()))

    def write_info(self, info: Mapping[str, str]) -> None:
        self._raise_failure()
        rows = pl.DataFrame({"key": list(info), "value": list(info.values())}).to_arrow()
        self._jobs.put((INFO_TABLE, rows))

    def count(self, table: str) -> int:
        """Rows in ``table`` once everything submitted so far is written."""
        self._jobs.join()
        self._raise_failure()
        row = self._con.execute(f"SELECT count(*) FROM {table}").fetchone()
        return int(row[0]) if row else 0

    def close(self, *, completed: bool = True) -> None:
        """Finish the queued inserts and close; checkpoint only a completed warehouse."""
        self._jobs.put(None)
        self._thread.join()
        try:
            if completed and self._failure is None:
                self._con.execute("CHECKPOINT")
        finally:
            self._con.close()
        if completed:
            self._raise_failure()

    def _work(self) -> None:
        while True:
            job = self._jobs.get()
            try:
                if job is None:
                    return
                if self._failure is None:
                    self._insert(*job)
            except BaseException as exc:
                self._failure = exc
            finally:
                self._jobs.task_done()

    def _insert(self, table: str, rows: pa.Table) -> None:
        self._con.register("incoming_rows", rows)
        try:
            self._con.execute(f"INSERT INTO {table} BY NAME SELECT * FROM incoming_rows")
        finally:
            self._con.unregister("incoming_rows")

    def _raise_failure(self) -> None:
        if self._failure is not None:
            raise self._failure


class RecordQueue:
    """Holds a record table's rows until they can be written in ``key`` order."""

    def __init__(self, table: str, key: str, tie_break: str) -> None:
        self.table = table
        self._key = key
        self._tie_break = tie_break
        self._pending: list[pl.DataFrame] = []

    def push(self, frame: pl.DataFrame) -> None:
        if frame.height:
            self._pending.append(frame)

    def release(self, writer: WarehouseWriter, before: int | None = None) -> None:
        """Write, in order, every held row whose key is below ``before`` (all if None)."""
        if not self._pending:
            return
        rows = pl.concat(self._pending, how="vertical_relaxed").sort(
            [self._key, self._tie_break], maintain_order=True
        )
        if before is None:
            ready, held = rows, rows.clear()
        else:
            cut = int(rows[self._key].search_sorted(before, side="left"))
            ready, held = rows[:cut], rows[cut:]
        writer.append(self.table, ready)
        self._pending = [held] if held.height else []


def open_read_only(path: Path) -> duckdb.DuckDBPyConnection:
    """A read-only connection that prints no progress bars."""
    con = duckdb.connect(str(path), read_only=True)
    con.execute("SET enable_progress_bar = false")
    return con


def read_info(path: Path) -> dict[str, str] | None:
    """The ``warehouse_info`` key/values of an existing file (None if it is not ours).

    Raises:
        ConfigurationError: the file is not a readable DuckDB database.
    """
    try:
        con = open_read_only(path)
    except duckdb.Error as exc:
        raise ConfigurationError(f"{path} is not a readable DuckDB warehouse: {exc}") from exc
    try:
        tables = {
            r[0] for r in con.execute("SELECT table_name FROM information_schema.tables").fetchall()
        }
        if INFO_TABLE not in tables:
            return None
        return {
            str(k): str(v)
            for k, v in con.execute(f"SELECT key, value FROM {INFO_TABLE}").fetchall()
        }
    finally:
        con.close()


@contextmanager
def interruptible() -> Iterator[None]:
    """Map DuckDB's ways of reporting Ctrl-C back to ``KeyboardInterrupt``, and a failed write
    (disk full, file locked) to a one-line :class:`~gateway.errors.ConfigurationError`."""
    try:
        yield
    except (duckdb.Error, RuntimeError) as exc:
        text = str(exc)
        if isinstance(exc, duckdb.InterruptException) or "interrupt" in text.lower():
            raise KeyboardInterrupt from exc
        if isinstance(exc, duckdb.IOException):
            raise ConfigurationError(f"cannot write the warehouse: {text.splitlines()[0]}") from exc
        raise

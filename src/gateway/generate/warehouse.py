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

from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from types import TracebackType

import duckdb
import polars as pl

from gateway.catalog import Catalog
from gateway.errors import ConfigurationError

__all__ = ["INFO_TABLE", "RecordQueue", "WarehouseWriter", "interruptible", "read_info"]

INFO_TABLE = "warehouse_info"
CHECKPOINT_THRESHOLD = "256MB"


class WarehouseWriter:
    """An open, new warehouse file being filled (use as a context manager)."""

    def __init__(self, path: Path, catalog: Catalog) -> None:
        self._catalog = catalog
        self._con = duckdb.connect(str(path))
        # Checkpointing every 16 MB of WAL (the default) rewrites the growing file again and
        # again; a larger threshold makes the build several times faster.
        self._con.execute(f"SET checkpoint_threshold = '{CHECKPOINT_THRESHOLD}'")
        for table in catalog:
            self._con.execute(table.ddl())
        self._con.execute(
            f"CREATE TABLE {INFO_TABLE} (key VARCHAR NOT NULL, value VARCHAR NOT NULL)"
        )

    def __enter__(self) -> WarehouseWriter:
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        value: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    def append(self, table: str, frame: pl.DataFrame) -> None:
        """Insert ``frame``'s rows (catalog columns; ``<col>_s`` seconds become timestamps).

        Extra columns in ``frame`` are ignored.
        """
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
        rows = frame.select(columns).to_arrow()
        self._con.register("incoming_rows", rows)
        try:
            self._con.execute(f"INSERT INTO {table} BY NAME SELECT * FROM incoming_rows")
        finally:
            self._con.unregister("incoming_rows")

    def write_info(self, info: Mapping[str, str]) -> None:
        rows = pl.DataFrame({"key": list(info), "value": list(info.values())}).to_arrow()
        self._con.register("info_rows", rows)
        try:
            self._con.execute(f"INSERT INTO {INFO_TABLE} SELECT * FROM info_rows")
        finally:
            self._con.unregister("info_rows")

    def count(self, table: str) -> int:
        row = self._con.execute(f"SELECT count(*) FROM {table}").fetchone()
        return int(row[0]) if row else 0

    def close(self) -> None:
        try:
            self._con.execute("CHECKPOINT")
        finally:
            self._con.close()


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


def read_info(path: Path) -> dict[str, str] | None:
    """The ``warehouse_info`` key/values of an existing file (None if it is not ours).

    Raises:
        ConfigurationError: the file is not a readable DuckDB database.
    """
    try:
        con = duckdb.connect(str(path), read_only=True)
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

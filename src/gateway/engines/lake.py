"""The warehouse published as a Parquet lake, for engines beyond one machine (Spark).

Layout of ``DEST`` (one directory per table, Hive-style partitions)::

    DEST/_lake.json                         the manifest: every table, its columns and types
                                            (the warehouse's, in order) and its partitioning
    DEST/crime/local_authority_code=E06000001/recorded_year=2024/*.parquet
    DEST/location/local_authority_code=E06000001/*.parquet
    DEST/offence_type/*.parquet

A record table (one with ``local_authority_code``) is partitioned by authority and, where it
has a date or timestamp column, by the year of the first one (``<column>_year``, e.g.
``recorded_year`` from ``recorded_at``; partition pruning for "my area, these years"). The
year column exists only in the directory names: an engine reading the lake selects the
manifest's columns, so the schema contract is the warehouse's, name for name and in order.

Publication is atomic: the lake is written to a temporary sibling directory and renamed into
place, so a reader sees the old lake or the new one, never half of one. An existing ``DEST``
is only replaced with ``replace=True``.

Example:
    >>> partitioning([("crime_id", "BIGINT"), ("recorded_at", "DATE"),
    ...               ("local_authority_code", "VARCHAR")])
    Partitioning(authority='local_authority_code', year_of='recorded_at')
    >>> partitioning([("code", "VARCHAR"), ("name", "VARCHAR")])
    Partitioning(authority=None, year_of=None)
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import duckdb

from gateway.errors import ConfigurationError, Conflict

__all__ = [
    "AUTHORITY_COLUMN",
    "MANIFEST",
    "LakeTable",
    "Partitioning",
    "partitioning",
    "publish_lake",
    "read_manifest",
]

#: The manifest's file name inside the lake.
MANIFEST = "_lake.json"
#: The column record tables are partitioned by first.
AUTHORITY_COLUMN = "local_authority_code"
_DATED = ("DATE", "TIMESTAMP")


@dataclass(frozen=True)
class Partitioning:
    """How one table is split into directories.

    Attributes:
        authority: the authority column, when the table is a record table.
        year_of: the date column whose year is the second level (record tables only).
    """

    authority: str | None
    year_of: str | None

    @property
    def year_column(self) -> str | None:
        """The directory-only year column (``recorded_at`` → ``recorded_year``)."""
        if self.year_of is None:
            return None
        stem = self.year_of.removesuffix("_at").removesuffix("_date")
        return f"{stem}_year"

    @property
    def columns(self) -> tuple[str, ...]:
        """The partition columns, outermost first."""
        return tuple(c for c in (self.authority, self.year_column) if c is not None)


@dataclass(frozen=True)
class LakeTable:
    """One table of the lake: its columns (name, warehouse type) and partitioning."""

    name: str
    columns: tuple[tuple[str, str], ...]
    partitioning: Partitioning


def partitioning(columns: Sequence[tuple[str, str]]) -> Partitioning:
    """The partitioning of a table with these ``(name, type)`` columns (module docstring)."""
    names = [name for name, _ in columns]
    if AUTHORITY_COLUMN not in names:
        return Partitioning(None, None)
    year_of = next(
        (name for name, kind in columns if kind.upper().split(" ")[0] in _DATED),
        None,
    )
    return Partitioning(AUTHORITY_COLUMN, year_of)


def publish_lake(warehouse: Path, dest: Path, *, replace: bool = False) -> list[LakeTable]:
    """Write every table of ``warehouse`` (DuckDB) as Parquet under ``dest``, atomically.

    Raises:
        ConfigurationError: ``warehouse`` is not a file.
        Conflict: ``dest`` exists and ``replace`` is False.
    """
    if not warehouse.is_file():
        raise ConfigurationError(f"no warehouse at {warehouse}")
    if dest.exists() and not replace:
        raise Conflict(f"{dest} exists: pass --replace to publish over it")
    dest.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{dest.name}.", dir=dest.parent))
    try:
        tables = _write(warehouse, staging)
        _swap(staging, dest)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    return tables


def read_manifest(lake: Path) -> list[LakeTable]:
    """The tables of a published lake.

    Raises:
        ConfigurationError: ``lake`` has no manifest (not a published lake).
    """
    try:
        raw = json.loads((lake / MANIFEST).read_text())
    except FileNotFoundError as exc:
        raise ConfigurationError(
            f"{lake} is not a published lake (no {MANIFEST}): run "
            "`gateway warehouse publish --format parquet` first"
        ) from exc
    return [
        LakeTable(
            name=t["name"],
            columns=tuple((c, k) for c, k in t["columns"]),
            partitioning=Partitioning(t["authority"], t["year_of"]),
        )
        for t in raw["tables"]
    ]


def _write(warehouse: Path, out: Path) -> list[LakeTable]:
    tables: list[LakeTable] = []
    with duckdb.connect(str(warehouse), read_only=True) as con:
        names = [
            r[0]
            for r in con.execute(
                "SELECT table_name FROM duckdb_tables() WHERE schema_name = 'main' "
                "AND NOT internal ORDER BY table_name"
            ).fetchall()
        ]
        for name in names:
            columns = tuple(
                (str(c), str(k))
                for c, k in con.execute(
                    "SELECT column_name, data_type FROM duckdb_columns() "
                    "WHERE schema_name = 'main' AND table_name = ? ORDER BY column_index",
                    [name],
                ).fetchall()
            )
            parts = partitioning(columns)
            table = LakeTable(name, columns, parts)
            _copy(con, table, out / name)
            tables.append(table)
    manifest = {
        "tables": [
            {
                "name": t.name,
                "columns": [list(c) for c in t.columns],
                "authority": t.partitioning.authority,
                "year_of": t.partitioning.year_of,
            }
            for t in tables
        ]
    }
    (out / MANIFEST).write_text(json.dumps(manifest, indent=1) + "\n")
    return tables


def _quote(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def _copy(con: duckdb.DuckDBPyConnection, table: LakeTable, target: Path) -> None:
    select = ", ".join(_quote(c) for c, _ in table.columns)
    year = table.partitioning.year_column
    if year is not None and table.partitioning.year_of is not None:
        select += f", year({_quote(table.partitioning.year_of)}) AS {_quote(year)}"
    options = "FORMAT parquet, COMPRESSION zstd"
    if table.partitioning.columns:
        # Partition columns leave the files; the authority is read back from the directory.
        options += ", PARTITION_BY (" + ", ".join(map(_quote, table.partitioning.columns)) + ")"
        options += ", WRITE_PARTITION_COLUMNS false"
    else:
        target.mkdir()
        target = target / "data.parquet"
    literal = "'" + str(target).replace("'", "''") + "'"
    con.execute(f"COPY (SELECT {select} FROM main.{_quote(table.name)}) TO {literal} ({options})")


def _swap(staging: Path, dest: Path) -> None:
    """Put ``staging`` at ``dest`` by renames (the old lake, if any, is removed afterwards)."""
    old: Path | None = None
    if dest.exists():
        old = dest.with_name(f".{dest.name}.old-{os.getpid()}")
        os.rename(dest, old)
    try:
        os.rename(staging, dest)
    except OSError:
        if old is not None:
            os.rename(old, dest)
        raise
    if old is not None:
        shutil.rmtree(old, ignore_errors=True)

"""``gateway warehouse publish``: the warehouse published for engines beyond one machine.

    gateway warehouse publish --data-dir DIR --format parquet DIR/lake [--replace]

Writes every table of ``DIR/warehouse.duckdb`` as Parquet partitioned by authority and year
(:mod:`gateway.engines.lake`), atomically (a temporary directory renamed into place). The lake
holds raw warehouse data: it is as sensitive as the warehouse itself and only engines read it;
the Spark engine (``gateway.engines.spark``) enforces the policy on it exactly as DuckDB does.
"""

from __future__ import annotations

from enum import StrEnum
from pathlib import Path
from typing import Annotated

import typer

from gateway.cli import command_group
from gateway.cli.options import DataDirOption

__all__ = ["warehouse_app"]

warehouse_app = command_group("warehouse", "The warehouse itself (on the host).")


class LakeFormat(StrEnum):
    parquet = "parquet"


@warehouse_app.command("publish")
def publish_command(
    data_dir: DataDirOption,
    dest: Annotated[
        Path, typer.Argument(help="Directory to publish the lake to.", file_okay=False)
    ],
    format: Annotated[
        LakeFormat, typer.Option("--format", help="Lake format.")
    ] = LakeFormat.parquet,
    replace: Annotated[bool, typer.Option("--replace", help="Replace an existing lake.")] = False,
) -> None:
    """Publish the warehouse as a Parquet lake partitioned by authority and year."""
    from gateway.datadir import DataDir
    from gateway.engines.lake import publish_lake

    tables = publish_lake(DataDir(data_dir).warehouse, dest, replace=replace)
    partitioned = sum(1 for t in tables if t.partitioning.columns)
    print(f"published {len(tables)} tables ({partitioned} partitioned) to {dest} as {format.value}")

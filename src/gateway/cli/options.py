"""Command-line options several command groups share (``def …(data_dir: DataDirOption)``)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

__all__ = ["DataDirOption", "PurposeOption"]

#: ``--data-dir DIR`` (required): the deployment on this machine.
DataDirOption = Annotated[
    Path, typer.Option("--data-dir", help="The deployment's data directory.", file_okay=False)
]

#: ``--purpose CODE``: one of the caller's approved purposes (default: the config file's).
PurposeOption = Annotated[
    str | None, typer.Option(help="Approved purpose code (default: the config file's).")
]

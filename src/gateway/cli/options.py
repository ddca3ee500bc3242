"""Command-line options several command groups share (``def …(data_dir: DataDirOption)``)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

__all__ = ["DataDirOption"]

#: ``--data-dir DIR`` (required): the deployment on this machine.
DataDirOption = Annotated[
    Path, typer.Option("--data-dir", help="The deployment's data directory.", file_okay=False)
]

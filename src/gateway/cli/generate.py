"""``gateway generate``: build (or keep) the synthetic warehouse and base maps in a data directory.

    gateway generate --data-dir DIR                         3 years to 2026-10 at scale 1
    gateway generate --data-dir DIR --years 1 --scale 0.1   a small one
    gateway generate --data-dir DIR --force                 replace whatever is there

Without ``--force`` an existing warehouse made with the same parameters is kept, and one made
differently is refused (never silently overwritten). Errors are one line on stderr with exit
status 2.
"""

from __future__ import annotations

import sys
from typing import Annotated

import typer

from gateway.cli import app
from gateway.cli.options import DataDirOption

__all__ = ["generate_command"]


@app.command("generate")
def generate_command(
    data_dir: DataDirOption,
    seed: Annotated[
        int, typer.Option(help="Random seed: the same parameters give the same data.")
    ] = 2026,
    years: Annotated[
        int, typer.Option(help="Number of years covered, ending with --end-month.")
    ] = 3,
    scale: Annotated[
        float,
        typer.Option(help="Multiple of the force's annual volumes (~70k crimes, ~200k incidents)."),
    ] = 1.0,
    end_month: Annotated[
        str, typer.Option("--end-month", help="Last month covered, YYYY-MM.")
    ] = "2026-10",
    force: Annotated[bool, typer.Option("--force", help="Replace an existing warehouse.")] = False,
) -> None:
    """Generate the synthetic Cleveland warehouse and base maps."""
    from gateway import generate

    progress = sys.stderr.isatty()
    if force:
        summary = generate.build(
            data_dir,
            seed=seed,
            years=years,
            scale=scale,
            end_month=end_month,
            progress=progress,
            force=True,
        )
    else:
        summary = generate.ensure(
            data_dir, seed=seed, years=years, scale=scale, end_month=end_month, progress=progress
        )
    typer.echo(summary.render())

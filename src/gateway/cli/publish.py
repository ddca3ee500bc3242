"""``gateway publish police-uk``: the month's police.uk street-level CSV (administrators).

    gateway publish police-uk --month 2026-03 --data-dir DIR [--output FILE] [--by NAME]

Runs on the gateway's host against the data directory (like ``gateway tokens``): the person
with access to the directory is the administrator, recorded in the audit log as ``--by`` or
``cli:<operating-system user>``. The extract's queries go through the query service as a
general-level publication principal (see :mod:`gateway.publish.extract`) and the file is
registered in the audit log with its SHA-256. Default output:
``DIR/exports/police-uk/<month>-<force>-street.csv``.
"""

from __future__ import annotations

import getpass
import sys
from pathlib import Path
from typing import Annotated

import typer

from gateway.auth.permissions import ADMIN_ROLE
from gateway.cli import command_group
from gateway.cli.options import DataDirOption
from gateway.datadir import DataDir
from gateway.deployment import Deployment
from gateway.principal import Principal
from gateway.publish import publish_police_uk

__all__ = ["publish_app"]

publish_app = command_group("publish", "Publication extracts (administrators).")


@publish_app.command("police-uk")
def police_uk_command(
    month: Annotated[str, typer.Option(help="The month to publish, YYYY-MM.")],
    data_dir: DataDirOption,
    output: Annotated[
        Path | None, typer.Option("--output", "-o", help="Write the CSV here.", dir_okay=False)
    ] = None,
    by: Annotated[
        str | None, typer.Option("--by", help="Who publishes (default: cli:<your login>).")
    ] = None,
) -> None:
    """Write the police.uk street-level CSV for one month (audited)."""
    dirs = DataDir(data_dir)
    with Deployment.open(dirs, workers=1) as deployment:
        service = deployment.service
        admin = Principal(
            username=by or f"cli:{getpass.getuser()}",
            organisation=service.policy.exports.force_name,
            level="none",
            roles=frozenset({ADMIN_ROLE}),
        )
        extract = publish_police_uk(
            service,
            admin,
            month,
            data_dir=dirs,
            output=output,
            progress=lambda stage: print(f"{stage} …", file=sys.stderr),
        )
    print(
        f"wrote {extract.path}: {extract.crimes:,} crimes, {extract.asb:,} anti-social behaviour"
        f"{f', {extract.left_out:,} without a publishable map point left out' if extract.left_out else ''}"
        f" (sha256 {extract.sha256[:16]}…)"
    )

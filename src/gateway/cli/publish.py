"""``gateway publish police-uk``: the month's police.uk street-level CSV (administrators).

    gateway publish police-uk --month 2026-03 [--url URL] [--output FILE]
    gateway publish police-uk --month 2026-03 --data-dir DIR [--output FILE] [--by NAME]

Without ``--data-dir`` the gateway server writes it (``POST /v1/publish/police-uk``, with the
saved login or ``GATEWAY_TOKEN`` of an administrator) and the CSV is saved under police.uk's
archive name, ``YYYY-MM-<force>-street.csv`` (e.g. ``2026-03-cleveland-street.csv``), unless
``--output`` names another file.

With ``--data-dir`` it runs on the gateway's host against the data directory (like ``gateway
tokens``): the person with access to the directory is the administrator, recorded in the audit
log as ``--by`` or ``cli:<operating-system user>``; default output
``DIR/exports/police-uk/<month>-<force>-street.csv`` (police.uk's archive name).

Either way the extract's queries go through the query service as a general-level publication
principal (see :mod:`gateway.publish.extract`) and the file is registered in the audit log
with its SHA-256. A month with no crimes and no anti-social behaviour is an error (exit 1,
HTTP 404 ``not_found``), never an empty file.
"""

from __future__ import annotations

import getpass
import sys
from pathlib import Path
from typing import Annotated

import typer

from gateway.auth.permissions import ADMIN_ROLE
from gateway.cli import command_group
from gateway.cli.config import UrlOption, connection
from gateway.client.exports import publish_police_uk as publish_through_server
from gateway.datadir import DataDir
from gateway.deployment import Deployment
from gateway.principal import Principal
from gateway.publish import publish_police_uk

__all__ = ["publish_app"]

publish_app = command_group("publish", "Publication extracts (administrators).")


@publish_app.command("police-uk")
def police_uk_command(
    month: Annotated[str, typer.Option(help="The month to publish, YYYY-MM.")],
    data_dir: Annotated[
        Path | None,
        typer.Option(
            "--data-dir",
            help="Publish on the gateway's host from this data directory (default: through "
            "the gateway server).",
            file_okay=False,
        ),
    ] = None,
    output: Annotated[
        Path | None,
        typer.Option(
            "--output",
            "-o",
            help="Write the CSV here (default: police.uk's name, YYYY-MM-<force>-street.csv).",
            dir_okay=False,
        ),
    ] = None,
    by: Annotated[
        str | None,
        typer.Option("--by", help="With --data-dir: who publishes (default: cli:<your login>)."),
    ] = None,
    url: UrlOption = None,
) -> None:
    """Write the police.uk street-level CSV for one month (audited)."""
    if data_dir is None:
        with connection(url) as gw:
            path, rows = publish_through_server(gw, month, output)
        print(f"wrote {path}: {rows:,} lines")
        return
    _publish_locally(month, data_dir, output, by)


def _publish_locally(month: str, data_dir: Path, output: Path | None, by: str | None) -> None:
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
    no_location = f", {extract.no_location:,} as 'No location'" if extract.no_location else ""
    print(
        f"wrote {extract.path}: {extract.crimes:,} crimes, {extract.asb:,} anti-social "
        f"behaviour{no_location} (sha256 {extract.sha256[:16]}…)"
    )

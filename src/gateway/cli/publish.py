"""``gateway publish police-uk``: the month's police.uk street-level CSV (administrators).

    gateway publish police-uk --month 2026-03 [--url URL] [--output FILE]
    gateway publish sign-off EXTRACT_ID --comment "checked …" [--url URL]

The gateway server writes it (``POST /v1/publish/police-uk``) for the administrator logged in
(``gateway login --server URL``, or ``GATEWAY_TOKEN``) — publication is always by an
authenticated person, recorded under their name — and the CSV is saved under police.uk's
archive name, ``YYYY-MM-<force>-street.csv`` (e.g. ``2026-03-cleveland-street.csv``), unless
``--output`` names another file. There is no local mode: break-glass on the host
(``--data-dir``) cannot publish, and ``--by`` names no one (both are refused, explaining why).

The extract is marked with the policy's publication marking (``OFFICIAL``) and registered
*awaiting sign-off*: before it is published a second administrator checks the file and signs
it off with their own credentials (``gateway publish sign-off``); whoever prepared it is
refused (``self_approval``).

The extract's queries go through the query service as a general-level publication principal
(see :mod:`gateway.publish.extract`) and the file is registered in the audit log with its
SHA-256. A month with no crimes and no anti-social behaviour is an error (exit 1, HTTP 404
``not_found``), never an empty file.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from gateway.cli import command_group
from gateway.cli.access import logged_in
from gateway.cli.config import UrlOption, connection
from gateway.client.exports import publish_police_uk as publish_through_server

__all__ = ["publish_app"]

publish_app = command_group("publish", "Publication extracts (administrators).")


@publish_app.command("police-uk")
@logged_in("admin.publish")
def police_uk_command(
    month: Annotated[str, typer.Option(help="The month to publish, YYYY-MM.")],
    output: Annotated[
        Path | None,
        typer.Option(
            "--output",
            "-o",
            help="Write the CSV here (default: police.uk's name, YYYY-MM-<force>-street.csv).",
            dir_okay=False,
        ),
    ] = None,
    url: UrlOption = None,
) -> None:
    """Write the police.uk street-level CSV for one month (audited, as you); it then awaits a
    second administrator's sign-off."""
    with connection(url) as gw:
        path, rows = publish_through_server(gw, month, output)
        extract_id = gw.last_query_id
    print(f"wrote {path}: {rows:,} lines")
    print(
        f"AWAITING SIGN-OFF: before publication a second administrator checks it and runs "
        f"`gateway publish sign-off {extract_id} --comment …`"
    )


@publish_app.command("sign-off")
@logged_in("admin.publish")
def sign_off_command(
    extract_id: Annotated[str, typer.Argument(help="The extract's id (printed when prepared).")],
    comment: Annotated[str, typer.Option(help="What you checked (recorded).")],
    url: UrlOption = None,
) -> None:
    """Sign off a police.uk extract another administrator prepared, for publication (audited,
    as you)."""
    with connection(url) as gw:
        record = gw.sign_off_publication(extract_id, comment=comment)
    print(
        f"signed off police.uk extract {record['export_id']} ({record['file_name']}, sha256 "
        f"{record['sha256'][:16]}…) prepared by {record['owner']}: it may be published"
    )

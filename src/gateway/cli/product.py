"""``gateway product strategic-assessment``: the strategic assessment pack for a CSP board.

    gateway product strategic-assessment --area E06000002 --year 2025     # into the current folder
    gateway product strategic-assessment --area E06000002 --year 2025 --output sa-2025 \\
        --data-dir demo-data --user a.khan            # on the gateway's own machine

Writes ``strategic-assessment-<area>-<year>.html`` (the report: SVG charts, tables, key
figures), ``….xlsx`` (one sheet per section) and ``….json`` (the manifest: provenance and the
files' SHA-256) into ``--output`` (default: the current directory).
Every page and sheet carries the protective marking (default: the policy's, usually
OFFICIAL-SENSITIVE) and the provenance: the query id of every section, who made it, when and
under which policy. ``--for-publication`` applies the publication disclosure rules.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated

import typer

from gateway.cli import command_group
from gateway.cli.config import UrlOption, connection
from gateway.cli.options import PurposeOption
from gateway.cli.template import DataDirOption, UserOption, local_session

__all__ = ["product_app"]

product_app = command_group(
    "product", "Assemble products (the strategic assessment pack) from the template library."
)


@product_app.command("strategic-assessment")
def strategic_assessment_command(
    area: Annotated[str, typer.Option(help="Local authority code, e.g. E06000002.")],
    year: Annotated[int, typer.Option(help="Calendar year assessed, e.g. 2025.")],
    output: Annotated[
        Path,
        typer.Option(
            "--output",
            "-o",
            help="Directory for the files (default: the current directory).",
            file_okay=False,
        ),
    ] = Path("."),
    purpose: PurposeOption = None,
    marking: Annotated[
        str | None, typer.Option(help="Protective marking (default: the policy's).")
    ] = None,
    for_publication: Annotated[
        bool,
        typer.Option("--for-publication", help="Apply the publication disclosure rules."),
    ] = False,
    url: UrlOption = None,
    data_dir: DataDirOption = None,
    user: UserOption = None,
) -> None:
    """Build the strategic assessment pack: an HTML report and an XLSX workbook, marked."""
    area = area.strip().upper()
    if data_dir is not None:
        from gateway.products import AssessmentRequest, build_strategic_assessment, write_product

        with local_session(data_dir, user, purpose) as session:
            request = AssessmentRequest(
                area=area,
                year=year,
                purpose=session.purpose,
                marking=marking or session.service.policy.exports.marking,
                publication=for_publication,
            )
            product = build_strategic_assessment(session.runner, session.principal, request)
            bundle = write_product(session.service, product, output)
            paths = [f.path for f in bundle.files] + [bundle.manifest]
            print(
                f"product {product.product_id}: {len(product.sections)} sections", file=sys.stderr
            )
    else:
        with connection(url, purpose=purpose) as gw:
            paths = gw.strategic_assessment(
                area, year, output, marking=marking, publication=for_publication
            )
            print(f"product {gw.last_query_id}", file=sys.stderr)
    for path in paths:
        print(path)

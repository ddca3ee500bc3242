"""``gateway product …``: the strategic assessment pack for a CSP board, and its QA.

    gateway product strategic-assessment --area E06000002 --year 2025     # into the current folder
    gateway product strategic-assessment --area E06000002 --year 2025 --output sa-2025 \\
        --data-dir demo-data --user a.khan            # on the gateway's own machine
    gateway product list [--pending]                   your products (senior analysts: the QA queue)
    gateway product download PRODUCT_ID -o DIR        once released
    gateway product pass|return PRODUCT_ID --comment … the analyst's designated senior analyst

Policy 198 (3.2): products are quality-assured by the analyst's designated senior analyst (or a
deputy) before release — all of them by default, a sample under ``[products] qa_sample_rate``.
A product held for QA is kept on the gateway and nothing is written to ``--output``; the command
says so, and ``gateway product download`` saves it once passed. A returned product is never
released.

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
from gateway.cli.access import logged_in
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
        paths = _build_locally(
            data_dir, user, purpose, area, year, output, marking, for_publication
        )
    else:
        with connection(url, purpose=purpose) as gw:
            paths = gw.strategic_assessment(
                area, year, output, marking=marking, publication=for_publication
            )
            if gw.last_product is not None:
                _say_held(gw.last_product["product_id"], gw.last_product["authorisers"], output)
            else:
                print(f"product {gw.last_query_id}", file=sys.stderr)
    for path in paths:
        print(path)


def _say_held(product_id: str, authorisers: list[str], output: Path) -> None:
    held_for = " or ".join(authorisers) or "your designated senior analyst (none recorded)"
    print(
        f"product {product_id} is held for quality assurance by {held_for}; once passed: "
        f"gateway product download {product_id} -o {output}",
        file=sys.stderr,
    )


def _build_locally(
    data_dir: Path,
    user: str | None,
    purpose: str | None,
    area: str,
    year: int,
    output: Path,
    marking: str | None,
    publication: bool,
) -> list[Path]:
    """Build on the gateway's machine: kept and registered in the data directory like any
    product, and copied to ``output`` only when released (not sampled for QA)."""
    import shutil

    from gateway.products import AssessmentRequest, build_strategic_assessment, write_product
    from gateway.products.release import open_product, register_product

    with local_session(data_dir, user, purpose) as session:
        request = AssessmentRequest(
            area=area,
            year=year,
            purpose=session.purpose,
            marking=session.service.policy.markings.resolve(
                marking, floor=session.service.policy.markings.record
            ),
            publication=publication,
        )
        product = build_strategic_assessment(session.runner, session.principal, request)
        kept = session.data_dir.export_folder(product.product_id)
        bundle = write_product(session.service, product, kept)
        record = register_product(session.service, session.principal, bundle, session.data_dir)
        print(f"product {product.product_id}: {len(product.sections)} sections", file=sys.stderr)
        if not record.released:
            _say_held(record.product_id, list(record.authorisers), output)
            return []
        _, paths = open_product(
            session.service, session.data_dir, session.principal, record.product_id
        )
    output.mkdir(parents=True, exist_ok=True)
    return [Path(shutil.copy2(path, output / path.name)) for path in paths]


@product_app.command("list")
def list_command(
    pending: Annotated[bool, typer.Option(help="Only products awaiting QA.")] = False,
    url: UrlOption = None,
) -> None:
    """Your products (senior analysts: everyone's), newest first."""
    with connection(url) as gw:
        for p in gw.products(pending=pending):
            print(
                f"{p['product_id']}  {p['registered_at'][:19]}  {p['owner']:<12} "
                f"{p['product_kind']:<22} {p['qa']}"
            )


@product_app.command("download")
def download_command(
    product_id: Annotated[str, typer.Argument(help="The product's id.")],
    output: Annotated[
        Path, typer.Option("--output", "-o", help="Directory for the files.", file_okay=False)
    ] = Path("."),
    url: UrlOption = None,
) -> None:
    """Save a released product's files (checked against their registered hashes)."""
    with connection(url) as gw:
        for path in gw.download_product(product_id, output):
            print(path)


CommentOption = Annotated[
    str, typer.Option(help="What you checked (required; recorded in the audit log).")
]


def _decide(product_id: str, decision: str, comment: str, url: str | None) -> None:
    with connection(url) as gw:
        record = gw.decide_product(product_id, decision, comment=comment)
    print(f"product {record['product_id']} by {record['owner']}: {record['qa']}")


@product_app.command("pass")
@logged_in("product.qa")
def pass_command(
    product_id: Annotated[str, typer.Argument(help="The product's id.")],
    comment: CommentOption = "",
    url: UrlOption = None,
) -> None:
    """The owner's designated senior analyst or a deputy: QA passed, the product is released."""
    _decide(product_id, "pass", comment, url)


@product_app.command("return")
@logged_in("product.qa")
def return_command(
    product_id: Annotated[str, typer.Argument(help="The product's id.")],
    comment: CommentOption = "",
    url: UrlOption = None,
) -> None:
    """The owner's designated senior analyst or a deputy: returned with comments, never
    released."""
    _decide(product_id, "return", comment, url)

"""``gateway catalog``: the tables and columns you may query, with each column's mask.

gateway catalog                       every visible table, for your default purpose
gateway catalog --table person        one table's columns
gateway catalog --purpose JAG-2026-07 --format json
"""

from __future__ import annotations

import json
from typing import Annotated, Any, Literal

import typer

from gateway.cli import app
from gateway.cli.config import UrlOption, connection
from gateway.errors import NotFound

__all__ = ["catalog_command", "render_catalog"]


def render_catalog(catalog: dict[str, Any], table: str | None = None) -> str:
    """A readable listing: one block per table, one line per column with its mask.

    Example:
        >>> print(render_catalog({"purpose": "SA", "level": "general", "grants": [],
        ...     "tables": [{"name": "crime", "row_filter": "local_authority_code IN ($areas)",
        ...                 "columns": [{"name": "crime_id", "type": "BIGINT", "mask": "show"}]}]}))
        purpose SA, level general
        <BLANKLINE>
        crime  (rows: local_authority_code IN ($areas))
          crime_id  BIGINT  show
    """
    grants = ", ".join(catalog.get("grants", [])) or ""
    lines = [
        f"purpose {catalog['purpose']}, level {catalog['level']}"
        + (f", grants {grants}" if grants else "")
    ]
    tables = [t for t in catalog["tables"] if table is None or t["name"] == table]
    if table is not None and not tables:
        raise NotFound(f"table {table!r} is not visible to you for this purpose")
    for t in tables:
        rows = f"  (rows: {t['row_filter']})" if t.get("row_filter") else ""
        lines += ["", f"{t['name']}{rows}"]
        width = max(len(c["name"]) for c in t["columns"])
        type_width = max(len(c["type"]) for c in t["columns"])
        lines += [
            f"  {c['name']:<{width}}  {c['type']:<{type_width}}  {c['mask']}" for c in t["columns"]
        ]
    return "\n".join(lines)


@app.command("catalog")
def catalog_command(
    purpose: Annotated[str | None, typer.Option(help="Purpose code (default: your first).")] = None,
    table: Annotated[str | None, typer.Option(help="Only this table.")] = None,
    url: UrlOption = None,
    output_format: Annotated[
        Literal["text", "json"], typer.Option("--format", help="text or json.")
    ] = "text",
) -> None:
    """Show what you may query, with each column's mask."""
    with connection(url, purpose=purpose) as gw:
        catalog = gw.catalog()
    if output_format == "json":
        print(json.dumps(catalog, indent=2))
    else:
        print(render_catalog(catalog, table))

"""Write a product as an XLSX workbook: an ``About`` sheet, then one sheet per section holding
the section's full template output.

Every sheet starts with the protective marking (row 1, bold red) and a provenance line (row 2,
template and query id), has its header on row 4 (frozen), and repeats the marking in its print
header and footer. Suppressed values are written as ``*``; the ``<column>_suppressed`` flag
columns are left out (the ``*`` says it).

Example:
    >>> write_workbook(product, Path("sa.xlsx"))                 # doctest: +SKIP
"""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

from gateway.disclosure import FLAG_SUFFIX
from gateway.products.model import Product, Section

__all__ = ["data_columns", "sheet_names", "write_workbook"]

_MAX_SHEET = 31


def sheet_names(product: Product) -> list[str]:
    """Sheet names of the sections, unique and at most 31 characters."""
    names: list[str] = []
    for number, section in enumerate(product.sections, start=1):
        base = f"{number:02d} {section.title}"
        name = base[:_MAX_SHEET].rstrip()
        names.append(name.replace("/", "-").replace(":", "-"))
    return names


def data_columns(section: Section) -> list[str]:
    """The result columns written to the section's sheet (flags left out)."""
    return [c for c in section.run.table.column_names if not c.endswith(FLAG_SUFFIX)]


def _cell(value: Any) -> Any:
    if isinstance(value, Decimal):
        return float(value)
    if isinstance(value, datetime) and value.tzinfo is not None:
        return value.replace(tzinfo=None)
    if isinstance(value, date | datetime | int | float | str) or value is None:
        return value
    return str(value)


def write_workbook(product: Product, path: Path) -> Path:
    """Write the workbook to ``path`` (replaced if it exists)."""
    from openpyxl import Workbook
    from openpyxl.styles import Font

    book = Workbook()
    red = Font(bold=True, color="C00000", size=12)
    bold = Font(bold=True)

    def marked(sheet: Any, line: str) -> None:
        for header in (sheet.oddHeader, sheet.oddFooter, sheet.evenHeader, sheet.evenFooter):
            header.center.text = product.marking
        sheet.append([product.marking])
        sheet["A1"].font = red
        sheet.append([line])
        sheet.append([])

    about = book.active
    about.title = "About"
    marked(about, product.title)
    provenance = product.provenance()
    for key in ("title", "area", "area_name", "year", "user", "organisation", "level", "purpose",
                "created_at", "policy_version", "disclosure", "publication", "product_id"):  # fmt: skip
        about.append([key, str(provenance[key])])
    about.append([])
    about.append(["sheet", "section", "template", "query_id", "rows", "disclosure"])
    for cell in about[about.max_row]:
        cell.font = bold
    for name, section, info in zip(
        sheet_names(product), product.sections, provenance["sections"], strict=True
    ):
        about.append(
            [
                name,
                section.title,
                info["template"],
                info["query_id"],
                info["rows"],
                info["disclosure"] or "",
            ]
        )
    about.append([])
    about.append(
        [
            "* = suppressed to protect small counts (with secondary suppression so totals cannot reveal them)."
        ]
    )
    about.column_dimensions["A"].width = 22
    about.column_dimensions["B"].width = 44

    for name, section in zip(sheet_names(product), product.sections, strict=True):
        sheet = book.create_sheet(name)
        run = section.run
        marked(sheet, f"{section.title} — template {run.template.name}, query {run.query_id}")
        columns = data_columns(section)
        sheet.append(columns)
        for cell in sheet[sheet.max_row]:
            cell.font = bold
        table = run.table
        values = {c: table.column(c).to_pylist() for c in columns}
        flags = {
            c: table.column(c + FLAG_SUFFIX).to_pylist()
            for c in columns
            if c + FLAG_SUFFIX in table.column_names
        }
        for i in range(table.num_rows):
            sheet.append(
                ["*" if flags.get(c) and flags[c][i] else _cell(values[c][i]) for c in columns]
            )
        sheet.freeze_panes = "A5"
        for letter_index, column in enumerate(columns, start=1):
            width = min(max(len(column) + 2, 10), 40)
            sheet.column_dimensions[
                sheet.cell(row=4, column=letter_index).column_letter
            ].width = width
    tmp = path.with_name(path.name + ".tmp")
    book.save(tmp)
    tmp.replace(path)
    return path

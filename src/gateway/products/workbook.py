"""Write a product as an XLSX workbook: an ``About`` sheet, then one sheet per section holding
the section's full template output.

Every sheet starts with the protective marking (row 1, bold red) and a provenance line (row 2,
template and query id), has its header on row 4 (frozen), and repeats the marking in its print
header and footer. Each section's rows are an Excel table with filter buttons (pivot it
directly), under readable headers (``crimes_previous_period`` → "Crimes previous period"; the
About sheet maps them back to the template's columns), with columns sized to their contents,
months as real dates (``mmm yyyy``) and numbers as numbers: a suppressed count is an EMPTY cell
with a note saying so (never the text ``*`` inside a numeric column), so sums and pivots work.
Sheet names are cut at a word, never mid-word, to Excel's 31 characters.

Example:
    >>> write_workbook(product, Path("sa.xlsx"))                 # doctest: +SKIP
"""

from __future__ import annotations

import re
from datetime import date, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

from gateway.disclosure import FLAG_SUFFIX
from gateway.products.model import Product, Section

__all__ = ["SUPPRESSED_NOTE", "data_columns", "header_label", "sheet_names", "write_workbook"]

_MAX_SHEET = 31
SUPPRESSED_NOTE = "suppressed to protect a small count (see the section's disclosure control)"


def sheet_names(product: Product) -> list[str]:
    """Sheet names of the sections: numbered, cut at a word to Excel's 31 characters.

    Example:
        >>> _sheet_name(3, "Anti-social behaviour and criminal damage: hotspots")
        '03 Anti-social behaviour and'
    """
    return [_sheet_name(n, s.title) for n, s in enumerate(product.sections, start=1)]


def _sheet_name(number: int, title: str) -> str:
    base = f"{number:02d} {title}".replace("/", "-").replace(":", "")
    for bad in "[]*?\\":
        base = base.replace(bad, "")
    if len(base) <= _MAX_SHEET:
        return base.rstrip()
    cut = base[: _MAX_SHEET + 1].rsplit(" ", 1)[0]
    return cut.rstrip(" -,;")


def data_columns(section: Section) -> list[str]:
    """The result columns written to the section's sheet (flags left out)."""
    return [c for c in section.run.table.column_names if not c.endswith(FLAG_SUFFIX)]


def header_label(column: str) -> str:
    """A readable header for a result column.

    Example:
        >>> header_label("crimes_previous_period"), header_label("police_uk_category")
        ('Crimes previous period', 'Police.uk category')
        >>> header_label("rate_per_1000")
        'Rate per 1,000'
    """
    words = column.replace("police_uk", "police.uk").split("_")
    text = " ".join(words).replace("per 1000", "per 1,000")
    return text[:1].upper() + text[1:]


_MONTH = re.compile(r"^(\d{4})-(\d{2})$")


def _month(value: Any) -> date | None:
    """``'2025-03'`` → 2025-03-01 (months written as text by a template)."""
    if isinstance(value, str) and (m := _MONTH.match(value)) and 1 <= int(m.group(2)) <= 12:
        return date(int(m.group(1)), int(m.group(2)), 1)
    return None


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
    from openpyxl.comments import Comment
    from openpyxl.styles import Font, PatternFill
    from openpyxl.utils import get_column_letter
    from openpyxl.worksheet.table import Table, TableStyleInfo

    book = Workbook()
    red = Font(bold=True, color="C00000", size=12)
    bold = Font(bold=True)
    grey = PatternFill("solid", fgColor="EDEDED")

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
    about.append([f"A grey empty cell with a note: {SUPPRESSED_NOTE}."])
    about.column_dimensions["A"].width = 22
    about.column_dimensions["B"].width = 44

    about.append([])
    about.append(["sheet", "header", "template column"])
    for cell in about[about.max_row]:
        cell.font = bold
    for name, section in zip(sheet_names(product), product.sections, strict=True):
        for column in data_columns(section):
            about.append([name, header_label(column), column])

    for number, (name, section) in enumerate(
        zip(sheet_names(product), product.sections, strict=True), start=1
    ):
        sheet = book.create_sheet(name)
        run = section.run
        marked(sheet, f"{section.title} — template {run.template.name}, query {run.query_id}")
        columns = data_columns(section)
        headers = _unique([header_label(c) for c in columns])
        sheet.append(headers)
        for cell in sheet[sheet.max_row]:
            cell.font = bold
        table = run.table
        values = {c: table.column(c).to_pylist() for c in columns}
        flags = {
            c: table.column(c + FLAG_SUFFIX).to_pylist()
            for c in columns
            if c + FLAG_SUFFIX in table.column_names
        }
        months = {c for c in columns if any(_month(v) for v in values[c])}
        widths = [len(h) + 2 for h in headers]
        for i in range(table.num_rows):
            row: list[Any] = []
            for j, c in enumerate(columns):
                value = None if flags.get(c) and flags[c][i] else _cell(values[c][i])
                if c in months:
                    value = _month(value) or value
                row.append(value)
                shown = value.strftime("%b %Y") if isinstance(value, date) else value
                widths[j] = max(
                    widths[j], len(f"{shown:,}" if isinstance(shown, int) else str(shown or "")) + 2
                )
            sheet.append(row)
            r = sheet.max_row
            for j, c in enumerate(columns, start=1):
                cell = sheet.cell(row=r, column=j)
                if flags.get(c) and flags[c][i]:
                    cell.comment = Comment(SUPPRESSED_NOTE, "gateway")
                    cell.fill = grey
                elif isinstance(cell.value, date):
                    cell.number_format = "mmm yyyy" if c in months else "yyyy-mm-dd"
                elif isinstance(cell.value, int):
                    cell.number_format = "#,##0"
        sheet.freeze_panes = "A5"
        for j, width in enumerate(widths, start=1):
            sheet.column_dimensions[get_column_letter(j)].width = min(max(width, 8), 60)
        if columns and table.num_rows:
            last = f"{get_column_letter(len(columns))}{sheet.max_row}"
            excel = Table(displayName=f"Section{number:02d}", ref=f"A4:{last}")
            excel.tableStyleInfo = TableStyleInfo(name="TableStyleLight9", showRowStripes=True)
            sheet.add_table(excel)
    tmp = path.with_name(path.name + ".tmp")
    book.save(tmp)
    tmp.replace(path)
    return path


def _unique(headers: list[str]) -> list[str]:
    """Headers made unique (an Excel table needs them so): a repeat gets `` (2)``."""
    seen: dict[str, int] = {}
    out = []
    for header in headers:
        seen[header] = seen.get(header, 0) + 1
        out.append(header if seen[header] == 1 else f"{header} ({seen[header]})")
    return out

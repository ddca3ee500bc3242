"""The strategic assessment pack renders, is marked and traceable, and its numbers are the
templates' numbers.

The product is built once for a general analyst. Its HTML is read back with html.parser and
every number in every table, and every chart's mark count, is compared with a fresh run of the
section's template (same user, same parameters, same disclosure rules) — not with the product's
own data. The workbook is read back with openpyxl and compared the same way. When Chromium is
installed the report is also rendered to a PNG, as a person would see it.
"""

from __future__ import annotations

import hashlib
import re
import shutil
import subprocess
from datetime import datetime
from pathlib import Path
from typing import Any

import pyarrow as pa
import pytest

from gateway.cli.demo import SA_PURPOSE
from gateway.errors import ParameterError
from gateway.principal import Principal
from gateway.products import (
    SECTIONS,
    AssessmentRequest,
    PivotSpec,
    ProductFiles,
    TableSpec,
    build_strategic_assessment,
    write_product,
)
from gateway.products.model import category_label
from gateway.products.workbook import header_label
from gateway.service import QueryService
from gateway.templates import TemplateRun, TemplateRunner
from tests.products.report_parser import ParsedCell, ReportParser, parse_report
from tests.templates.fixtures import ANALYSTS, USERS

YEAR = 2025
MARKING = "OFFICIAL-SENSITIVE"
PLANS = {plan.key: plan for plan in SECTIONS}


@pytest.fixture(scope="module")
def bundle(runner: TemplateRunner, tmp_path_factory: pytest.TempPathFactory) -> ProductFiles:
    request = AssessmentRequest(area="E06000002", year=YEAR, purpose=SA_PURPOSE, marking=MARKING)
    product = build_strategic_assessment(runner, USERS["a.khan"], request)
    return write_product(runner.service, product, tmp_path_factory.mktemp("product"))


@pytest.fixture(scope="module")
def report(bundle: ProductFiles) -> ReportParser:
    return parse_report(bundle.files[0].path.read_text("utf-8"))


@pytest.fixture(scope="module")
def fresh(runner: TemplateRunner, bundle: ProductFiles) -> dict[str, TemplateRun]:
    """Each section's template run again, independently of the product."""
    out = {}
    for section in bundle.product.sections:
        params = dict(section.run.provenance()["params"])
        out[section.key] = runner.run(
            USERS["a.khan"], section.run.template.name, params, purpose=SA_PURPOSE
        )
    return out


# --- markings and provenance -------------------------------------------------------------------


def test_marked_at_top_and_bottom_and_in_metadata(
    report: ReportParser, bundle: ProductFiles
) -> None:
    assert report.markings == [MARKING, MARKING]
    assert report.meta["protective-marking"] == MARKING
    assert report.title == "Strategic assessment 2025: Middlesbrough"
    html = bundle.files[0].path.read_text("utf-8")
    assert "@media print" in html  # the marking is fixed on every printed page
    assert "<script src" not in html
    assert "http://" not in html.replace('xmlns="http://www.w3.org/2000/svg"', "")


def test_provenance_names_user_policy_and_every_query(
    report: ReportParser, bundle: ProductFiles, template_service: QueryService
) -> None:
    product = bundle.product
    text = report.provenance_text
    for needle in ("a.khan", "Middlesbrough Council", "general", SA_PURPOSE,
                   template_service.policy.version, product.product_id):  # fmt: skip
        assert needle in text
    assert [s.template for s in report.sections] == [p.template for p in SECTIONS]
    audited = {q.query_id: q for q in template_service.audit.queries(actor="a.khan")}
    for section in report.sections:
        assert section.query_id in text
        query = audited[section.query_id]
        assert query.status == "completed"
        assert query.request["template"] == section.template


def test_files_are_registered_in_the_audit_log(
    bundle: ProductFiles, template_service: QueryService
) -> None:
    registered = {
        e.details["file_name"]: e.details
        for e in template_service.audit.events(kinds=["export.registered"])
        if e.details.get("query_id") == bundle.product.product_id
    }
    assert set(registered) == {f.path.name for f in bundle.files}
    for f in bundle.files:
        assert (
            registered[f.path.name]["file_sha256"]
            == hashlib.sha256(f.path.read_bytes()).hexdigest()
        )
        assert registered[f.path.name]["marking"] == MARKING
    manifest = bundle.manifest.read_text("utf-8")
    assert bundle.product.product_id in manifest


# --- numbers --------------------------------------------------------------------------------


def number(text: str) -> float:
    return float(text.replace(",", ""))


def assert_cell(cell: ParsedCell, value: Any, suppressed: bool, where: str) -> None:
    if suppressed:
        assert cell.suppressed, where
        assert cell.text == "*", where
        return
    assert not cell.suppressed, where
    if value is None:
        assert cell.text == "", where
    elif isinstance(value, str):
        assert cell.text == value, where
    else:
        shown = number(cell.text)
        decimals = len(cell.text.split(".")[1]) if "." in cell.text else 0
        assert shown == pytest.approx(float(value), abs=0.51 * 10**-decimals), where


def flags(table: pa.Table, column: str) -> list[bool]:
    name = f"{column}_suppressed"
    return table[name].to_pylist() if name in table.column_names else [False] * table.num_rows


def test_every_table_number_is_the_templates(
    report: ReportParser, fresh: dict[str, TemplateRun]
) -> None:
    checked = 0
    for section in report.sections:
        plan = PLANS[section.key]
        table = fresh[section.key].table
        assert len(section.tables) == len(plan.tables)
        for shown, spec in zip(section.tables, plan.tables, strict=True):
            if isinstance(spec, TableSpec):
                assert len(shown.rows) == table.num_rows, section.key
                for i, row in enumerate(shown.rows):
                    for cell, column in zip(row, spec.columns, strict=True):
                        assert cell.column == column.name
                        value = table[column.name][i].as_py()
                        if column.format == "category":  # slugs shown as police.uk labels
                            assert cell.text == category_label(value)
                            assert cell.text != value
                            checked += 1
                            continue
                        assert_cell(
                            cell,
                            value,
                            flags(table, column.name)[i],
                            f"{section.key}:{column.name}:{i}",
                        )
                        checked += 1
            else:
                assert isinstance(spec, PivotSpec)
                expected = {
                    (str(r), str(c)): (v, f)
                    for r, c, v, f in zip(
                        table[spec.rows].to_pylist(), table[spec.columns].to_pylist(),
                        table[spec.value.name].to_pylist(), flags(table, spec.value.name), strict=True,
                    )
                }  # fmt: skip
                seen = set()
                for row in shown.rows:
                    row_key = row[0].text
                    for cell in row[1:]:
                        key = (row_key, str(cell.key))
                        if key in expected:
                            value, hidden = expected[key]
                            assert_cell(cell, value, hidden, f"{section.key}:{key}")
                            seen.add(key)
                        elif spec.blank_is_zero:
                            assert cell.text == "0", f"{section.key}:{key} absent means zero"
                        else:
                            assert cell.text == "", f"{section.key}:{key}"
                        checked += 1
                shown_columns = {str(c) for c in spec.column_order} if spec.column_order else None
                missing = {
                    k for k in expected if shown_columns is None or k[1] in shown_columns
                } - seen
                assert not missing, (section.key, sorted(missing)[:3])
    assert checked > 500


def expected_marks(plan_key: str, table: pa.Table) -> int:
    chart = PLANS[plan_key].chart
    assert chart is not None
    keep = [
        i for i in range(table.num_rows)
        if not any(table[c][i].as_py() == v for c, v in chart.exclude)
    ]  # fmt: skip
    if chart.kind == "heatmap":
        return len({table[chart.series][i].as_py() for i in keep}) * len(chart.x_values)  # type: ignore[index]
    columns = [chart.y, *(c for c, _ in chart.extra)]
    published = sum(table[c][i].as_py() is not None for c in columns for i in keep)
    if chart.kind == "line" and chart.series and chart.blank_is_zero:
        series = {table[chart.series][i].as_py() for i in keep}
        xs = {table[chart.x][i].as_py() for i in keep}
        present = {(table[chart.series][i].as_py(), table[chart.x][i].as_py()) for i in keep}
        published += len(series) * len(xs) - len(present)  # absent pairs are drawn as zero
    return published


def test_every_chart_is_an_svg_with_one_mark_per_published_value(
    report: ReportParser, fresh: dict[str, TemplateRun]
) -> None:
    for section in report.sections:
        assert section.svg_count == 1, section.key
        kind = PLANS[section.key].chart.kind  # type: ignore[union-attr]
        mark = {"bar": "bar", "line": "point", "heatmap": "cell"}[kind]
        drawn = section.drawn.get(mark, 0)
        assert drawn == section.figure_marks, section.key
        assert drawn == expected_marks(section.key, fresh[section.key].table), section.key


def test_key_figures_quote_the_templates(
    report: ReportParser, fresh: dict[str, TemplateRun]
) -> None:
    rows = fresh["crime-by-category"].table.to_pylist()
    total = next(r for r in rows if r["police_uk_category"] == "all")
    finding = report.sections[0].finding
    assert f"{total['crimes']:,} crimes were recorded in 2025" in finding
    assert f"{total['rate_per_1000']:.2f} per 1,000 residents" in finding


def test_suppression_is_shown_and_explained(report: ReportParser) -> None:
    assert any(c.suppressed for s in report.sections for t in s.tables for r in t.rows for c in r)
    notes = " ".join(s.text for s in report.sections)
    assert "counts perturbed by the cell key method (at most ±2)" in notes.lower()
    assert "counts from 1 to 9 after perturbation suppressed" in notes.lower()


# --- the workbook -----------------------------------------------------------------------------


def test_workbook_one_marked_sheet_per_section_with_the_templates_numbers(
    bundle: ProductFiles, fresh: dict[str, TemplateRun]
) -> None:
    from openpyxl import load_workbook
    from openpyxl.utils import get_column_letter

    book = load_workbook(bundle.files[1].path)
    sections = bundle.product.sections
    assert len(book.sheetnames) == 1 + len(sections)
    assert book.sheetnames[0] == "About"
    for sheet in book.worksheets:
        assert sheet["A1"].value == MARKING
        assert sheet.oddHeader.center.text == MARKING
        assert sheet.oddFooter.center.text == MARKING
    about = [[c for c in row if c is not None] for row in book["About"].iter_rows(values_only=True)]
    flat = [str(v) for row in about for v in row]
    for section in sections:
        assert section.run.query_id in flat
    for name, section in zip(book.sheetnames[1:], sections, strict=True):
        sheet = book[name]
        assert len(name) <= 31
        rest, title = name.split(" ", 1)[1], section.title.replace(":", "")
        assert title.startswith(rest), (name, title)
        assert len(title) == len(rest) or title[len(rest)] in " -,;", (name, title)  # at a word
        assert name == name.strip()
        table = fresh[section.key].table
        columns = [c for c in table.column_names if not c.endswith("_suppressed")]
        rows = list(sheet.iter_rows(min_row=4, values_only=True))
        assert list(rows[0]) == [header_label(c) for c in columns]
        assert section.run.query_id in str(sheet["A2"].value)
        assert len(rows) - 1 == table.num_rows
        # one Excel table with filters over the header and every row, ready to pivot
        (excel,) = sheet.tables.values()
        assert excel.ref == f"A4:{get_column_letter(len(columns))}{4 + table.num_rows}"
        for i, row in enumerate(rows[1:]):
            for j, (column, value) in enumerate(zip(columns, row, strict=True), start=1):
                expected = table[column][i].as_py()
                cell = sheet.cell(row=5 + i, column=j)
                if flags(table, column)[i]:
                    assert value is None, (name, column, i)  # empty, never "*" in numbers
                    assert cell.comment is not None
                    assert "suppressed" in cell.comment.text
                elif isinstance(expected, float):
                    assert value == pytest.approx(expected), (name, column, i)
                elif isinstance(expected, str) and re.fullmatch(r"\d{4}-\d{2}", expected):
                    assert value == datetime(int(expected[:4]), int(expected[5:]), 1)  # a date
                    assert cell.number_format == "mmm yyyy"
                else:
                    assert value == expected, (name, column, i)
        for j, column in enumerate(columns, start=1):  # wide enough for header and values
            width = sheet.column_dimensions[get_column_letter(j)].width
            assert width >= min(len(header_label(column)) + 2, 60), (name, column, width)


# --- who can build it, and for publication ---------------------------------------------------


@pytest.mark.parametrize("user", ANALYSTS, ids=lambda u: u.username)
def test_every_demo_analyst_builds_their_own_area(runner: TemplateRunner, user: Principal) -> None:
    request = AssessmentRequest(area=user.areas[0], year=YEAR, purpose=SA_PURPOSE)
    product = build_strategic_assessment(runner, user, request)
    assert len(product.sections) == len(SECTIONS)
    assert product.level == user.level
    assert all(s.chart_svg.startswith("<svg") for s in product.sections)


def test_another_area_is_refused_naming_the_parameter(runner: TemplateRunner) -> None:
    request = AssessmentRequest(area="E06000001", year=YEAR, purpose=SA_PURPOSE)
    with pytest.raises(
        ParameterError, match="parameter 'area': E06000001 is not one of your areas"
    ):
        build_strategic_assessment(runner, USERS["a.khan"], request)


def test_publication_version_rounds_every_count(runner: TemplateRunner) -> None:
    request = AssessmentRequest(area="E06000004", year=YEAR, purpose=SA_PURPOSE, publication=True)
    product = build_strategic_assessment(runner, USERS["j.taylor"], request)
    assert product.rules.round_to == 5
    for section in product.sections:
        spec = section.run.template.disclosure
        assert spec is not None
        for column in spec.protected_columns:
            values = section.run.table[column].to_pylist()
            assert all(v is None or v % 5 == 0 for v in values), (section.key, column)
            assert all(v is None or v == 0 or v >= 10 for v in values), (section.key, column)


# --- as a person sees it --------------------------------------------------------------------------


def _chromium() -> str | None:
    for name in ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable"):
        if found := shutil.which(name):
            return found
    return None


@pytest.fixture(scope="module")
def screenshot(bundle: ProductFiles, tmp_path_factory: pytest.TempPathFactory) -> Path:
    browser = _chromium()
    if browser is None:
        pytest.skip("Chromium is not installed: the report is validated structurally only")
    target = tmp_path_factory.mktemp("shot") / "report.png"
    subprocess.run(
        [browser, "--headless", "--no-sandbox", "--disable-gpu", "--hide-scrollbars",
         "--window-size=1100,3000", f"--screenshot={target}", bundle.files[0].path.as_uri()],
        check=True, capture_output=True, timeout=120,
    )  # fmt: skip
    return target


def test_report_renders_in_a_browser(screenshot: Path) -> None:
    data = screenshot.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    width, height = int.from_bytes(data[16:20], "big"), int.from_bytes(data[20:24], "big")
    assert (width, height) == (1100, 3000)
    assert len(data) > 100_000  # a page of charts and tables, not a blank one


def test_chart_labels_and_legends_are_never_cut_mid_word(bundle: ProductFiles) -> None:
    texts = [
        text
        for section in bundle.product.sections
        for text in re.findall(r"<text[^>]*>([^<]*)</text>", section.chart_svg)
    ]
    assert "same month a year earlier" in texts  # the legend the review found cut
    assert not [t for t in texts if re.search(r"\w…$", t)]
